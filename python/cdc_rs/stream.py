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

Example:
    >>> import cdc_rs                                                   # doctest: +SKIP
    >>> upsert = cdc_rs.batch_upsert("silver/customers", keys="customer_id", ...)  # doctest: +SKIP
    >>> reports = cdc_rs.stream("bronze/", upsert, checkpoint="chk/customers")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import uuid
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from . import _faults
from ._files import atomic_write
from ._read import read_parquet
from ._report import BatchReport
from .delta import DeltaTarget
from .exceptions import CdcError, CheckpointError, ConfigError, InputError, SourceError

__all__ = ["stream", "FolderSource", "DeltaSource", "StreamReport", "SourceError",
           "CheckpointError", "open_source"]

_PARQUET = (".parquet", ".parq")
_JSON = (".json", ".jsonl", ".ndjson")


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


# ---------------------------------------------------------------------- sources


class FolderSource:
    """Bronze files in a folder, each file read once, in name order.

    Args:
        path: the folder. Files starting with ``.`` or ``_`` are ignored.
        pattern: shell pattern of the file names to read (default: every Parquet / JSON file).
        schema: optional Arrow schema every file is cast to (JSON files are parsed with it).

    New files are picked up by the next run; a file already read must not change.
    """

    def __init__(self, path: str | os.PathLike[str], *, pattern: str = "*",
                 schema: pa.Schema | None = None) -> None:
        self.path = Path(path)
        self.pattern = pattern
        self.schema = schema

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "path": str(self.path.absolute()), "pattern": self.pattern}

    def pending(self, done: set[Any]) -> list[str]:
        if not self.path.is_dir():
            raise SourceError(f"source folder {self.path} does not exist")
        names = sorted(p.name for p in self.path.iterdir()
                       if p.is_file() and not p.name.startswith((".", "_"))
                       and p.name.lower().endswith(_PARQUET + _JSON) and fnmatch(p.name, self.pattern))
        return [n for n in names if n not in done]

    def read(self, unit: str) -> tuple[pa.Table, list[dict[str, Any]]]:
        path = self.path / unit
        if not path.exists():
            raise SourceError(f"{path}: input file vanished; restore it (its batch is not "
                              "committed yet)")
        if unit.lower().endswith(_PARQUET):
            try:
                table = read_parquet(path)  # view arrays over the pages: no copy of the values
            except (InputError, OSError) as exc:
                raise SourceError(f"{path}: not a readable Parquet file ({exc}); nothing of it "
                                  "was applied") from exc
            return (table.cast(self.schema) if self.schema is not None else table), []
        return _read_json_lines(path, self.schema)

    def label(self, unit: Any) -> str:
        return str(unit)


