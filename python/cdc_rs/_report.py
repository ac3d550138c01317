"""What one micro-batch did: counters that account for every input row, and the rejects."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from html import escape
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

#: A batch's rejected rows when it has none.
# (from no batches: pa.table() or pa.array() would import pandas, most of a second of
# every `import cdc_rs`, to ask whether the values are pandas objects)
_NO_REJECTS = pa.Table.from_batches([], pa.schema([("reason", pa.string())]))

#: What the engine returns for one applied micro-batch: the counters, whether it was skipped as
#: a replay, and its rejected rows (None: none).
BatchOutcome = tuple[dict[str, int], bool, "pa.Table | None"]

#: Counters in the order rows are screened; for an applied batch they add up to ``rows_in``.
OUTCOMES = (
    "other_topics",
    "malformed",
    "filtered_out",
    "ignored_operations",
    "null_keys",
    "null_sequences",
    "lookup_misses",
    "superseded",
    "inserted",
    "updated",
    "deleted",
    "tombstoned",
    "stale",
)


@dataclass(frozen=True)
class BatchReport:
    """The outcome of ``BatchUpsert(micro_batch, batch_id)``.

    Every input row is counted once: ``rows_in == sum(report.to_dict()[k] for k in OUTCOMES)``
    (a skipped replay counts its rows in ``rows_in`` only). Rows rejected as malformed JSON,
    null key, null sequence or lookup miss are in :attr:`rejected` with a ``reason``.

    Example:
        >>> report = upsert(batch, 7)                       # doctest: +SKIP
        >>> report.inserted, report.rejected.num_rows       # doctest: +SKIP
        (812, 3)
    """

    batch_id: int
    rows_in: int = 0
    other_topics: int = 0
    malformed: int = 0
    #: events for which ``where=`` is not TRUE
    filtered_out: int = 0
    ignored_operations: int = 0
    null_keys: int = 0
    null_sequences: int = 0
    lookup_misses: int = 0
    superseded: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    tombstoned: int = 0
    stale: int = 0
    skipped_replay: bool = False
    seconds: float = 0.0
    #: Something about the batch worth a look though nothing failed ("" when all is well),
    #: e.g. rows that all belong to other topics than ``topic=``.
    warning: str = field(default="", compare=False)
    rejected: pa.Table = field(default_factory=lambda: _NO_REJECTS, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The counters as a plain dict (without ``rejected``), e.g. for a DataFrame row."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rejected"}

    @property
    def accounted(self) -> int:
        """Rows that landed in an outcome counter; equals ``rows_in`` unless skipped."""
        return sum(getattr(self, name) for name in OUTCOMES)

    def _repr_html_(self) -> str:
        state = "skipped (replayed batch id)" if self.skipped_replay else f"{self.seconds * 1000:.1f} ms"
        cells = "".join(
            f"<tr><td>{name}</td><td style='text-align:right'>{getattr(self, name):,}</td></tr>"
            for name in ("rows_in", *OUTCOMES)
            if name == "rows_in" or getattr(self, name)
        )
        rejected = ""
        if self.rejected.num_rows:
            counts = self.rejected.group_by("reason").aggregate([("reason", "count")]).to_pylist()
            listed = ", ".join(f"{escape(r['reason'])}: {r['reason_count']:,}" for r in counts)
            rejected = f"<p>rejected rows: {listed} (see <code>.rejected</code>)</p>"
        return (
            f"<div><strong>BatchReport</strong> batch {self.batch_id} — {escape(state)}"
            f"<table>{cells}</table>{rejected}</div>"
        )



@dataclass(frozen=True)
class DryRun:
    """What a batch would do to its target, which it did not change
    (:meth:`cdc_rs.BatchUpsert.plan`).

    Attributes:
        report: the :class:`BatchReport` applying it would give (``seconds``: the planning's).
        upserts: the rows it would insert or update, in the target's columns.
        deletes: the key columns of the rows it would delete.
    """

    report: BatchReport
    upserts: pa.Table
    deletes: pa.Table

    def _repr_html_(self) -> str:
        return (f"<div><strong>DryRun</strong>: {self.upserts.num_rows:,} rows to upsert, "
                f"{self.deletes.num_rows:,} to delete; nothing was written"
                f"{self.report._repr_html_()}</div>")


def reports_to_arrow(reports: Sequence[BatchReport]) -> pa.Table:
    """Many reports as one table, one row per batch (``.to_pandas()`` for a DataFrame)."""
    if not reports:
        return pa.Table.from_pylist([], schema=_REPORT_SCHEMA)
    table = pa.Table.from_pylist([r.to_dict() for r in reports])
    # The same types whatever the values (a column of "" warnings, of zero counts); the
    # fields of subclasses (StreamReport's source) keep theirs.
    return table.cast(pa.schema([_REPORT_SCHEMA.field(name) if name in _REPORT_SCHEMA.names
                                 else table.schema.field(name) for name in table.column_names]))


_REPORT_SCHEMA = pa.schema(
    [("batch_id", pa.int64()), ("rows_in", pa.int64())]
    + [(name, pa.int64()) for name in OUTCOMES]
    + [("skipped_replay", pa.bool_()), ("seconds", pa.float64()), ("warning", pa.string())])
