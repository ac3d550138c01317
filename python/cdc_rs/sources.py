"""Where ``cdc_rs.stream`` reads micro-batches from: a folder of bronze files, or a Delta table.

A source lists its pending units (files, table versions), reads one unit as an Arrow table
plus the lines it quarantined, labels a unit for reports, and checks units ahead of a run.
"""

from __future__ import annotations

import io
import json
import os
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from ._read import read_parquet
from .exceptions import InputError, SourceError

__all__ = ["DeltaSource", "FolderSource", "Source", "open_source"]

_PARQUET = (".parquet", ".parq")
_JSON = (".json", ".jsonl", ".ndjson")


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

    def check_files(self, units: list[Any]) -> dict[Any, SourceError]:
        """The Parquet files among ``units`` whose footer cannot be read or whose columns
        differ from the first file's (or the source schema's), each with the error it gets."""
        strays: dict[Any, SourceError] = {}
        reference = None if self.schema is None else ("the source schema", sorted(self.schema.names))
        for unit in units:
            if not unit.lower().endswith(_PARQUET):
                continue
            path = self.path / unit
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

    def check_files(self, units: list[Any]) -> dict[Any, SourceError]:
        """Nothing to check ahead: a version's files are the table's own."""
        return {}


#: A source :func:`cdc_rs.stream` reads.
Source = Union[FolderSource, DeltaSource]


def open_source(source: Any, *, pattern: str = "*") -> Source:
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
