"""Property: over any series of snapshots (keys coming, changing, vanishing and coming back;
nulls, -0.0 and NaN; null keys; replayed versions; a new process now and then, with or
without the state it saved), the target holds the last snapshot and every report counts
what a plain Python diff counts — in a MemoryTable and in a Delta table of either kind."""

from __future__ import annotations

import itertools
import math
import shutil

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cdc_rs

value = st.sampled_from(["a", "b", None])
number = st.sampled_from([0.0, -0.0, 1.5, math.nan, None])
snapshot = st.tuples(
    st.dictionaries(st.integers(0, 12), st.tuples(value, number), max_size=10),
    st.integers(0, 2),                     # rows with a null key
)
# (snapshot, version step (0: a replay), a new process first, its saved state lost)
step = st.tuples(snapshot, st.integers(0, 3), st.booleans(), st.booleans())
_runs = itertools.count()


def table(rows: dict, null_keys: int) -> pa.Table:
    ids = list(rows) + [None] * null_keys
    values = [r[0] for r in rows.values()] + ["n"] * null_keys
    numbers = [r[1] for r in rows.values()] + [1.0] * null_keys
    return pa.table({"id": pa.array(ids, pa.int64()), "v": pa.array(values, pa.string()),
                     "f": pa.array(numbers, pa.float64())})


def same(a: tuple, b: tuple) -> bool:
    """Spark's equality of values, null-safe: NaN = NaN, -0.0 = 0.0."""
    return all(x == y or (x is None and y is None)
               or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b))


def reference(previous: dict, rows: dict) -> dict:
    """The counts of applying ``rows`` over ``previous``, the obvious way."""
    changed = [k for k in rows if k in previous and not same(previous[k], rows[k])]
    return {"inserted": len([k for k in rows if k not in previous]), "updated": len(changed),
            "deleted": len([k for k in previous if k not in rows]),
            "unchanged": len([k for k in rows if k in previous]) - len(changed)}


def held(target) -> dict:
    t = target.to_arrow()
    if t.num_rows == 0:
        return {}
    return {i: (v, f) for i, v, f in zip(*(t.column(c).to_pylist() for c in ("id", "v", "f")))}


def check(steps, open_flow, lose_state=None):
    flow = open_flow()
    expected: dict = {}
    version = 0
    applied = None
    for (rows, null_keys), gap, reopen, lost in steps:
        if reopen:
            if lost and lose_state is not None:
                lose_state()
            flow = open_flow()
        version += gap
        report = flow(table(rows, null_keys), version)
        if applied is not None and version <= applied:
            assert report.skipped_replay and report.rows_in == len(rows) + null_keys
            continue
        want = reference(expected, rows)
        got = {k: getattr(report, k) for k in want}
        assert got == want, (version, rows)
        assert (report.rows_in, report.null_keys) == (len(rows) + null_keys, null_keys)
        assert report.accounted == report.rows_in
        assert report.rejected.num_rows == null_keys
        # the target keeps a row that compares equal: it holds the snapshot, by Spark's equality
        expected = {k: expected[k] if k in expected and same(expected[k], r) else r
                    for k, r in rows.items()}
        applied = version
        now = held(flow.target)
        assert now.keys() == expected.keys()
        assert all(same(now[k], expected[k]) for k in expected), (now, expected)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_a_memory_table_holds_the_last_snapshot_and_counts_as_the_reference(steps):
    import pickle

    flows = [cdc_rs.snapshot_upsert(keys="id")]

    def open_flow():
        # a "new process": the pickled flow, as Spark or a restart would have it
        flows.append(pickle.loads(pickle.dumps(flows[-1])))
        return flows[-1]

    check(steps, open_flow)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=6), merge_on_read=st.booleans())
def test_a_delta_table_holds_the_last_snapshot_and_counts_as_the_reference(tmp_path, steps,
                                                                          merge_on_read):
    path = tmp_path / f"t{next(_runs)}"

    def open_flow():
        target = cdc_rs.DeltaTarget(path, deletion_vectors=merge_on_read, target_file_rows=4,
                                    snapshot_every=2, checkpoint_every=3)
        return cdc_rs.snapshot_upsert(target, keys="id")

    def lose_state():
        for folder in path.glob("_cdc_rs/*/snapshots"):
            shutil.rmtree(folder)

    check(steps, open_flow, lose_state)
