"""format="debezium": Debezium change events (Postgres and MySQL, envelope or flattened, with or
without the JSON converter's schema) applied to silver — operations, sequences, tombstones,
truncates and malformed envelopes, every row counted."""

from __future__ import annotations

import pyarrow as pa
import pytest
from debezium_events import (CUSTOMERS_DDL, CUSTOMERS_VALUE, TOPIC, bronze, envelope,
                             mysql_source, postgres_source, reasons, rows)

import cdc_rs
from cdc_rs.config import parse_config
from cdc_rs.exceptions import ConfigError

ANNE = {"id": 1, "first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"}
ANNE_MARIE = {**ANNE, "first_name": "Anne Marie"}


def debezium(**options):
    return cdc_rs.batch_upsert(keys="id", format="debezium", **options)


def test_the_postgres_docs_create_update_delete_and_tombstone():
    # the docs' events, with the JSON converter's schema: no value_schema needed
    upsert = debezium(topic=TOPIC)
    create = envelope("c", None, ANNE, postgres_source(24023128), row_schema=CUSTOMERS_VALUE)
    update = envelope("u", {"id": 1}, ANNE_MARIE, postgres_source(24023200, tx=556),
                      row_schema=CUSTOMERS_VALUE)
    report = upsert(bronze(create, update), 0)
    assert (report.rows_in, report.inserted, report.superseded) == (2, 1, 1)
    assert rows(upsert) == [ANNE_MARIE]
    assert upsert.target.to_arrow().schema.field("id").type == pa.int32()  # the schema's int32
    delete = envelope("d", {"id": 1}, None, postgres_source(46523128, tx=557),
                      row_schema=CUSTOMERS_VALUE)
    report = upsert(bronze(delete, None), 1)  # the delete, then its tombstone
    assert (report.rows_in, report.deleted, report.ignored_operations) == (2, 1, 1)
    assert report.rejected.num_rows == 0 and report.accounted == report.rows_in
    assert rows(upsert) == []
    dead = upsert.target.state().to_pylist()
    assert dead[0]["live"] is False and dead[0]["sequence._dbz_lsn"] == 46523128


def test_without_the_schema_wrapper_value_schema_gives_the_rows_columns():
    upsert = debezium(value_schema=CUSTOMERS_DDL)
    report = upsert(bronze(envelope("c", None, ANNE, postgres_source(10)),
                           envelope("u", {"id": 1}, ANNE_MARIE, postgres_source(20))), 0)
    assert (report.inserted, report.superseded) == (1, 1)
    assert rows(upsert) == [ANNE_MARIE]
    # a Kafka Connect schema (JSON) of the row works as value_schema too
    import json

    connect = debezium(value_schema=json.dumps(CUSTOMERS_VALUE))
    connect(bronze(envelope("c", None, ANNE, postgres_source(10))), 0)
    assert rows(connect) == [ANNE]


def test_an_event_without_schema_and_no_value_schema_is_rejected_not_guessed():
    upsert = debezium()
    report = upsert(bronze(envelope("c", None, ANNE, postgres_source(10))), 0)
    assert (report.malformed, reasons(report)) == (1, ["missing_schema"])


def test_mysql_binlog_positions_order_events_across_files_positions_and_rows():
    upsert = debezium(value_schema=CUSTOMERS_DDL)
    late_file = envelope("u", None, {**ANNE, "email": "rotated"}, mysql_source("mysql-bin.000004", 154))
    early_file = envelope("u", None, {**ANNE, "email": "older"}, mysql_source("mysql-bin.000003", 9_999))
    # one UPDATE of two rows: one binlog event, rows 0 and 1
    row0 = envelope("u", None, {**ANNE, "id": 2, "email": "row0"}, mysql_source("mysql-bin.000003", 484, 0))
    row1 = envelope("u", None, {**ANNE, "id": 3, "email": "row1"}, mysql_source("mysql-bin.000003", 484, 1))
    same_event_later_row = envelope("u", None, {**ANNE, "id": 2, "email": "row0, again"},
                                    mysql_source("mysql-bin.000003", 484, 1))
    report = upsert(bronze(late_file, early_file, same_event_later_row, row0, row1), 0)
    assert report.accounted == report.rows_in == 5
    assert {r["id"]: r["email"] for r in rows(upsert)} == {1: "rotated", 2: "row0, again", 3: "row1"}
    state = {r["key.id"]: r for r in upsert.target.state().to_pylist()}
    assert (state[1]["sequence._dbz_binlog_file"], state[1]["sequence._dbz_binlog_pos"]) == \
        ("mysql-bin.000004", 154)


def test_snapshot_reads_come_before_streamed_changes_of_the_same_key():
    # a connector without log positions: ts_ms orders, but a snapshot read taken after a
    # streamed change (a later ts_ms) is still the older state
    source = {"connector": "sqlserver", "ts_ms": 1}
    streamed = envelope("u", None, {**ANNE, "email": "streamed"}, source, ts_ms=1_000)
    read = envelope("r", None, {**ANNE, "email": "snapshot"}, {**source, "snapshot": "true"},
                    ts_ms=2_000)
    upsert = debezium(value_schema=CUSTOMERS_DDL)
    upsert(bronze(streamed), 0)
    report = upsert(bronze(read), 1)
    assert report.stale == 1
    assert rows(upsert)[0]["email"] == "streamed"


