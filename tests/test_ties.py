"""Rule 3: within a batch the newest event per key wins; on equal sequences the earliest-arriving row."""

import pyarrow as pa
from conftest import at, counts, customers, emails, event, notebook_upsert


def test_equal_sequences_in_one_batch_keep_the_earliest_arriving_row():
    upsert = notebook_upsert()
    report = upsert(customers(event("C1", 10, email="first"), event("C1", 10, email="second")), 0)
    assert emails(upsert) == {"C1": "first"}
    assert counts(report) == {"inserted": 1, "superseded": 1}


def test_reversing_arrival_order_flips_the_tie_winner():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10, email="second"), event("C1", 10, email="first")), 0)
    assert emails(upsert) == {"C1": "second"}


def test_tie_among_the_newest_keeps_the_first_of_them_not_the_first_row():
    upsert = notebook_upsert()
    batch = customers(
        event("C1", 5, email="old"),
        event("C1", 10, email="a"),
        event("C1", 3, email="older"),
        event("C1", 10, email="b"),
        event("C1", 10, email="c"),
    )
    report = upsert(batch, 0)
    assert emails(upsert) == {"C1": "a"}
    assert counts(report) == {"inserted": 1, "superseded": 4}


def test_tie_with_the_row_already_in_the_target_changes_nothing_and_counts_stale():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10, email="kept")), 0)
    report = upsert(customers(event("C1", 10, email="later")), 1)
    assert emails(upsert) == {"C1": "kept"}
    assert counts(report) == {"stale": 1}


def test_ties_in_a_large_batch_keep_the_earliest_row_of_every_key():
    # Large enough that a parallel or hash-partitioned ranking would reorder rows.
    n_keys, copies = 2_000, 25
    rows = [
        event(f"C{k}", 10 + (c % 3 == 0), email=f"{k}-{c}")
        for c in range(copies)
        for k in range(n_keys)
    ]
    upsert = notebook_upsert()
    report = upsert(customers(*rows), 0)
    # copy 0 is the first row at minute 11 for every key
    assert emails(upsert) == {f"C{k}": f"{k}-0" for k in range(n_keys)}
    assert report.inserted == n_keys
    assert report.superseded == n_keys * (copies - 1)


def test_a_tie_on_the_first_sequence_column_is_broken_by_the_second():
    schema = pa.schema([("customer_id", pa.string()), ("email", pa.string()),
                        ("row_time", pa.timestamp("us", tz="UTC")), ("seq", pa.int64())])
    batch = pa.Table.from_pylist(
        [
            {"customer_id": "C1", "email": "low", "row_time": at(10), "seq": 1},
            {"customer_id": "C1", "email": "high", "row_time": at(10), "seq": 2},
            {"customer_id": "C1", "email": "older", "row_time": at(9), "seq": 9},
        ],
        schema=schema,
    )
    upsert = notebook_upsert(sequence_by=["row_time", "seq"], operation_column=None)
    report = upsert(batch, 0)
    assert emails(upsert) == {"C1": "high"}
    assert counts(report) == {"inserted": 1, "superseded": 2}


def test_the_first_sequence_column_outranks_the_second():
    schema = pa.schema([("customer_id", pa.string()), ("email", pa.string()),
                        ("a", pa.int64()), ("b", pa.int64())])
    batch = pa.Table.from_pylist(
        [
            {"customer_id": "C1", "email": "a1", "a": 1, "b": 100},
            {"customer_id": "C1", "email": "a2", "a": 2, "b": 0},
        ],
        schema=schema,
    )
    upsert = notebook_upsert(sequence_by=["a", "b"], operation_column=None)
    upsert(batch, 0)
    assert emails(upsert) == {"C1": "a2"}


def test_a_tie_on_the_whole_sequence_list_keeps_the_earliest_arriving_row():
    schema = pa.schema([("customer_id", pa.string()), ("email", pa.string()),
                        ("a", pa.int64()), ("b", pa.int64())])
    batch = pa.Table.from_pylist(
        [
            {"customer_id": "C1", "email": "first", "a": 2, "b": 5},
            {"customer_id": "C1", "email": "second", "a": 2, "b": 5},
        ],
        schema=schema,
    )
    upsert = notebook_upsert(sequence_by=["a", "b"], operation_column=None)
    upsert(batch, 0)
    assert emails(upsert) == {"C1": "first"}


def test_a_tie_between_an_upsert_and_a_later_delete_keeps_the_upsert():
    upsert = notebook_upsert(delete_operations=("delete",))
    report = upsert(customers(event("C1", 10, "insert"), event("C1", 10, "delete")), 0)
    assert emails(upsert) == {"C1": "C1@10"}
    assert counts(report) == {"inserted": 1, "superseded": 1}


def test_a_tie_between_a_delete_and_a_later_upsert_keeps_the_delete():
    upsert = notebook_upsert(delete_operations=("delete",))
    report = upsert(customers(event("C1", 10, "delete"), event("C1", 10, "insert")), 0)
    assert emails(upsert) == {}
    assert counts(report) == {"tombstoned": 1, "superseded": 1}
