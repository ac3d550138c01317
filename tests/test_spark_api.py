"""cdc_rs.spark's public surface: every name documented, every docstring example runs
(with the tests' local Spark session as ``spark``)."""

from __future__ import annotations

import doctest

from spark_helpers import spark  # noqa: F401

import cdc_rs._spark_executors
import cdc_rs._spark_merge
import cdc_rs.spark as cs


def test_every_public_name_is_documented():
    for name in cs.__all__:
        obj = getattr(cs, name)
        if callable(obj):
            assert obj.__doc__ and "Example" in obj.__doc__, f"{name} has no example"


def test_docstring_examples_run(spark):
    attempted = 0
    for module in (cs, cdc_rs._spark_merge, cdc_rs._spark_executors):  # classes in their own modules
        result = doctest.testmod(module, extraglobs={"spark": spark},
                                 optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0
        attempted += result.attempted
    assert attempted > 10
