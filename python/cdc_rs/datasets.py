"""Synthetic "bookstore" change-data-capture data in the shape of the reference notebook.

The reference (a Databricks course notebook) reads a Kafka-to-Delta *bronze* table whose
``value`` column holds JSON events of three topics (``customers``, ``orders``, ``books``)
and builds a *silver* table with the current row of each customer. :func:`bookstore`
generates such a bronze table, split into micro-batches, together with the country lookup
table the reference joins against. Everything is vectorised (numpy + pyarrow compute): one
million events take about a second.

The micro-batches are consecutive slices of time. Inside one, records are grouped by topic
and Kafka partition, in offset order — the way Spark's Kafka source lands them: Kafka only
orders records within a partition, and a customer's events all go to the partition of its
key, so each customer's events keep their arrival order.

The customers feed is deliberately dirty, the way real feeds are: updates, deletes, late
(out-of-order) events, exact replays, ties on ``row_time``, null and missing fields, unknown
country codes, several timestamp spellings, a few malformed values and a few unexpected
``row_status`` values.

Example:
    >>> from cdc_rs.datasets import bookstore
    >>> ds = bookstore(events=10_000, batches=2, seed=1)
    >>> [len(b) for b in ds.bronze]
    [5000, 5000]
    >>> ds.bronze[0].column_names
    ['key', 'value', 'topic', 'partition', 'offset', 'timestamp']
    >>> ds.country_lookup.column_names
    ['calling_code', 'code', 'country']
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = [
    "BOOKS_SCHEMA",
    "BRONZE_SCHEMA",
    "CUSTOMERS_SCHEMA",
    "ORDERS_SCHEMA",
    "SILVER_COLUMNS",
    "TOPICS",
    "Anomalies",
    "Bookstore",
    "bookstore",
    "country_lookup",
    "read_country_lookup",
    "read_parquet_batches",
]

CUSTOMERS_SCHEMA = (
    "customer_id STRING, email STRING, first_name STRING, last_name STRING, gender STRING, "
    "street STRING, city STRING, country_code STRING, row_status STRING, row_time timestamp"
)
"""Schema of a ``customers`` event (Spark DDL, as in the reference notebook)."""

ORDERS_SCHEMA = (
    "order_id STRING, order_timestamp Timestamp, customer_id STRING, quantity BIGINT, "
    "total BIGINT, books ARRAY<STRUCT<book_id STRING, quantity BIGINT, subtotal BIGINT>>"
)
"""Schema of an ``orders`` event."""

BOOKS_SCHEMA = (
    "book_id STRING, title STRING, author STRING, category STRING, price DOUBLE, "
    "row_status STRING, row_time TIMESTAMP"
)
"""Schema of a ``books`` event."""

SILVER_COLUMNS = [
    "customer_id", "email", "first_name", "last_name", "gender",
    "street", "city", "country", "row_time",
]
"""Columns of the reference's ``customers_silver`` table."""

TOPICS = ("customers", "orders", "books")

#: The lookup's file name beside the bronze files (see :meth:`Bookstore.write_parquet`).
LOOKUP_FILE = "_country_lookup.parquet"
"""Topic names, in the order of ``topic_shares``."""

BRONZE_SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
    ]
)
"""Arrow schema of a bronze micro-batch (Kafka record columns, as landed in Delta)."""

_PARTITIONS = np.array([4, 4, 2])  # partitions per topic
_MINUTE_MS = 60_000
_DAY_MIN = 1_440


@dataclass(frozen=True)
class Anomalies:
    """Rates of the deliberate dirt in the customers feed (fractions of customers events).

    Use ``Anomalies.none()`` for a clean feed, or ``Anomalies().scaled(2.0)`` for a dirtier one.

    Attributes:
        delete: customers whose last event is a ``delete`` (as a fraction of events).
        late: events whose ``row_time`` is older than the customer's previous event.
        replay: exact re-deliveries of an earlier event (same value bytes).
        tie: events with the same ``row_time`` as the customer's previous (different) event.
        null_field: events with a null or missing ``email``; independently, ``street``.
        unknown_country: events whose ``country_code`` is not in the lookup (``"XX"``...).
        other_time_format: events whose ``row_time`` is not ``2022-01-31T23:06:00.000Z``
            but ``2022-01-31 23:06:00`` or ``2022-01-31T23:06:00+02:00`` (half each).
        malformed: values that are not a JSON object (all topics).
        other_status: ``row_status`` neither insert, update nor delete (``"snapshot"``...).
        null_key: events with a null or missing ``customer_id``.
        null_time: events with a null ``row_time``.
    """

    delete: float = 0.02
    late: float = 0.05
    replay: float = 0.01
    tie: float = 0.01
    null_field: float = 0.10
    unknown_country: float = 0.01
    other_time_format: float = 0.10
    malformed: float = 0.001
    other_status: float = 0.003
    null_key: float = 0.0005
    null_time: float = 0.0005

    @classmethod
    def none(cls) -> Anomalies:
        """A clean feed: no anomalies at all."""
        return cls().scaled(0.0)

    def scaled(self, factor: float) -> Anomalies:
        """All rates multiplied by ``factor`` (capped so each stays a fraction)."""
        return replace(self, **{k: min(v * factor, 0.5) for k, v in self.__dict__.items()})


