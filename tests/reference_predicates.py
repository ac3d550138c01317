"""The slow, obvious model of ``where=`` / ``apply_as_deletes=`` predicates, and random ones.

A predicate is a tree of tuples; ``sql`` writes it as text (names and keywords in random
case, names sometimes backquoted, strings escaped) and ``evaluate`` gives its value on one
row with SQL's three-valued logic (None is unknown), the way Spark types it:

* numbers compare by value; as soon as a double takes part both sides are doubles, with
  -0.0 = 0.0 and NaN equal to itself and greater than every other number;
* strings compare by code point (the order of their UTF-8 bytes), booleans FALSE < TRUE;
* a comparison with NULL is NULL; ``x IN (…)`` is TRUE on a match, else NULL if x or an item
  is NULL, else FALSE; ``IS [NOT] NULL`` is never NULL.

Nodes: ``("col", name)``, ``("num", text)``, ``("str", text)``, ``("bool", b)``,
``("null",)``, ``("cmp", op, left, right)``, ``("in", value, items, negated)``,
``("isnull", value, negated)``, ``("not", x)``, ``("and", xs)``, ``("or", xs)``.
"""

from __future__ import annotations

import math
import operator
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

OPS = {"=": operator.eq, "==": operator.eq, "<>": operator.ne, "!=": operator.ne,
       "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


# -- the model ----------------------------------------------------------------------------------


def number(text: str) -> int | Decimal | float:
    """A number literal's value: an integer, an exact decimal, or a double (with an exponent)."""
    if "e" in text.lower():
        return float(text)
    return Decimal(text) if "." in text else int(text)


def value(node: tuple, row: dict) -> Any:
    """A value node on ``row`` (a condition's value is True, False or None)."""
    kind = node[0]
    if kind == "col":
        return column(row, node[1])
    if kind == "num":
        return number(node[1])
    if kind in ("str", "bool"):
        return node[1]
    if kind == "null":
        return None
    return evaluate(node, row)


def column(row: dict, name: str) -> Any:
    """The value of the column ``name`` matches ignoring case (or, among several, exactly)."""
    alike = [k for k in row if k.lower() == name.lower()]
    return row[alike[0] if len(alike) == 1 else name]


def _key(v: Any, as_double: bool) -> Any:
    if as_double:
        v = float(v)
        return (1, 0.0) if math.isnan(v) else (0, v + 0.0)  # -0.0 + 0.0 is 0.0
    return v


def compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    as_double = isinstance(a, float) or isinstance(b, float)
    return OPS[op](_key(a, as_double), _key(b, as_double))


def evaluate(node: tuple, row: dict) -> bool | None:
    """A condition node on ``row``: True, False or None (unknown)."""
    kind = node[0]
    if kind == "cmp":
        return compare(node[1], value(node[2], row), value(node[3], row))
    if kind == "in":
        v = value(node[1], row)
        found = [compare("=", v, value(item, row)) for item in node[2]]
        result = True if True in found else (None if None in found else False)
        return _not(result) if node[3] else result
    if kind == "isnull":
        return (value(node[1], row) is None) != node[2]
    if kind == "not":
        return _not(evaluate(node[1], row))
    if kind in ("and", "or"):
        results = [evaluate(x, row) for x in node[1]]
        decisive = kind == "or"  # TRUE decides an OR, FALSE an AND
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    v = value(node, row)  # a boolean column or literal
    assert v is None or isinstance(v, bool), node
    return v


def _not(v: bool | None) -> bool | None:
    return None if v is None else not v


# -- writing it as SQL --------------------------------------------------------------------------


def sql(node: tuple, spell=lambda word: word) -> str:
    """``node`` as predicate text; ``spell(word)`` may change a keyword's or name's case, or
    backquote a name (names that are not plain words are always backquoted)."""
    kind = node[0]
    if kind == "col":
        name = node[1]
        plain = name.isidentifier() and name.isascii()
        return spell(name) if plain else "`" + name.replace("`", "``") + "`"
    if kind == "num":
        return node[1]
    if kind == "str":
        return "'" + node[1].replace("\\", "\\\\").replace("'", "''") + "'"
    if kind == "bool":
        return spell("TRUE" if node[1] else "FALSE")
    if kind == "null":
        return spell("NULL")
    if kind == "cmp":
        return f"{_operand(node[2], spell)} {node[1]} {_operand(node[3], spell)}"
    if kind == "in":
        items = ", ".join(_operand(i, spell) for i in node[2])
        negated = spell("NOT") + " " if node[3] else ""
        return f"{_operand(node[1], spell)} {negated}{spell('IN')} ({items})"
    if kind == "isnull":
        negated = " " + spell("NOT") if node[2] else ""
        return f"{_operand(node[1], spell)} {spell('IS')}{negated} {spell('NULL')}"
    if kind == "not":
        return f"{spell('NOT')} ({sql(node[1], spell)})"
    return f" {spell(kind.upper())} ".join(f"({sql(x, spell)})" for x in node[1])


def _operand(node: tuple, spell) -> str:
    simple = node[0] in ("col", "num", "str", "bool", "null")
    return sql(node, spell) if simple else f"({sql(node, spell)})"


# -- random predicates --------------------------------------------------------------------------

#: Texts with quotes, a backslash, non-ASCII and the empty string.
TEXTS = ["a", "b", "B", "ab", "", "it's", "é", "z\\", "日本"]
INTEGERS = ["0", "1", "2", "-1", "7", "9223372036854775808"]
DECIMALS = ["1.0", "1.5", "-0.0", ".5", "2.", "0.1"]
DOUBLES = ["1e0", "-2.5E1", "0e0", "1E308"]


def literals(kind: str) -> st.SearchStrategy[tuple]:
    """Literals that may meet a column of ``kind`` (``int``, ``double``, ``str``, ``bool``)."""
    if kind == "str":
        return st.sampled_from(TEXTS).map(lambda t: ("str", t))
    if kind == "bool":
        return st.booleans().map(lambda b: ("bool", b))
    texts = INTEGERS + DECIMALS + (DOUBLES if kind == "double" else [])
    return st.sampled_from(texts).map(lambda t: ("num", t))


def conditions(columns: dict[str, str], max_leaves: int = 6) -> st.SearchStrategy[tuple]:
    """Random conditions over ``columns`` ({name: kind}) that Spark accepts and evaluates
    without error: each comparison's sides are of one kind (a double meets any number)."""
    kinds = sorted(set(columns.values()))

    def values(kind: str) -> st.SearchStrategy[tuple]:
        meets = [k for k in kinds if k == kind or {k, kind} <= {"int", "double"}]
        cols = [("col", n) for n, k in sorted(columns.items()) if k in meets]
        options = [literals(kind), st.just(("null",))]
        if cols:
            options = [st.sampled_from(cols), st.sampled_from(cols), *options]
        return st.one_of(options)

    @st.composite
    def leaf(draw) -> tuple:
        kind = draw(st.sampled_from(kinds))
        shape = draw(st.sampled_from(["cmp", "cmp", "cmp", "in", "isnull", "bool"]))
        if shape == "cmp":
            return ("cmp", draw(st.sampled_from(sorted(OPS))), draw(values(kind)), draw(values(kind)))
        if shape == "in":
            items = draw(st.lists(st.one_of(literals(kind), st.just(("null",))), min_size=1, max_size=4))
            return ("in", draw(values(kind)), items, draw(st.booleans()))
        if shape == "isnull":
            return ("isnull", draw(values(kind)), draw(st.booleans()))
        flags = [("col", n) for n, k in sorted(columns.items()) if k == "bool"]
        return draw(st.sampled_from([*flags, ("bool", True), ("bool", False), ("null",)]))

    def combined(inner: st.SearchStrategy[tuple]) -> st.SearchStrategy[tuple]:
        return st.one_of(
            inner.map(lambda x: ("not", x)),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: ("and", xs)),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: ("or", xs)),
            # conditions are values too: compared as booleans
            st.tuples(st.sampled_from(["=", "<>", "<"]), inner, inner).map(lambda t: ("cmp", *t)),
        )

    # a bare NULL is refused (by Spark too): NULL only within a condition
    return st.recursive(leaf(), combined, max_leaves=max_leaves).filter(lambda c: c != ("null",))


