"""``apply_as_deletes=`` and ``where=`` end to end: deletes leave tombstones that keep late
events stale, filtered events are counted, on a MemoryTable and a DeltaTarget, through
apply_all, a dry run, pickling and config files."""

from __future__ import annotations

import pickle
import tomllib

import cdc_rs
import pyarrow as pa
import pytest
from cdc_rs.cli import format_reports
from cdc_rs.config import parse_config
from cdc_rs.exceptions import ConfigError
from conftest import CUSTOMER_DDL, bronze, counts, customers, emails, event

AUTO_CDC = {"keys": "customer_id", "sequence_by": "row_time",
            "apply_as_deletes": "row_status = 'DELETE'", "where": "country_code <> 'ZZ'"}

#: (batch, expected counts, expected emails after it)
SCRIPT = [
    ([event("C1", 10, "INSERT"), event("C2", 10, "INSERT"), event("C3", 10, "INSERT"),
      event("C5", 10, "INSERT", country="ZZ"), event("C6", 10, "INSERT", country=None)],
     {"inserted": 3, "filtered_out": 2},  # ZZ is not kept, and neither is NULL <> 'ZZ'
     {"C1": "C1@10", "C2": "C2@10", "C3": "C3@10"}),
    ([event("C1", 20, "DELETE"), event("C4", 20, "DELETE"), event("C2", 5, "DELETE")],
     {"deleted": 1, "tombstoned": 1, "stale": 1},
     {"C2": "C2@10", "C3": "C3@10"}),
    ([event("C1", 15, "UPDATE"), event("C4", 10, "INSERT"), event("C3", 30, "DELETE", country="ZZ")],
     {"stale": 2, "filtered_out": 1},  # late events stay stale; a filtered delete deletes nothing
     {"C2": "C2@10", "C3": "C3@10"}),
    ([event("C1", 30, "UPDATE")], {"inserted": 1}, {"C1": "C1@30", "C2": "C2@10", "C3": "C3@10"}),
]


def run_script(upsert: cdc_rs.BatchUpsert) -> list[cdc_rs.BatchReport]:
    reports = []
    for batch_id, (events, expected_counts, expected_emails) in enumerate(SCRIPT):
        report = upsert(customers(*events), batch_id)
        assert counts(report) == expected_counts, batch_id
        assert report.accounted == report.rows_in
        assert emails(upsert) == expected_emails, batch_id
        reports.append(report)
    return reports


def test_apply_as_deletes_leaves_tombstones_that_keep_late_events_stale_in_memory():
    upsert = cdc_rs.batch_upsert(cdc_rs.MemoryTable(), **AUTO_CDC)
    run_script(upsert)
    tombstones = [r for r in upsert.target.state().to_pylist() if not r["live"]]
    assert [r["key.customer_id"] for r in tombstones] == ["C4"]


def test_the_same_on_a_delta_target(tmp_path, delta_kind):
    pytest.importorskip("deltalake")
    upsert = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(tmp_path / "silver"), **AUTO_CDC)
    run_script(upsert)
    # a new process's view: the tombstones were stored with the table
    reopened = cdc_rs.batch_upsert(cdc_rs.DeltaTarget(tmp_path / "silver"), **AUTO_CDC)
    report = reopened(customers(event("C4", 15, "INSERT"), event("C2", 40, "DELETE")), 4)
    assert counts(report) == {"stale": 1, "deleted": 1}
    assert emails(reopened) == {"C1": "C1@30", "C3": "C3@10"}


def test_with_an_operation_column_other_events_are_upserts_only_if_their_operation_is_one():
    upsert = cdc_rs.batch_upsert(keys="customer_id", sequence_by="row_time",
                                 operation_column="row_status", upsert_operations=["insert"],
                                 apply_as_deletes="row_status IN ('delete', 'erase') OR "
                                                  "country_code = 'XX'")
    report = upsert(customers(event("C1", 1, "insert"), event("C2", 1, "erase"),
                              event("C3", 1, "snapshot"), event("C4", 1, None),
                              event("C5", 1, None, country="XX")), 0)
    # tested first: C5's NULL operation does not stop it being a delete
    assert counts(report) == {"inserted": 1, "tombstoned": 2, "ignored_operations": 2}


def test_giving_both_forms_of_deletes_is_a_config_error():
    with pytest.raises(ConfigError, match="apply_as_deletes or delete_operations"):
        cdc_rs.batch_upsert(keys="id", sequence_by="ts", operation_column="op",
                            delete_operations=["delete"], apply_as_deletes="op = 'delete'")


def test_where_counts_bronze_events_after_malformed_and_before_the_operation():
    upsert = cdc_rs.batch_upsert(keys="customer_id", sequence_by="row_time",
                                 value_schema=CUSTOMER_DDL, topic="customers",
                                 operation_column="row_status", delete_operations=["delete"],
                                 where="country_code IN ('FR', 'CN')")
    batch = bronze(("orders", event("O1", 1)),  # other_topics
                   "{oops",  # malformed: before where=, though its country is NULL too
                   event("C1", 1, country="NL"),  # filtered_out
                   event("C2", 1, "merge"),  # ignored_operations
                   event("C3", 1, "insert", country="CN"), event("C4", 2, "delete"))
    report = upsert(batch, 0)
    assert counts(report) == {"other_topics": 1, "malformed": 1, "filtered_out": 1,
                              "ignored_operations": 1, "inserted": 1, "tombstoned": 1}
    assert report.rejected.column("reason").to_pylist() == ["malformed_json"]  # not quarantined
    table = cdc_rs.reports_to_arrow([report])
    assert table.column("filtered_out").to_pylist() == [1]
    assert "skipped" in format_reports(table)  # with other topics and ignored operations


def test_apply_all_a_dry_run_and_a_pickled_copy_apply_the_same_predicates():
    upsert = cdc_rs.batch_upsert(cdc_rs.MemoryTable(), **AUTO_CDC)
    copy = pickle.loads(pickle.dumps(upsert))
    dry = upsert.plan(customers(*SCRIPT[0][0]))
    assert (dry.report.inserted, dry.report.filtered_out) == (3, 2)
    reports = copy.apply_all(customers(*events) for events, _, _ in SCRIPT)
    assert [counts(r) for r in reports] == [expected for _, expected, _ in SCRIPT]
    assert emails(copy) == SCRIPT[-1][2]
    assert len(upsert.target) == 0  # the copy has its own target


def test_a_config_file_takes_both_options(tmp_path):
    text = '''
keys = ["customer_id"]
sequence_by = "row_time"
apply_as_deletes = "row_status = 'DELETE'"
where = """
  country_code <> 'ZZ'
"""
'''
    config = parse_config(tomllib.loads(text), base=tmp_path)
    upsert = cdc_rs.batch_upsert(cdc_rs.MemoryTable(), **config.upsert)
    assert counts(upsert(customers(*SCRIPT[0][0]), 0)) == SCRIPT[0][1]
    with pytest.raises(ConfigError) as error:
        cdc_rs.batch_upsert(**{**config.upsert, "where": "country_code <>\n  AND x"})
    assert str(error.value).endswith("\n    AND x\n    ^")  # the caret on the line it is on