@dataclass
class Bookstore:
    """A generated bronze table (as micro-batches) and its country lookup.

    Attributes:
        bronze: micro-batches in arrival order, each a table of :data:`BRONZE_SCHEMA`
            (grouped by topic and partition, in offset order).
        country_lookup: ``calling_code``, ``code``, ``country`` (ISO 3166-1 alpha-2).
        customers: number of distinct customer ids in the customers feed.
        seed: the seed it was generated with (``None`` when read back from Parquet).
    """

    bronze: list[pa.Table]
    country_lookup: pa.Table
    customers: int
    seed: int | None = None

    @property
    def events(self) -> int:
        """Total number of bronze records over all micro-batches."""
        return sum(len(b) for b in self.bronze)

    def bronze_table(self) -> pa.Table:
        """All micro-batches concatenated into one bronze table (arrival order).

        Example:
            >>> ds = bookstore(events=1_000, batches=4)
            >>> len(ds.bronze_table())
            1000
        """
        if not self.bronze:
            return BRONZE_SCHEMA.empty_table()
        return pa.concat_tables(self.bronze)

    def topic_counts(self) -> dict[str, int]:
        """Number of bronze records per topic, e.g. ``{"customers": 600, ...}``."""
        counts = pc.value_counts(self.bronze_table().column("topic")).to_pylist()
        found = {c["values"]: c["counts"] for c in counts}
        return {t: int(found.get(t, 0)) for t in TOPICS}

    def write_parquet(self, directory: str | Path) -> list[Path]:
        """Write one Parquet file per micro-batch plus the country lookup.

        Files are ``bronze-00000.parquet``, ``bronze-00001.parquet``, ... and
        ``_country_lookup.parquet`` (which ``cdc_rs.stream`` and Spark skip, so the folder can
        be streamed as it is); read them back with :func:`read_parquet_batches` and
        :func:`read_country_lookup`.

        Args:
            directory: created if needed; existing ``bronze-*.parquet`` files are removed
                first so that the directory holds exactly this data set.

        Returns:
            The paths written, micro-batches first.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("bronze-*.parquet"):
            stale.unlink()
        paths = []
        for i, batch in enumerate(self.bronze):
            path = directory / f"bronze-{i:05d}.parquet"
            pq.write_table(batch, path)
            paths.append(path)
        # A leading "_" keeps it out of the bronze stream (sources skip such files).
        lookup = directory / LOOKUP_FILE
        pq.write_table(self.country_lookup, lookup)
        paths.append(lookup)
        return paths

    @classmethod
    def read_parquet(cls, directory: str | Path) -> Bookstore:
        """Read back a data set written by :meth:`write_parquet` (its ``seed`` is unknown).

        Example:
            >>> import tempfile
            >>> d = tempfile.mkdtemp()
            >>> _ = bookstore(events=500, batches=2, seed=3).write_parquet(d)
            >>> Bookstore.read_parquet(d)
            Bookstore(events=500, batches=2, customers=50, seed=None)
        """
        bronze = read_parquet_batches(directory)
        keys = pa.concat_tables(bronze).filter(pc.field("topic") == "customers")["key"]
        return cls(bronze=bronze, country_lookup=read_country_lookup(directory),
                   customers=pc.count_distinct(keys).as_py())

    def __repr__(self) -> str:
        return (
            f"Bookstore(events={self.events}, batches={len(self.bronze)}, "
            f"customers={self.customers}, seed={self.seed})"
        )

    def _repr_html_(self) -> str:
        counts = self.topic_counts()
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{v:,}</td></tr>"
            for k, v in [("events", self.events), ("micro-batches", len(self.bronze)),
                         ("distinct customers", self.customers), *counts.items()]
        )
        head = self.bronze[0].slice(0, 5) if self.bronze else BRONZE_SCHEMA.empty_table()
        sample = "".join(
            "<tr>"
            + f"<td>{html.escape(r['topic'])}</td><td>{r['partition']}</td>"
            + f"<td>{r['offset']}</td><td>{r['timestamp']}</td>"
            + f"<td><code>{html.escape(_preview(r['value']))}</code></td></tr>"
            for r in head.to_pylist()
        )
        return (
            f"<b>{html.escape(repr(self))}</b>"
            f"<table>{rows}</table>"
            "<table><tr><th>topic</th><th>partition</th><th>offset</th><th>timestamp</th>"
            f"<th>value</th></tr>{sample}</table>"
        )


def _preview(value: bytes | None, width: int = 100) -> str:
    if value is None:
        return "null"
    text = value.decode("utf-8", errors="replace")
    return text if len(text) <= width else text[: width - 1] + "…"


def bookstore(
    events: int = 100_000,
    batches: int = 1,
    seed: int = 0,
    *,
    customers: int | None = None,
    start: str = "2021-11-12",
    days: float = 80.0,
    topic_shares: tuple[float, float, float] = (0.6, 0.3, 0.1),
    anomalies: Anomalies | None = None,
) -> Bookstore:
    """Generate a bronze bookstore table (customers, orders, books events).

    Deterministic for a given set of arguments. About 60% of the events are ``customers``
    events; every customer's first event is an ``insert``, later ones ``update`` and some
    customers end with a ``delete``; see :class:`Anomalies` for the dirt mixed in.

    Args:
        events: number of bronze records.
        batches: number of micro-batches: consecutive slices of time with as equal a
            number of records as possible, each grouped by topic and partition.
        seed: seed of the numpy random generator.
        customers: distinct customer ids; default ``events // 10`` (at most the number of
            customers events, at least 1).
        start: day of the first event (UTC).
        days: time span the Kafka timestamps cover.
        topic_shares: shares of the ``customers``, ``orders`` and ``books`` topics.
        anomalies: rates of dirty events; default :class:`Anomalies()`.

    Returns:
        A :class:`Bookstore` with ``bronze`` (list of ``batches`` tables) and
        ``country_lookup``.

    Example:
        >>> ds = bookstore(events=2_000, seed=7)
        >>> ds.bronze_table().num_rows, ds.customers
        (2000, 200)
        >>> import json
        >>> t = ds.bronze_table().filter(pc.field("topic") == "customers")
        >>> sorted(json.loads(t["value"][0].as_py()))[:3]
        ['city', 'country_code', 'customer_id']
    """
    if events < 0 or batches < 1:
        raise ValueError("events must be >= 0 and batches >= 1")
    shares = np.asarray(topic_shares, dtype=float)
    if shares.shape != (3,) or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError("topic_shares must be three non-negative numbers")
    rates = anomalies if anomalies is not None else Anomalies()
    rng = np.random.default_rng(seed)

    topic = rng.choice(3, size=events, p=shares / shares.sum()).astype(np.int8)
    start_ms = int(np.datetime64(start, "ms").astype(np.int64))
    arrival_ms = np.sort(rng.integers(0, max(int(days * 86_400_000), 1), size=events)) + start_ms
    positions = [np.flatnonzero(topic == t) for t in range(3)]

    n_cust_events = len(positions[0])
    n_customers = customers if customers is not None else events // 10
    n_customers = max(1, min(n_customers, n_cust_events)) if n_cust_events else 0
    bounds = np.linspace(0, events, batches + 1).round().astype(np.int64)
    batch = np.repeat(np.arange(batches), np.diff(bounds))  # micro-batch of each event
    cust, signup_ms = _customers_feed(rng, arrival_ms[positions[0]], batch[positions[0]],
                                      n_customers, rates)
    orders = _orders_feed(rng, arrival_ms[positions[1]], batch[positions[1]], signup_ms, rates)
    books = _books_feed(rng, arrival_ms[positions[2]], batch[positions[2]], rates)
    sizes = np.stack([np.bincount(batch[p], minlength=batches) for p in positions])
    return Bookstore(bronze=_micro_batches([cust, orders, books], sizes),
                     country_lookup=country_lookup(), customers=n_customers, seed=seed)


def _micro_batches(feeds: list[_Feed], sizes: np.ndarray) -> list[pa.Table]:
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
    day = minutes // _DAY_MIN
    first = int(day.min())
    days = np.arange(first, int(day.max()) + 1).astype("datetime64[D]")
    day_names = np.datetime_as_string(days).tolist()
    return _pick(day_names, day - first), _pick(_CLOCK, minutes % _DAY_MIN)


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
    day = local // _DAY_MIN
    first = int(day.min())
    days = np.datetime_as_string(np.arange(first, int(day.max()) + 1).astype("datetime64[D]"))
    tails = [":00.000Z", ":00"] + [":00" + x for x in _TIME_SUFFIXES[2:]]
    return {
        "date": _Piece.of(['"row_time":"' + d for d in days.tolist()] + ['"row_time":null}'],
                          np.where(null, len(days), day - first)),
        "sep": _Piece.of(["T", " "], np.where(null, 2, (spelling == 1).astype(np.int64))),
        "clock": _Piece.of(_CLOCK, np.where(null, len(_CLOCK), local % _DAY_MIN)),
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
    fi, li = rng.integers(0, len(_FIRST_NAMES), n), rng.integers(0, len(_LAST_NAMES), n)
    first, last = _pick(_FIRST_NAMES, fi), _pick(_LAST_NAMES, li)
    gender = _pick(_GENDERS, _draw(rng, n, _GENDER_WEIGHTS))
    names = _join('"first_name":"', first, '","last_name":"', last,
                  '","gender":"', gender, '",')
    first_l, last_l = pc.utf8_lower(first), pc.utf8_lower(last)
    emails = []
    for _ in range(2):
        tag = _pick(_TAGS, rng.integers(0, len(_TAGS), n))
        dom = _pick(_DOMAINS, rng.integers(0, len(_DOMAINS), n))
        handle = pc.if_else(pa.array(rng.random(n) < 0.8),
                            _join(pc.utf8_slice_codeunits(first_l, 0, 1), last_l, tag),
                            _join(first_l, ".", last_l))
        emails.append(_join('"email":"', handle, "@", dom, '",'))
    streets, cities = [], []
    home = rng.integers(0, len(_CITIES), n)
    for v in range(3):
        moved = rng.random(n) < (0.0, 0.3, 0.5)[v]
        cities.append(np.where(moved, rng.integers(0, len(_CITIES), n), home))
        number = np.exp(rng.uniform(0, np.log(99_999), n)).astype(np.int64) + 1
        name = _pick(_STREET_NAMES, rng.integers(0, len(_STREET_NAMES), n))
        suffix = _pick(_STREET_SUFFIXES, rng.integers(0, len(_STREET_SUFFIXES), n))
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
    unknown country code (index ``len(_CITIES) * (1 + u) + city``), then a few cities
    encoded in Latin-1 (invalid UTF-8). Binary."""
    names = _json_str([c for c, _ in _CITIES])
    out = [f'"city":{c},"country_code":"{cc}",' for c, (_, cc) in zip(names, _CITIES)]
    for bad in _UNKNOWN_COUNTRIES:
        out += [f'"city":{c},"country_code":"{bad}",' for c in names]
    latin1 = [f'"city":"{c}","country_code":"{cc}",'.encode("latin-1")
              for c, cc in _LATIN1_CITIES]
    return pa.array([o.encode() for o in out] + latin1, pa.binary()), len(_CITIES)


