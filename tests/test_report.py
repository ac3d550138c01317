"""Rule 1: every input row lands in exactly one counter, in a fixed order; rejected rows say why."""

import cdc_rs
import pyarrow as pa
import pytest
from conftest import (COUNTRIES, CUSTOMER_DDL, bronze, counts, customers, event,
                      notebook_upsert)
from reference import COUNTERS


def bronze_upsert(**overrides):
    options = dict(value_schema=CUSTOMER_DDL, topic="customers",
                   delete_operations=("delete",), lookup=COUNTRIES,
                   lookup_on={"country_code": "code"})
    options.update(overrides)
    return notebook_upsert(**options)


def test_every_counter_counts_its_rows_and_they_sum_to_rows_in():
    upsert = bronze_upsert()
    upsert(bronze(event("U", 10), event("D", 10), event("S", 10)), 0)
    upsert(bronze(event("T", 50, "delete")), 1)
    report = upsert(
        bronze(
            ("orders", event("O", 1)),                 # other_topics
            (None, event("O", 1)),                     # other_topics (null topic)
            "{not json",                               # malformed
            "[1, 2]",                                  # malformed
            event("X", 1, "merge"),                    # ignored_operations
            event(None, 1),                            # null_keys
            event("Y", None),                          # null_sequences
            event("M", 1, country="ZZ"),               # lookup_misses
            event("N", 1),                             # superseded (by N@2)
            event("N", 2),                             # inserted
            event("U", 11),                            # updated
            event("D", 11, "delete"),                  # deleted
            event("G", 5, "delete"),                   # tombstoned
            event("S", 9),                             # stale
            event("T", 40, "insert"),                  # stale (older than the tombstone)
        ),
        2,
    )
    assert counts(report) == {
        "other_topics": 2, "malformed": 2, "ignored_operations": 1, "null_keys": 1,
        "null_sequences": 1, "lookup_misses": 1, "superseded": 1, "inserted": 1, "updated": 1,
        "deleted": 1, "tombstoned": 1, "stale": 2,
    }
    assert report.rows_in == 15
    assert sum(getattr(report, name) for name in COUNTERS) == report.rows_in
    assert sorted(report.rejected["reason"].to_pylist()) == sorted(
        ["malformed_json", "malformed_json", "null_key", "null_sequence", "lookup_miss"]
    )


def test_other_topic_is_counted_before_malformed():
    with pytest.warns(UserWarning, match="none of the batch's 2 rows has topic"):
        report = bronze_upsert()(bronze(("orders", "{not json"), (None, "oops")), 0)
    assert counts(report) == {"other_topics": 2}
    assert report.rejected.num_rows == 0


def test_malformed_is_counted_before_everything_it_hides():
    report = bronze_upsert()(bronze("null-ish", '"a string"', "42", "[]"), 0)
    assert counts(report) == {"malformed": 4}
    assert report.rejected["reason"].to_pylist() == ["malformed_json"] * 4


@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_bronze_value_is_never_merged(value):
    # Spark's from_json reads a blank text as null rather than as a corrupt record, so whether
    # it counts as malformed is left open; it must still be counted once and merge nothing.
    upsert = bronze_upsert()
    report = upsert(bronze(value), 0)
    assert sum(getattr(report, name) for name in COUNTERS) == report.rows_in == 1
    assert report.inserted == report.tombstoned == 0
    assert len(upsert.target) == 0


def test_ignored_operation_is_counted_before_null_key_and_null_sequence():
    report = notebook_upsert()(customers(event(None, None, "merge")), 0)
    assert counts(report) == {"ignored_operations": 1}
    assert report.rejected.num_rows == 0


def test_null_sequence_is_counted_before_a_lookup_miss():
    report = bronze_upsert()(bronze(event("C1", None, country="ZZ")), 0)
    assert counts(report) == {"null_sequences": 1}
    assert report.rejected["reason"].to_pylist() == ["null_sequence"]