def test_ts_ms_orders_events_of_connectors_without_positions():
    events = [envelope("u", None, {**ANNE, "email": str(ts)}, {"connector": "oracle"}, ts_ms=ts)
              for ts in (30, 10, 20)]
    upsert = debezium(value_schema=CUSTOMERS_DDL)
    report = upsert(bronze(*events), 0)
    assert (report.inserted, report.superseded) == (1, 2)
    assert rows(upsert)[0]["email"] == "30"


def test_sequence_by_can_name_a_row_column_instead():
    upsert = debezium(value_schema=CUSTOMERS_DDL + ", version BIGINT", sequence_by="version")
    a = envelope("u", None, {**ANNE, "version": 2, "email": "v2"}, postgres_source(10))
    b = envelope("u", None, {**ANNE, "version": 1, "email": "v1"}, postgres_source(20))
    upsert(bronze(a, b), 0)
    assert rows(upsert)[0]["email"] == "v2"


def test_flattened_rewrite_deletes_by___deleted_and___op():
    # ExtractNewRecordState, delete.handling.mode=rewrite, add.fields=op,lsn,source.ts_ms
    def flat(row, op, lsn, deleted="false"):
        return {**row, "__op": op, "__lsn": lsn, "__source_ts_ms": 1, "__deleted": deleted}

    upsert = debezium(value_schema=CUSTOMERS_DDL)
    report = upsert(bronze(flat(ANNE, "r", 5), flat({**ANNE, "id": 2}, "c", 10),
                           flat(ANNE_MARIE, "u", 20)), 0)
    assert report.inserted == 2
    assert rows(upsert) == [ANNE_MARIE, {**ANNE, "id": 2}]
    report = upsert(bronze(flat({"id": 1}, "d", 30, "true"), None,
                           {**ANNE, "id": 2, "__deleted": "true", "__lsn": 40}), 1)
    assert (report.deleted, report.ignored_operations) == (2, 1)
    assert rows(upsert) == []
    # with the schema wrapper, the added __ fields are not columns
    wrapped = debezium()
    schema = {**CUSTOMERS_VALUE, "fields": CUSTOMERS_VALUE["fields"] + [
        {"type": "string", "optional": True, "field": "__op"},
        {"type": "int64", "optional": True, "field": "__lsn"},
        {"type": "string", "optional": True, "field": "__deleted"}]}
    wrapped(bronze({"schema": schema, "payload": flat(ANNE, "c", 10)}), 0)
    assert rows(wrapped) == [ANNE]


def test_a_tombstone_is_counted_and_never_deletes_a_newer_row():
    upsert = debezium(value_schema=CUSTOMERS_DDL)
    delete = envelope("d", {"id": 1}, None, postgres_source(10))
    recreate = envelope("c", None, ANNE, postgres_source(20))
    # the delete's tombstone arrives after the key lives again (another batch, re-delivered)
    report = upsert(bronze(delete, recreate), 0)
    assert report.inserted == 1
    report = upsert(bronze(None, {"schema": None, "payload": None}), 1)
    assert (report.ignored_operations, report.deleted, report.rejected.num_rows) == (2, 0, 0)
    assert rows(upsert) == [ANNE]


def test_redelivered_events_change_nothing():
    events = [envelope("c", None, ANNE, postgres_source(10)),
              envelope("u", None, ANNE_MARIE, postgres_source(20)),
              envelope("d", {"id": 2}, None, postgres_source(30))]
    upsert = debezium(value_schema=CUSTOMERS_DDL)
    upsert(bronze(*events), 0)
    before = (rows(upsert), upsert.target.state().to_pylist())
    report = upsert(bronze(*events, *events), 1)  # at-least-once: twice more
    assert (report.stale, report.superseded) == (2, 4)
    assert (rows(upsert), upsert.target.state().to_pylist()) == before


def test_malformed_envelopes_are_rejected_with_a_reason_and_every_row_counted():
    good = envelope("c", None, ANNE, postgres_source(10))
    values = [
        "not json",
        "[1, 2]",
        {"before": None, "after": ANNE, "source": {"lsn": 11}},                 # no op
        envelope("x", None, ANNE, postgres_source(12)),                          # unknown op
        envelope("c", None, None, postgres_source(13)),                          # no after
        envelope("d", None, None, postgres_source(14)),                          # no before
        envelope("c", None, {**ANNE, "id": None}, postgres_source(15)),          # null key
        envelope("c", None, {**ANNE, "id": 9}, {"connector": "postgresql"}, ts_ms=None),  # no position
        envelope("t", None, None, postgres_source(16)),                          # truncate
        {"source": postgres_source(17), "op": "m", "message": {"prefix": "p"}},  # a message
        None,                                                                    # tombstone
        good,
    ]
    report = debezium(value_schema=CUSTOMERS_DDL)(bronze(*values), 0)
    assert reasons(report) == ["malformed_json", "malformed_json", "unknown_operation",
                               "unknown_operation", "missing_after", "delete_without_before",
                               "null_key", "null_sequence", "truncate_not_applied"]
    assert report.rejected.column("value").to_pylist()[0] == b"not json"  # the bronze row
    assert (report.malformed, report.null_keys, report.null_sequences,
            report.ignored_operations, report.inserted) == (5, 2, 1, 3, 1)
    assert report.accounted == report.rows_in == len(values)


