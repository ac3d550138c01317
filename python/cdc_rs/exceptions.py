"""Exceptions raised by cdc_rs. Catch :class:`CdcError` for all of them."""

from __future__ import annotations

__all__ = ["CdcError", "SchemaError", "DecodeError", "ConfigError", "InputError"]


class CdcError(Exception):
    """Base class of every cdc_rs error."""


class SchemaError(CdcError, ValueError):
    """A DDL schema string that does not parse; the message points at the position."""


class DecodeError(CdcError, ValueError):
    """``mode="FAILFAST"`` met a value that is not a JSON object; the message names the row."""


class ConfigError(CdcError, ValueError):
    """A ``batch_upsert`` configuration that cannot work (unknown column, duplicate lookup key, …)."""


class InputError(CdcError, ValueError):
    """A batch that does not have the shape the pipeline needs (wrong column type, …)."""
