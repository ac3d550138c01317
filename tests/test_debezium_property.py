"""format="debezium" against the slow model (tests/reference_debezium.py): generated Debezium
feeds of every flavour, cut into any batches, give the silver rows of replaying their events
in sequence order, and every bronze row lands in one counter."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st
from reference_debezium import SILENT, bronze_events, counters, replay

import cdc_rs
from cdc_rs.datasets import debezium

EXAMPLES = int(os.environ.get("CDC_EXAMPLES", "300")) // 10
PRE_MERGE = ("other_topics", "malformed", "ignored_operations", "null_keys", "null_sequences")

feeds = st.builds(
    lambda seed, connector, schemas, flattened, toast, events: debezium(
        events=events, batches=1, seed=seed, connector=connector, schemas=schemas,
        flattened=flattened, toast=toast),
    seed=st.integers(0, 2**16), connector=st.sampled_from(["postgresql", "mysql"]),
    schemas=st.booleans(), flattened=st.booleans(), toast=st.booleans(),
    events=st.integers(1, 400))


def cuts(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, n), max_size=6).map(lambda c: sorted({0, n, *c}))


@settings(max_examples=EXAMPLES, deadline=None)
@given(feed=feeds, data=st.data())
def test_any_feed_in_any_batches_gives_the_replay_of_its_events(feed, data):
    table = feed.bronze_table()
    bounds = data.draw(cuts(table.num_rows))
    batches = [table.slice(a, b - a) for a, b in zip(bounds, bounds[1:])]
    options = feed.upsert_options()
    upsert = cdc_rs.batch_upsert(**options)
    reports = upsert.apply_all(batches)
    events = bronze_events(table.to_pylist(), ["id"], options["value_schema"], feed.topic)
    expected = replay(events)
    assert {(r["id"],): r for r in upsert.target.to_arrow().to_pylist()} == expected
    for report, batch in zip(reports, batches):
        assert report.rows_in == report.accounted == batch.num_rows
    found = {name: sum(getattr(r, name) for r in reports) for name in PRE_MERGE}
    assert {k: v for k, v in found.items() if v} == counters(events)
    rejected = [reason for r in reports for reason in r.rejected.column("reason").to_pylist()]
    assert rejected == [e.reason for e in events if e.reason and e.reason not in SILENT]


@settings(max_examples=EXAMPLES, deadline=None)
@given(seed=st.integers(0, 2**16), connector=st.sampled_from(["postgresql", "mysql"]),
       schemas=st.booleans(), flattened=st.booleans(), batches=st.integers(1, 5))
def test_without_toast_placeholders_silver_is_the_source_table(seed, connector, schemas,
                                                             flattened, batches):
    feed = debezium(events=300, batches=batches, seed=seed, connector=connector,
                    schemas=schemas, flattened=flattened, toast=False)
    upsert = cdc_rs.batch_upsert(**feed.upsert_options())
    upsert.apply_all(feed.bronze)
    assert upsert.target.to_arrow().sort_by("id").equals(feed.final_rows)


def test_the_generated_feed_is_deterministic_and_has_every_kind_of_event():
    a, b = (debezium(events=2_000, batches=3, seed=7) for _ in range(2))
    assert a.bronze_table().equals(b.bronze_table())
    assert all(a.counts[kind] > 0 for kind in ("snapshot", "insert", "update", "delete",
                                               "tombstone", "redelivered", "toast"))
    nulls = a.bronze_table().column("value").null_count  # tombstones, some re-delivered
    assert a.counts["tombstone"] <= nulls <= a.counts["tombstone"] + a.counts["redelivered"]
