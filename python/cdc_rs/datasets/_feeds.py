"""The three topics' event feeds, generated vectorised: records, Kafka layout, the dirt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._layout import BRONZE_SCHEMA, DAY_MIN, MINUTE_MS, PARTITIONS, TOPICS, Anomalies
from ._words import (BOOKS, CITIES, DOMAINS, FIRST_NAMES, GENDER_WEIGHTS, GENDERS, LAST_NAMES,
                     LATIN1_CITIES, STREET_NAMES, STREET_SUFFIXES, TAGS, UNKNOWN_COUNTRIES)


def micro_batches(feeds: list[_Feed], sizes: np.ndarray) -> list[pa.Table]:
    """Cut the topics' records into micro-batches (zero-copy slices).

    Args:
        feeds: one per topic, in :data:`TOPICS` order, each laid out by micro-batch.
        sizes: ``sizes[topic, batch]`` = number of the topic's records in the batch.
    """
    tables = [f.table(name) for f, name in zip(feeds, TOPICS)]
    starts = np.cumsum(sizes, axis=1) - sizes
    return [
        pa.concat_tables([t.slice(starts[i, b], sizes[i, b]) for i, t in enumerate(tables)])
        for b in range(sizes.shape[1])
    ]


# --------------------------------------------------------------------------- helpers


@dataclass
class _Feed:
    """One topic's records laid out as Spark's Kafka source lands them in the bronze table:
    by micro-batch, then partition, then offset (see :func:`_kafka_layout`)."""

    key: pa.Array  # binary
    value: pa.ChunkedArray  # binary
    partition: np.ndarray
    offset: np.ndarray
    arrival_ms: np.ndarray

    def table(self, topic: str) -> pa.Table:
        """The records as a bronze table of :data:`BRONZE_SCHEMA`."""
        n = len(self.value)
        return pa.table(
            [
                self.key,
                self.value,
                pa.array([topic]).take(pa.array(np.zeros(n, np.int64))),
                pa.array(self.partition, pa.int32()),
                pa.array(self.offset, pa.int64()),
                pa.array(self.arrival_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            ],
            schema=BRONZE_SCHEMA,
        )


def _kafka_layout(partition: np.ndarray, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a topic's records (given in arrival order) go in the bronze table.

    Kafka keeps order only within a partition, and Spark's Kafka source reads a micro-batch
    one topic-partition at a time, so records are laid out by micro-batch, then partition,
    then arrival.

    Returns:
        ``(order, offset)``: the arrival indices in layout order, and each record's Kafka
        offset (its rank in its partition), in layout order.
    """
    order = _stable_argsort(batch.astype(np.int64) * 64 + partition)
    return order, _group(partition).rank[order]


