"""The predicates of ``where=`` and ``apply_as_deletes=``: random ones on random rows against the
slow model of ``reference_predicates`` (SQL's three-valued logic), and their errors."""

from __future__ import annotations

import os
import re

import cdc_rs
import pyarrow as pa
import pytest
from cdc_rs.exceptions import ConfigError
from conftest import bronze, event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_predicates import KINDS, as_arrow, conditions, evaluate, spellings, sql, tables

SETTINGS = settings(max_examples=int(os.environ.get("CDC_EXAMPLES", "300")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def ids(upsert: cdc_rs.BatchUpsert) -> set[int]:
    table = upsert.target.to_arrow()  # no columns before a row was written
    return set(table.column("id").to_pylist()) if table.num_columns else set()


def kept(rows: list[dict], where: str) -> set[int]:
    """The ids ``where=`` keeps (the key is the id: every row is a new key)."""
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="id", where=where)
    report = upsert(as_arrow(rows), 0)
    assert report.inserted + report.filtered_out == len(rows)
    return ids(upsert)


@SETTINGS
@given(data=st.data(), rows=tables(), predicate=conditions(KINDS))
def test_random_predicates_keep_the_rows_the_reference_says_are_true(data, rows, predicate):
    text = sql(predicate, spellings(data.draw))
    results = [evaluate(predicate, row) for row in rows]
    truth = {row["id"]: result for row, result in zip(rows, results)}
    assert kept(rows, text) == {i for i, r in truth.items() if r is True}, text
    # NOT keeps the FALSE ones: together, the three values are pinned
    assert kept(rows, f"NOT ({text})") == {i for i, r in truth.items() if r is False}, text
    # apply_as_deletes: TRUE deletes (a tombstone of a new key), FALSE and NULL upsert
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="id", apply_as_deletes=text)
    report = upsert(as_arrow(rows), 0)
    assert report.tombstoned == sum(r is True for r in results)
    assert ids(upsert) == {i for i, r in truth.items() if r is not True}


def test_a_syntax_error_is_raised_by_batch_upsert_with_a_caret_under_the_token():
    with pytest.raises(ConfigError) as error:
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", apply_as_deletes="op = 'd' OR op 'x'")
    assert str(error.value) == (
        "apply_as_deletes=: expected AND, OR or the end of the predicate, found the string 'x' "
        "(at position 15)\n  op = 'd' OR op 'x'\n                 ^")
    for text, message in [("op IN ()", "at least one value"), ("op = 'x", "never closed"),
                          ("op == = 1", "expected a value"), ("(op = 1", "expected ')'"),
                          ("op LIKE 'x%'", 'found "LIKE"'), ("a = -b", "only a number"),
                          ("", "expected a value, found the end"),
                          ("NULL", "a value alone is not a condition")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            cdc_rs.batch_upsert(keys="id", sequence_by="ts", where=text)


def test_a_predicate_that_is_not_text_is_a_config_error():
    with pytest.raises(ConfigError, match="where must be a string"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", where=lambda row: True)


def test_an_unknown_column_is_refused_at_build_with_value_schema_and_names_the_columns():
    with pytest.raises(ConfigError) as error:
        cdc_rs.batch_upsert(keys="customer_id", sequence_by="row_time", where="row_satus = 'x'",
                            value_schema="customer_id STRING, row_status STRING, row_time TIMESTAMP")
    assert 'unknown column "row_satus"; the event columns are ["customer_id", "row_status", ' \
           '"row_time"]' in str(error.value)
    # a literal that cannot meet its column, too
    with pytest.raises(ConfigError, match='"soon" is not a timestamp'):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema="id INT, ts TIMESTAMP",
                            apply_as_deletes="ts < 'soon'")


def test_without_value_schema_it_is_refused_at_the_first_batch_before_anything_is_applied():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", where="shop = 'a' AND sttus = 1")
    batch = pa.table({"id": [1, 2], "ts": [1, 1], "shop": ["a", "b"]})
    with pytest.raises(ConfigError, match=r'unknown column "sttus"; the event columns are \["id", "ts", "shop"\]'):
        upsert(batch, 0)
    assert len(upsert.target) == 0 and upsert.target.last_batch_id is None
    with pytest.raises(ConfigError, match="cannot compare column \"shop\" \\(Utf8\\) with a number"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", where="shop = 1")(batch, 0)


def test_string_literals_meet_timestamps_in_the_pipelines_time_zone():
    # 10:00 in Paris is 09:00 UTC; the decoded row_time is an instant
    rows = bronze(event("C1", 0), event("C2", 60), event("C3", 120))  # 00:00, 01:00, 02:00 UTC
    upsert = cdc_rs.batch_upsert(
        keys="customer_id", sequence_by="row_time", time_zone="Europe/Paris",
        value_schema="customer_id STRING, row_time TIMESTAMP",
        where="row_time >= '2022-01-31 02:00:00' AND row_time < '2022-01-31T02:00:00Z'")
    report = upsert(rows, 0)
    assert (report.inserted, report.filtered_out) == (1, 2)
    assert upsert.target.to_arrow().column("customer_id").to_pylist() == ["C2"]


def test_names_match_ignoring_case_as_in_spark():
    batch = pa.table({"ID": [1, 2], "Op": ["D", "U"], "ts": [1, 1]})
    upsert = cdc_rs.batch_upsert(keys="ID", sequence_by="ts", apply_as_deletes="op = 'D'",
                                 where="`id` IN (1, 2) AND OP IS NOT NULL")
    report = upsert(batch, 0)
    assert (report.tombstoned, report.inserted) == (1, 1)
