"""Synthetic change-data-capture data: the "bookstore" feed in the shape of the reference
notebook, and a Debezium feed (:func:`debezium`) of one Postgres or MySQL table.

The reference (a Databricks course notebook) reads a Kafka-to-Delta *bronze* table whose
``value`` column holds JSON events of three topics (``customers``, ``orders``, ``books``)
and builds a *silver* table with the current row of each customer. :func:`bookstore`
generates such a bronze table, split into micro-batches, together with the country lookup
table the reference joins against. Everything is vectorised (numpy + pyarrow compute);
``cdc-rs demo`` prints how long the generation takes.

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

from ._bookstore import (Bookstore, bookstore, country_lookup, read_country_lookup,
                         read_parquet_batches)
from ._debezium import DebeziumFeed, debezium
from ._layout import (BOOKS_SCHEMA, BRONZE_SCHEMA, CUSTOMERS_SCHEMA, LOOKUP_FILE, ORDERS_SCHEMA,
                      SILVER_COLUMNS, TOPICS, Anomalies)

__all__ = [
    "BOOKS_SCHEMA",
    "BRONZE_SCHEMA",
    "CUSTOMERS_SCHEMA",
    "ORDERS_SCHEMA",
    "SILVER_COLUMNS",
    "TOPICS",
    "LOOKUP_FILE",
    "Anomalies",
    "Bookstore",
    "DebeziumFeed",
    "bookstore",
    "debezium",
    "country_lookup",
    "read_country_lookup",
    "read_parquet_batches",
]
