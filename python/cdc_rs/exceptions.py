"""Exceptions raised by cdc_rs. Catch :class:`CdcError` for all of them.

Every class is exported from :mod:`cdc_rs`. Errors about what the caller handed in are also
``ValueError``; errors about the storage a target writes to are also ``OSError``.
"""

from __future__ import annotations

__all__ = [
    "CdcError",
    "SchemaError",
    "DecodeError",
    "ConfigError",
    "InputError",
    "SourceError",
    "CheckpointError",
    "DeltaTargetError",
    "ConcurrentWriteError",
    "TargetStateError",
]


class CdcError(Exception):
    """Base class of every cdc_rs error."""


class SchemaError(CdcError, ValueError):
    """A DDL schema string that does not parse, or that cdc_rs refuses (too deep, duplicate
    field names); the message points at the position."""


class DecodeError(CdcError, ValueError):
    """``mode="FAILFAST"`` met a value that is not a JSON object; the message names the row."""


class ConfigError(CdcError, ValueError):
    """A ``batch_upsert`` configuration that cannot work (unknown column, duplicate lookup key, …)."""


class InputError(CdcError, ValueError):
    """A batch that does not have the shape the pipeline needs (wrong column type, …), or a
    micro-batch stream that failed while it was read: nothing of that batch is applied."""


class SourceError(InputError):
    """An input file that cannot be read (corrupt Parquet, missing file, unsupported Delta
    commit…). Nothing of it was applied and its offsets are not committed."""


class CheckpointError(CdcError):
    """The checkpoint folder does not match the source or the target (e.g. the target lost
    batches the checkpoint says were committed), or one of its files is unreadable."""


class DeltaTargetError(CdcError, OSError):
    """The Delta target cannot be read or written (missing permissions, broken storage, a
    corrupt ``_delta_log``…).

    Nothing of the failed batch is visible: either its Delta commit happened or it did not.
    """


class ConcurrentWriteError(DeltaTargetError):
    """Another writer kept committing to the table; the batch was re-planned ``max_retries``
    times and never committed (nothing of it is applied — run it again)."""


class TargetStateError(DeltaTargetError):
    """The table and its ``_cdc_rs`` bookkeeping disagree (the table was changed by another
    tool, bookkeeping files were removed, or the process forked while a batch was being
    applied): cdc_rs refuses to guess."""
