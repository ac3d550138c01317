"""A Debezium change feed of one table, as the Postgres or MySQL connector writes it to Kafka.

Written from Debezium's documented event formats: the envelope ``{before, after, source, op,
ts_ms}`` (or the row flattened by ExtractNewRecordState with ``delete.handling.mode=rewrite``
and ``add.fields``), with or without the JSON converter's ``{"schema", "payload"}`` wrapper;
Kafka Connect's types (base64 ``Decimal``, ``io.debezium.time.Date`` / ``MicroTimestamp`` /
``Timestamp`` / ``ZonedTimestamp`` / ``MicroTime``); Postgres ``source.lsn`` and MySQL
``source.file`` / ``pos`` / ``row`` positions. Events are generated one by one with a seeded
:class:`random.Random` (a feed for tests and demos, not a benchmark).
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa

from ._layout import BRONZE_SCHEMA

_EPOCH = datetime(1970, 1, 1)
PLACEHOLDER = "__debezium_unavailable_value"

#: The table's columns: name, Kafka Connect schema, its silver type.
_COLUMNS: list[tuple[str, dict[str, Any], str]] = [
    ("id", {"type": "int32", "optional": False}, "INT"),
    ("name", {"type": "string", "optional": False}, "STRING"),
    ("email", {"type": "string", "optional": True}, "STRING"),
    ("balance", {"type": "bytes", "optional": True, "name": "org.apache.kafka.connect.data.Decimal",
                 "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "12"}},
     "DECIMAL(12,2)"),
    ("birth_date", {"type": "int32", "optional": True, "name": "io.debezium.time.Date",
                    "version": 1}, "DATE"),
    ("created_at", {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp",
                    "version": 1}, "TIMESTAMP_NTZ"),
    ("seen_at", {"type": "int64", "optional": True, "name": "io.debezium.time.Timestamp",
                 "version": 1}, "TIMESTAMP_NTZ"),
    ("updated_at", {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTimestamp",
                    "version": 1}, "TIMESTAMP"),
    ("login_time", {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTime",
                    "version": 1}, "TIME"),
    ("notes", {"type": "string", "optional": True}, "STRING"),
]

_SOURCE_FIELDS = {
    "postgresql": [("version", "string"), ("connector", "string"), ("name", "string"),
                   ("ts_ms", "int64"), ("snapshot", "string"), ("db", "string"),
                   ("sequence", "string"), ("schema", "string"), ("table", "string"),
                   ("txId", "int64"), ("lsn", "int64"), ("xmin", "int64")],
    "mysql": [("version", "string"), ("connector", "string"), ("name", "string"),
              ("ts_ms", "int64"), ("snapshot", "string"), ("db", "string"),
              ("sequence", "string"), ("table", "string"), ("server_id", "int64"),
              ("gtid", "string"), ("file", "string"), ("pos", "int64"), ("row", "int32"),
              ("thread", "int64"), ("query", "string")],
}
#: add.fields of the flattened feed (ExtractNewRecordState), per connector.
_ADDED = {"postgresql": [("__op", "string"), ("__lsn", "int64"), ("__source_ts_ms", "int64")],
          "mysql": [("__op", "string"), ("__file", "string"), ("__pos", "int64"),
                    ("__row", "int32"), ("__source_ts_ms", "int64")]}


@dataclass(frozen=True)
class DebeziumFeed:
    """A Debezium feed of table ``inventory.customers`` in bronze micro-batches.

    Attributes:
        bronze: the micro-batches (Kafka record columns; ``value`` holds the event's JSON,
            null for a tombstone).
        topic: the table's topic (``<server>.inventory.customers``).
        keys: the table's primary key.
        row_schema: the row's Kafka Connect schema as JSON: ``value_schema`` for a feed
            without the schema wrapper.
        final_rows: the source table after the feed's last change, by ``id`` (silver once
            every event is applied; a TOAST placeholder that no ``before`` fills is rejected
            instead, leaving that row older).
        counts: events of each kind generated (``snapshot``, ``insert``, ``update``,
            ``delete``, ``tombstone``, ``redelivered``, ``toast``).
    """

    bronze: list[pa.Table]
    topic: str
    keys: list[str]
    row_schema: str
    final_rows: pa.Table
    counts: dict[str, int] = field(default_factory=dict)
    schemas: bool = True

    def bronze_table(self) -> pa.Table:
        """All micro-batches as one table."""
        return pa.concat_tables(self.bronze)

    def upsert_options(self) -> dict[str, Any]:
        """``batch_upsert`` keyword arguments for this feed."""
        return {"keys": self.keys, "format": "debezium", "topic": self.topic,
                "value_schema": None if self.schemas else self.row_schema}


def debezium(events: int = 2_000, batches: int = 4, seed: int = 0, *,
             connector: str = "postgresql", schemas: bool = True, flattened: bool = False,
             snapshot_rows: int | None = None, toast: bool = True, redeliveries: bool = True,
             tombstones: bool = True, partitions: int = 3) -> DebeziumFeed:
    """A deterministic Debezium feed (the same for the same arguments).

    It starts with a snapshot (``op`` ``r``) of ``snapshot_rows`` rows, then streams inserts,
    updates (several rows of one MySQL binlog event at times), deletes each followed by a
    Kafka tombstone, re-inserts of deleted keys, and re-deliveries of a few records after a
    simulated connector restart (at-least-once). With ``toast`` (Postgres), some updates
    leave a large ``notes`` unchanged: ``after`` holds ``__debezium_unavailable_value``, and
    ``before`` holds the value when the table's REPLICA IDENTITY is FULL (half of them).

    Args:
        events: change events to generate (tombstones and re-deliveries come on top).
        batches: micro-batches to cut the Kafka records into.
        seed: the random seed.
        connector: ``"postgresql"`` or ``"mysql"``.
        schemas: with the JSON converter's ``schemas.enable`` wrapper.
        flattened: values flattened by ExtractNewRecordState (``delete.handling.mode=rewrite``,
            ``add.fields`` of the connector's position and ``op``).
        snapshot_rows: rows of the initial snapshot (default ``events // 10``).
        toast: TOAST placeholders (Postgres only).
        redeliveries: re-deliveries after simulated restarts.
        tombstones: a tombstone after each delete.
        partitions: Kafka partitions (a key's records stay in its partition, in order).

    Example:
        >>> import cdc_rs
        >>> from cdc_rs.datasets import debezium
        >>> feed = debezium(events=300, batches=2, seed=1, connector="mysql")
        >>> upsert = cdc_rs.batch_upsert(**feed.upsert_options())
        >>> reports = upsert.apply_all(feed.bronze)
        >>> upsert.target.to_arrow().sort_by("id").equals(feed.final_rows)
        True
    """
    if connector not in _SOURCE_FIELDS:
        raise ValueError(f"connector must be 'postgresql' or 'mysql', got {connector!r}")
    g = _Generator(random.Random(seed), connector, schemas, flattened,
                   toast and connector == "postgresql", tombstones)
    g.snapshot(events // 10 if snapshot_rows is None else snapshot_rows)
    while g.counts["changes"] < events:
        g.change()
        if redeliveries and g.rng.random() < 0.01:
            g.redeliver()
    return DebeziumFeed(bronze=g.micro_batches(batches, partitions), topic=g.topic, keys=["id"],
                        row_schema=json.dumps(_row_schema(g.server)),
                        final_rows=g.final_rows(),
                        counts={k: v for k, v in g.counts.items() if k != "changes"},
                        schemas=schemas)


def _row_schema(server: str) -> dict[str, Any]:
    return {"type": "struct", "optional": True, "name": f"{server}.inventory.customers.Value",
            "fields": [{**schema, "field": name} for name, schema, _ in _COLUMNS]}


class _Generator:
    def __init__(self, rng: random.Random, connector: str, schemas: bool, flattened: bool,
                 toast: bool, tombstones: bool) -> None:
        self.rng, self.connector, self.schemas, self.flattened = rng, connector, schemas, flattened
        self.toast, self.tombstones = toast, tombstones
        self.server = "pg1" if connector == "postgresql" else "mysql1"
        self.topic = f"{self.server}.inventory.customers"
        self.rows: dict[int, dict[str, Any]] = {}
        self.deleted: list[int] = []
        self.next_id = 1001
        self.records: list[tuple[int, bytes | None]] = []  # (key id, value) in emission order
        self.ts_ms = 1_700_000_000_000
        self.lsn = 24_023_128
        self.file, self.pos = 3, 154
        self.tx = 555
        self.counts = dict.fromkeys(("changes", "snapshot", "insert", "update", "delete",
                                     "tombstone", "redelivered", "toast"), 0)

    # ------------------------------------------------------------------ events

    def snapshot(self, n: int) -> None:
        self.ts_ms += 1000
        for i in range(n):
            row = self.new_row(self.next_id)
            self.next_id += 1
            self.rows[row["id"]] = row
            flag = "first" if i == 0 else "last" if i == n - 1 else "true"
            self.emit("r", None, row, self.position(snapshot=True), flag)
            self.counts["snapshot"] += 1
        self.counts["changes"] += n

    def change(self) -> None:
        r = self.rng.random()
        live = list(self.rows)
        if r < 0.25 or len(live) < 3:
            key = self.next_id
            self.next_id += 1
            if self.deleted and self.rng.random() < 0.2:
                key = self.deleted.pop(self.rng.randrange(len(self.deleted)))
            row = self.new_row(key)
            self.rows[key] = row
            self.emit("c", None, row, self.position())
            self.counts["insert"] += 1
        elif r < 0.85:
            # a statement updating one row, or (MySQL) several in one binlog event
            keys = self.rng.sample(live, 1 if self.rng.random() < 0.85 else min(3, len(live)))
            at = self.position()
            for n, key in enumerate(keys):
                self.update(key, {**at, "row": n} if "row" in at else self.position())
        else:
            key = self.rng.choice(live)
            old = self.rows.pop(key)
            self.deleted.append(key)
            full = self.rng.random() < 0.5  # REPLICA IDENTITY FULL, else only the key
            before = dict(old) if full else {n: (old[n] if n == "id" else None) for n, _, _ in _COLUMNS}
            self.emit("d", before, None, self.position())
            self.counts["delete"] += 1
            if self.tombstones:
                self.records.append((key, None))
                self.counts["tombstone"] += 1
        self.counts["changes"] += 1

    def update(self, key: int, at: dict[str, Any]) -> None:
        old = self.rows[key]
        new = dict(old)
        for name in self.rng.sample(["name", "email", "balance", "seen_at", "login_time",
                                     "birth_date"], 2):
            new[name] = self.new_row(key)[name]
        new["updated_at"] = self.now()
        before: dict[str, Any] | None = None
        after = dict(new)
        if self.toast and self.rng.random() < 0.2:
            after["notes"] = PLACEHOLDER  # notes unchanged and TOASTed: not in the WAL record
            if self.rng.random() < 0.5:
                before = dict(old)  # REPLICA IDENTITY FULL: the old tuple, notes included
            self.counts["toast"] += 1
        elif self.rng.random() < 0.3:
            new["notes"] = after["notes"] = self.notes()
        self.rows[key] = new
        self.emit("u", before, after, at)
        self.counts["update"] += 1

    def redeliver(self) -> None:
        """A connector restart: the last few records are sent again (at-least-once)."""
        k = min(len(self.records), self.rng.randint(2, 12))
        self.records.extend(self.records[-k:])
        self.counts["redelivered"] += k

    # ------------------------------------------------------------------ values

    def new_row(self, key: int) -> dict[str, Any]:
        rng = self.rng
        return {
            "id": key,
            "name": rng.choice(["Ada", "Grace", "Linus", "Barbara", "Ken", "Frances"]) + f" {key}",
            "email": None if rng.random() < 0.1 else f"user{key}.{rng.randint(0, 99)}@example.com",
            "balance": Decimal(rng.randint(-10**6, 10**10 - 1)) / 100,
            "birth_date": date(1950, 1, 1) + timedelta(days=rng.randint(0, 20_000)),
            "created_at": datetime(2015, 1, 1) + timedelta(microseconds=rng.randint(0, 3 * 10**14)),
            "seen_at": datetime(2020, 1, 1) + timedelta(milliseconds=rng.randint(0, 10**11)),
            "updated_at": self.now(),
            "login_time": time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                               rng.randint(0, 999_999)),
            "notes": self.notes(),
        }

    def notes(self) -> str:
        return "note " * self.rng.randint(1, 6) + str(self.rng.randint(0, 10**6))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ts_ms / 1000, timezone.utc)

    def position(self, snapshot: bool = False) -> dict[str, Any]:
        """The source position of the next change (a snapshot's rows share the snapshot's)."""
        self.ts_ms += self.rng.randint(0, 40)  # ties happen: ts_ms alone would not order
        if not snapshot:
            self.tx += 1
            self.lsn += self.rng.randint(40, 400)
            self.pos += self.rng.randint(100, 900)
            if self.rng.random() < 0.002:  # binlog rotation
                self.file, self.pos = self.file + 1, 4 + self.rng.randint(100, 900)
        if self.connector == "postgresql":
            return {"lsn": self.lsn, "txId": self.tx}
        return {"file": f"mysql-bin.{self.file:06d}", "pos": self.pos, "row": 0}

    # ------------------------------------------------------------------ JSON

    def emit(self, op: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
             at: dict[str, Any], snapshot: str = "false") -> None:
        row = after if after is not None else before
        assert row is not None
        source = self.source(at, snapshot)
        if self.flattened:
            value: dict[str, Any] = {**_json_row(row), "__op": op,
                                     **{f"__{k}": v for k, v in at.items() if k != "txId"},
                                     "__source_ts_ms": source["ts_ms"],
                                     "__deleted": "true" if op == "d" else "false"}
            schema = self.flat_schema()
        else:
            value = {"before": None if before is None else _json_row(before),
                     "after": None if after is None else _json_row(after), "source": source,
                     "op": op, "ts_ms": self.ts_ms + self.rng.randint(1, 300)}
            schema = self.envelope_schema()
        if self.schemas:
            value = {"schema": schema, "payload": value}
        self.records.append((row["id"], json.dumps(value, separators=(",", ":")).encode()))

    def source(self, at: dict[str, Any], snapshot: str) -> dict[str, Any]:
        common = {"version": "2.7.3.Final", "connector": self.connector, "name": self.server,
                  "ts_ms": self.ts_ms, "snapshot": snapshot, "db": "inventory"}
        if self.connector == "postgresql":
            return {**common, "sequence": json.dumps([None, str(at["lsn"])]), "schema": "public",
                    "table": "customers", "txId": at["txId"], "lsn": at["lsn"], "xmin": None}
        return {**common, "sequence": None, "table": "customers", "server_id": 223344,
                "gtid": None, "file": at["file"], "pos": at["pos"], "row": at["row"],
                "thread": None if snapshot != "false" else 7, "query": None}

    def envelope_schema(self) -> dict[str, Any]:
        row = _row_schema(self.server)
        source = {"type": "struct", "optional": False, "field": "source",
                  "name": f"io.debezium.connector.{self.connector}.Source",
                  "fields": [{"type": t, "optional": n not in ("connector", "name", "ts_ms", "db"),
                              "field": n} for n, t in _SOURCE_FIELDS[self.connector]]}
        return {"type": "struct", "optional": False, "version": 1,
                "name": f"{self.server}.inventory.customers.Envelope",
                "fields": [{**row, "field": "before"}, {**row, "field": "after"}, source,
                           {"type": "string", "optional": False, "field": "op"},
                           {"type": "int64", "optional": True, "field": "ts_ms"}]}

    def flat_schema(self) -> dict[str, Any]:
        row = _row_schema(self.server)
        added = [{"type": t, "optional": True, "field": n} for n, t in _ADDED[self.connector]]
        return {**row, "fields": row["fields"] + added
                + [{"type": "string", "optional": True, "field": "__deleted"}]}

    def key(self, key: int) -> bytes:
        payload = {"id": key}
        if self.schemas:
            schema = {"type": "struct", "optional": False, "name": f"{self.server}.inventory.customers.Key",
                      "fields": [{"type": "int32", "optional": False, "field": "id"}]}
            return json.dumps({"schema": schema, "payload": payload}, separators=(",", ":")).encode()
        return json.dumps(payload, separators=(",", ":")).encode()

    # ------------------------------------------------------------------ Kafka

    def micro_batches(self, batches: int, partitions: int) -> list[pa.Table]:
        """The records cut into ``batches`` slices of arrival, each laid out by partition then
        offset, as Spark's Kafka source lands them."""
        offsets = [0] * partitions
        placed = []
        for i, (key, value) in enumerate(self.records):
            p = key % partitions
            placed.append((i * batches // max(len(self.records), 1), p, offsets[p], key, value))
            offsets[p] += 1
        placed.sort(key=lambda r: (r[0], r[1], r[2]))
        tables = []
        for b in range(batches):
            rows = [r for r in placed if r[0] == b]
            tables.append(pa.table({
                "key": pa.array([self.key(r[3]) for r in rows], pa.binary()),
                "value": pa.array([r[4] for r in rows], pa.binary()),
                "topic": pa.array([self.topic] * len(rows), pa.string()),
                "partition": pa.array([r[1] for r in rows], pa.int32()),
                "offset": pa.array([r[2] for r in rows], pa.int64()),
                "timestamp": pa.array([self.ts_ms] * len(rows), pa.int64()).cast(
                    pa.timestamp("ms", tz="UTC")),
            }, schema=BRONZE_SCHEMA))
        return tables

    def final_rows(self) -> pa.Table:
        rows = [self.rows[k] for k in sorted(self.rows)]
        schema = pa.schema([("id", pa.int32()), ("name", pa.string()), ("email", pa.string()),
                            ("balance", pa.decimal128(12, 2)), ("birth_date", pa.date32()),
                            ("created_at", pa.timestamp("us")), ("seen_at", pa.timestamp("us")),
                            ("updated_at", pa.timestamp("us", "UTC")),
                            ("login_time", pa.time64("us")), ("notes", pa.string())])
        return pa.Table.from_pylist(rows, schema=schema)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as Debezium's JSON converter writes it."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or name in ("id", "name", "email", "notes"):
            out[name] = value
        elif name == "balance":
            unscaled = int(value.scaleb(2))
            out[name] = base64.b64encode(unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big",
                                                           signed=True)).decode()
        elif name == "birth_date":
            out[name] = (value - date(1970, 1, 1)).days
        elif name == "created_at":
            out[name] = (value - _EPOCH) // timedelta(microseconds=1)
        elif name == "seen_at":
            out[name] = (value - _EPOCH) // timedelta(milliseconds=1)
        elif name == "updated_at":
            out[name] = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif name == "login_time":
            out[name] = ((value.hour * 60 + value.minute) * 60 + value.second) * 10**6 + value.microsecond
    return out
