"""The SCD type 2 model (tests/reference_scd2.py) pins the semantics issue 19 defines, before
any engine is checked against it: each consequence the issue lists, and that history does not
depend on arrival order or batching."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reference_scd2 import Event, Scd2Model


def up(seq, **row):
    return Event("k", seq, {"seq": seq, **row})


def delete(seq):
    return Event("k", seq, None)


def history(*batches, tracked=("v",)):
    model = Scd2Model(tracked=tracked)
    for batch in batches:
        model.apply(batch)
    return [(v.start, v.end, v.row.get("v")) for v in model.history("k")]


def test_a_tracked_change_opens_a_version_and_an_untracked_one_updates_in_place():
    assert history([up(1, v="a", note="x"), up(2, v="a", note="y"), up(3, v="b", note="y")]) == \
        [(1, 3, "a"), (3, None, "b")]
    model = Scd2Model(tracked=("v",))
    model.apply([up(1, v="a", note="x"), up(2, v="a", note="y")])
    assert model.history("k")[0].row["note"] == "y"  # the newer content, the start kept


def test_by_default_every_column_is_tracked_so_each_new_sequence_opens_a_version():
    assert history([up(1, v="a"), up(2, v="a")], tracked=None) == [(1, 2, "a"), (2, None, "a")]


def test_a_late_upsert_lands_between_its_neighbours():
    assert history([up(1, v="a"), up(5, v="c")], [up(3, v="b")]) == \
        [(1, 3, "a"), (3, 5, "b"), (5, None, "c")]


def test_a_late_upsert_older_than_a_delete_fills_history_and_never_reopens_the_key():
    assert history([up(1, v="a"), delete(5)], [up(3, v="b")]) == [(1, 3, "a"), (3, 5, "b")]


def test_a_late_delete_older_than_the_open_version_cuts_a_gap():
    assert history([up(1, v="a"), up(5, v="b")], [delete(3)]) == [(1, 3, "a"), (5, None, "b")]


def test_a_key_deleted_before_it_was_seen_gets_closed_history_from_older_upserts():
    assert history([delete(9)], [up(2, v="a")], [up(4, v="b")]) == [(2, 4, "a"), (4, 9, "b")]


def test_a_late_event_with_the_same_tracked_values_extends_a_version_backwards():
    model = Scd2Model(tracked=("v",))
    model.apply([up(5, v="a", note="new")])
    model.apply([up(2, v="a", note="old")])
    [version] = model.history("k")
    assert (version.start, version.end, version.row["note"]) == (2, None, "new")


def test_a_repeated_key_and_sequence_is_stale_and_the_first_arrival_wins():
    model = Scd2Model(tracked=("v",))
    assert model.apply([up(1, v="a"), up(1, v="b")]) == 1
    assert [v.row["v"] for v in model.history("k")] == ["a"]


def test_nulls_compare_equal():
    assert history([up(1, v=None, note=1), up(2, v=None, note=2)]) == [(1, None, None)]


events = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 12), st.sampled_from(["a", "b", None, "del"]),
              st.integers(0, 2)),
    max_size=30)


@settings(max_examples=200, deadline=None)
@given(events, st.randoms(use_true_random=False), st.lists(st.integers(1, 5), max_size=8))
def test_history_is_independent_of_arrival_order_and_batching(rows, rng, sizes):
    # one event per (key, sequence): otherwise arrival order decides which is stale
    unique = list({(k, s): (k, s, v, n) for k, s, v, n in rows}.values())
    as_events = [Event(k, s, None if v == "del" else {"v": v, "n": n}) for k, s, v, n in unique]
    at_once = Scd2Model(tracked=("v",))
    at_once.apply(as_events)
    shuffled = list(as_events)
    rng.shuffle(shuffled)
    split = Scd2Model(tracked=("v",))
    start = 0
    for size in [*sizes, len(shuffled)]:
        split.apply(shuffled[start:start + size])
        start += size
    assert split.table() == at_once.table()
    for key in at_once.events:  # at most one open version; versions never overlap
        versions = at_once.history(key)
        assert sum(v.end is None for v in versions) <= 1
        assert all(a.end is not None and a.end <= b.start for a, b in zip(versions, versions[1:]))
