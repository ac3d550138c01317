"""Hand-written Debezium events for the format="debezium" tests, shaped after the examples of
Debezium's connector documentation (Postgres: the ``customers`` table of "Data change events";
MySQL: the same table with binlog positions)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa

TOPIC = "PostgreSQL_server.inventory.customers"

#: The docs' customers table, as the Value schema of its events.
CUSTOMERS_VALUE = {
    "type": "struct", "optional": True, "name": "PostgreSQL_server.inventory.customers.Value",
    "fields": [{"type": "int32", "optional": False, "field": "id"},
               {"type": "string", "optional": False, "field": "first_name"},
               {"type": "string", "optional": False, "field": "last_name"},
               {"type": "string", "optional": False, "field": "email"}],
}
CUSTOMERS_DDL = "id INT, first_name STRING, last_name STRING, email STRING"


def postgres_source(lsn: int | None, snapshot: Any = False, ts_ms: int = 1559033904863,
                    tx: int = 555) -> dict[str, Any]:
    return {"version": "2.7.3.Final", "connector": "postgresql", "name": "PostgreSQL_server",
            "ts_ms": ts_ms, "snapshot": snapshot, "db": "postgres",
            "sequence": json.dumps([None, None if lsn is None else str(lsn)]), "schema": "public",
            "table": "customers", "txId": tx, "lsn": lsn, "xmin": None}


def mysql_source(file: str, pos: int, row: int = 0, snapshot: str = "false",
                 ts_ms: int = 1465491411000) -> dict[str, Any]:
    return {"version": "2.7.3.Final", "connector": "mysql", "name": "mysql-server-1",
            "ts_ms": ts_ms, "snapshot": snapshot, "db": "inventory", "table": "customers",
            "server_id": 223344, "gtid": None, "file": file, "pos": pos, "row": row,
            "thread": 7, "query": None}


def envelope(op: str, before: dict | None, after: dict | None, source: dict,
             ts_ms: int = 1559033904863, row_schema: dict | None = None) -> dict[str, Any]:
    """A change event value; with ``row_schema``, wrapped by the JSON converter."""
    payload = {"before": before, "after": after, "source": source, "op": op, "ts_ms": ts_ms}
    if row_schema is None:
        return payload
    source_schema = {"type": "struct", "optional": False, "field": "source",
                     "name": "io.debezium.connector.postgresql.Source",
                     "fields": [{"type": "string", "optional": False, "field": "connector"},
                                {"type": "int64", "optional": True, "field": "lsn"}]}
    schema = {"type": "struct", "optional": False,
              "name": "PostgreSQL_server.inventory.customers.Envelope",
              "fields": [{**row_schema, "field": "before"}, {**row_schema, "field": "after"},
                         source_schema, {"type": "string", "optional": False, "field": "op"},
                         {"type": "int64", "optional": True, "field": "ts_ms"}]}
    return {"schema": schema, "payload": payload}


def bronze(*values: Any, topics: list[str] | None = None) -> pa.Table:
    """Kafka records of topic :data:`TOPIC` (or ``topics``): a dict is written as JSON,
    bytes/str/None as they are."""
    encoded = [v if v is None or isinstance(v, bytes) else
               (v if isinstance(v, str) else json.dumps(v)).encode() for v in values]
    topics = topics or [TOPIC] * len(values)
    return pa.table({"key": pa.array([b'{"id":1}'] * len(values)),
                     "value": pa.array(encoded, pa.binary()),
                     "topic": pa.array(topics, pa.string()),
                     "partition": pa.array([0] * len(values), pa.int32()),
                     "offset": pa.array(range(len(values)), pa.int64())})


def unscaled(value: int) -> str:
    """Kafka Connect's Decimal: big-endian two's complement bytes of the unscaled value, base64."""
    return base64.b64encode(value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True)).decode()


def rows(upsert: Any) -> list[dict]:
    return upsert.target.to_arrow().sort_by("id").to_pylist()


def reasons(report: Any) -> list[str]:
    return report.rejected.column("reason").to_pylist()
