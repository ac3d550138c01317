"""Where a Delta table's files live: a local folder or a prefix of an object store.

Every file a :class:`~cdc_rs.DeltaTarget` reads or writes goes through a :class:`Store`, by
its path relative to the table's root (``_delta_log/…``, data files, deletion vectors, the
``_cdc_rs`` bookkeeping); so do the files :func:`cdc_rs.stream` reads (a bronze folder, a
Delta source) and its checkpoint's. The two operations the commit protocol rests on hold on both:
``write`` is whole or nothing (a reader sees the old file or the new one), and ``create``
puts a file only if none is there (a hard link on a local disk; a conditional put,
``If-None-Match: *``, on S3, Azure and GCS, through ``obstore``).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from ._files import atomic_write, make_folders, sync
from .exceptions import DeltaTargetError


@dataclass(frozen=True)
class Entry:
    """A file of a folder listing: its name, size and a stamp that changes when it does."""

    name: str
    size: int
    stamp: str


class Store:
    """The files of one table, local or remote (see the module's docstring)."""

    uri: str  # what deltalake opens
    storage_options: dict[str, str] | None  # what deltalake is given

    def read(self, rel: str) -> bytes:
        """A whole file (``FileNotFoundError`` if it is missing)."""
        raise NotImplementedError

    def write(self, rel: str, data: bytes) -> None:
        """Writes a whole file, replacing any: readers never see a part of it."""
        raise NotImplementedError

    def create(self, rel: str, data: bytes) -> bool:
        """Writes a whole file only if there is none; False if another writer's is there."""
        raise NotImplementedError

    def delete(self, rel: str) -> None:
        """Deletes a file, if it is there."""
        raise NotImplementedError

    def append(self, rel: str, data: bytes) -> None:
        """Adds ``data`` at the end of a file, creating it if needed.

        An object cannot grow in place: it is read and written again whole, so a reader sees
        the old or the new file, but two writers appending at once may lose one's part.
        """
        try:
            old = self.read(rel)
        except FileNotFoundError:
            old = b""
        self.write(rel, old + data)

    def files(self, folder: str) -> list[Entry]:
        """The files directly in ``folder`` (none if it does not exist)."""
        raise NotImplementedError

    def folders(self, folder: str) -> list[str]:
        """The names of the folders directly in ``folder``."""
        raise NotImplementedError

    def check_writable(self) -> None:
        """A ``DeltaTargetError`` naming the table if nothing can be written to it."""
        raise NotImplementedError

    def check_folder(self) -> None:
        """A ``DeltaTargetError`` if the table's place can never hold a table."""

    def arrow_filesystem(self) -> Any:
        """A pyarrow filesystem rooted at the table for deltalake's reads (None: its own)."""
        return None

    def read_parquet(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.read(rel)), columns=columns)

    def parquet_rows(self, rel: str) -> int:
        return int(pq.ParquetFile(pa.BufferReader(self.read(rel))).metadata.num_rows)

    def parquet_schema(self, rel: str) -> pa.Schema:
        """The Arrow schema of a Parquet file, from its footer."""
        return pq.read_schema(pa.BufferReader(self.read(rel)))

    def write_parquet(self, rel: str, table: pa.Table, use_dictionary: bool | list[str] = True,
                      metadata_collector: list[Any] | None = None) -> int:
        """``table`` as a new Parquet file (snappy, as delta-rs writes; dictionary encoding
        for ``use_dictionary``'s columns; its footer appended to ``metadata_collector``); its
        size in bytes."""
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="snappy", use_dictionary=use_dictionary,
                       metadata_collector=metadata_collector)
        data = sink.getvalue().to_pybytes()
        self.write(rel, data)
        return len(data)

    def __str__(self) -> str:
        return self.uri


def open_store(location: str | os.PathLike[str],
               storage_options: dict[str, str] | None = None) -> Store:
    """The store of a table given as a local path, ``file://`` URL or object store URL."""
    text = os.fspath(location)
    scheme = urlparse(text).scheme if "://" in text else ""
    if scheme in ("", "file"):
        return LocalStore(Path(text.removeprefix("file://")).absolute(), storage_options)
    if scheme in _OBJECT_STORE_SCHEMES:
        return ObjectStore(text.rstrip("/"), storage_options or {})
    raise DeltaTargetError(f"{text!r}: cdc_rs reads local paths and s3://, s3a://, gs://, "
                           "az://, abfs[s]:// URLs")


