"""``cdc_rs.stream``: ``readStream … foreachBatch … trigger(availableNow=True)`` without Spark.

A source (a folder of bronze Parquet / JSON-lines files, or a Delta table read version by
version) is cut into micro-batches; each goes through a :class:`cdc_rs.BatchUpsert` with a
batch id assigned from the checkpoint. The checkpoint folder works like Spark's:

* ``offsets/<id>.json`` — what batch ``id`` reads, written *before* the batch runs;
* ``commits/<id>.json`` — written *after* the target committed the batch;
* ``quarantine/`` — JSON lines that do not parse and files skipped as unreadable.

After a crash, the batch with offsets but no commit is run again with the same id and the
same input; a durable target (:class:`cdc_rs.DeltaTarget`) that already committed it reports
``skipped_replay`` and changes nothing, so every input row is applied exactly once.

Source, checkpoint and target may each be local or on object storage (``s3://…``): every
file goes through the same store layer as :class:`cdc_rs.DeltaTarget`'s, whose writes land
whole or not at all.

Example:
    >>> import cdc_rs                                                   # doctest: +SKIP
    >>> upsert = cdc_rs.batch_upsert("silver/customers", keys="customer_id", ...)  # doctest: +SKIP
    >>> reports = cdc_rs.stream("bronze/", upsert, checkpoint="chk/customers")  # doctest: +SKIP
    >>> reports = cdc_rs.stream("s3://lake/bronze/", upsert,               # doctest: +SKIP
    ...                         checkpoint="s3://lake/_checkpoints/customers",
    ...                         storage_options={"AWS_REGION": "eu-west-1"})
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from . import _faults
from ._checkpoint import Checkpoint
from ._report import BatchReport
from .delta import DeltaTarget
from .exceptions import CdcError, CheckpointError, ConfigError, SourceError
from .sources import Source, open_source

__all__ = ["StreamReport", "stream"]


@dataclass(frozen=True)
class StreamReport(BatchReport):
    """A :class:`cdc_rs.BatchReport` plus where the batch came from.

    Attributes:
        source: the file (or ``delta version N``) and row range of the batch.
        quarantined: lines of the file that were not JSON records, written to the
            checkpoint's ``quarantine/`` folder instead (counted with the file's first batch).
    """

    source: str = dataclasses.field(default="", compare=False)
    quarantined: int = 0


def stream(source: Any, upsert: Any, *, checkpoint: str | os.PathLike[str],
           trigger: str = "availableNow", max_rows_per_batch: int | None = None,
           progress: bool = True, on_bad_file: str = "raise", pattern: str = "*",
           storage_options: dict[str, str] | None = None) -> list[StreamReport]:
    """Apply everything the source holds that the checkpoint has not committed, then stop.

    The equivalent of ``spark.readStream…writeStream.foreachBatch(upsert)
    .option("checkpointLocation", checkpoint).trigger(availableNow=True)``.

    Args:
        source: a :class:`FolderSource` / :class:`DeltaSource`, or a path or object store URL
            (``delta://PATH`` or a folder with a ``_delta_log`` is read as a Delta table; any
            other folder as bronze Parquet / JSON-lines files in name order).
        upsert: a :class:`cdc_rs.BatchUpsert`; give it a durable target
            (:class:`cdc_rs.DeltaTarget`) for exactly-once results across runs.
        checkpoint: folder recording which input is committed (created if needed): a local
            path or an object store URL (``s3://bucket/chk/customers``).
        trigger: only ``"availableNow"``.
        max_rows_per_batch: cut files (Delta versions) into batches of at most this many
            rows; default: one batch per file (version).
        progress: show a tqdm progress bar on stderr.
        on_bad_file: ``"raise"`` (default) stops at an unreadable file with
            :class:`SourceError`; ``"quarantine"`` records it under ``quarantine/`` and goes on.
        pattern: file-name pattern when ``source`` is a folder path.
        storage_options: the object store's options for a ``source`` given as a URL and for
            the checkpoint, as :class:`cdc_rs.DeltaTarget` takes them (``AWS_ENDPOINT_URL``,
            ``AWS_REGION``…); without them, the ``AWS_*`` environment. A source object and the
            target keep their own.

    Returns:
        One :class:`StreamReport` per micro-batch run (a batch re-run after a crash reports
        ``skipped_replay`` if the target had already committed it).

    Raises:
        SourceError: an unreadable input (its batch and all later ones are not committed), or
            a source store that cannot be opened or listed (bad option, missing bucket).
        CheckpointError: the checkpoint belongs to another source, the target is behind it,
            or its store cannot be read or written.
        CdcError: whatever the upsert raises; the batch stays uncommitted and is re-run next time.
    """
    _check_options(trigger, max_rows_per_batch, on_bad_file)
    src = open_source(source, pattern=pattern, storage_options=storage_options)
    chk = Checkpoint(checkpoint, src.describe(), storage_options)
    _check_target(upsert, chk)
    done, resume = chk.progress()
    leftovers = chk.uncommitted()
    units = src.pending(done)
    # Every new file is checked before anything of this run is committed: a stray file (the
    # lookup table beside the bronze files, say) stops the run up front, not half-way.
    strays = src.check_files(units)
    if strays and on_bad_file == "raise":
        raise next(iter(strays.values()))
    from tqdm import tqdm

    with tqdm(total=len(units) + len(leftovers), unit="batch", desc="stream",
              disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        run = _Run(src, upsert, chk, max_rows_per_batch)
        # 1. the batches a crash left uncommitted: the same ids, the same input
        for batch_id in leftovers:
            off = chk.offsets[batch_id]
            run.batch(batch_id, off)
            bar.update(1)
            if off.get("last"):
                if off["unit"] in units:
                    units.remove(off["unit"])
                    bar.total -= 1
                resume = None
            else:
                resume = (off["unit"], off["stop"])
        # 2. new input, in order, starting with a unit read only in part
        if resume is not None and resume[0] in units:
            units.remove(resume[0])
            units.insert(0, resume[0])
        for unit in units:
            start = resume[1] if resume is not None and resume[0] == unit else 0
            resume = None
            try:
                if unit in strays:
                    raise strays[unit]
                run.unit(unit, start)
            except SourceError as exc:
                if on_bad_file == "raise":
                    raise
                run.bad_file(unit, exc)
            bar.update(1)
    return run.reports


def _check_options(trigger: str, max_rows_per_batch: int | None, on_bad_file: str) -> None:
    if trigger not in ("availableNow", "available_now"):
        raise ConfigError(f"trigger {trigger!r} is not supported; use 'availableNow'")
    if max_rows_per_batch is not None and max_rows_per_batch < 1:
        raise ConfigError("max_rows_per_batch must be at least 1")
    if on_bad_file not in ("raise", "quarantine"):
        raise ConfigError("on_bad_file must be 'raise' or 'quarantine'")


class _Run:
    """The batches of one :func:`stream` call: each is recorded in the checkpoint's offsets,
    applied, then recorded in its commits; one unit is read at a time."""

    def __init__(self, src: Source, upsert: Any, chk: Checkpoint,
                 max_rows_per_batch: int | None) -> None:
        self.src, self.upsert, self.chk = src, upsert, chk
        self.max_rows = max_rows_per_batch
        self.next_id = max(chk.offsets, default=-1) + 1
        self.reports: list[StreamReport] = []
        self._read: tuple[Any, tuple[pa.Table, list[dict[str, Any]]]] | None = None

    def read(self, unit: Any) -> tuple[pa.Table, list[dict[str, Any]]]:
        """The unit's rows and quarantined lines (the last unit read is kept)."""
        if self._read is None or self._read[0] != unit:
            self._read = None  # the previous unit's rows are freed before the next is read
            self._read = (unit, self.src.read(unit))
            _faults.reached("after_read")
        return self._read[1]

    def unit(self, unit: Any, start: int) -> None:
        """New input: the unit's rows from ``start`` on, in batches of at most max_rows."""
        n = self.read(unit)[0].num_rows
        while True:
            stop = n if self.max_rows is None else min(n, start + self.max_rows)
            off = {"batch_id": self.next_id, "unit": unit, "start": start, "stop": stop,
                   "last": stop >= n}
            self.chk.write("offsets", self.next_id, off)
            _faults.reached("after_offsets")
            self.batch(self.next_id, off)
            self.next_id += 1
            if stop >= n:
                return
            start = stop

    def bad_file(self, unit: Any, exc: SourceError) -> None:
        """A unreadable unit, quarantined: its batch id is used and commits nothing."""
        self.chk.quarantine_file(unit, exc)
        off = {"batch_id": self.next_id, "unit": unit, "start": 0, "stop": 0, "last": True,
               "bad_file": True}
        self.chk.write("offsets", self.next_id, off)
        self.batch(self.next_id, off)
        self.next_id += 1

    def batch(self, batch_id: int, off: dict[str, Any]) -> None:
        """Applies the batch the offsets entry ``off`` describes and records its commit."""
        chk = self.chk
        if off.get("bad_file"):
            chk.write("commits", batch_id, {"batch_id": batch_id, "applied": False})
            return
        table, bad = self.read(off["unit"])
        batch = table.slice(off["start"], off["stop"] - off["start"])
        quarantined = 0
        if bad and off["start"] == 0:
            quarantined = len(bad)
            chk.quarantine_lines(batch_id, bad)
        label = f"{self.src.label(off['unit'])} [{off['start']}:{off['stop']}]"
        if batch.num_columns == 0:  # nothing but quarantined lines: nothing to apply
            chk.write("commits", batch_id, {"batch_id": batch_id, "applied": False})
            self.reports.append(StreamReport(batch_id=batch_id, source=label, quarantined=quarantined))
            return
        try:
            report = self.upsert(batch, batch_id)
        except CdcError as exc:
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (f"batch {batch_id} ({label}): {exc.args[0]}", *exc.args[1:])
            raise
        _faults.reached("before_offsets_commit")
        entry = {"batch_id": batch_id, "applied": True, "skipped": report.skipped_replay}
        app_id = getattr(getattr(self.upsert, "target", None), "app_id", None)
        if app_id is not None:
            entry["app_id"] = app_id
        chk.write("commits", batch_id, entry)
        fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(BatchReport)}
        out = StreamReport(**fields, source=label, quarantined=quarantined)
        object.__setattr__(out, "rejected", report.rejected)
        self.reports.append(out)


def _check_target(upsert: Any, chk: Checkpoint) -> None:
    """Refuse to run when the target lost batches the checkpoint says it committed."""
    applied = [i for i, c in chk.commits.items() if c.get("applied", True)]
    if not applied:
        return
    last_commit = max(applied)
    target = getattr(upsert, "target", None)
    if isinstance(target, DeltaTarget):  # ask the table, not its mirror
        app_id = target.app_id or chk.commits[last_commit].get("app_id")
        last = target.batch_id_of(app_id) if app_id else None
    else:
        last = getattr(target, "last_batch_id", None)
    if last is None or last < last_commit:
        raise CheckpointError(
            f"checkpoint {chk.path} has batches up to {last_commit} committed but the target "
            f"{target!r} only up to {last}: the target lost data (or is a fresh MemoryTable); "
            "use a new checkpoint folder to re-read the source")
