"""Rule 4 for deletes: newer deletes remove rows and leave tombstones that block late upserts."""

from conftest import counts, customers, emails, event, notebook_upsert


def deleting():
    return notebook_upsert(delete_operations=("delete",))


def test_deletes_are_ignored_operations_when_no_delete_operations_are_set():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers(event("C1", 20, "delete")), 1)
    assert counts(report) == {"ignored_operations": 1}
    assert emails(upsert) == {"C1": "C1@10"}


def test_newer_delete_removes_the_row():
    upsert = deleting()
    upsert(customers(event("C1", 10), event("C2", 10)), 0)
    report = upsert(customers(event("C1", 20, "delete")), 1)
    assert counts(report) == {"deleted": 1}
    assert emails(upsert) == {"C2": "C2@10"}
    assert len(upsert.target) == 1


def test_older_delete_leaves_the_row_and_counts_stale():
    upsert = deleting()
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers(event("C1", 5, "delete")), 1)
    assert counts(report) == {"stale": 1}
    assert emails(upsert) == {"C1": "C1@10"}


def test_delete_equal_to_the_row_leaves_it_and_counts_stale():
    upsert = deleting()
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers(event("C1", 10, "delete")), 1)
    assert counts(report) == {"stale": 1}
    assert emails(upsert) == {"C1": "C1@10"}


def test_late_upsert_after_a_delete_never_resurrects_the_key():
    upsert = deleting()
    upsert(customers(event("C1", 10)), 0)
    upsert(customers(event("C1", 20, "delete")), 1)
    report = upsert(customers(event("C1", 15, "update")), 2)
    assert counts(report) == {"stale": 1}
    assert emails(upsert) == {}


def test_upsert_equal_to_the_tombstone_does_not_resurrect_the_key():
    upsert = deleting()
    upsert(customers(event("C1", 10)), 0)
    upsert(customers(event("C1", 20, "delete")), 1)
    report = upsert(customers(event("C1", 20, "update")), 2)
    assert counts(report) == {"stale": 1}
    assert emails(upsert) == {}


def test_newer_upsert_after_a_delete_inserts_the_key_again():
    upsert = deleting()
    upsert(customers(event("C1", 10)), 0)
    upsert(customers(event("C1", 20, "delete")), 1)
    report = upsert(customers(event("C1", 21, "update")), 2)
    assert counts(report) == {"inserted": 1}
    assert emails(upsert) == {"C1": "C1@21"}


def test_delete_of_an_absent_key_records_a_tombstone():
    upsert = deleting()
    report = upsert(customers(event("C1", 20, "delete")), 0)
    assert counts(report) == {"tombstoned": 1}
    assert len(upsert.target) == 0
    report = upsert(customers(event("C1", 19, "insert"), event("C2", 19, "insert")), 1)
    assert counts(report) == {"stale": 1, "inserted": 1}
    assert emails(upsert) == {"C2": "C2@19"}


def test_delete_older_or_equal_to_the_tombstone_counts_stale():
    upsert = deleting()
    upsert(customers(event("C1", 20, "delete"), event("C2", 20, "delete")), 0)
    report = upsert(customers(event("C1", 15, "delete"), event("C2", 20, "delete")), 1)
    assert counts(report) == {"stale": 2}


def test_delete_newer_than_the_tombstone_moves_it_forward():
    upsert = deleting()
    upsert(customers(event("C1", 20, "delete")), 0)
    report = upsert(customers(event("C1", 30, "delete")), 1)
    assert counts(report) == {"tombstoned": 1}
    report = upsert(customers(event("C1", 25, "update")), 2)
    assert counts(report) == {"stale": 1}
    assert emails(upsert) == {}


def test_stale_delete_does_not_lower_the_tombstone():
    upsert = deleting()
    upsert(customers(event("C1", 30, "delete")), 0)
    upsert(customers(event("C1", 10, "delete")), 1)
    report = upsert(customers(event("C1", 20, "update")), 2)
    assert counts(report) == {"stale": 1}
    assert emails(upsert) == {}


def test_newer_delete_in_the_same_batch_beats_an_earlier_arriving_upsert():
    upsert = deleting()
    upsert(customers(event("C1", 1)), 0)
    report = upsert(customers(event("C1", 10, "update"), event("C1", 20, "delete")), 1)
    assert counts(report) == {"superseded": 1, "deleted": 1}
    assert emails(upsert) == {}


def test_newer_upsert_in_the_same_batch_beats_an_earlier_arriving_delete():
    upsert = deleting()
    upsert(customers(event("C1", 1)), 0)
    report = upsert(customers(event("C1", 20, "delete"), event("C1", 30, "update")), 1)
    assert counts(report) == {"superseded": 1, "updated": 1}
    assert emails(upsert) == {"C1": "C1@30"}


def test_delete_and_reinsert_in_one_batch_on_a_new_key_inserts():
    upsert = deleting()
    report = upsert(customers(event("C1", 1, "insert"), event("C1", 2, "delete"),
                              event("C1", 3, "insert")), 0)
    assert counts(report) == {"superseded": 2, "inserted": 1}
    assert emails(upsert) == {"C1": "C1@3"}


def test_delete_rows_need_only_key_and_sequence():
    upsert = deleting()
    upsert(customers(event("C1", 1)), 0)
    bare = {"customer_id": "C1", "email": None, "country_code": None, "row_status": "delete",
            "row_time": event("C1", 2)["row_time"]}
    report = upsert(customers(bare), 1)
    assert counts(report) == {"deleted": 1}
    assert emails(upsert) == {}


def test_every_listed_delete_operation_deletes():
    upsert = notebook_upsert(delete_operations=("delete", "purge"))
    upsert(customers(event("C1", 1), event("C2", 1), event("C3", 1)), 0)
    report = upsert(customers(event("C1", 2, "delete"), event("C2", 2, "purge"),
                              event("C3", 2, "remove")), 1)
    assert counts(report) == {"deleted": 2, "ignored_operations": 1}
    assert emails(upsert) == {"C3": "C3@1"}


def test_custom_upsert_operations_replace_the_defaults():
    upsert = notebook_upsert(upsert_operations=("c", "u"), delete_operations=("d",))
    report = upsert(customers(event("C1", 1, "c"), event("C2", 1, "insert"), event("C3", 1, "u")), 0)
    assert counts(report) == {"inserted": 2, "ignored_operations": 1}
    report = upsert(customers(event("C1", 2, "d")), 1)
    assert counts(report) == {"deleted": 1}
    assert emails(upsert) == {"C3": "C3@1"}