def _join(*pieces: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation of arrays and scalar strings (no separator)."""
    return pc.binary_join_element_wise(*pieces, "")


def _pick(words: list[str] | pa.Array, index: np.ndarray) -> pa.Array:
    """``words[index]`` as an Arrow string array (vectorised lookup in a small table)."""
    table = words if isinstance(words, pa.Array) else pa.array(words, pa.string())
    return table.take(pa.array(index, pa.int64()))


def _str(ints: np.ndarray) -> pa.Array:
    """Integers as decimal strings."""
    return pc.cast(pa.array(ints, pa.int64()), pa.string())


def _stable_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable argsort; small non-negative keys go through int16 (numpy's radix sort)."""
    if len(keys) and keys.min() >= 0 and keys.max() < 2**15:
        keys = keys.astype(np.int16)
    return np.argsort(keys, kind="stable")


@dataclass
class _Groups:
    """Elements grouped by a key, arrival order kept within each group.

    Attributes:
        order: element indices sorted by group (stably).
        rank: each element's rank within its group (0 = first).
        prev: index of the previous element of the same group, or -1.
        next: index of the next element of the same group, or -1.
    """

    order: np.ndarray
    rank: np.ndarray
    prev: np.ndarray
    next: np.ndarray


def _group(key: np.ndarray) -> _Groups:
    """Group elements by ``key`` (see :class:`_Groups`)."""
    n = len(key)
    order = _stable_argsort(key)
    k = key[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = k[1:] != k[:-1]
    starts = np.flatnonzero(new_group)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    same = ~new_group[1:]
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return _Groups(order, rank, prev, nxt)


def _increasing_within(groups: _Groups, key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Nudge ``values`` up so they are strictly increasing within each group."""
    if len(values) == 0:
        return values
    order, rank = groups.order, groups.rank
    base = values - rank - values.min()  # strictly increasing <=> base non-decreasing
    span = int(base.max()) + 1
    offset = key[order].astype(np.int64) * span  # keeps groups apart in one running max
    out = np.empty_like(values)
    out[order] = np.maximum.accumulate(base[order] + offset) - offset
    result: np.ndarray = out + rank + values.min()
    return result


def _minute_pieces(minutes: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Epoch minutes as ``YYYY-MM-DD`` and ``HH:MM`` strings (via small lookup tables)."""
    if len(minutes) == 0:
        empty = pa.array([], pa.string())
        return empty, empty
    day = minutes // DAY_MIN
    first = int(day.min())
    days = np.arange(first, int(day.max()) + 1).astype("datetime64[D]")
    day_names = np.datetime_as_string(days).tolist()
    return _pick(day_names, day - first), _pick(_CLOCK, minutes % DAY_MIN)


def _iso_minutes(minutes: np.ndarray) -> pa.Array:
    """Epoch minutes as ``2022-01-31T23:06:00.000Z``."""
    date, clock = _minute_pieces(minutes)
    return _join(date, "T", clock, ":00.000Z")


_TIME_SUFFIXES = [":00.000Z", ":00", "+01:00", "+02:00", "-05:00", "+05:30", "+08:00"]
_SUFFIX_MINUTES = np.array([0, 0, 60, 120, -300, 330, 480])


def _time_spellings(rng: np.random.Generator, n: int, other_rate: float) -> np.ndarray:
    """Index into :data:`_TIME_SUFFIXES` per event: mostly 0 (``...T23:06:00.000Z``);
    ``other_rate`` of them 1 (naive ``... 23:06:00``) or 2+ (local time with an offset)."""
    spelling = np.zeros(n, dtype=np.int64)
    other = np.flatnonzero(rng.random(n) < other_rate)
    spelling[other] = np.where(rng.random(len(other)) < 0.5, 1,
                               rng.integers(2, len(_TIME_SUFFIXES), len(other)))
    return spelling


_CLOCK = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]


@dataclass
class _Piece:
    """A column of JSON fragments, ``table[index]`` per event, to be joined with others.

    ``table`` is binary and ends with an empty fragment (index :attr:`blank`), so that an
    event's fragment can be dropped, or swapped for another entry, by re-pointing ``index``.
    """

    table: pa.Array
    index: np.ndarray

    @classmethod
    def of(cls, fragments: list[str | bytes] | pa.Array, index: np.ndarray) -> _Piece:
        if not isinstance(fragments, pa.Array):
            fragments = pa.array([f.encode() if isinstance(f, str) else f for f in fragments],
                                 pa.binary())
        table = pa.concat_arrays([fragments.cast(pa.binary()), pa.array([b""], pa.binary())])
        return cls(table, np.array(index, dtype=np.int64))

    @property
    def blank(self) -> int:
        return len(self.table) - 1

    def fragments(self, start: int, stop: int) -> pa.Array:
        """The fragments of events ``start:stop``."""
        return self.table.take(pa.array(self.index[start:stop], pa.int64()))


def _join_pieces(pieces: list[_Piece], start: int, stop: int) -> pa.Array:
    """The fragments of events ``start:stop`` concatenated, in piece order (binary)."""
    return pc.binary_join_element_wise(*[p.fragments(start, stop) for p in pieces], b"")


_CHUNK = 1 << 16


def _chunked(n: int, build: Callable[[int, int], pa.Array]) -> pa.ChunkedArray:
    """``build(start, stop)`` over consecutive slices of at most ``_CHUNK`` events, as one
    chunked array: building slice by slice keeps the temporary fragments small (fresh memory
    is slow to touch)."""
    chunks = [build(a, min(a + _CHUNK, n)) for a in range(0, n, _CHUNK)]
    return pa.chunked_array(chunks, pa.binary())


def _row_time_pieces(minutes: np.ndarray, spelling: np.ndarray,
                     null: np.ndarray) -> dict[str, _Piece]:
    """The ``"row_time":"..."}`` fragment as pieces ``date``, ``sep``, ``clock``, ``tail``.

    ``spelling`` (see :func:`_time_spellings`) picks ``2022-01-31T23:06:00.000Z``,
    ``2022-01-31 23:06:00`` (UTC) or local time ``2022-01-31T23:06:00+02:00``; where
    ``null`` is set the fragment is ``"row_time":null}``.
    """
    local = minutes + _SUFFIX_MINUTES[spelling]
    day = local // DAY_MIN
    first = int(day.min())
    days = np.datetime_as_string(np.arange(first, int(day.max()) + 1).astype("datetime64[D]"))
    tails = [":00.000Z", ":00"] + [":00" + x for x in _TIME_SUFFIXES[2:]]
    return {
        "date": _Piece.of(['"row_time":"' + d for d in days.tolist()] + ['"row_time":null}'],
                          np.where(null, len(days), day - first)),
        "sep": _Piece.of(["T", " "], np.where(null, 2, (spelling == 1).astype(np.int64))),
        "clock": _Piece.of(_CLOCK, np.where(null, len(_CLOCK), local % DAY_MIN)),
        "tail": _Piece.of([t + '"}' for t in tails], np.where(null, len(tails), spelling)),
    }


def _draw(rng: np.random.Generator, n: int, probs: list[float]) -> np.ndarray:
    """``n`` draws of category indices with the given (unnormalised) probabilities."""
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _json_str(values: list[str]) -> list[str]:
    """Quote strings for JSON (the word lists hold no characters needing escapes)."""
    return ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]


# ------------------------------------------------------------------------- customers

_ROLE_NORMAL, _ROLE_DELETE, _ROLE_LATE, _ROLE_TIE, _ROLE_REPLAY = 0, 1, 2, 3, 4
_ROLE_OTHER_STATUS, _ROLE_NULL_KEY, _ROLE_NULL_TIME, _ROLE_MALFORMED = 5, 6, 7, 8
_STATUSES = ["insert", "update", "delete", "snapshot", "heartbeat"]


def _signup_customers(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """Customer index of each of ``m`` events: customer k's first event is its sign-up,
    in id order; each later event belongs to a customer already signed up."""
    later = rng.choice(np.arange(1, m), size=max(n - 1, 0), replace=False)
    signup = np.concatenate([[0], np.sort(later)]).astype(np.int64)
    known = np.searchsorted(signup, np.arange(m), side="right")  # customers signed up so far
    cust = (rng.random(m) * known).astype(np.int64)
    cust[signup] = np.arange(n)
    return cust


def _assign_roles(rng: np.random.Generator, first: np.ndarray, last: np.ndarray,
                  prev: np.ndarray, rates: Anomalies) -> np.ndarray:
    """Give each customers event a role (normal, delete, late, tie, ...), disjointly.

    First events stay normal (they are the inserts). Deletes are last events of customers
    with several events. Late events and ties need a normal previous event.
    """
    m = len(first)
    role = np.zeros(m, dtype=np.int8)
    deletable = np.flatnonzero(last & ~first)
    k = min(round(rates.delete * m), len(deletable))
    role[rng.choice(deletable, size=k, replace=False)] = _ROLE_DELETE
    pool = rng.permutation(np.flatnonzero(~first & (role == _ROLE_NORMAL)))
    wanted = [(_ROLE_LATE, rates.late), (_ROLE_TIE, rates.tie), (_ROLE_REPLAY, rates.replay),
              (_ROLE_OTHER_STATUS, rates.other_status), (_ROLE_NULL_KEY, rates.null_key),
              (_ROLE_NULL_TIME, rates.null_time), (_ROLE_MALFORMED, rates.malformed)]
    at = 0
    for r, rate in wanted:
        k = min(round(rate * m), len(pool) - at)
        role[pool[at: at + k]] = r
        at += k
    needs_prev = (role == _ROLE_LATE) | (role == _ROLE_TIE)
    bad = needs_prev & (role[np.maximum(prev, 0)] != _ROLE_NORMAL)
    role[bad] = _ROLE_NORMAL
    return role


def _customer_profiles(rng: np.random.Generator, n: int) -> dict[str, pa.Array | np.ndarray]:
    """Per-customer JSON fragments: id, name+gender, two emails, three addresses."""
    width = max(5, len(str(n)))
    ids = _join("C", pc.utf8_lpad(_str(np.arange(1, n + 1)), width, "0"))
    fi, li = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n)
    first, last = _pick(FIRST_NAMES, fi), _pick(LAST_NAMES, li)
    gender = _pick(GENDERS, _draw(rng, n, GENDER_WEIGHTS))
    names = _join('"first_name":"', first, '","last_name":"', last,
                  '","gender":"', gender, '",')
    first_l, last_l = pc.utf8_lower(first), pc.utf8_lower(last)
    emails = []
    for _ in range(2):
        tag = _pick(TAGS, rng.integers(0, len(TAGS), n))
        dom = _pick(DOMAINS, rng.integers(0, len(DOMAINS), n))
        handle = pc.if_else(pa.array(rng.random(n) < 0.8),
                            _join(pc.utf8_slice_codeunits(first_l, 0, 1), last_l, tag),
                            _join(first_l, ".", last_l))
        emails.append(_join('"email":"', handle, "@", dom, '",'))
    streets, cities = [], []
    home = rng.integers(0, len(CITIES), n)
    for v in range(3):
        moved = rng.random(n) < (0.0, 0.3, 0.5)[v]
        cities.append(np.where(moved, rng.integers(0, len(CITIES), n), home))
        number = np.exp(rng.uniform(0, np.log(99_999), n)).astype(np.int64) + 1
        name = _pick(STREET_NAMES, rng.integers(0, len(STREET_NAMES), n))
        suffix = _pick(STREET_SUFFIXES, rng.integers(0, len(STREET_SUFFIXES), n))
        streets.append(_join('"street":"', _str(number), " ", name, " ", suffix, '",'))
    return {
        "id": ids,
        "id_json": _join('{"customer_id":"', ids, '",'),
        "names": names,
        "emails": pa.concat_arrays(emails),  # variant v of customer c at v * n + c
        "streets": pa.concat_arrays(streets),
        "cities": np.stack(cities),  # [variant, customer] -> city index
    }


def _city_json() -> tuple[pa.Array, int]:
    """``"city":"...","country_code":"..",`` for each city, then each city with each
    unknown country code (index ``len(CITIES) * (1 + u) + city``), then a few cities
    encoded in Latin-1 (invalid UTF-8). Binary."""
    names = _json_str([c for c, _ in CITIES])
    out = [f'"city":{c},"country_code":"{cc}",' for c, (_, cc) in zip(names, CITIES)]
    for bad in UNKNOWN_COUNTRIES:
        out += [f'"city":{c},"country_code":"{bad}",' for c in names]
    latin1 = [f'"city":"{c}","country_code":"{cc}",'.encode("latin-1")
              for c, cc in LATIN1_CITIES]
    return pa.array([o.encode() for o in out] + latin1, pa.binary()), len(CITIES)


def customers_feed(rng: np.random.Generator, arrival_ms: np.ndarray, batch: np.ndarray,
                    n: int, rates: Anomalies) -> tuple[_Feed, np.ndarray]:
    """The customers topic: one JSON value per event, see :func:`bookstore`.

    Returns:
        The feed, and each customer's sign-up (first event) arrival time in ms.
    """
    m = len(arrival_ms)
    if m == 0:
        nothing = np.zeros(0, np.int64)
        empty = pa.array([], pa.binary())
        return _Feed(empty, pa.chunked_array([], pa.binary()), nothing, nothing, nothing), nothing
    cust = _signup_customers(rng, m, n)
    groups = _group(cust)
    prev = groups.prev
    first, last = groups.rank == 0, groups.next < 0
    role = _assign_roles(rng, first, last, prev, rates)

    # Event time: a few minutes before arrival, strictly increasing per customer, then
    # late events moved before their predecessor and ties set equal to it.
    minutes = arrival_ms // MINUTE_MS - rng.geometric(0.4, m) + 1
    minutes = _increasing_within(groups, cust, minutes)
    late = np.flatnonzero(role == _ROLE_LATE)
    minutes[late] = minutes[prev[late]] - rng.integers(1, 3 * DAY_MIN, len(late))
    tie = np.flatnonzero(role == _ROLE_TIE)
    minutes[tie] = minutes[prev[tie]]

    status = np.where(first, 0, 1)
    status[role == _ROLE_DELETE] = 2
    other = role == _ROLE_OTHER_STATUS
    status[other] = rng.integers(3, len(_STATUSES), other.sum())

    prof = _customer_profiles(rng, n)
    # Variants: first event uses email 0 / address 0; updates drift; ties change address.
    email_v = np.where(first, 0, (rng.random(m) < 0.3).astype(np.int64))
    addr_v = np.where(first, 0, _draw(rng, m, [0.6, 0.3, 0.1]))
    addr_v[tie] = (addr_v[prev[tie]] + 1) % 3
    email_i = _nullable(rng, email_v * n + cust, len(prof["emails"]), rates.null_field)
    street_i = _nullable(rng, addr_v * n + cust, len(prof["streets"]), rates.null_field)
    city_table, n_cities = _city_json()
    city_i = prof["cities"][addr_v, cust]
    unknown = rng.random(m) < rates.unknown_country
    city_i[unknown] += n_cities * rng.integers(1, len(UNKNOWN_COUNTRIES) + 1, unknown.sum())
    null_key = role == _ROLE_NULL_KEY
    id_i = np.where(null_key, n + rng.integers(0, 2, m), cust)
    spelling = _time_spellings(rng, m, rates.other_time_format)

    # Replays re-deliver an earlier event byte for byte (key and value): every per-event
    # choice of a replay is that of its source event.
    replay = np.flatnonzero(role == _ROLE_REPLAY)
    src = np.arange(m)
    back = (rng.random(len(replay)) * np.minimum(replay, 5_000)).astype(np.int64)
    src[replay] = replay - 1 - back
    partition = cust[src] % PARTITIONS[0]
    order, offset = _kafka_layout(partition, batch)
    src = src[order]  # from here on, everything is in bronze layout order
    id_json = pa.concat_arrays([prof["id_json"], pa.array(['{"customer_id":null,', "{"]
                                                          + _GARBAGE)])
    pieces = {
        "id": _Piece.of(id_json, id_i[src]),
        "email": _Piece.of(pa.concat_arrays([prof["emails"], pa.array(['"email":null,', ""])]),
                           email_i[src]),
        "names": _Piece.of(prof["names"], cust[src]),
        "street": _Piece.of(pa.concat_arrays([prof["streets"],
                                              pa.array(['"street":null,', ""])]), street_i[src]),
        "city": _Piece.of(city_table, city_i[src]),
        "status": _Piece.of([f'"row_status":"{s}",' for s in _STATUSES], status[src]),
        **_row_time_pieces(minutes[src], spelling[src], role[src] == _ROLE_NULL_TIME),
    }
    _malform(rng, pieces, role[order] == _ROLE_MALFORMED, garbage=n + 2, latin1=n_cities * (
        1 + len(UNKNOWN_COUNTRIES)))
    value = _chunked(m, lambda a, b: _join_pieces(list(pieces.values()), a, b))
    key = pc.if_else(pa.array(null_key[src]), pa.scalar(None, pa.binary()),
                     _pick(prof["id"], cust[src]).cast(pa.binary()))
    feed = _Feed(key, value, partition[order], offset, arrival_ms[order])
    return feed, arrival_ms[first][np.argsort(cust[first])]


def _malform(rng: np.random.Generator, pieces: dict[str, _Piece], mask: np.ndarray,
             garbage: int, latin1: int) -> None:
    """Make the masked events' values malformed by re-pointing their fragments, in place:
    truncated JSON (cut inside the ``row_time`` string), plain text, empty values and
    invalid UTF-8 (a Latin-1 city), about a quarter each.

    Args:
        garbage: index of the first plain-text entry in the ``id`` piece's table.
        latin1: index of the first Latin-1 entry in the ``city`` piece's table.
    """
    where = np.flatnonzero(mask)
    kind = rng.permutation(len(where)) % 4
    truncated, text, empty, bad_bytes = (where[kind == k] for k in range(4))
    pieces["tail"].index[truncated] = pieces["tail"].blank
    for piece in pieces.values():
        piece.index[text] = piece.blank
        piece.index[empty] = piece.blank
    pieces["id"].index[text] = garbage + rng.integers(0, len(_GARBAGE), len(text))
    pieces["city"].index[bad_bytes] = latin1 + rng.integers(0, len(LATIN1_CITIES),
                                                            len(bad_bytes))


def _nullable(rng: np.random.Generator, index: np.ndarray, size: int, rate: float) -> np.ndarray:
    """Redirect ``rate`` of the indices to ``size`` (JSON null) or ``size + 1`` (missing)."""
    out = index.copy()
    hit = rng.random(len(index)) < rate
    out[hit] = size + rng.integers(0, 2, hit.sum())
    return out


_GARBAGE = ["customer updated", "ERROR 502 Bad Gateway", "<html><body>503</body></html>",
            "C00042,jdoe@example.com,John,Doe"]


def _corrupt(rng: np.random.Generator, value: pa.Array, mask: np.ndarray) -> pa.Array:
    """``value`` with the masked entries made malformed: truncated JSON, plain text, empty
    strings and invalid UTF-8 (about a quarter each)."""
    where = np.flatnonzero(mask)
    if len(where) == 0:
        return value
    kind = rng.permutation(len(where)) % 4
    orig = value.take(pa.array(where, pa.int64()))
    truncated = pc.binary_slice(orig, 0, 37)
    text = _pick(_GARBAGE, rng.integers(0, len(_GARBAGE), len(where))).cast(pa.binary())
    empty = pa.array([b""] * len(where), pa.binary())
    # a Latin-1 byte in a JSON document, or else a stray UTF-16 byte-order mark
    latin1 = pc.replace_substring(orig, pattern=b'"city":"', replacement=b'"city":"S\xe9')
    bom = pc.binary_join_element_wise(pa.scalar(b"\xff\xfe"), orig, b"")
    bad_bytes = pc.if_else(pc.equal(latin1, orig), bom, latin1)
    choices = pa.StructArray.from_arrays([truncated, text, empty, bad_bytes], list("abcd"))
    bad = pc.choose(pa.array(kind, pa.int8()), *choices.flatten())
    return pc.replace_with_mask(value, pa.array(mask), bad)


# ---------------------------------------------------------------------- orders, books


def orders_feed(rng: np.random.Generator, arrival_ms: np.ndarray, batch: np.ndarray,
                 signup_ms: np.ndarray, rates: Anomalies) -> _Feed:
    """The orders topic: each order has 1-3 books, quantity/total consistent with them,
    placed by a customer who had signed up (``signup_ms``: sorted sign-up times)."""
    m = len(arrival_ms)
    seq = np.arange(1, m + 1)
    partition = seq % PARTITIONS[1]
    order, offset = _kafka_layout(partition, batch)
    seq, arrival_ms = seq[order], arrival_ms[order]
    oid = pc.utf8_lpad(_str(seq), 15, "0")
    items = _draw(rng, m, [0.6, 0.3, 0.1]) + 1
    offsets = np.concatenate([[0], np.cumsum(items)])
    book = rng.integers(0, len(BOOKS), offsets[-1])
    qty = _draw(rng, offsets[-1], [0.7, 0.2, 0.1]) + 1
    subtotal = qty * np.array([b[4] for b in BOOKS])[book]
    quantity = np.add.reduceat(qty, offsets[:-1]) if m else np.zeros(0, np.int64)
    total = np.add.reduceat(subtotal, offsets[:-1]) if m else np.zeros(0, np.int64)
    width = max(5, len(str(len(signup_ms))))
    known = np.maximum(np.searchsorted(signup_ms, arrival_ms, side="right"), 1)
    customer = (rng.random(m) * known).astype(np.int64) + 1
    minutes = arrival_ms // MINUTE_MS - rng.geometric(0.5, m) + 1
    bad = _sample(rng, m, rates.malformed)
    book_ids = [f'{{"book_id":"{b[0]}","quantity":' for b in BOOKS]

    def build(a: int, b: int) -> pa.Array:
        i, j = offsets[a], offsets[b]
        item_json = _join(_pick(book_ids, book[i:j]), _str(qty[i:j]), ',"subtotal":',
                          _str(subtotal[i:j]), "}")
        items_of = pa.ListArray.from_arrays(pa.array(offsets[a:b + 1] - i, pa.int32()),
                                            item_json)
        value = _join('{"order_id":"', oid.slice(a, b - a), '","order_timestamp":"',
                      _iso_minutes(minutes[a:b]), '","customer_id":"C',
                      pc.utf8_lpad(_str(customer[a:b]), width, "0"), '","quantity":',
                      _str(quantity[a:b]), ',"total":', _str(total[a:b]), ',"books":[',
                      pc.binary_join(items_of, ","), "]}")
        return _corrupt(rng, value.cast(pa.binary()), bad[a:b])

    return _Feed(oid.cast(pa.binary()), _chunked(m, build), partition[order], offset,
                 arrival_ms)


def books_feed(rng: np.random.Generator, arrival_ms: np.ndarray, batch: np.ndarray,
                rates: Anomalies) -> _Feed:
    """The books topic: catalogue inserts, then price updates."""
    m = len(arrival_ms)
    book = rng.integers(0, len(BOOKS), m)
    rank = _group(book).rank
    base = np.array([b[4] for b in BOOKS])[book]
    price = np.where(rank == 0, base, np.maximum(base + rng.integers(-5, 6, m), 5))
    partition = book % PARTITIONS[2]
    order, offset = _kafka_layout(partition, batch)
    book, rank, price, arrival_ms = book[order], rank[order], price[order], arrival_ms[order]
    static = [f'{{"book_id":"{b}","title":{t},"author":{a},"category":{c},"price":'
              for (b, *_), t, a, c in zip(BOOKS, _json_str([b[1] for b in BOOKS]),
                                           _json_str([b[2] for b in BOOKS]),
                                           _json_str([b[3] for b in BOOKS]))]
    minutes = arrival_ms // MINUTE_MS
    status = (rank > 0).astype(np.int64)
    bad = _sample(rng, m, rates.malformed)

    def build(a: int, b: int) -> pa.Array:
        value = _join(_pick(static, book[a:b]), _str(price[a:b]), ".0,",
                      _pick(['"row_status":"insert",', '"row_status":"update",'], status[a:b]),
                      '"row_time":"', _iso_minutes(minutes[a:b]), '"}')
        return _corrupt(rng, value.cast(pa.binary()), bad[a:b])

    key = _pick([b[0] for b in BOOKS], book).cast(pa.binary())
    return _Feed(key, _chunked(m, build), partition[order], offset, arrival_ms)


def _sample(rng: np.random.Generator, m: int, rate: float) -> np.ndarray:
    """A mask of length ``m`` with about ``rate * m`` distinct entries set."""
    mask = np.zeros(m, dtype=bool)
    mask[rng.choice(m, size=min(round(rate * m), m), replace=False)] = True
    return mask
