"""The public surface: stubs match the extension, docstring examples run, names are exported."""

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import cdc_rs
from cdc_rs import _json, _read, _snapshot, _table, _upsert

ROOT = Path(__file__).resolve().parents[1]


def _mypy(*args: str) -> None:
    """Runs a mypy tool with the project's configuration; fails the test with its output."""
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_stubs_match_the_compiled_extension():
    _mypy("mypy.stubtest", "cdc_rs._cdc_rs", "--mypy-config-file", str(ROOT / "pyproject.toml"))


def test_the_package_type_checks_strictly():
    _mypy("mypy", "python/cdc_rs", "--config-file", str(ROOT / "pyproject.toml"))  # strict = true


@pytest.mark.parametrize("module", [_json, _read, _snapshot, _table, _upsert], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_exported_name_exists_and_is_documented():
    for name in cdc_rs.__all__:
        obj = getattr(cdc_rs, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_every_error_is_a_cdc_error_and_a_value_error():
    for error in (cdc_rs.SchemaError, cdc_rs.DecodeError, cdc_rs.ConfigError, cdc_rs.InputError):
        assert issubclass(error, cdc_rs.CdcError)
        assert issubclass(error, ValueError)


def test_importing_cdc_rs_does_not_import_pandas():
    """pandas costs most of a second to import (notebook start, every Spark Python worker):
    only code that hands cdc_rs pandas objects, or asks for them, pays it."""
    probe = "import sys, cdc_rs; print('pandas' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