def test_a_lookup_miss_is_counted_before_superseded():
    report = bronze_upsert()(bronze(event("C1", 2), event("C1", 1, country="ZZ")), 0)
    assert counts(report) == {"inserted": 1, "lookup_misses": 1}


def test_rejected_rows_are_the_input_rows_plus_a_reason():
    batch = customers(event("C1", 1), event(None, 2), event("C3", None), event("C4", 4))
    report = notebook_upsert()(batch, 0)
    rejected = report.rejected
    assert isinstance(rejected, pa.Table)
    assert set(rejected.column_names) == set(batch.column_names) | {"reason"}
    got = sorted(rejected.to_pylist(), key=lambda r: r["reason"])
    assert got == [
        {**event(None, 2), "reason": "null_key"},
        {**event("C3", None), "reason": "null_sequence"},
    ]


def test_a_malformed_bronze_row_is_rejected_with_its_raw_value():
    report = bronze_upsert()(bronze("{not json", event("C1", 1)), 0)
    assert report.rejected.num_rows == 1
    assert report.rejected["reason"].to_pylist() == ["malformed_json"]
    assert report.rejected["value"].to_pylist() == ["{not json"]


def test_nothing_rejected_gives_an_empty_table_with_a_reason_column():
    report = notebook_upsert()(customers(event("C1", 1)), 0)
    assert report.rejected.num_rows == 0
    assert "reason" in report.rejected.column_names


def test_report_carries_the_batch_id_and_the_number_of_input_rows():
    report = notebook_upsert()(customers(event("C1", 1), event("C2", 1), event("C1", 2)), 41)
    assert isinstance(report, cdc_rs.BatchReport)
    assert report.batch_id == 41
    assert report.rows_in == 3
    assert counts(report) == {"inserted": 2, "superseded": 1}


def test_to_dict_holds_every_counter_with_its_value():
    report = notebook_upsert()(customers(event("C1", 1), event(None, 1)), 3)
    as_dict = report.to_dict()
    for name in (*COUNTERS, "batch_id", "rows_in", "skipped_replay"):
        assert as_dict[name] == getattr(report, name), name
    assert as_dict["null_keys"] == 1 and as_dict["inserted"] == 1


def test_html_repr_shows_the_counters():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 5)), 11)
    report = upsert(customers(event("C2", 1), event("C2", 2), event("C1", 4)), 12)
    html = report._repr_html_()
    assert isinstance(html, str) and html.lstrip().startswith("<")
    for name in ("inserted", "stale", "superseded"):
        assert name in html


def test_seconds_is_a_non_negative_float():
    report = notebook_upsert()(customers(event("C1", 1)), 0)
    assert isinstance(report.seconds, float)
    assert report.seconds >= 0.0


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_counters_sum_to_rows_in_for_any_batch_size(size):
    rows = [event(f"C{i % 7}" if i % 11 else None, i % 5 or None, ("insert", "x")[i % 13 == 0])
            for i in range(size)]
    report = notebook_upsert()(customers(*rows), 0)
    assert report.rows_in == size
    assert sum(getattr(report, name) for name in COUNTERS) == size


def test_a_topic_no_row_has_is_a_warning_in_the_report_and_warned_once():
    import warnings

    import cdc_rs
    from conftest import CUSTOMER_DDL, bronze, event

    upsert = cdc_rs.batch_upsert(keys="customer_id", sequence_by="row_time",
                                 value_schema=CUSTOMER_DDL, topic="custmers")  # a typo
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = upsert(bronze(event("C1", 1)), 0)
        second = upsert(bronze(event("C2", 2)), 1)
    assert "topic 'custmers'" in first.warning and second.warning == first.warning
    assert [str(w.message) for w in caught] == [first.warning]
    fine = cdc_rs.batch_upsert(keys="customer_id", sequence_by="row_time",
                               value_schema=CUSTOMER_DDL, topic="customers")
    assert fine(bronze(event("C1", 1)), 0).warning == ""
    table = cdc_rs.reports_to_arrow([first, second])
    assert table.column("warning").to_pylist() == [first.warning, second.warning]
    assert cdc_rs.reports_to_arrow([]).schema == table.schema
