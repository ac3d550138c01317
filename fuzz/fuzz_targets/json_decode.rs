//! `from_json` on arbitrary rows. Input: byte 0 picks a schema (one per type family, deep
//! nesting included), byte 1 the input array kind (string/binary, plain/large/view) and a
//! second time zone; the rest, split on `\n`, are the rows (a row that is the single byte 0
//! is a null value). Checks: no panic; PERMISSIVE never errors and gives one valid output row
//! per input row (every column passes `validate_full`); the malformed mask does not depend on
//! the time zone; FAILFAST errors exactly when a row is malformed or partial, else decodes like
//! PERMISSIVE; `from_json_chunks` over two slices and `from_json_at` over a selection decode
//! like the whole column.
#![no_main]

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, LargeBinaryArray,
    LargeStringArray, StringArray, StringViewArray, UInt32Array,
};
use arrow::compute::{take, take_record_batch};
use arrow::datatypes::SchemaRef;
use cdc_rs::decode::{from_json, from_json_at, from_json_chunks, DecodeOptions, Decoded, Mode};
use cdc_rs::schema::parse_ddl;
use cdc_rs::CdcError;
use libfuzzer_sys::fuzz_target;

fn schemas() -> &'static [SchemaRef] {
    static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let deep_struct = format!("a {}INT{}", "STRUCT<a: ".repeat(31), ">".repeat(31));
        let deep_mixed = format!(
            "a {}STRING{}, b {}BIGINT{}",
            "ARRAY<STRUCT<a: MAP<STRING, ".repeat(10),
            ">>>".repeat(10),
            "ARRAY<".repeat(31),
            ">".repeat(31),
        );
        let wide = (0..12)
            .map(|i| format!("f{i} {}", ["INT", "STRING", "DOUBLE", "BOOLEAN"][i % 4]))
            .collect::<Vec<_>>()
            .join(", ");
        [
            "i INT, l BIGINT, d DOUBLE, f FLOAT, dec DECIMAL(38,10), d2 DECIMAL(5,2), t TINYINT, \
             s SMALLINT, d0 DECIMAL",
            "s STRING, b BOOLEAN, `we\"ird\\` STRING, c VARCHAR(3), `` STRING, `é` STRING",
            "ts TIMESTAMP, ntz TIMESTAMP_NTZ, dt DATE, ltz TIMESTAMP_LTZ",
            "bin BINARY, s STRING, arr ARRAY<BINARY>",
            "arr ARRAY<STRUCT<a: INT, b: STRING, c: ARRAY<DOUBLE>, d: DECIMAL(10,3)>>, n BIGINT",
            "m MAP<STRING, BIGINT>, mm MAP<STRING, ARRAY<STRUCT<x: TIMESTAMP, y: STRING>>>, \
             ms MAP<STRING, STRING>",
            &deep_struct,
            &deep_mixed,
            &wide,
            "order_id STRING, order_timestamp TIMESTAMP, customer_id STRING, quantity BIGINT, \
             total BIGINT, books ARRAY<STRUCT<book_id STRING, quantity BIGINT, subtotal BIGINT>>",
            "e STRUCT<>, x INT, a ARRAY<ARRAY<ARRAY<INT>>>",
            "a STRUCT<a: STRUCT<a: INT, b: STRING>, b: STRUCT<a: DATE>>, b STRING",
            "s STRING",
            "v STRING, d DOUBLE, m MAP<STRING, STRUCT<k: TIMESTAMP_NTZ, b: BINARY>>",
        ]
        .iter()
        .map(|ddl| parse_ddl(ddl).unwrap_or_else(|e| panic!("{ddl}: {e}")))
        .collect()
    })
}

const ZONES: [&str; 6] = [
    "America/New_York",
    "+05:30",
    "Europe/London",
    "Australia/Lord_Howe",
    "UTC",
    "-08:00",
];

fn input(kind: u8, rows: &[Option<&[u8]>]) -> ArrayRef {
    let text: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.map(|b| String::from_utf8_lossy(b).into_owned()))
        .collect();
    match kind % 6 {
        0 => Arc::new(StringArray::from(text)),
        1 => Arc::new(LargeStringArray::from(text)),
        2 => Arc::new(StringViewArray::from(text)),
        3 => Arc::new(BinaryArray::from(rows.to_vec())),
        4 => Arc::new(LargeBinaryArray::from(rows.to_vec())),
        _ => Arc::new(BinaryViewArray::from(rows.to_vec())),
    }
}

