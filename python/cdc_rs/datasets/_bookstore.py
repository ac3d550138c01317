"""The generated data set: :func:`bookstore`, its :class:`Bookstore` and the files it writes."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._feeds import books_feed, customers_feed, micro_batches, orders_feed
from ._layout import BRONZE_SCHEMA, LOOKUP_FILE, TOPICS, Anomalies
from ._words import COUNTRIES


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

    def write_parquet(self, directory: str | Path, *, row_group_rows: int | None = None) -> list[Path]:
        """Write one Parquet file per micro-batch plus the country lookup.

        Files are ``bronze-00000.parquet``, ``bronze-00001.parquet``, ... and
        ``_country_lookup.parquet`` (which ``cdc_rs.stream`` and Spark skip, so the folder can
        be streamed as it is); read them back with :func:`read_parquet_batches` and
        :func:`read_country_lookup`.

        Args:
            directory: created if needed; existing ``bronze-*.parquet`` files are removed
                first so that the directory holds exactly this data set.
            row_group_rows: rows per Parquet row group (default: pyarrow's, about a million).
                Spark reads a file in as many tasks as it has row groups at most: smaller
                groups, as Spark's own writer makes them (128 MB), spread a big batch over
                the cores.

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
            pq.write_table(batch, path, row_group_size=row_group_rows)
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
    cust, signup_ms = customers_feed(rng, arrival_ms[positions[0]], batch[positions[0]],
                                      n_customers, rates)
    orders = orders_feed(rng, arrival_ms[positions[1]], batch[positions[1]], signup_ms, rates)
    books = books_feed(rng, arrival_ms[positions[2]], batch[positions[2]], rates)
    sizes = np.stack([np.bincount(batch[p], minlength=batches) for p in positions])
    return Bookstore(bronze=micro_batches([cust, orders, books], sizes),
                     country_lookup=country_lookup(), customers=n_customers, seed=seed)


def country_lookup() -> pa.Table:
    """The country lookup table of the reference: ``calling_code``, ``code``, ``country``.

    All 249 ISO 3166-1 alpha-2 codes; ``calling_code`` is null where a territory has none
    (e.g. ``AQ`` Antarctica).

    Example:
        >>> t = country_lookup()
        >>> t.slice(0, 1).to_pylist()
        [{'calling_code': '376', 'code': 'AD', 'country': 'Andorra'}]
    """
    rows = [line.split("|") for line in COUNTRIES.strip().splitlines()]
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
