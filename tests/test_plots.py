"""plot_reports: a run's reports as three panels (outcomes, time, rejects), from the data."""

import pyarrow as pa
import pytest

import cdc_rs

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

SCHEMA = "id INT, ts INT, op STRING"


def _reports():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=SCHEMA,
                                 operation_column="op", delete_operations=["delete"])
    batches = [
        ['{"id": 1, "ts": 1, "op": "insert"}', '{"id": 2, "ts": 1, "op": "insert"}', "{oops"],
        ['{"id": 1, "ts": 2, "op": "update"}', '{"id": 2, "ts": 2, "op": "delete"}',
         '{"id": null, "ts": 3, "op": "insert"}', '{"id": 1, "ts": 0, "op": "update"}'],
    ]
    reports = [upsert(pa.table({"value": b}), i) for i, b in enumerate(batches)]
    reports.append(upsert(pa.table({"value": batches[1]}), 1))  # a replay: skipped
    return reports


def test_the_panels_show_the_reports_numbers():
    reports = _reports()
    fig = cdc_rs.plot_reports(reports, title="silver")
    by_outcome, timing, rejects = fig.axes
    # one stacked segment per (outcome that happened, batch); heights are the counters
    heights = {}
    for container, label in zip(by_outcome.containers, by_outcome.get_legend_handles_labels()[1]):
        heights[label] = [bar.get_height() for bar in container]
    assert heights["inserted"] == [2, 0, 0]
    assert heights["updated"] == [0, 1, 0] and heights["deleted"] == [0, 1, 0]
    assert heights["malformed"] == [1, 0, 0] and heights["null_keys"] == [0, 1, 0]
    assert heights["superseded"] == [0, 1, 0]  # the older update of id 1 in batch 1
    assert "other_topics" not in heights  # outcomes that never happened are left out
    # time: a skipped replay has no bar height and a mark
    assert [b.get_height() for b in timing.patches][2] == 0
    assert any("replay" in t.get_text() for t in timing.texts)
    # rejects by reason, over all batches
    reasons = {t.get_text(): b.get_width() for t, b in zip(rejects.get_yticklabels(), rejects.patches)}
    assert sum(reasons.values()) == 2 and len(reasons) == 2
    assert fig._suptitle.get_text() == "silver"


def test_a_clean_run_says_there_are_no_rejects_and_no_reports_is_an_error():
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="ts", value_schema=SCHEMA)
    fig = cdc_rs.plot_reports([upsert(pa.table({"value": ['{"id": 1, "ts": 1}']}), 0)])
    assert any("no rejected rows" in t.get_text() for t in fig.axes[2].texts)
    with pytest.raises(cdc_rs.ConfigError, match="at least one report"):
        cdc_rs.plot_reports([])
