"""Generate tests/golden/from_json_cases.json from the real Spark `from_json`.

Run (needs pyspark + Java; normal test runs do NOT need this):
    .venv/bin/python tests/spark_golden.py

Every case is (schema DDL, list of input strings / None, comment naming the Spark rule,
session time zone, mode). The expected output is Spark's result normalised by
`normalize()` (also used by test_from_json_golden.py) so that it is plain JSON:
timestamps -> epoch micros, dates -> epoch days, binary -> base64, decimals -> str,
non-finite floats -> "NaN"/"Infinity"/"-Infinity", maps -> [[k, v], ...].
FAILFAST cases whose query raises are recorded as {"error": true}.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import os
import sys

import pyarrow as pa

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden", "from_json_cases.json")

EPOCH_AWARE = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
EPOCH_NAIVE = dt.datetime(1970, 1, 1)
US = dt.timedelta(microseconds=1)


def normalize(v, t: pa.DataType):
    """Spark/cdc_rs value (from to_pylist) -> plain JSON value, by Arrow type."""
    if v is None:
        return None
    if pa.types.is_timestamp(t):
        if isinstance(v, int):
            return v
        if v.tzinfo is not None:
            return (v - EPOCH_AWARE) // US
        return (v - EPOCH_NAIVE) // US
    if pa.types.is_date(t):
        return v if isinstance(v, int) else (v - dt.date(1970, 1, 1)).days
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return base64.b64encode(v).decode()
    if pa.types.is_decimal(t):
        return str(v)
    if pa.types.is_floating(t):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return float(v)
    if pa.types.is_map(t):
        return [[normalize(k, t.key_type), normalize(x, t.item_type)] for k, x in v]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return [normalize(x, t.value_type) for x in v]
    if pa.types.is_struct(t):
        return {t.field(i).name: normalize(v[t.field(i).name], t.field(i).type) for i in range(t.num_fields)}
    return v


def normalize_struct_array(arr: pa.Array) -> list:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    # to_pylist of timestamps outside Python's datetime range would fail: go via int64 first.
    return [normalize(v, arr.type) for v in _safe_pylist(arr)]


def _safe_pylist(arr: pa.Array) -> list:
    t = arr.type
    if pa.types.is_timestamp(t):
        return arr.cast(pa.int64()).to_pylist()
    if pa.types.is_date(t):
        return arr.cast(pa.int32()).to_pylist()
    if pa.types.is_struct(t):
        kids = [_safe_pylist(arr.field(i)) for i in range(t.num_fields)]
        valid = arr.is_valid().to_pylist()
        return [None if not valid[r] else {t.field(i).name: kids[i][r] for i in range(t.num_fields)}
                for r in range(len(arr))]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        vals = _safe_pylist(arr.values)
        offs = arr.offsets.to_pylist()
        valid = arr.is_valid().to_pylist()
        return [None if not valid[r] else vals[offs[r] - offs[0]: offs[r + 1] - offs[0]] for r in range(len(arr))]
    if pa.types.is_map(t):
        keys = _safe_pylist(arr.keys)
        items = _safe_pylist(arr.items)
        offs = arr.offsets.to_pylist()
        valid = arr.is_valid().to_pylist()
        base = offs[0] if offs else 0
        return [None if not valid[r] else list(zip(keys[offs[r] - base: offs[r + 1] - base], items[offs[r] - base: offs[r + 1] - base]))
                for r in range(len(arr))]
    return arr.to_pylist()


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------
CASES: list[dict] = []


def case(schema, inputs, comment, tz="UTC", mode="PERMISSIVE"):
    CASES.append({"schema": schema, "inputs": inputs, "comment": comment, "time_zone": tz, "mode": mode})


# One JSON value text dropped into {"x": V, "y": 1} for every scalar type: pins, for each
# type, which JSON tokens convert, which give a null field, and whether the row survives
# (y stays 1) or the whole row is nulled.
VALUES = [
    "1", "-1", "0", "-0", "007", "1.5", "-1.5", "1.0", "1e2", "1E2", "1.5e1", "-2.5E-3",
    "127", "128", "-129", "32767", "32768", "2147483647", "2147483648", "-2147483649",
    "9223372036854775807", "9223372036854775808", "123456789012345678901234567890",
    "1e400", "-1e400", "1e-400", "3.4028235e38", "3.5e38", "0.1", "12345678.9", "99999999.995",
    "NaN", "Infinity", "-Infinity", "+Infinity", "+1", ".5", "5.", "0x10",
    '"12"', '"-12"', '"1.5"', '"1e2"', '" 12"', '"abc"', '""', '"NaN"', '"Infinity"', '"-Infinity"', '"INF"',
    "true", "false", '"true"', '"false"', "null",
    "{}", '{"z":1}', '{ "z" : [1, 2.50, 1e2, "s", null, true] }', "[]", "[1,2]", '[ "a" , {"b":null} ]',
    "'single'", '"AQID"', '"aGVsbG8="', '"aGVsbG8"', '"a b"', '"@@@"',
    '"2022-01-31"', '"2022-01-31T23:06:00.000Z"', '"2022-01-31 23:06:00"', 
    '"\\u00e9\\n\\t\\/\\"\\\\"', '"\\ud83d\\ude00"',
]
SCALAR_TYPES = ["BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE",
                "DECIMAL(10,2)", "DECIMAL(38,0)", "DECIMAL", "STRING", "BINARY", "DATE",
                "TIMESTAMP", "TIMESTAMP_NTZ"]
for T in SCALAR_TYPES:
    case(f"x {T}, y INT", ['{"x": %s, "y": 1}' % v for v in VALUES],
         f"scalar conversion matrix for {T}: which JSON tokens convert; wrong type -> field null (row kept?)")
    case(f"y INT, x {T}", ['{"y": 1, "x": %s}' % v for v in VALUES],
         f"scalar conversion matrix for {T}, bad field after a good one")

TS_STRINGS = [
    "2022-01-31", "2022-1-3", "2022-01", "2022", "2022-01-31T23:06", "2022-01-31 23:06",
    "2022-01-31T23:06:00", "2022-01-31 23:06:07", "2022-01-31T23:06:07.1", "2022-01-31T23:06:07.123",
    "2022-01-31T23:06:07.123456", "2022-01-31T23:06:07.1234567", "2022-01-31T23:06:07.123456789",
    "2022-01-31T23:06:07.9999999", "2022-01-31T23:06:07Z", "2022-01-31T23:06:07.000Z",
    "2022-01-31T23:06:07+02:00", "2022-01-31T23:06:07-0530", "2022-01-31T23:06:07+02",
    "2022-01-31T23:06:07 +02:00", "2022-01-31T23:06:07UTC", "2022-01-31T23:06:07 UTC",
    "2022-01-31T23:06:07GMT+2", "2022-01-31T23:06:07 America/New_York", "2022-01-31T23:06:07[Europe/Paris]",
    "2022-01-31T23:06:07.5+01:00", "2022-01-31T24:00:00", "2022-02-30T00:00:00", "2022-13-01",
    "2022-01-31T23:60:00", "2022-01-31T23:06:60", " 2022-01-31T23:06:07", "2022-01-31T23:06:07 ",
    "2022-01-31T", "2022-01-31T23", "2022-01-31 23", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "1582-10-10",
    "2022/01/31", "01/31/2022", "20220131", "2022-01-31T23:06:07,5", "2022-01-31t23:06:07z",
    "2022-03-13T02:30:00", "2022-11-06T01:30:00", "2022-03-27T02:30:00", "2022-10-30T02:30:00",
    "1969-12-31T23:59:59.999999Z", "2022-01-31T23:06:07.123+14:00", "2022-01-31T23:06:07+18:00",
    "2022-01-31T23:06:07+19:00", "2022-01-31T23:06:07+02:00:30", "", "x",
]
for T in ["TIMESTAMP", "TIMESTAMP_NTZ", "DATE"]:
    for tz in ["UTC", "America/New_York", "+02:00", "Europe/Paris"]:
        case(f"t {T}, y INT", ['{"t": "%s", "y": 1}' % s for s in TS_STRINGS]
             + ['{"t": %s, "y": 1}' % n for n in ["0", "1643670360", "-1", "1.5", "1643670360.123456789", "1e3", "-0.5", "9223372036854775807"]],
             f"{T} string/number forms accepted by from_json (no timestampFormat), session tz {tz}", tz=tz)

TOP = [
    None, '{"x": 1, "s": "a"}', "", " ", "null", "1", '"str"', "true", "[]", '[{"x": 1}]', '[{"x": 1}, {"x": 2}]',
    "{", '{"x": 1', '{"x": 1,', '{"x": ', '{"x"', '{"x": 1, "s": "a', "}", "{}", "{ }", "  {\"x\": 1}  ",
    '{"x": 1} xyz', '{"x": 1}{"x": 2}', '{"x": 1} {"x": 2}', '{"x": 1}]', '{"x": 1}}', '{"x": 1},',
    '{"x": 1,}', '{"x": 1 "s": "a"}', "{'x': 1, 's': 'a'}", '{x: 1}', '/*c*/{"x": 1}', '{"x": 1 /*c*/}',
    '// c\n{"x": 1}', '# c\n{"x": 1}', '{"x": 1}\n', '\n{"x": 1}', '\t{"x":\t1}', '\ufeff{"x": 1}',
    '{"x": 1, "x": 2}', '{"x": "bad", "x": 2}', '{"x": 2, "x": "bad"}', '{"X": 1, "S": "a"}',
    '{"s": "a\\u00e9\\ud83d\\ude00\\n\\/\\b\\f\\r\\t"}', '{"s": "\\ud83d"}', '{"s": "\\ude00x"}', '{"s": "\\x41"}',
    '{"s": "\\u12"}', '{"s": "a\tb"}', '{"s": "a\nb"}', '{"s": "\u00e9\u4e2d"}', '{"s": "a\\u0000b"}',
    '{"other": {"deep": [1, {"x": 5}]}, "x": 3}', '{"other": [1, 2, [3, {"a": "}"}]], "x": 4}',
    '{"other": "}\\"{", "x": 5}', '{"x": 1, "other": tru}', '{"x": 1, "other": nul}', '{"x": 1, "other": 1.2.3}',
    '{"x": 1, "other": [1,}', '{"x": 1, "other": -}', '{"x": 01}', '{"x": -01}', '{"x": 1, "other": 01}',
    '{"x": 1, "other": NaN}', '{"x": 1, "other": \'q\'}', '{"x": 1, "other": "\\q"}',
    '{"x": TRUE}', '{"x": True}', '{"x": nULL}', '{"x": Null}', '{"x": 1}   garbage', '{"x": 1}\x00',
    '{"x": 1, "s": null}', '{"": 1, "x": 2}',
]
case("x INT, s STRING", TOP, "top-level shapes: not an object -> malformed (all-null struct), trailing text, comments, quotes, escapes")
case("x INT, s STRING", TOP, "same shapes in FAILFAST (error expected whenever PERMISSIVE is malformed)", mode="FAILFAST")
for bad in ['{"x": 1, "s": "a"}', '{"x": "nope"}', "[1]", "nope", "", '{"x": 1} tail', '[{"x": 1}]', '{"x": 1e2}', '{"s": 5}', '{"x": 1, "other": 01}']:
    case("x INT, s STRING", [bad], f"FAILFAST single row {bad!r}", mode="FAILFAST")

NESTED = [
    ("a ARRAY<INT>", ['{"a": [1, 2, null, 3]}', '{"a": [1, "x", 3]}', '{"a": [1, 2.5]}', '{"a": 1}', '{"a": "x"}',
                      '{"a": []}', '{"a": null}', '{"a": [[1]]}', '{"a": [{}]}', '{"a": {"b": 1}}', '{"a": [1,2,]}']),
    ("a ARRAY<STRING>", ['{"a": ["x", 1, true, null, {"k": 1}, [1, 2], 1.50]}', '{"a": "x"}']),
    ("a ARRAY<ARRAY<BIGINT>>", ['{"a": [[1, 2], [], null, [3]]}', '{"a": [[1, "x"], [2]]}', '{"a": [1, [2]]}']),
    ("a ARRAY<STRUCT<b: INT, c: STRING>>, y INT",
     ['{"a": [{"b": 1, "c": "x"}, {"b": "bad", "c": "y"}, null, {"c": "z"}, 1], "y": 1}',
      '{"a": [{"b": 1}, [1]], "y": 1}', '{"a": {"b": 1, "c": "single"}, "y": 1}', '{"a": [], "y": 1}']),
    ("s STRUCT<a: INT, b STRING, c: STRUCT<d: DOUBLE>>, y INT",
     ['{"s": {"a": 1, "b": "x", "c": {"d": 1.5}}, "y": 1}', '{"s": {"a": "bad", "b": "x"}, "y": 1}',
      '{"s": {"c": {"d": "bad"}, "a": 2}, "y": 1}', '{"s": 5, "y": 1}', '{"s": [], "y": 1}', '{"s": [{"a": 1}], "y": 1}',
      '{"s": null, "y": 1}', '{"s": {}, "y": 1}', '{"s": {"A": 1}, "y": 1}']),
    ("m MAP<STRING, INT>, y INT",
     ['{"m": {"k": 1, "j": 2}, "y": 1}', '{"m": {"k": 1, "j": "x"}, "y": 1}', '{"m": {"k": null}, "y": 1}',
      '{"m": {}, "y": 1}', '{"m": {"k": 1, "k": 2}, "y": 1}', '{"m": [1], "y": 1}', '{"m": "x", "y": 1}']),
    ("m MAP<STRING, ARRAY<STRUCT<v: BIGINT>>>", ['{"m": {"a": [{"v": 1}, {"v": 2}], "b": null, "c": []}}']),
    ("order_id STRING, order_timestamp Timestamp, customer_id STRING, quantity BIGINT, total BIGINT, "
     "books ARRAY<STRUCT<book_id STRING, quantity BIGINT, subtotal BIGINT>>",
     ['{"order_id":"000000000004243","order_timestamp":"2021-07-01 01:25:19","customer_id":"C00001","quantity":1,"total":24,"books":[{"book_id":"B07","quantity":1,"subtotal":24}]}',
      '{"order_id":"000000000004244","order_timestamp":1625102719,"customer_id":"C00002","quantity":2,"total":57,"books":[{"book_id":"B03","quantity":1,"subtotal":33},{"book_id":"B12","quantity":1,"subtotal":24}]}']),
    ("customer_id STRING, email STRING, first_name STRING, last_name STRING, gender STRING, street STRING, city STRING, "
     "country_code STRING, row_status STRING, row_time TIMESTAMP",
     ['{"customer_id":"C00335","email":"scoulmanpn@topsy.com","first_name":"Silvanus","last_name":"Coulman","gender":"Agender","street":"4319 Prairieview Crossing","city":"Hengdian","country_code":"CN","row_status":"insert","row_time":"2022-01-31T23:06:00.000Z"}']),
    ("`weird name` INT, `a``b` STRING, c CHAR(3), d VARCHAR(5), e DEC(5,1), f NUMERIC(20), g REAL, h BYTE, i SHORT, j LONG, k INTEGER, l TIMESTAMP_LTZ",
     ['{"weird name": 1, "a`b": "q", "c": "abcdef", "d": "xy", "e": 1.25, "f": 12, "g": 1.5, "h": 1, "i": 2, "j": 3, "k": 4, "l": "2022-01-31 00:00:00"}']),
    ("c CHAR(3), d VARCHAR(2)", ['{"c": "abcdef", "d": "xyz"}', '{"c": "a", "d": "x"}']),
]
NESTED += [
    ("b BINARY, y INT", ['{"b": "%s", "y": 1}' % v for v in [
        "Zm9v", "Zm9vYg==", "Zm9vYg=", "Zm9vYg", "Zm9vY", "Z", "Zm", "Zm9", "Zm9vYmFy", "Zm 9v", " Zm9v", "Zm9v ",
        "Zm9v\\n", "Zm9v====", "Zm9vYg==Zm9v", "Zm9v-_", "Zm9v+/+/", "====", "A===", "AB==", "ABC=", "AB=C",
        "Zm9vY===", "Zm9vYmE=x", "\\u005a\\u006d9v", "Zm9v\\t", "YQ", "YQ=", "YWI", "_-_-"]]),
    ("m MAP<STRING, INT>, y INT", ['{"m": {"k": 1, "j": "x", "y": 5}, "y": 1}', '{"m": {"j": "x", "k": {"y": 6}}, "y": 1}']),
    ("a ARRAY<INT>, y INT", ['{"a": [1, "x", {"y": 5}], "y": 1}', '{"a": ["x", 2], "y": 1}']),
    ("s STRING", ["{'s': 'it\\'s'}", '{"s": "it\\\'s"}', '{"s": "a\\u00"}', '{"s": [1.0E23, 2e-3, 1e7, 9999999.0, 0.001, 0.0001, 123456789.125, 1e-5, 4.9e-324, 1.7976931348623157e308, 1e21, 1e22, 5e-324, 2.2250738585072014E-308, 0.3, 100.5e-2, -0.0, 0.0, 1e0]}',
                  '{"s": {"k": "a\\"b\\\\c\\u0001\\u001f\\b\\f\\n\\r\\t/\\u00e9\\u2028", \'q\': \'x"y\'}}', '{"s": [-0, -0.0, 10, -12345678901234567890123]}']),
    ("f FLOAT, d DOUBLE", ['{"f": "%s", "d": "%s"}' % (v, v) for v in ["+NaN", "-NaN", "Inf", "+Inf", "-Inf", "+Infinity", "inf", "nan", "Infinity ", " NaN"]]),
    ("d DECIMAL(10,2), y INT", ['{"d": "%s", "y": 1}' % v for v in ["1,000", "+5", ".5", "5.", " 5", "1e400", "-0.004", "0.005", "-0.005", "1,2,3.4", "1e-2", "1E+2", "NaN", "12345678.994", "12345678.995"]]
     + ['{"d": %s, "y": 1}' % v for v in ["0.005", "-0.005", "12345678.994", "12345678.995", "1e-400", "1e8", "1e7", "123456789012345678901234567890e-25"]]),
    ("d DATE, y INT", ['{"d": "%s", "y": 1}' % v for v in ["+12", "-141428", "-200000", "2147483648", "0012", "12 ", "1 2", "-1", "-141427", "-150000", "2022-01-31 junk", "2022-01-31Tjunk", "2022-01 x", "2022-1-1", "+2022-01-01", "12345-01-01", "1234567-01-01", "12345678-01-01", "2022-01-31junk"]]),
    ("t TIMESTAMP, y INT", ['{"t": "%s", "y": 1}' % v for v in ["2022-01-31T23:06:07 GMT", "2022-01-31T23:06:07GMT+02:00", "2022-01-31T23:06:07 EST", "2022-01-31T23:06:07 PST", "2022-01-31T23:06:07+2:00", "2022-01-31T23:06:07+02:3", "2022-01-31T23:06:07 UTC+3", "2022-01-31T23:06:07.123 Z", "2022-01-31T23:06:07Zjunk", "2022-01-31T23:06:07 europe/paris", "2022-01-31T23:06:07 Etc/GMT+5", "2022-01-31 23:06:07.", "2022-01-31 23:06:07.Z", "2022-01-31 23:06", "2022-01-31 1:2:3", "2022-01-31 01:02:03:04", "2022-01-31 01:02:03 04", "2022-01-31 01:02.5", "-290308-12-21T19:59:05.224192Z", "294247-01-10T04:00:54.775807Z", "294247-01-10T04:00:54.775808Z", "1582-10-05T00:00:00Z", "1000-01-01T00:00:00 America/New_York", "2022-01-31T23:06:07 GMT+2"]]),
    ("x INT", ['{"x": %s}' % ("[" * 1100 + "]" * 1100), '{"y": %s, "x": 1}' % ("[" * 999 + "]" * 999), '{"y": %s, "x": 1}' % ("[" * 1000 + "]" * 1000), '{"y": %s, "x": 1}' % ("{\"a\":" * 999 + "1" + "}" * 999)]),
]
for schema, rows in NESTED:
    case(schema, rows, f"nested / DDL forms: {schema[:60]}")

case("x DOUBLE, s STRING, y INT",
     ['{"x": %s, "y": 1}' % v for v in ["-NaN", "+NaN", "-Infinity", "-INF", "Infinity1", "NaNx", "-", "1.", "1e", "1e+", "-0.0", "0e5", "1E-0"]]
     + ['{"s": %s, "y": 1}' % v for v in ["-NaN", "-Infinity", "1E-0", "0e5", "-0.0", "123456789012345678901234567890.5"]]
     + ['{"x":\f1, "y": 1}', '{"x":1,\r\n"y":2}', '{"x":1 , "y" : 2 }', '{"s": "a\u0000\u007f\u0080"}'],
     "JSON number grammar: non-numeric numbers, dangling exponent/point, whitespace set")
case("s STRUCT<a INT, b STRING>, y INT",
     ['{"s": {"a": 1, "a": "bad"}, "y": 1}', '{"s": {"a": "bad", "a": 2}, "y": 1}', '{"s": {"a": 1}, "s": {"b": "x"}, "y": 1}',
      '{"s": {"a": 1}, "s": 5, "y": 1}', '{"s": {"a": "bad"}, "s": {"a": 3}, "y": 1}'],
     "duplicate keys inside nested structs and duplicate struct fields: last successful value wins")
# Binary input column (CAST(binary AS STRING) then from_json); inputs are base64 here.
BINARY_INPUTS = [b'{"s": "\xff"}', b'{"s": "a\xc3"}', b'{"s": "\xe2\x82"}', b'{"s": "\xed\xa0\x80"}', b'{"s": "ok\xc3\xa9"}', b'\xff{"s": "x"}', b'{"s\xff": 1}']
CASES.append({"schema": "s STRING", "inputs": [base64.b64encode(b).decode() for b in BINARY_INPUTS],
              "binary": True, "comment": "binary input with invalid UTF-8: decoded with U+FFFD replacement",
              "time_zone": "UTC", "mode": "PERMISSIVE"})


def main():
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master("local[1]").appName("cdc_rs-golden")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
             # Spark 4 rejects CHAR/VARCHAR in from_json schemas unless this legacy flag is set;
             # cdc_rs maps them to STRING, which is what this flag does.
             .config("spark.sql.legacy.charVarcharAsString", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    out = []
    for i, c in enumerate(CASES):
        spark.conf.set("spark.sql.session.timeZone", c["time_zone"])
        if c.get("binary"):
            df = spark.createDataFrame([(bytearray(base64.b64decode(r)),) for r in c["inputs"]], "value BINARY")
            df = df.select(F.col("value").cast("string").alias("value"))
        else:
            df = spark.createDataFrame([(r,) for r in c["inputs"]], "value STRING")
        opts = {"mode": c["mode"]}
        rec = dict(c)
        try:
            res = df.select(F.from_json("value", c["schema"], opts).alias("r")).toArrow()
            col = res.column("r")
            rec["arrow_type"] = str(col.type)
            rec["expected"] = normalize_struct_array(col)
        except Exception as e:  # FAILFAST (or a Spark-side schema error)
            rec["error"] = True
            rec["error_message"] = str(e).splitlines()[0][:300]
            if c["mode"] == "FAILFAST" and len(c["inputs"]) > 1:
                # per-row outcome so the test can check the first failing row
                per = []
                for r in c["inputs"]:
                    d1 = spark.createDataFrame([(r,)], "value STRING")
                    try:
                        d1.select(F.from_json("value", c["schema"], opts).alias("r")).toArrow()
                        per.append(False)
                    except Exception:
                        per.append(True)
                rec["row_errors"] = per
        out.append(rec)
        print(f"[{i + 1}/{len(CASES)}] {c['schema'][:50]} {c['time_zone']} {c['mode']}: "
              f"{'ERROR' if rec.get('error') else 'ok'}", flush=True)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"spark_version": spark.version, "cases": out}, f, indent=1, ensure_ascii=True)
    spark.stop()


if __name__ == "__main__":
    main()
