"""The embedded default target: a silver table held in memory by the Rust engine."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import _cdc_rs
from ._locks import TargetLock
from ._report import BatchOutcome

if TYPE_CHECKING:
    import pandas as pd


class MemoryTable:
    """A silver table in memory: the current row per key, plus each key's last sequence and
    the tombstones of deleted keys, so late and replayed events stay harmless.

    Cost per batch grows with the batch, not the table: updates append and retire rows, and
    the table compacts itself once retired rows outnumber live ones.

    Example:
        >>> import cdc_rs, pyarrow as pa
        >>> silver = cdc_rs.MemoryTable()
        >>> upsert = cdc_rs.batch_upsert(silver, keys="id", sequence_by="ts")
        >>> _ = upsert(pa.table({"id": [1, 2, 1], "ts": [1, 1, 2], "v": ["a", "b", "c"]}), 0)
        >>> silver.to_arrow().sort_by("id").to_pydict()
        {'id': [1, 2], 'ts': [2, 1], 'v': ['c', 'b']}
    """

    def __init__(self) -> None:
        self._core = _cdc_rs.TableCore()
        self._lock = TargetLock()

    def to_arrow(self) -> pa.Table:
        """The live rows as a pyarrow Table (insertion order of each row's current version).

        Safe while another thread writes: it waits for the batch in flight and shows the
        table after it.
        """
        with self._lock:
            return self._core.to_arrow()

    def to_pandas(self) -> pd.DataFrame:
        """The live rows as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def __len__(self) -> int:
        with self._lock:
            return len(self._core)

    @property
    def last_batch_id(self) -> int | None:
        """The id of the last micro-batch applied; batches at or below it are skipped."""
        with self._lock:
            return self._core.last_batch_id

    @property
    def keys_tracked(self) -> int:
        """Keys with state: live rows plus tombstones."""
        with self._lock:
            return self._core.keys_tracked

    def state(self) -> pa.Table | None:
        """Per-key bookkeeping: ``key.*`` and ``sequence.*`` columns and ``live`` (false = tombstone)."""
        with self._lock:
            return self._core.state()

    # ------------------------------------------------------------ the Target protocol

    #: a table in memory has no concurrent writer to conflict with
    max_retries = 0
    keeps_key_state = True

    def batch_lock(self) -> TargetLock:
        """Held while a batch is applied (readers wait for it)."""
        return self._lock

    def open(self, pipeline: _cdc_rs.Pipeline) -> _cdc_rs.TableCore:
        """The table itself: its key state and its rows."""
        return self._core

    def write(self, plan: _cdc_rs.PlanCore, batch_id: int) -> None:
        """Nothing to store ahead of the commit: the rows are in the plan."""
        return None

    def commit(self, plan: _cdc_rs.PlanCore, staged: None, batch_id: int) -> BatchOutcome:
        """The plan's rows and key changes, applied at once."""
        return self._core.commit(plan)

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:  # one consistent copy, even while another thread writes
            rows, state, last_batch_id = self._core.snapshot()
        return {"rows": rows, "state": state, "last_batch_id": last_batch_id}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self._lock = TargetLock()
        if saved["state"] is None:
            self._core = _cdc_rs.TableCore()
            if saved["last_batch_id"] is not None:
                self._core.mark_applied(saved["last_batch_id"])
        else:
            self._core = _cdc_rs.TableCore.restore(saved["rows"], saved["state"], saved["last_batch_id"])

    def __repr__(self) -> str:
        return f"MemoryTable(rows={len(self):,}, last_batch_id={self.last_batch_id})"

    def _repr_html_(self, max_rows: int = 10) -> str:
        table = self.to_arrow()
        head = "".join(f"<th>{escape(name)}</th>" for name in table.column_names)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row.values()) + "</tr>"
            for row in table.slice(0, max_rows).to_pylist()
        )
        more = f"<p>… {len(table) - max_rows:,} more rows</p>" if len(table) > max_rows else ""
        return (
            f"<div><strong>MemoryTable</strong>: {len(table):,} rows, "
            f"{self.keys_tracked - len(table):,} tombstones, last batch {self.last_batch_id}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}</div>"
        )


def _cell(value: Any) -> str:
    return "null" if value is None else str(value)