class DeltaSource:
    """A Delta table read incrementally: one unit per table version, the rows it appended.

    Like Spark's Delta streaming source, a version that deletes or rewrites rows stops the
    stream with :class:`SourceError` unless ``skip_change_commits=True`` (then it is skipped);
    versions that only reorganise files (``OPTIMIZE``: ``dataChange=false``) add nothing.

    Args:
        path: the table's folder (local).
        starting_version: first version to read (default 0: the whole history).
        skip_change_commits: skip versions that remove rows instead of failing.
    """

    def __init__(self, path: str | os.PathLike[str], *, starting_version: int = 0,
                 skip_change_commits: bool = False) -> None:
        self.path = Path(os.fspath(path).removeprefix("delta://").removeprefix("file://"))
        self.starting_version = starting_version
        self.skip_change_commits = skip_change_commits

    def describe(self) -> dict[str, Any]:
        return {"kind": "delta", "path": str(self.path.absolute())}

    def pending(self, done: set[Any]) -> list[int]:
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(str(self.path)):
            raise SourceError(f"{self.path} is not a Delta table")
        latest = DeltaTable(str(self.path)).version()
        first = max([self.starting_version, *(v + 1 for v in done)])
        return list(range(first, latest + 1))

    def read(self, unit: int) -> tuple[pa.Table, list[dict[str, Any]]]:
        from deltalake import DeltaTable

        log = self.path / "_delta_log" / f"{int(unit):020d}.json"
        try:
            actions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        except FileNotFoundError as exc:
            raise SourceError(f"{self.path}: the log of version {unit} is gone (log retention); "
                              "restart the stream from a later starting_version") from exc
        adds = [a["add"] for a in actions if "add" in a and a["add"].get("dataChange", True)]
        removes = [a for a in actions if "remove" in a and a["remove"].get("dataChange", True)]
        schema = pa.schema(DeltaTable(str(self.path), version=int(unit)).schema().to_arrow())
        if removes:
            if self.skip_change_commits:
                return schema.empty_table(), []
            raise SourceError(f"{self.path}: version {unit} deletes or rewrites rows; a Delta "
                              "source streams appends only (pass skip_change_commits=True)")
        parts = []
        for add in adds:
            if add.get("deletionVector"):
                raise SourceError(f"{self.path}: version {unit} uses deletion vectors (unsupported)")
            table = pq.read_table(self.path / unquote(add["path"]))
            n = table.num_rows
            for name, value in (add.get("partitionValues") or {}).items():
                typ = schema.field(name).type
                table = table.append_column(name, pa.array([value] * n, pa.string()).cast(typ))
            parts.append(table.select(schema.names).cast(schema))
        return (pa.concat_tables(parts) if parts else schema.empty_table()), []

    def label(self, unit: Any) -> str:
        return f"delta version {unit}"


def open_source(source: Any, *, pattern: str = "*") -> FolderSource | DeltaSource:
    """A source from a path: ``delta://PATH`` or a folder holding ``_delta_log`` is a
    :class:`DeltaSource`, any other folder a :class:`FolderSource`."""
    if isinstance(source, (FolderSource, DeltaSource)):
        return source
    text = os.fspath(source)
    if text.startswith("delta://") or (Path(text) / "_delta_log").is_dir():
        return DeltaSource(text)
    return FolderSource(text, pattern=pattern)