def spellings(draw) -> Any:
    """A ``spell`` for :func:`sql` that changes case and backquotes names at random."""
    def spell(word: str) -> str:
        choice = draw(st.integers(0, 3))
        if choice == 1:
            return word.upper()
        if choice == 2:
            return word.lower()
        if choice == 3 and word.upper() not in ("TRUE", "FALSE", "NULL", "NOT", "IN", "IS",
                                                "AND", "OR"):
            return f"`{word}`"
        return word
    return spell


# -- random rows --------------------------------------------------------------------------------

#: The random table's columns: {name: (kind, Arrow type, values)}.
COLUMNS = {
    "i": ("int", pa.int32(), [None, 0, 1, 2, -1, 7, 2**31 - 1]),
    "j": ("int", pa.int64(), [None, 0, 1, -1, 2**62, 2**63 - 1]),
    "d": ("double", pa.float64(), [None, 0.0, -0.0, 0.1, 1.5, 2.0, math.nan, math.inf, -math.inf]),
    "s": ("str", pa.string(), [None, "a", "b", "B", "", "it's", "é", "z\\", "日本", "ab"]),
    "Kind": ("str", pa.string(), [None, "a", "b", "é"]),
    "shop id": ("str", pa.string(), [None, "a", "B"]),
    "b": ("bool", pa.bool_(), [None, True, False]),
}
KINDS = {name: kind for name, (kind, _, _) in COLUMNS.items()}


@st.composite
def tables(draw, max_rows=12):
    """Rows with an ``id`` and a random value (often null) in every column."""
    n = draw(st.integers(1, max_rows))
    rows = [{name: draw(st.sampled_from(values)) for name, (_, _, values) in COLUMNS.items()}
            for _ in range(n)]
    return [{"id": i, **row} for i, row in enumerate(rows)]


def as_arrow(rows: list[dict]) -> pa.Table:
    """The rows of :func:`tables` as Arrow, in the columns' types."""
    schema = pa.schema([("id", pa.int64())] + [(n, t) for n, (_, t, _) in COLUMNS.items()])
    return pa.Table.from_pylist(rows, schema=schema)
