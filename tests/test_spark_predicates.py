"""Differential test of ``where=`` against real Spark SQL: for random predicates over random
rows (ints, doubles with NaN and -0.0, strings with quotes and non-ASCII text, booleans,
nulls; names in any case, some backquoted), the rows Spark's ``df.filter(predicate)`` keeps
are the rows ``where=predicate`` keeps, and so are those ``NOT (predicate)`` keeps.

The one difference found is kept as a test that it still reproduces, so README's list of
differences stays true: Spark 4.2's analyzer folds a comparison of an integer column with a
number beyond the column type's range to TRUE or FALSE, also where the column is NULL.
"""

from __future__ import annotations

import functools
import os

import cdc_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_predicates import COLUMNS, KINDS, as_arrow, conditions, spellings, sql, tables
from spark_helpers import spark  # noqa: F401

# CDC_EXAMPLES=… for a longer run: each example checks PREDICATES predicates (twice: P, NOT P)
EXAMPLES = max(3, int(os.environ.get("CDC_EXAMPLES", "300")) // 30)
PREDICATES = 40
SPARK_TYPES = {"int": "INT", "double": "DOUBLE", "str": "STRING", "bool": "BOOLEAN"}
#: The literal beyond BIGINT of the random predicates: see the module's docstring.
BEYOND_BIGINT = "9223372036854775808"


def spark_frame(spark, rows):
    ddl = ", ".join(["id BIGINT"] + [
        f"`{name}` {'BIGINT' if name == 'j' else SPARK_TYPES[kind]}"
        for name, (kind, _, _) in COLUMNS.items()])
    return spark.createDataFrame([tuple(r.values()) for r in rows], ddl)


def spark_keeps(spark, rows, predicates: list[str]) -> list[set[int]]:
    """The ids Spark's filter keeps, per predicate (all of them in one job)."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    df = spark_frame(spark, rows)
    # filter() analyses each predicate at once: one Spark refuses is named here
    parts = [df.filter(p).select(F.lit(i).alias("q"), "id") for i, p in enumerate(predicates)]
    kept: list[set[int]] = [set() for _ in predicates]
    for row in functools.reduce(DataFrame.unionAll, parts).collect():
        kept[row["q"]].add(row["id"])
    return kept


def cdc_rs_keeps(rows, predicate: str) -> set[int]:
    upsert = cdc_rs.batch_upsert(keys="id", sequence_by="id", where=predicate)
    upsert(as_arrow(rows), 0)
    table = upsert.target.to_arrow()  # no columns before a row was written
    return set(table.column("id").to_pylist()) if table.num_columns else set()


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), rows=tables(max_rows=16))
def test_where_keeps_the_rows_spark_sql_filter_keeps(spark, data, rows):
    trees = data.draw(st.lists(conditions(KINDS), min_size=PREDICATES, max_size=PREDICATES))
    texts = [sql(tree, spellings(data.draw)) for tree in trees]
    predicates = [p for text in texts for p in (text, f"NOT ({text})") if BEYOND_BIGINT not in p]
    for predicate, expected in zip(predicates, spark_keeps(spark, rows, predicates)):
        assert cdc_rs_keeps(rows, predicate) == expected, predicate


def test_spark_still_folds_an_out_of_range_comparison_with_a_null_integer(spark):
    rows = [{"id": 0, "i": None, "j": None, "d": None, "s": None, "Kind": None, "shop id": None,
             "b": None}, {"id": 1, "i": 5, "j": 5, "d": None, "s": None, "Kind": None,
                          "shop id": None, "b": None}]
    for predicate in [f"i < {BEYOND_BIGINT}", f"NOT (j > {BEYOND_BIGINT})"]:
        assert spark_keeps(spark, rows, [predicate])[0] == {0, 1}  # NULL < 2^63 is TRUE
        assert cdc_rs_keeps(rows, predicate) == {1}  # NULL, as SQL's three-valued logic says


@pytest.mark.parametrize("predicate", [
    "s = 'it''s' OR s = \"é\"",  # both quotes, doubled quotes
    "s = 'z\\\\'",  # a backslash escape
    "d = -0.0 AND NOT d < 0e0",  # -0.0 = 0.0
    "d = d AND d > 1E308",  # NaN equals itself and is above every number (and infinity)
    "j > 9223372036854775806.5 OR i IN (1.0, 2.5)",  # exact decimals against integers
    "`shop id` = 'B' AND kind IS NULL",
    "(i = 1) = (b = TRUE) OR b",
])
def test_hand_picked_edges_match_spark(spark, predicate):
    rows = [{"id": n, "i": i, "j": j, "d": d, "s": s, "Kind": k, "shop id": shop, "b": b}
            for n, (i, j, d, s, k, shop, b) in enumerate([
                (1, 2**63 - 1, -0.0, "it's", None, "B", True),
                (2, 0, float("nan"), "é", "a", "a", False),
                (None, None, float("inf"), "z\\", None, "B", None),
                (2, 1, 0.0, None, "b", None, True)])]
    assert cdc_rs_keeps(rows, predicate) == spark_keeps(spark, rows, [predicate])[0], predicate