def brief_error(exc: BaseException) -> str:
    """A store's error in one line: its first line without the server's XML reply, and the
    reply's code and message (``NoSuchBucket: The specified bucket does not exist``)."""
    text = str(exc).strip()
    first = text.split("<?xml", 1)[0].splitlines()[0].rstrip(": ") if text else ""
    reply = re.search(r"<Code>(.*?)</Code>\s*<Message>(.*?)</Message>", text, re.S)
    if reply:
        return f"{first} ({reply[1]}: {reply[2]})"
    return first or type(exc).__name__


class LocalStore(Store):
    """A folder on a local disk (durable: files and the folder entries are fsynced)."""

    def __init__(self, root: Path, storage_options: dict[str, str] | None = None) -> None:
        self.root = root
        self.uri = str(root)
        self.storage_options = storage_options

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def write(self, rel: str, data: bytes) -> None:
        atomic_write(self.root / rel, data, DeltaTargetError)

    def create(self, rel: str, data: bytes) -> bool:
        target = self.root / rel
        make_folders(target.parent)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, target)  # never replaces an existing file
            except FileExistsError:
                return False
            sync(target.parent)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    def append(self, rel: str, data: bytes) -> None:
        with open(self.root / rel, "ab") as f:
            f.write(data)

    def files(self, folder: str) -> list[Entry]:
        try:
            entries = list(os.scandir(self.root / folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for entry in entries:
            try:
                if not entry.is_file():
                    continue
                info = entry.stat()
            except OSError:  # removed meanwhile
                continue
            out.append(Entry(entry.name, info.st_size, str(info.st_mtime_ns)))
        return out

    def folders(self, folder: str) -> list[str]:
        base = self.root / folder
        return [p.name for p in base.iterdir() if p.is_dir()] if base.is_dir() else []

    def check_writable(self) -> None:
        self.check_folder()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".cdc_rs-can-write-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DeltaTargetError(f"cannot write the Delta table {self.root}: "
                                   f"{exc.strerror or exc}; nothing was written. Give a folder "
                                   "you can write to") from exc

    def check_folder(self) -> None:
        """A table path below a regular file can never be written: say so plainly."""
        for parent in [self.root, *self.root.parents]:
            if parent.exists():
                if not parent.is_dir():
                    raise DeltaTargetError(f"cannot use {self.root} as a Delta table: {parent} "
                                           "is a file, not a folder")
                return

    def arrow_filesystem(self) -> Any:
        """Arrow's own filesystem rooted at the table folder.

        deltalake's default is a Python filesystem: each buffer it reads is a Python object
        that Arrow's IO threads release later, taking the GIL. One still waiting for the GIL
        when the interpreter exits is ended by CPython < 3.14 with ``pthread_exit`` inside a
        C++ noexcept destructor: "terminate called without an active exception". Native
        buffers need no GIL.
        """
        import pyarrow.fs as pafs

        return pafs.SubTreeFileSystem(str(self.root), pafs.LocalFileSystem())

    def read_parquet(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.root / rel, columns=columns)

    def parquet_rows(self, rel: str) -> int:
        return int(pq.ParquetFile(self.root / rel).metadata.num_rows)

    def parquet_schema(self, rel: str) -> pa.Schema:
        return pq.read_schema(self.root / rel)

    def write_parquet(self, rel: str, table: pa.Table, use_dictionary: bool | list[str] = True,
                      metadata_collector: list[Any] | None = None) -> int:
        # A new file under a unique name, not committed yet: no reader looks for it. Synced
        # before the commit that names it, as every file a commit names is.
        path = self.root / rel
        make_folders(path.parent)
        pq.write_table(table, path, compression="snappy", use_dictionary=use_dictionary,
                       metadata_collector=metadata_collector)
        sync(path)
        sync(path.parent)
        return path.stat().st_size


_OBJECT_STORE_SCHEMES = {"s3", "s3a", "gs", "az", "abfs", "abfss", "azure"}

# Options of delta-rs that configure its own commit locking, not the object store.
_DELTA_ONLY_OPTIONS = {"aws_s3_allow_unsafe_rename", "aws_s3_locking_provider",
                       "delta_dynamo_table_name", "dynamo_lock_table_name",
                       "dynamo_lock_owner_name", "dynamo_lock_partition_key_value",
                       "dynamo_lock_refresh_period_millis",
                       "dynamo_lock_additional_time_to_wait_millis"}
# Options of the HTTP client, however the store's own options spell them.
_CLIENT_OPTIONS = {"allow_http", "allow_invalid_certificates", "connect_timeout", "timeout",
                   "proxy_url", "user_agent", "http1_only", "http2_only", "pool_idle_timeout",
                   "pool_max_idle_per_host"}


class ObjectStore(Store):
    """A prefix of an S3, GCS or Azure bucket, through ``obstore``.

    ``storage_options`` are deltalake's (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_ALLOW_HTTP``…); S3 puts are conditional (``AWS_CONDITIONAL_PUT=etag``, which S3
    itself supports) unless the options say otherwise, for deltalake's commits too.
    """

    def __init__(self, uri: str, storage_options: dict[str, str]) -> None:
        try:
            import obstore
            from obstore.store import from_url
        except ImportError as exc:
            raise ImportError("a DeltaTarget on object storage needs the obstore package: "
                              "pip install 'cdc_rs[cloud]'") from exc
        self._obstore = obstore
        self.uri = uri
        options = dict(storage_options)
        scheme = urlparse(uri).scheme
        if scheme in ("s3", "s3a") and not any(k.lower() in ("aws_conditional_put",
                                                             "conditional_put")
                                               for k in options):
            options["AWS_CONDITIONAL_PUT"] = "etag"
        self.storage_options = options
        config: dict[str, str] = {}
        client: dict[str, Any] = {}
        for key, value in options.items():
            plain = key.lower()
            bare = plain.split("_", 1)[1] if plain.split("_", 1)[0] in ("aws", "google",
                                                                        "azure") else plain
            if plain in _DELTA_ONLY_OPTIONS:
                continue
            if bare in _CLIENT_OPTIONS:
                client[bare] = value
            else:
                config[key.upper()] = value
        try:
            self._store = from_url(uri.replace("s3a://", "s3://", 1),
                                   config=config or None,  # type: ignore[arg-type]
                                   client_options=client or None)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - obstore raises several kinds
            raise DeltaTargetError(f"{uri}: cannot open the object store: {exc}") from exc

    def read(self, rel: str) -> bytes:
        try:
            return bytes(self._obstore.get(self._store, rel).bytes())
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise OSError(f"{self.uri}/{rel}: {exc}") from exc

    def write(self, rel: str, data: bytes) -> None:
        try:
            self._obstore.put(self._store, rel, data)  # a PUT lands whole or not at all
        except Exception as exc:  # noqa: BLE001
            raise DeltaTargetError(f"cannot write {self.uri}/{rel}: {exc}") from exc

    def create(self, rel: str, data: bytes) -> bool:
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            self._obstore.put(self._store, rel, data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        except Exception as exc:  # noqa: BLE001
            raise DeltaTargetError(f"cannot write {self.uri}/{rel}: {exc}") from exc
        return True

    def delete(self, rel: str) -> None:
        try:
            self._obstore.delete(self._store, rel)
        except FileNotFoundError:
            pass

    def parquet_schema(self, rel: str) -> pa.Schema:
        """The footer alone, by ranged reads: the rest of the file is not downloaded."""
        try:
            reader = self._obstore.open_reader(self._store, rel)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - obstore raises several kinds
            raise OSError(f"{self.uri}/{rel}: {exc}") from exc
        return pq.read_schema(pa.PythonFile(_RangedFile(reader), mode="r"))

    def _listing(self, folder: str) -> dict[str, Any]:
        try:
            listing: dict[str, Any] = dict(self._obstore.list_with_delimiter(
                self._store, folder.strip("/") or None))
        except FileNotFoundError:
            return {"objects": [], "common_prefixes": []}
        except Exception as exc:  # noqa: BLE001
            raise OSError(f"cannot list {self.uri}/{folder}: {exc}") from exc
        return listing

    def files(self, folder: str) -> list[Entry]:
        return [Entry(o["path"].rsplit("/", 1)[-1], int(o["size"]),
                      str(o.get("e_tag") or o["last_modified"]))
                for o in self._listing(folder)["objects"]]

    def folders(self, folder: str) -> list[str]:
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in self._listing(folder)["common_prefixes"]]

    def check_writable(self) -> None:
        probe = f".cdc_rs-can-write-{uuid.uuid4().hex}"
        try:
            self._obstore.put(self._store, probe, b"")
            self._obstore.delete(self._store, probe)
        except Exception as exc:  # noqa: BLE001
            raise DeltaTargetError(f"cannot write the Delta table {self.uri}: "
                                   f"{brief_error(exc)}; nothing was written. "
                                   "Check the bucket and the storage_options "
                                   "(credentials, endpoint)") from exc


class _RangedFile(io.RawIOBase):
    """An ``obstore`` reader as a Python file, so pyarrow reads only the ranges it needs
    (the reader lacks the ``closed`` attribute pyarrow asks for)."""

    def __init__(self, reader: Any) -> None:
        super().__init__()
        self._reader = reader

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return int(self._reader.seek(offset, whence))

    def tell(self) -> int:
        return int(self._reader.tell())

    def read(self, size: int | None = -1) -> bytes:
        return bytes(self._reader.read() if size is None or size < 0 else self._reader.read(size))
