"""What the bookstore data looks like: event schemas, topics, the bronze columns, the dirt rates."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa


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
"""Topic names, in the order of ``topic_shares``."""

#: The lookup's file name beside the bronze files (see :meth:`Bookstore.write_parquet`).
LOOKUP_FILE = "_country_lookup.parquet"

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

PARTITIONS = np.array([4, 4, 2])  # partitions per topic
MINUTE_MS = 60_000
DAY_MIN = 1_440


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