def _read_json_lines(path: Path, schema: pa.Schema | None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Valid JSON-object lines parsed by pyarrow; any other line goes to quarantine."""
    from pyarrow import json as pajson

    good: list[tuple[int, bytes]] = []
    bad: list[dict[str, Any]] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from exc
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            bad.append({"file": str(path), "line": number, "error": str(exc)[:200],
                        "text": line.decode("utf-8", "replace")})
            continue
        good.append((number, line))
    if not good:
        return (schema.empty_table() if schema is not None else pa.table({})), bad
    options = pajson.ParseOptions(explicit_schema=schema) if schema is not None else None
    try:
        table = pajson.read_json(io.BytesIO(b"\n".join(line for _, line in good) + b"\n"),
                                 parse_options=options)
    except pa.ArrowException:
        # Some line disagrees with the others (a number where the rest have text…): find it
        # and quarantine it alone, not the whole file.
        table, odd = _read_consistent_lines(path, good, schema)
        bad.extend(odd)
        bad.sort(key=lambda entry: int(entry["line"]))
    return table, bad


def _read_consistent_lines(path: Path, lines: list[tuple[int, bytes]],
                           schema: pa.Schema | None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """The lines whose types agree with the lines before them (or with ``schema``), and the
    others as quarantine entries. Slower than one parse: only for files that need it."""
    from pyarrow import json as pajson

    def parse(text: bytes, with_schema: pa.Schema | None) -> pa.Table:
        options = pajson.ParseOptions(explicit_schema=with_schema) if with_schema else None
        return pajson.read_json(io.BytesIO(text + b"\n"), parse_options=options)

    kept: list[pa.Table] = []
    odd: list[dict[str, Any]] = []
    agreed = schema
    for number, line in lines:
        try:
            if schema is None:  # types inferred: they must unify with the lines before
                inferred = parse(line, None).schema
                agreed = inferred if agreed is None else pa.unify_schemas([agreed, inferred])
            kept.append(parse(line, agreed))
        except (pa.ArrowException, TypeError) as exc:
            odd.append({"file": str(path), "line": number, "error": str(exc)[:200],
                        "text": line.decode("utf-8", "replace")})
    if not kept:
        return (schema.empty_table() if schema is not None else pa.table({})), odd
    assert agreed is not None
    # every kept line read again with the final schema, so early lines gain later fields
    dropped = {entry["line"] for entry in odd}
    table = parse(b"\n".join(line for number, line in lines if number not in dropped), agreed)
    return table, odd


# ---------------------------------------------------------------------- checkpoint


class _Checkpoint:
    def __init__(self, path: Path, source: dict[str, Any]) -> None:
        self.path = path
        try:
            for sub in ("offsets", "commits", "quarantine"):
                (path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create checkpoint {path}: {exc}") from exc
        meta = path / "metadata.json"
        if meta.exists():
            saved = _read_checkpoint_file(meta)
            if saved.get("source") != source:
                raise CheckpointError(f"checkpoint {path} belongs to source {saved.get('source')}, "
                                      f"not {source}; use another checkpoint folder")
        else:
            atomic_write(meta, json.dumps({"id": uuid.uuid4().hex, "source": source}).encode(), CheckpointError)
        self.offsets = self._load("offsets")
        self.commits = self._load("commits")

    def _load(self, kind: str) -> dict[int, dict[str, Any]]:
        out = {}
        for p in (self.path / kind).glob("*.json"):
            if p.stem.isdigit():
                out[int(p.stem)] = _read_checkpoint_file(p)
        return out

    def write(self, kind: str, batch_id: int, entry: dict[str, Any]) -> None:
        atomic_write(self.path / kind / f"{batch_id:020d}.json", json.dumps(entry).encode(), CheckpointError)
        getattr(self, kind)[batch_id] = entry





def _read_checkpoint_file(path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint file ({exc})") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CheckpointError(f"{path}: the checkpoint file is corrupt ({exc}); restore it, or "
                              "start again with a new checkpoint folder") from exc
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: the checkpoint file is corrupt (not a JSON object)")
    return entry


# ---------------------------------------------------------------------- the driver


def stream(source: Any, upsert: Any, *, checkpoint: str | os.PathLike[str],
           trigger: str = "availableNow", max_rows_per_batch: int | None = None,
           progress: bool = True, on_bad_file: str = "raise", pattern: str = "*") -> list[StreamReport]:
    """Apply everything the source holds that the checkpoint has not committed, then stop.

    The equivalent of ``spark.readStream…writeStream.foreachBatch(upsert)
    .option("checkpointLocation", checkpoint).trigger(availableNow=True)``.

    Args:
        source: a :class:`FolderSource` / :class:`DeltaSource`, or a path (``delta://PATH``
            or a folder with a ``_delta_log`` is read as a Delta table; any other folder as
            bronze Parquet / JSON-lines files in name order).
        upsert: a :class:`cdc_rs.BatchUpsert`; give it a durable target
            (:class:`cdc_rs.DeltaTarget`) for exactly-once results across runs.
        checkpoint: folder recording which input is committed (created if needed).
        trigger: only ``"availableNow"``.
        max_rows_per_batch: cut files (Delta versions) into batches of at most this many
            rows; default: one batch per file (version).
        progress: show a tqdm progress bar on stderr.
        on_bad_file: ``"raise"`` (default) stops at an unreadable file with
            :class:`SourceError`; ``"quarantine"`` records it under ``quarantine/`` and goes on.
        pattern: file-name pattern when ``source`` is a folder path.

    Returns:
        One :class:`StreamReport` per micro-batch run (a batch re-run after a crash reports
        ``skipped_replay`` if the target had already committed it).

    Raises:
        SourceError: an unreadable input (its batch and all later ones are not committed).
        CheckpointError: the checkpoint belongs to another source, or the target is behind it.
        CdcError: whatever the upsert raises; the batch stays uncommitted and is re-run next time.
    """
    if trigger not in ("availableNow", "available_now"):
        raise ConfigError(f"trigger {trigger!r} is not supported; use 'availableNow'")
    if max_rows_per_batch is not None and max_rows_per_batch < 1:
        raise ConfigError("max_rows_per_batch must be at least 1")
    if on_bad_file not in ("raise", "quarantine"):
        raise ConfigError("on_bad_file must be 'raise' or 'quarantine'")
    src = open_source(source, pattern=pattern)
    chk = _Checkpoint(Path(checkpoint), src.describe())
    last_commit = max(chk.commits, default=None)
    _check_target(upsert, chk)

    done: set[Any] = set()
    resume: tuple[Any, int] | None = None  # (unit, next row) of a partly read unit
    for batch_id in sorted(chk.commits):
        off = chk.offsets.get(batch_id)
        if off is None:
            continue
        if off.get("last"):
            done.add(off["unit"])
            resume = None
        else:
            resume = (off["unit"], off["stop"])
    reports: list[StreamReport] = []
    next_id = max(chk.offsets, default=-1) + 1
    cache: dict[Any, tuple[pa.Table, list[dict[str, Any]]]] = {}

    def read(unit: Any) -> tuple[pa.Table, list[dict[str, Any]]]:
        if unit not in cache:
            cache.clear()
            cache[unit] = src.read(unit)
            _faults.reached("after_read")
        return cache[unit]

    def run(batch_id: int, off: dict[str, Any]) -> None:
        if off.get("bad_file"):
            chk.write("commits", batch_id, {"batch_id": batch_id, "applied": False})
            return
        table, bad = read(off["unit"])
        batch = table.slice(off["start"], off["stop"] - off["start"])
        quarantined = 0
        if bad and off["start"] == 0:
            quarantined = len(bad)
            data = "".join(json.dumps(b) + "\n" for b in bad).encode()
            atomic_write(chk.path / "quarantine" / f"{batch_id:020d}.jsonl", data, CheckpointError)
        label = f"{src.label(off['unit'])} [{off['start']}:{off['stop']}]"
        if batch.num_columns == 0:  # nothing but quarantined lines: nothing to apply
            chk.write("commits", batch_id, {"batch_id": batch_id, "applied": False})
            reports.append(StreamReport(batch_id=batch_id, source=label, quarantined=quarantined))
            return
        try:
            report = upsert(batch, batch_id)
        except CdcError as exc:
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (f"batch {batch_id} ({label}): {exc.args[0]}", *exc.args[1:])
            raise
        _faults.reached("before_offsets_commit")
        entry = {"batch_id": batch_id, "applied": True, "skipped": report.skipped_replay}
        app_id = getattr(getattr(upsert, "target", None), "app_id", None)
        if app_id is not None:
            entry["app_id"] = app_id
        chk.write("commits", batch_id, entry)
        fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(BatchReport)}
        out = StreamReport(**fields, source=label, quarantined=quarantined)
        object.__setattr__(out, "rejected", report.rejected)
        reports.append(out)

    # 1. the batch that has offsets but no commit: the same id, the same input
    pending = [i for i in chk.offsets if last_commit is None or i > last_commit]
    from tqdm import tqdm

    units = src.pending(done)
    # Every new file is checked before anything of this run is committed: a stray file (the
    # lookup table beside the bronze files, say) stops the run up front, not half-way.
    strays = _stray_files(src, units)
    if strays and on_bad_file == "raise":
        raise next(iter(strays.values()))
    with tqdm(total=len(units) + len(pending), unit="batch", desc="stream",
              disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        for batch_id in sorted(pending):
            off = chk.offsets[batch_id]
            run(batch_id, off)
            bar.update(1)
            if off.get("last"):
                done.add(off["unit"])
                if off["unit"] in units:
                    units.remove(off["unit"])
                    bar.total -= 1
                resume = None
            else:
                resume = (off["unit"], off["stop"])
        # 2. new input, in order
        if resume is not None and resume[0] in units:
            units.remove(resume[0])
            units.insert(0, resume[0])
        for unit in units:
            start = resume[1] if resume is not None and resume[0] == unit else 0
            resume = None
            try:
                if unit in strays:
                    raise strays[unit]
                n = read(unit)[0].num_rows
            except SourceError as exc:
                if on_bad_file == "raise":
                    raise
                _quarantine_file(chk, unit, exc)
                off = {"batch_id": next_id, "unit": unit, "start": 0, "stop": 0, "last": True,
                       "bad_file": True}
                chk.write("offsets", next_id, off)
                run(next_id, off)
                next_id += 1
                bar.update(1)
                continue
            while True:
                stop = n if max_rows_per_batch is None else min(n, start + max_rows_per_batch)
                off = {"batch_id": next_id, "unit": unit, "start": start, "stop": stop,
                       "last": stop >= n}
                chk.write("offsets", next_id, off)
                _faults.reached("after_offsets")
                run(next_id, off)
                next_id += 1
                if stop >= n:
                    break
                start = stop
            bar.update(1)
    return reports


def _stray_files(src: FolderSource | DeltaSource, units: list[Any]) -> dict[Any, SourceError]:
    """The Parquet files among ``units`` whose footer cannot be read or whose columns differ
    from the first file's (or the source schema's), each with the error it gets."""
    if not isinstance(src, FolderSource):
        return {}
    strays: dict[Any, SourceError] = {}
    reference = None if src.schema is None else ("the source schema", sorted(src.schema.names))
    for unit in units:
        if not unit.lower().endswith(_PARQUET):
            continue
        path = src.path / unit
        try:
            names = sorted(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
            strays[unit] = SourceError(f"{path}: not a readable Parquet file ({exc}); nothing "
                                       "of this run was applied")
            continue
        if reference is None:
            reference = (unit, names)
        elif names != reference[1]:
            strays[unit] = SourceError(
                f"{path}: its columns {names} differ from {reference[0]}'s {reference[1]}. A "
                "stray file among the bronze files? Move it out, narrow pattern=, or pass "
                "on_bad_file='quarantine'; nothing of this run was applied")
    return strays


def _quarantine_file(chk: _Checkpoint, unit: Any, exc: Exception) -> None:
    line = json.dumps({"unit": unit, "error": str(exc)}) + "\n"
    path = chk.path / "quarantine" / "files.jsonl"
    try:
        with open(path, "a") as f:
            f.write(line)
    except OSError as err:
        raise CheckpointError(f"cannot write {path}: {err}") from err


def _check_target(upsert: Any, chk: _Checkpoint) -> None:
    """Refuse to run when the target lost batches the checkpoint says it committed."""
    applied = [i for i, c in chk.commits.items() if c.get("applied", True)]
    if not applied:
        return
    last_commit = max(applied)
    target = getattr(upsert, "target", None)
    if isinstance(target, DeltaTarget):  # ask the table, not its mirror
        app_id = target.app_id or chk.commits[last_commit].get("app_id")
        last = target._txn_version(app_id) if app_id else None
    else:
        last = getattr(target, "last_batch_id", None)
    if last is None or last < last_commit:
        raise CheckpointError(
            f"checkpoint {chk.path} has batches up to {last_commit} committed but the target "
            f"{target!r} only up to {last}: the target lost data (or is a fresh MemoryTable); "
            "use a new checkpoint folder to re-read the source")