def _customers_feed(rng: np.random.Generator, arrival_ms: np.ndarray, batch: np.ndarray,
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
    minutes = arrival_ms // _MINUTE_MS - rng.geometric(0.4, m) + 1
    minutes = _increasing_within(groups, cust, minutes)
    late = np.flatnonzero(role == _ROLE_LATE)
    minutes[late] = minutes[prev[late]] - rng.integers(1, 3 * _DAY_MIN, len(late))
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
    city_i[unknown] += n_cities * rng.integers(1, len(_UNKNOWN_COUNTRIES) + 1, unknown.sum())
    null_key = role == _ROLE_NULL_KEY
    id_i = np.where(null_key, n + rng.integers(0, 2, m), cust)
    spelling = _time_spellings(rng, m, rates.other_time_format)

    # Replays re-deliver an earlier event byte for byte (key and value): every per-event
    # choice of a replay is that of its source event.
    replay = np.flatnonzero(role == _ROLE_REPLAY)
    src = np.arange(m)
    back = (rng.random(len(replay)) * np.minimum(replay, 5_000)).astype(np.int64)
    src[replay] = replay - 1 - back
    partition = cust[src] % _PARTITIONS[0]
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
        1 + len(_UNKNOWN_COUNTRIES)))
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
    pieces["city"].index[bad_bytes] = latin1 + rng.integers(0, len(_LATIN1_CITIES),
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


def _orders_feed(rng: np.random.Generator, arrival_ms: np.ndarray, batch: np.ndarray,
                 signup_ms: np.ndarray, rates: Anomalies) -> _Feed:
    """The orders topic: each order has 1-3 books, quantity/total consistent with them,
    placed by a customer who had signed up (``signup_ms``: sorted sign-up times)."""
    m = len(arrival_ms)
    seq = np.arange(1, m + 1)
    partition = seq % _PARTITIONS[1]
    order, offset = _kafka_layout(partition, batch)
    seq, arrival_ms = seq[order], arrival_ms[order]
    oid = pc.utf8_lpad(_str(seq), 15, "0")
    items = _draw(rng, m, [0.6, 0.3, 0.1]) + 1
    offsets = np.concatenate([[0], np.cumsum(items)])
    book = rng.integers(0, len(_BOOKS), offsets[-1])
    qty = _draw(rng, offsets[-1], [0.7, 0.2, 0.1]) + 1
    subtotal = qty * np.array([b[4] for b in _BOOKS])[book]
    quantity = np.add.reduceat(qty, offsets[:-1]) if m else np.zeros(0, np.int64)
    total = np.add.reduceat(subtotal, offsets[:-1]) if m else np.zeros(0, np.int64)
    width = max(5, len(str(len(signup_ms))))
    known = np.maximum(np.searchsorted(signup_ms, arrival_ms, side="right"), 1)
    customer = (rng.random(m) * known).astype(np.int64) + 1
    minutes = arrival_ms // _MINUTE_MS - rng.geometric(0.5, m) + 1
    bad = _sample(rng, m, rates.malformed)
    book_ids = [f'{{"book_id":"{b[0]}","quantity":' for b in _BOOKS]

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


def _books_feed(rng: np.random.Generator, arrival_ms: np.ndarray, batch: np.ndarray,
                rates: Anomalies) -> _Feed:
    """The books topic: catalogue inserts, then price updates."""
    m = len(arrival_ms)
    book = rng.integers(0, len(_BOOKS), m)
    rank = _group(book).rank
    base = np.array([b[4] for b in _BOOKS])[book]
    price = np.where(rank == 0, base, np.maximum(base + rng.integers(-5, 6, m), 5))
    partition = book % _PARTITIONS[2]
    order, offset = _kafka_layout(partition, batch)
    book, rank, price, arrival_ms = book[order], rank[order], price[order], arrival_ms[order]
    static = [f'{{"book_id":"{b}","title":{t},"author":{a},"category":{c},"price":'
              for (b, *_), t, a, c in zip(_BOOKS, _json_str([b[1] for b in _BOOKS]),
                                           _json_str([b[2] for b in _BOOKS]),
                                           _json_str([b[3] for b in _BOOKS]))]
    minutes = arrival_ms // _MINUTE_MS
    status = (rank > 0).astype(np.int64)
    bad = _sample(rng, m, rates.malformed)

    def build(a: int, b: int) -> pa.Array:
        value = _join(_pick(static, book[a:b]), _str(price[a:b]), ".0,",
                      _pick(['"row_status":"insert",', '"row_status":"update",'], status[a:b]),
                      '"row_time":"', _iso_minutes(minutes[a:b]), '"}')
        return _corrupt(rng, value.cast(pa.binary()), bad[a:b])

    key = _pick([b[0] for b in _BOOKS], book).cast(pa.binary())
    return _Feed(key, _chunked(m, build), partition[order], offset, arrival_ms)


def _sample(rng: np.random.Generator, m: int, rate: float) -> np.ndarray:
    """A mask of length ``m`` with about ``rate * m`` distinct entries set."""
    mask = np.zeros(m, dtype=bool)
    mask[rng.choice(m, size=min(round(rate * m), m), replace=False)] = True
    return mask


# ------------------------------------------------------------------- country lookup


def country_lookup() -> pa.Table:
    """The country lookup table of the reference: ``calling_code``, ``code``, ``country``.

    All 249 ISO 3166-1 alpha-2 codes; ``calling_code`` is null where a territory has none
    (e.g. ``AQ`` Antarctica).

    Example:
        >>> t = country_lookup()
        >>> t.slice(0, 1).to_pylist()
        [{'calling_code': '376', 'code': 'AD', 'country': 'Andorra'}]
    """
    rows = [line.split("|") for line in _COUNTRIES.strip().splitlines()]
    return pa.table(
        {
            "calling_code": pa.array([r[2] or None for r in rows], pa.string()),
            "code": pa.array([r[0] for r in rows], pa.string()),
            "country": pa.array([r[1] for r in rows], pa.string()),
        }
    )


def read_parquet_batches(directory: str | Path) -> list[pa.Table]:
    """Read the micro-batches written by :meth:`Bookstore.write_parquet`, in order.

    Args:
        directory: the directory holding ``bronze-00000.parquet``, ...

    Returns:
        One table per file, sorted by file name (i.e. batch id).

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = bookstore(events=100, batches=3).write_parquet(d)
        >>> [len(t) for t in read_parquet_batches(d)]
        [33, 34, 33]
    """
    paths = sorted(Path(directory).glob("bronze-*.parquet"))
    if not paths:
        raise FileNotFoundError(f"no bronze-*.parquet files in {directory}")
    return [pq.read_table(p) for p in paths]


def read_country_lookup(directory: str | Path) -> pa.Table:
    """Read the lookup written by :meth:`Bookstore.write_parquet`."""
    folder = Path(directory)
    path = folder / LOOKUP_FILE
    if not path.exists() and (folder / "country_lookup.parquet").exists():
        path = folder / "country_lookup.parquet"  # written by an earlier version
    return pq.read_table(path)


# ---------------------------------------------------------------------------- words

_GENDERS = ["Female", "Male", "Agender", "Bigender", "Genderfluid", "Genderqueer",
            "Non-binary", "Polygender"]
_GENDER_WEIGHTS = [0.45, 0.45, 0.015, 0.015, 0.015, 0.02, 0.015, 0.015]
_UNKNOWN_COUNTRIES = ["XX", "ZZ", "UK"]
_LATIN1_CITIES = [("São Paulo", "BR"), ("Göteborg", "SE"), ("Medellín", "CO"),
                  ("Kraków", "PL")]  # sent Latin-1 encoded by a misconfigured producer

_TAGS = [a + b for a in "abcdefghijklmnopqrstuvwxyz0123456789"
         for b in "abcdefghijklmnopqrstuvwxyz0123456789"]

_FIRST_NAMES = """Silvanus Sula Cahra Salvatore Etheline Albertine Josias Trixi Donalt Melli
Dniren Etti Ronnie Ray Shanon Norman Skell Darsey Fredrick Doralynne Abbe Benedetta Cordelia
Dmitri Emlyn Fanchon Gasparo Hollis Isadora Jarib Kissiah Lorne Marlo Nananne Osbert Perla
Quincey Rosalind Sayer Tabbatha Ulises Vevay Waylan Xylina Yancey Zebadiah Anatol Brena Cull
Dagny Elwin Flossi Gothart Hedi Ines Jens Kalli Leontyne Merv Noelani Orsola Pietro Querida
Reinold Sibylla Tymon Udale Valli Wynne Ysabel Zora""".split()

_LAST_NAMES = """Coulman Coskerry Conelly Coughan Cottey Cottage Claffey Cosson Cosslett
Cleminshaw Abby Abbys Abelov Abels Abendroth Abernethy Abrahmson Acheson Ackwood Adamkiewicz
Bastin Beardsworth Blakebrough Bonhomme Brimmicombe Buckthought Caffery Chastelain Crighton
Dallender Deverill Dowsing Eastbury Elsbury Fairlem Farndale Gimbrett Goodlife Haggerstone
Hardwicke Ivashinnikov Jeandeau Kilmartin Lambdin Loughman McKennan Mordey Nutbeam Ockleshaw
Pedrazzi Pettigree Quinnelly Rawsthorne Rubinchik Scurrell Shoebotham Strowlger Tarbert
Trevenu Tuckwell Uttley Vasyutichev Wedmore Whiteland Yakushkin Yeowell Zanotti""".split()

_DOMAINS = """topsy.com marketwatch.com amazonaws.com dion.ne.jp google.ca etsy.com
japanpost.jp github.com wikispaces.com behance.net cargocollective.com blinklist.com mapy.cz
gravatar.com oaic.gov.au gmail.com yahoo.com hotmail.com outlook.com free.fr web.de
163.com naver.com mail.ru uol.com.br""".split()

_STREET_NAMES = """Prairieview Karstens East Westport Morningstar Surrey Mesta Vidon Randy
Lyons Manufacturers Hallows Grim Dunning Glendale Oxford Sage Anzinger Bunting Clyde Gallagher
Dakota Eggendart Fordem Gateway Hansons Iowa Jenifer Kennedy Lakewood Maple Namekagon Oak
Pepper Wood Quincy Ridgeway Sachs Talisman Utah Veith Waubesa Welch Moulton""".split()
_STREET_NAMES += ["La Follette", "Golf Park", "Old Shore", "Forest Run", "Spenser"]

_STREET_SUFFIXES = """Crossing Avenue Street Way Hill Junction Court Terrace Plaza Park Center
Road Lane Drive Circle Pass Place Point Parkway Trail Alley""".split()

_CITIES = [
    ("Hengdian", "CN"), ("Nanqiao", "CN"), ("Hexi", "CN"), ("Huarong Chengguanzhen", "CN"),
    ("Xiaoshi", "CN"), ("Dongcun", "CN"), ("Shangping", "CN"), ("Zhangjiafang", "CN"),
    ("Klakeh", "ID"), ("Jambesari", "ID"), ("Sukamaju", "ID"), ("Karangsari", "ID"),
    ("Diffa", "NE"), ("Nidek", "PL"), ("Bolesławiec", "PL"), ("Hilversum", "NL"),
    ("Kalajoki", "FI"), ("Annecy", "FR"), ("Lyon", "FR"), ("Varge Mondar", "PT"),
    ("Póvoa de Varzim", "PT"), ("San Celestio", "PH"), ("Ani-e", "PH"), ("Calamba", "PH"),
    ("Oudtshoorn", "ZA"), ("Gibara", "CU"), ("Santo Domingo", "CU"), ("Dārayyā", "SY"),
    ("Ugep", "NG"), ("Usatove", "UA"), ("Lviv", "UA"), ("Krasnoyarsk", "RU"),
    ("Novopokrovka", "RU"), ("São Paulo", "BR"), ("Itabuna", "BR"), ("Göteborg", "SE"),
    ("Uppsala", "SE"), ("Brno", "CZ"), ("Písek", "CZ"), ("Sapporo", "JP"), ("Kyoto", "JP"),
    ("Puebla", "MX"), ("Medellín", "CO"), ("Lima", "PE"), ("Chiclayo", "PE"),
    ("Fresno", "US"), ("Tulsa", "US"), ("Halifax", "CA"), ("Skopje", "MK"), ("Athens", "GR"),
    ("Porto Alegre", "BR"), ("Kraków", "PL"), ("Nairobi", "KE"), ("Kumasi", "GH"),
    ("Hanoi", "VN"), ("Chiang Mai", "TH"), ("Karachi", "PK"), ("Dhaka", "BD"),
    ("Yerevan", "AM"), ("Tbilisi", "GE"), ("Andorra la Vella", "AD"), ("St. John's", "AG"),
]

_BOOKS = [  # book_id, title, author, category, price
    ("B01", "Introduction to Modeling and Simulation", "Mark W. Spong", "Computer Science", 25),
    ("B02", "Robot Modeling and Control", "Mark W. Spong", "Computer Science", 30),
    ("B03", "Turing's Vision: The Birth of Computer Science", "Chris Bernhardt",
     "Computer Science", 35),
    ("B04", "Hands-On Deep Learning Algorithms with Python", "Sudharsan Ravichandiran",
     "Computer Science", 25),
    ("B05", "Designing Data-Intensive Applications", "Martin Kleppmann",
     "Computer Science", 40),
    ("B06", "Learning Spark", "Jules S. Damji", "Computer Science", 35),
    ("B07", "Accounting for Dummies", "John A. Tracy", "Business", 20),
    ("B08", "The Intelligent Investor", "Benjamin Graham", "Business", 30),
    ("B09", "Thinking, Fast and Slow", "Daniel Kahneman", "Psychology", 20),
    ("B10", "The Art of War", "Sun Tzu", "Philosophy", 10),
    ("B11", "Men Are from Mars, Women Are from Venus", "John Gray", "Psychology", 15),
    ("B12", "Sapiens: A Brief History of Humankind", "Yuval Noah Harari", "History", 25),
]

_COUNTRIES = """\
AD|Andorra|376
AE|United Arab Emirates|971
AF|Afghanistan|93
AG|Antigua and Barbuda|+1-268
AI|Anguilla|+1-264
AL|Albania|355
AM|Armenia|374
AO|Angola|244
AQ|Antarctica|
AR|Argentina|54
AS|American Samoa|+1-684
AT|Austria|43
AU|Australia|61
AW|Aruba|297
AX|Åland Islands|358
AZ|Azerbaijan|994
BA|Bosnia and Herzegovina|387
BB|Barbados|+1-246
BD|Bangladesh|880
BE|Belgium|32
BF|Burkina Faso|226
BG|Bulgaria|359
BH|Bahrain|973
BI|Burundi|257
BJ|Benin|229
BL|Saint Barthélemy|590
BM|Bermuda|+1-441
BN|Brunei Darussalam|673
BO|Bolivia|591
BQ|Bonaire, Sint Eustatius and Saba|599
BR|Brazil|55
BS|Bahamas|+1-242
BT|Bhutan|975
BV|Bouvet Island|47
BW|Botswana|267
BY|Belarus|375
BZ|Belize|501
CA|Canada|1
CC|Cocos (Keeling) Islands|61
CD|Congo, Democratic Republic of the|243
CF|Central African Republic|236
CG|Congo|242
CH|Switzerland|41
CI|Côte d'Ivoire|225
CK|Cook Islands|682
CL|Chile|56
CM|Cameroon|237
CN|China|86
CO|Colombia|57
CR|Costa Rica|506
CU|Cuba|53
CV|Cabo Verde|238
CW|Curaçao|599
CX|Christmas Island|61
CY|Cyprus|357
CZ|Czechia|420
DE|Germany|49
DJ|Djibouti|253
DK|Denmark|45
DM|Dominica|+1-767
DO|Dominican Republic|+1-809
DZ|Algeria|213
EC|Ecuador|593
EE|Estonia|372
EG|Egypt|20
EH|Western Sahara|212
ER|Eritrea|291
ES|Spain|34
ET|Ethiopia|251
FI|Finland|358
FJ|Fiji|679
FK|Falkland Islands (Malvinas)|500
FM|Micronesia, Federated States of|691
FO|Faroe Islands|298
FR|France|33
GA|Gabon|241
GB|United Kingdom|44
GD|Grenada|+1-473
GE|Georgia|995
GF|French Guiana|594
GG|Guernsey|44
GH|Ghana|233
GI|Gibraltar|350
GL|Greenland|299
GM|Gambia|220
GN|Guinea|224
GP|Guadeloupe|590
GQ|Equatorial Guinea|240
GR|Greece|30
GS|South Georgia and the South Sandwich Islands|500
GT|Guatemala|502
GU|Guam|+1-671
GW|Guinea-Bissau|245
GY|Guyana|592
HK|Hong Kong|852
HM|Heard Island and McDonald Islands|
HN|Honduras|504
HR|Croatia|385
HT|Haiti|509
HU|Hungary|36
ID|Indonesia|62
IE|Ireland|353
IL|Israel|972
IM|Isle of Man|44
IN|India|91
IO|British Indian Ocean Territory|246
IQ|Iraq|964
IR|Iran|98
IS|Iceland|354
IT|Italy|39
JE|Jersey|44
JM|Jamaica|+1-876
JO|Jordan|962
JP|Japan|81
KE|Kenya|254
KG|Kyrgyzstan|996
KH|Cambodia|855
KI|Kiribati|686
KM|Comoros|269
KN|Saint Kitts and Nevis|+1-869
KP|North Korea|850
KR|South Korea|82
KW|Kuwait|965
KY|Cayman Islands|+1-345
KZ|Kazakhstan|7
LA|Lao People's Democratic Republic|856
LB|Lebanon|961
LC|Saint Lucia|+1-758
LI|Liechtenstein|423
LK|Sri Lanka|94
LR|Liberia|231
LS|Lesotho|266
LT|Lithuania|370
LU|Luxembourg|352
LV|Latvia|371
LY|Libya|218
MA|Morocco|212
MC|Monaco|377
MD|Moldova|373
ME|Montenegro|382
MF|Saint Martin (French part)|590
MG|Madagascar|261
MH|Marshall Islands|692
MK|North Macedonia|389
ML|Mali|223
MM|Myanmar|95
MN|Mongolia|976
MO|Macao|853
MP|Northern Mariana Islands|+1-670
MQ|Martinique|596
MR|Mauritania|222
MS|Montserrat|+1-664
MT|Malta|356
MU|Mauritius|230
MV|Maldives|960
MW|Malawi|265
MX|Mexico|52
MY|Malaysia|60
MZ|Mozambique|258
NA|Namibia|264
NC|New Caledonia|687
NE|Niger|227
NF|Norfolk Island|672
NG|Nigeria|234
NI|Nicaragua|505
NL|Netherlands|31
NO|Norway|47
NP|Nepal|977
NR|Nauru|674
NU|Niue|683
NZ|New Zealand|64
OM|Oman|968
PA|Panama|507
PE|Peru|51
PF|French Polynesia|689
PG|Papua New Guinea|675
PH|Philippines|63
PK|Pakistan|92
PL|Poland|48
PM|Saint Pierre and Miquelon|508
PN|Pitcairn|870
PR|Puerto Rico|+1-787
PS|Palestine, State of|970
PT|Portugal|351
PW|Palau|680
PY|Paraguay|595
QA|Qatar|974
RE|Réunion|262
RO|Romania|40
RS|Serbia|381
RU|Russian Federation|7
RW|Rwanda|250
SA|Saudi Arabia|966
SB|Solomon Islands|677
SC|Seychelles|248
SD|Sudan|249
SE|Sweden|46
SG|Singapore|65
SH|Saint Helena, Ascension and Tristan da Cunha|290
SI|Slovenia|386
SJ|Svalbard and Jan Mayen|47
SK|Slovakia|421
SL|Sierra Leone|232
SM|San Marino|378
SN|Senegal|221
SO|Somalia|252
SR|Suriname|597
SS|South Sudan|211
ST|Sao Tome and Principe|239
SV|El Salvador|503
SX|Sint Maarten (Dutch part)|+1-721
SY|Syrian Arab Republic|963
SZ|Eswatini|268
TC|Turks and Caicos Islands|+1-649
TD|Chad|235
TF|French Southern Territories|262
TG|Togo|228
TH|Thailand|66
TJ|Tajikistan|992
TK|Tokelau|690
TL|Timor-Leste|670
TM|Turkmenistan|993
TN|Tunisia|216
TO|Tonga|676
TR|Turkey|90
TT|Trinidad and Tobago|+1-868
TV|Tuvalu|688
TW|Taiwan|886
TZ|Tanzania|255
UA|Ukraine|380
UG|Uganda|256
UM|United States Minor Outlying Islands|1
US|United States|1
UY|Uruguay|598
UZ|Uzbekistan|998
VA|Holy See|39-06
VC|Saint Vincent and the Grenadines|+1-784
VE|Venezuela|58
VG|Virgin Islands (British)|+1-284
VI|Virgin Islands (U.S.)|+1-340
VN|Viet Nam|84
VU|Vanuatu|678
WF|Wallis and Futuna|681
WS|Samoa|685
YE|Yemen|967
YT|Mayotte|262
ZA|South Africa|27
ZM|Zambia|260
ZW|Zimbabwe|263
"""
