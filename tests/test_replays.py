"""Rule 6: a batch id at or below the last applied one is a replay: skipped, table unchanged."""

from conftest import customers, emails, event, notebook_upsert


def test_a_replayed_batch_id_is_skipped_and_changes_nothing():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10)), 0)
    report = upsert(customers(event("C1", 20), event("C2", 20)), 0)
    assert report.skipped_replay is True
    assert emails(upsert) == {"C1": "C1@10"}


def test_a_fresh_batch_is_not_a_replay():
    upsert = notebook_upsert()
    assert upsert(customers(event("C1", 10)), 0).skipped_replay is False
    assert upsert(customers(event("C1", 11)), 1).skipped_replay is False


def test_a_lower_batch_id_is_skipped():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 10)), 5)
    report = upsert(customers(event("C2", 10)), 4)
    assert report.skipped_replay is True
    assert emails(upsert) == {"C1": "C1@10"}


def test_a_skipped_replay_does_not_lower_the_last_applied_id():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1)), 5)
    upsert(customers(event("C2", 1)), 3)
    report = upsert(customers(event("C3", 1)), 4)
    assert report.skipped_replay is True
    assert emails(upsert) == {"C1": "C1@1"}


def test_the_next_id_after_a_replay_is_applied():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1)), 0)
    upsert(customers(event("C2", 1)), 0)
    report = upsert(customers(event("C3", 1)), 1)
    assert report.skipped_replay is False
    assert emails(upsert) == {"C1": "C1@1", "C3": "C3@1"}


def test_batch_ids_may_start_anywhere_and_leave_gaps():
    upsert = notebook_upsert()
    for batch_id, cid in [(7, "C1"), (8, "C2"), (20, "C3")]:
        assert upsert(customers(event(cid, 1)), batch_id).skipped_replay is False
    assert upsert(customers(event("C4", 1)), 15).skipped_replay is True
    assert sorted(emails(upsert)) == ["C1", "C2", "C3"]


def test_replaying_a_delete_batch_does_not_delete_a_later_insert():
    upsert = notebook_upsert(delete_operations=("delete",))
    delete = customers(event("C1", 10, "delete"))
    upsert(customers(event("C1", 5)), 0)
    upsert(delete, 1)
    upsert(customers(event("C1", 30)), 2)
    report = upsert(customers(event("C1", 40, "delete")), 1)
    assert report.skipped_replay is True
    assert emails(upsert) == {"C1": "C1@30"}


def test_a_replay_keeps_the_report_batch_id():
    upsert = notebook_upsert()
    upsert(customers(event("C1", 1)), 3)
    report = upsert(customers(event("C1", 2)), 2)
    assert report.batch_id == 2 and report.skipped_replay is True
