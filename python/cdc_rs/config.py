"""Pipeline config files for ``cdc-rs run``: TOML (or YAML when PyYAML is installed).

The top level holds :func:`cdc_rs.batch_upsert`'s keyword arguments; ``lookup`` is a Parquet
or CSV path (relative paths are relative to the config file). Optional ``[target]`` and
``[stream]`` tables hold :class:`cdc_rs.DeltaTarget` and :func:`cdc_rs.stream` options::

    keys = ["customer_id"]
    sequence_by = "row_time"
    value_schema = "customer_id STRING, email STRING, country_code STRING, row_status STRING, row_time TIMESTAMP"
    topic = "customers"
    operation_column = "row_status"
    delete_operations = ["delete"]
    lookup = "_country_lookup.parquet"
    lookup_on = { country_code = "code" }

    [target]
    partition_by = []          # app_id, snapshot_every, max_retries, target_file_rows,
                               # storage_options

    [stream]
    pattern = "bronze-*.parquet"   # max_rows_per_batch, on_bad_file, storage_options (of an
                                   # object store source and checkpoint)

A Debezium feed (``format = "debezium"``) needs no ``sequence_by``: its events' log positions
order it::

    keys = ["id"]
    format = "debezium"
    topic = "pg1.inventory.customers"
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigError

if TYPE_CHECKING:
    from ._upsert import BatchUpsert

__all__ = ["PipelineConfig", "load_config", "parse_config"]

_TARGET_KEYS = {"partition_by", "app_id", "snapshot_every", "max_retries", "storage_options",
                "target_file_rows"}
_STREAM_KEYS = {"pattern", "max_rows_per_batch", "on_bad_file", "storage_options"}


@dataclass
class PipelineConfig:
    """A parsed config file.

    Attributes:
        upsert: keyword arguments of :func:`cdc_rs.batch_upsert` (``lookup`` already read).
        target: keyword arguments of :class:`cdc_rs.DeltaTarget`.
        stream: keyword arguments of :func:`cdc_rs.stream`.
    """

    upsert: dict[str, Any]
    target: dict[str, Any] = field(default_factory=dict)
    stream: dict[str, Any] = field(default_factory=dict)

    def build(self, target_path: str | os.PathLike[str]) -> BatchUpsert:
        """The :class:`cdc_rs.BatchUpsert` writing to a Delta table at ``target_path``."""
        from ._upsert import batch_upsert
        from .delta import DeltaTarget

        return batch_upsert(DeltaTarget(target_path, **self.target), **self.upsert)


def load_config(path: str | os.PathLike[str]) -> PipelineConfig:
    """Read a ``.toml`` (or ``.yaml``/``.yml``) pipeline config file.

    Raises:
        ConfigError: unreadable file, bad syntax, unknown option, or lookup not found.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ConfigError(f"{path}: YAML configs need PyYAML (pip install pyyaml); "
                              "or write it as TOML") from exc
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    else:
        import tomllib

        try:
            data = tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of options at the top level")
    return parse_config(data, base=path.parent, where=str(path))


def parse_config(data: dict[str, Any], *, base: str | os.PathLike[str] = ".",
                 where: str = "config") -> PipelineConfig:
    """A :class:`PipelineConfig` from an already parsed mapping (see :func:`load_config`)."""
    from ._upsert import batch_upsert

    data = dict(data)
    target = data.pop("target", {}) or {}
    stream = data.pop("stream", {}) or {}
    allowed = set(inspect.signature(batch_upsert).parameters) - {"target"}
    for name, given, known in (("", data, allowed), ("[target] ", target, _TARGET_KEYS),
                               ("[stream] ", stream, _STREAM_KEYS)):
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: {name or 'top level'} must be a table")
        unknown = sorted(set(given) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown {name}option(s) {unknown}; "
                              f"known: {sorted(known)}")
    # format = "debezium" orders events by their log positions unless sequence_by is given
    required = ("keys",) if data.get("format") == "debezium" else ("keys", "sequence_by")
    for name in required:
        if name not in data:
            raise ConfigError(f"{where}: missing required option {name!r}")
    if isinstance(data.get("lookup"), str):
        data["lookup"] = _read_lookup(Path(base) / data["lookup"], where)
    if isinstance(data.get("lookup_on"), list):
        data["lookup_on"] = [tuple(p) for p in data["lookup_on"]]
    return PipelineConfig(upsert=data, target=dict(target), stream=dict(stream))


def _read_lookup(path: Path, where: str) -> Any:
    import pyarrow as pa

    try:
        if path.suffix.lower() == ".csv":
            from pyarrow import csv

            return csv.read_csv(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"{where}: cannot read lookup {path}: {exc}") from exc