def test_an_unreadable_schema_rejects_its_events_not_the_batch():
    upsert = debezium()
    report = upsert(bronze({"schema": {"type": "struct", "fields": [
                                {"type": "no-such-type", "field": "id"}]}, "payload": ANNE},
                           {"schema": "not a schema", "payload": ANNE},
                           envelope("c", None, ANNE, postgres_source(1), row_schema=CUSTOMERS_VALUE)), 0)
    assert (reasons(report), report.inserted) == (["invalid_schema", "invalid_schema"], 1)


def test_rows_of_other_topics_are_counted_not_decoded():
    upsert = debezium(value_schema=CUSTOMERS_DDL, topic=TOPIC)
    batch = bronze(envelope("c", None, ANNE, postgres_source(10)), "garbage",
                   topics=[TOPIC, "other"])
    report = upsert(batch, 0)
    assert (report.other_topics, report.inserted, report.malformed) == (1, 1, 0)


def test_an_inner_lookup_miss_rejects_the_bronze_row_in_input_order():
    lookup = pa.table({"last_name": ["Kretchmar"], "country": ["CA"]})
    upsert = debezium(value_schema=CUSTOMERS_DDL, lookup=lookup, lookup_on="last_name")
    values = [envelope("c", None, {**ANNE, "id": 2, "last_name": "Nobody"}, postgres_source(10)),
              "bad", envelope("c", None, ANNE, postgres_source(11))]
    report = upsert(bronze(*values), 0)
    assert reasons(report) == ["lookup_miss", "malformed_json"]
    assert report.rejected.column_names == ["key", "value", "topic", "partition", "offset",
                                            "reason"]
    assert report.rejected.column("offset").to_pylist() == [0, 1]
    assert rows(upsert) == [{**ANNE, "country": "CA"}]


def test_apply_all_and_a_dry_run_give_what_calls_give():
    batches = [bronze(envelope("c", None, ANNE, postgres_source(10)), None, "bad"),
               bronze(envelope("u", None, ANNE_MARIE, postgres_source(20)))]
    one_by_one = debezium(value_schema=CUSTOMERS_DDL)
    expected = [one_by_one(b, i) for i, b in enumerate(batches)]
    ahead = debezium(value_schema=CUSTOMERS_DDL)
    dry = ahead.plan(batches[0])
    assert dry.report.to_dict() | {"seconds": 0} == expected[0].to_dict() | {"seconds": 0}
    assert dry.upserts.to_pylist() == [ANNE] and len(ahead.target) == 0
    got = ahead.apply_all(batches)
    assert [r.to_dict() | {"seconds": 0} for r in got] == \
        [r.to_dict() | {"seconds": 0} for r in expected]
    assert got[0].rejected.to_pylist() == expected[0].rejected.to_pylist()
    assert rows(ahead) == rows(one_by_one) == [ANNE_MARIE]


def test_the_configuration_is_checked_when_the_upsert_is_built():
    with pytest.raises(ConfigError, match="operation_column"):
        debezium(value_schema=CUSTOMERS_DDL, operation_column="op")
    with pytest.raises(ConfigError, match="format"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", format="avro")
    with pytest.raises(ConfigError, match="sequence_by"):
        cdc_rs.batch_upsert(keys="id")
    with pytest.raises(ConfigError, match="keys"):
        cdc_rs.batch_upsert(keys="missing", format="debezium", value_schema=CUSTOMERS_DDL)
    upsert = debezium()
    with pytest.raises(ConfigError, match="keys"):  # the messages' schema has no such key
        cdc_rs.batch_upsert(keys="nope", format="debezium")(bronze(
            envelope("c", None, ANNE, postgres_source(1), row_schema=CUSTOMERS_VALUE)), 0)
    assert list(upsert.config["sequence_by"]) == list(cdc_rs.DEBEZIUM_SEQUENCE)


def test_a_config_file_needs_no_sequence_by_for_debezium():
    config = parse_config({"keys": ["id"], "format": "debezium", "topic": TOPIC})
    upsert = cdc_rs.batch_upsert(**config.upsert)
    upsert(bronze(envelope("c", None, ANNE, postgres_source(1), row_schema=CUSTOMERS_VALUE)), 0)
    assert rows(upsert) == [ANNE]
    with pytest.raises(ConfigError, match="sequence_by"):
        parse_config({"keys": ["id"]})
