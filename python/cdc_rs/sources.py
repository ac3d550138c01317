"""Where ``cdc_rs.stream`` reads micro-batches from: a folder of bronze files, or a Delta table.

A source lists its pending units (files, table versions), reads one unit as an Arrow table
plus the lines it quarantined, labels a unit for reports, and checks units ahead of a run.
Both read a local folder or an object store prefix through the same
:class:`~cdc_rs._store.Store` a :class:`cdc_rs.DeltaTarget` writes with.
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

from ._read import read_parquet
from ._delta_log import commit_actions
from ._store import LocalStore, Store, brief_error, open_store
from .exceptions import DeltaTargetError, InputError, SourceError

__all__ = ["DeltaSource", "FolderSource", "Source", "open_source"]

_PARQUET = (".parquet", ".parq")
_JSON = (".json", ".jsonl", ".ndjson")
# What to check when an object store cannot be listed or read at all.
_HINT = "; check the bucket and the storage_options (credentials, endpoint)"


class FolderSource:
    """Bronze files in a folder, each file read once, in name order.

    Args:
        path: the folder: a local path, or an object store URL (``s3://bucket/bronze/``;
            also ``gs://``, ``az://``, ``abfss://``; needs ``obstore``). Files starting with
            ``.`` or ``_`` are ignored.
        pattern: shell pattern of the file names to read (default: every Parquet / JSON file).
        schema: optional Arrow schema every file is cast to (JSON files are parsed with it).
        storage_options: the object store's options, as :class:`cdc_rs.DeltaTarget` takes
            them (``AWS_ENDPOINT_URL``, ``AWS_REGION``…); the ``AWS_*`` environment otherwise.

    New files are picked up by the next run; a file already read must not change.
    """

    def __init__(self, path: str | os.PathLike[str], *, pattern: str = "*",
                 schema: pa.Schema | None = None,
                 storage_options: dict[str, str] | None = None) -> None:
        self._store = _open_store(path, storage_options)
        # Local: the folder as given (messages name files by it); else the store's URL.
        self.path: Path | str = _local_path(path) if _is_local(self._store) else self._store.uri
        self.pattern = pattern
        self.schema = schema

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "path": _absolute(self.path), "pattern": self.pattern}

    def pending(self, done: set[Any]) -> list[str]:
        if isinstance(self.path, Path) and not self.path.is_dir():
            raise SourceError(f"source folder {self.path} does not exist")
        try:
            entries = self._store.files("")
        except OSError as exc:
            raise SourceError(f"source folder {self.path}: {brief_error(exc)}{_HINT}") from exc
        names = sorted(e.name for e in entries
                       if not e.name.startswith((".", "_"))
                       and e.name.lower().endswith(_PARQUET + _JSON)
                       and fnmatch(e.name, self.pattern))
        return [n for n in names if n not in done]

    def read(self, unit: str) -> tuple[pa.Table, list[dict[str, Any]]]:
        where = self._where(unit)
        if isinstance(self.path, Path) and not (self.path / unit).exists():
            raise _vanished(where)
        if unit.lower().endswith(_PARQUET):
            try:
                table = self._read_parquet(unit)
            except FileNotFoundError as exc:
                raise _vanished(where) from exc
            except (InputError, OSError, pa.ArrowException) as exc:
                raise SourceError(f"{where}: not a readable Parquet file ({brief_error(exc)}); "
                                  "nothing of it was applied") from exc
            return (table.cast(self.schema) if self.schema is not None else table), []
        try:
            raw = self._store.read(unit)
        except FileNotFoundError as exc:
            raise _vanished(where) from exc
        except OSError as exc:
            raise SourceError(f"{where}: cannot read ({brief_error(exc)})") from exc
        return _read_json_lines(raw, where, self.schema)

    def _read_parquet(self, unit: str) -> pa.Table:
        if isinstance(self.path, Path):
            # view arrays over the pages: no copy of the values
            return read_parquet(self.path / unit)
        return self._store.read_parquet(unit)

    def _where(self, unit: str) -> str:
        """A file of the folder as messages and quarantine entries name it."""
        return str(self.path / unit) if isinstance(self.path, Path) else f"{self.path}/{unit}"

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
            where = self._where(unit)
            try:
                names = sorted(self._store.parquet_schema(unit).names)  # the footer only
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
                strays[unit] = SourceError(f"{where}: not a readable Parquet file "
                                           f"({brief_error(exc)}); nothing of this run was applied")
                continue
            if reference is None:
                reference = (unit, names)
            elif names != reference[1]:
                strays[unit] = SourceError(
                    f"{where}: its columns {names} differ from {reference[0]}'s {reference[1]}. A "
                    "stray file among the bronze files? Move it out, narrow pattern=, or pass "
                    "on_bad_file='quarantine'; nothing of this run was applied")
        return strays


class DeltaSource:
    """A Delta table read incrementally: one unit per table version, the rows it appended.

    Like Spark's Delta streaming source, a version that deletes or rewrites rows stops the
    stream with :class:`SourceError` unless ``skip_change_commits=True`` (then it is skipped);
    versions that only reorganise files (``OPTIMIZE``: ``dataChange=false``) add nothing.

    Args:
        path: the table's folder, or its object store URL (``s3://bucket/bronze``); a
            ``delta://`` prefix is dropped.
        starting_version: first version to read (default 0: the whole history).
        skip_change_commits: skip versions that remove rows instead of failing.
        storage_options: the object store's options, as :class:`cdc_rs.DeltaTarget` takes
            them; the ``AWS_*`` environment otherwise.
    """

    def __init__(self, path: str | os.PathLike[str], *, starting_version: int = 0,
                 skip_change_commits: bool = False,
                 storage_options: dict[str, str] | None = None) -> None:
        text = os.fspath(path).removeprefix("delta://")
        self._store = _open_store(text, storage_options)
        self.path: Path | str = _local_path(text) if _is_local(self._store) else self._store.uri
        self.starting_version = starting_version
        self.skip_change_commits = skip_change_commits

    def describe(self) -> dict[str, Any]:
        return {"kind": "delta", "path": _absolute(self.path)}

    def pending(self, done: set[Any]) -> list[int]:
        from deltalake import DeltaTable

        store = self._store
        try:
            if not DeltaTable.is_deltatable(store.uri, store.storage_options):
                raise SourceError(f"{self.path} is not a Delta table")
            latest = DeltaTable(store.uri, storage_options=store.storage_options).version()
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - deltalake raises several kinds
            raise SourceError(f"{self.path}: cannot open the Delta table "
                              f"({brief_error(exc)}){_HINT}") from exc
        first = max([self.starting_version, *(v + 1 for v in done)])
        return list(range(first, latest + 1))

    def read(self, unit: int) -> tuple[pa.Table, list[dict[str, Any]]]:
        from deltalake import DeltaTable

        store = self._store
        try:
            actions = commit_actions(store, int(unit))
        except FileNotFoundError as exc:
            raise SourceError(f"{self.path}: the log of version {unit} is gone (log retention); "
                              "restart the stream from a later starting_version") from exc
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read the log of version {unit} "
                              f"({brief_error(exc)})") from exc
        adds = [a["add"] for a in actions if "add" in a and a["add"].get("dataChange", True)]
        removes = [a for a in actions if "remove" in a and a["remove"].get("dataChange", True)]
        schema = pa.schema(DeltaTable(store.uri, version=int(unit),
                                      storage_options=store.storage_options).schema().to_arrow())
        if removes:
            if self.skip_change_commits:
                return schema.empty_table(), []
            raise SourceError(f"{self.path}: version {unit} deletes or rewrites rows; a Delta "
                              "source streams appends only (pass skip_change_commits=True)")
        parts = []
        for add in adds:
            if add.get("deletionVector"):
                raise SourceError(f"{self.path}: version {unit} uses deletion vectors (unsupported)")
            table = store.read_parquet(unquote(add["path"]))
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


def open_source(source: Any, *, pattern: str = "*",
                storage_options: dict[str, str] | None = None) -> Source:
    """A source from a path or object store URL: ``delta://PATH`` or a folder holding
    ``_delta_log`` is a :class:`DeltaSource`, any other folder a :class:`FolderSource`.
    ``storage_options`` go to the object store (a source object keeps its own)."""
    if isinstance(source, (FolderSource, DeltaSource)):
        return source
    text = os.fspath(source)
    if text.startswith("delta://"):
        return DeltaSource(text, storage_options=storage_options)
    folder = FolderSource(text, pattern=pattern, storage_options=storage_options)
    if _holds_delta_log(folder):
        return DeltaSource(text, storage_options=storage_options)
    return folder


def _holds_delta_log(folder: FolderSource) -> bool:
    if isinstance(folder.path, Path):
        return (folder.path / "_delta_log").is_dir()
    try:
        return bool(folder._store.files("_delta_log"))
    except OSError as exc:
        raise SourceError(f"source {folder.path}: {brief_error(exc)}{_HINT}") from exc


def _open_store(location: str | os.PathLike[str],
                storage_options: dict[str, str] | None) -> Store:
    """The source's store; its errors (an unknown URL scheme, a bad option) as SourceError."""
    try:
        return open_store(location, storage_options)
    except DeltaTargetError as exc:
        raise SourceError(f"source {brief_error(exc)}") from exc  # names the URL


def _is_local(store: Store) -> bool:
    return isinstance(store, LocalStore)


def _local_path(location: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(location).removeprefix("file://"))


def _absolute(path: Path | str) -> str:
    """The path a checkpoint records for the source (a URL as it is)."""
    return str(path.absolute()) if isinstance(path, Path) else path


def _vanished(where: str) -> SourceError:
    return SourceError(f"{where}: input file vanished; restore it (its batch is not committed yet)")


def _read_json_lines(raw: bytes, path: str,
                     schema: pa.Schema | None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Valid JSON-object lines of the file ``path`` (its bytes: ``raw``) parsed by pyarrow; any
    other line goes to quarantine."""
    from pyarrow import json as pajson

    good: list[tuple[int, bytes]] = []
    bad: list[dict[str, Any]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            bad.append({"file": path, "line": number, "error": str(exc)[:200],
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


def _read_consistent_lines(path: str, lines: list[tuple[int, bytes]],
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
            odd.append({"file": path, "line": number, "error": str(exc)[:200],
                        "text": line.decode("utf-8", "replace")})
    if not kept:
        return (schema.empty_table() if schema is not None else pa.table({})), odd
    assert agreed is not None
    # every kept line read again with the final schema, so early lines gain later fields
    dropped = {entry["line"] for entry in odd}
    table = parse(b"\n".join(line for number, line in lines if number not in dropped), agreed)
    return table, odd