fn validity(d: &Decoded) -> Vec<bool> {
    let n = d.batch.num_rows();
    (0..n)
        .map(|i| d.nulls.as_ref().is_none_or(|v| v.is_valid(i)))
        .collect()
}

fn malformed(d: &Decoded) -> Vec<bool> {
    d.malformed.iter().collect()
}

fn opts(mode: Mode, zone: &str) -> DecodeOptions {
    DecodeOptions::new(mode, zone).unwrap()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let schema = &schemas()[data[0] as usize % schemas().len()];
    let (kind, zone) = (data[1] & 7, ZONES[(data[1] >> 3) as usize % ZONES.len()]);
    let rows: Vec<Option<&[u8]>> = data[2..]
        .split(|&b| b == b'\n')
        .map(|r| (r != [0]).then_some(r))
        .collect();
    let n = rows.len();
    let values = input(kind, &rows);

    let perm = from_json(&values, schema, &opts(Mode::Permissive, "UTC"))
        .unwrap_or_else(|e| panic!("PERMISSIVE failed: {e}"));
    assert_eq!(perm.batch.num_rows(), n);
    assert_eq!(perm.malformed.len(), n);
    for column in perm.batch.columns() {
        assert_eq!(column.len(), n);
        column
            .to_data()
            .validate_full()
            .expect("invalid output column");
    }
    let (valid, bad) = (validity(&perm), malformed(&perm));
    for (i, row) in rows.iter().enumerate() {
        let blank = row.is_none_or(|r| r.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')));
        if blank {
            assert!(!valid[i] && !bad[i], "row {i}: a blank value is a null row");
        } else {
            assert!(valid[i], "row {i}: only blank values are null rows");
        }
    }

    let zoned = from_json(&values, schema, &opts(Mode::Permissive, zone))
        .unwrap_or_else(|e| panic!("PERMISSIVE in {zone} failed: {e}"));
    assert_eq!(
        malformed(&zoned),
        bad,
        "the malformed mask depends on the zone"
    );
    assert_eq!(validity(&zoned), valid);

    match from_json(&values, schema, &opts(Mode::FailFast, zone)) {
        Ok(strict) => {
            assert!(!bad.contains(&true), "FAILFAST passed a malformed row");
            assert_eq!(strict.batch, zoned.batch, "FAILFAST decodes differently");
        }
        Err(CdcError::Decode { row, .. }) => {
            assert!(row < n && valid[row], "FAILFAST blamed row {row}");
            if let Some(first) = bad.iter().position(|&b| b) {
                assert!(row <= first, "FAILFAST passed malformed row {first}");
            }
        }
        Err(e) => panic!("FAILFAST: unexpected error {e}"),
    }

    let split = (data.len() * 7 + data[1] as usize) % (n + 1);
    let (head, tail) = (values.slice(0, split), values.slice(split, n - split));
    let chunked = from_json_chunks(
        &[head.as_ref(), tail.as_ref()],
        schema,
        &opts(Mode::Permissive, "UTC"),
    )
    .unwrap_or_else(|e| panic!("chunks failed: {e}"));
    assert_eq!(chunked.batch, perm.batch, "chunks decode differently");
    assert_eq!(malformed(&chunked), bad);
    assert_eq!(validity(&chunked), valid);

    let picked: Vec<u32> = (0..n as u32)
        .filter(|i| (i + split as u32) % 3 != 0)
        .collect();
    let at = from_json_at(
        &values,
        Some(&picked),
        schema,
        &opts(Mode::Permissive, "UTC"),
    )
    .unwrap_or_else(|e| panic!("selection failed: {e}"));
    let indices = UInt32Array::from(picked.clone());
    assert_eq!(
        at.batch,
        take_record_batch(&perm.batch, &indices).unwrap(),
        "a selection decodes differently"
    );
    let bad_at = take(&BooleanArray::from(bad.clone()), &indices, None).unwrap();
    assert_eq!(
        malformed(&at),
        bad_at
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap()
            .values()
            .iter()
            .collect::<Vec<_>>()
    );

    let whole = perm.into_struct();
    assert_eq!(whole.len(), n);
    assert_eq!(whole.null_count(), valid.iter().filter(|v| !**v).count());
});
