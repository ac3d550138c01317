use super::*;
use crate::arrow::array::{
    BinaryArray, Date32Array, Float64Array, Int32Array, Int64Array, Int8Array, LargeStringArray,
    ListArray, StringArray, StringViewArray, TimestampMicrosecondArray,
};

use crate::schema::parse_ddl;

fn run(ddl: &str, rows: &[Option<&str>]) -> Decoded {
    let schema = parse_ddl(ddl).unwrap();
    let arr = StringArray::from(rows.to_vec());
    from_json(
        &arr,
        &schema,
        &DecodeOptions::new(Mode::Permissive, "UTC").unwrap(),
    )
    .unwrap()
}

fn col<T: 'static>(d: &Decoded, i: usize) -> &T {
    d.batch.column(i).as_any().downcast_ref::<T>().unwrap()
}

#[test]
fn a_wrong_typed_field_is_null_and_the_row_kept_a_syntax_error_nulls_the_row() {
    let d = run(
        "x INT, s STRING",
        &[
            Some(r#"{"x": 1, "s": "a"}"#),
            Some(r#"{"x": "bad", "s": "b"}"#),
            None,
            Some("[1]"),
            Some(r#"{"s": {"k": [1, 2.50, 1e2]}, "x": 2} tail"#),
            Some("  "),
            Some(r#"{"x": 1, "x": "bad"}"#),
            Some(r#"{'s': 'q"', "other": [1, {"a": "}"}]}"#),
        ],
    );
    let x = col::<Int32Array>(&d, 0);
    let s = col::<StringArray>(&d, 1);
    assert_eq!(x.value(0), 1);
    assert!(x.is_null(1));
    assert_eq!(s.value(1), "b");
    assert!(d.malformed.value(3) && !d.malformed.value(1) && !d.malformed.value(2));
    assert_eq!(s.value(4), r#"{"k":[1,2.5,100.0]}"#);
    assert_eq!(x.value(4), 2);
    let nulls = d.nulls.clone().unwrap();
    assert!(nulls.is_null(2) && nulls.is_null(5) && nulls.is_valid(3));
    assert_eq!(x.value(6), 1);
    assert_eq!(s.value(7), "q\"");
    let st = d.into_struct();
    assert!(st.is_null(2) && st.is_valid(3));
}

#[test]
fn nested_arrays_of_structs_decode_like_the_orders_feed() {
    let d = run(
        "order_id STRING, order_timestamp Timestamp, customer_id STRING, quantity BIGINT, total BIGINT, books ARRAY<STRUCT<book_id STRING, quantity BIGINT, subtotal BIGINT>>",
        &[
            Some(r#"{"order_id":"1","order_timestamp":"2021-07-01 01:25:19","quantity":1,"books":[{"book_id":"B07","quantity":1,"subtotal":24},null]}"#),
            Some(r#"{"order_id":"2","order_timestamp":1625102719,"books":[{"book_id":"B07","quantity":"x"}]}"#),
        ],
    );
    let ts = col::<TimestampMicrosecondArray>(&d, 1);
    assert_eq!(ts.value(0), 1625102719000000);
    assert_eq!(ts.value(1), 1625102719000000);
    let books = col::<ListArray>(&d, 5);
    assert_eq!(books.value_length(0), 2);
    // a struct element with a failed field stays, that field null (Spark's partial results)
    assert_eq!(books.value_length(1), 1);
    let book = books.value(1);
    let book = book
        .as_any()
        .downcast_ref::<crate::arrow::array::StructArray>()
        .unwrap();
    assert!(book.is_valid(0) && book.column(1).is_null(0));
    assert_eq!(col::<Int64Array>(&d, 3).value(0), 1);
}

#[test]
fn every_scalar_type_decodes_from_its_json_spellings() {
    let d = run(
        "b BYTE, f DOUBLE, d DATE, bin BINARY, m MAP<STRING, INT>, dec DECIMAL(7,2)",
        &[Some(
            r#"{"b": 200, "f": NaN, "d": "2022-01-31T10:00", "bin": "Zm9v", "m": {"a": 1, "b": null}, "dec": "1,234.567"}"#,
        )],
    );
    assert_eq!(col::<Int8Array>(&d, 0).value(0), -56);
    assert!(col::<Float64Array>(&d, 1).value(0).is_nan());
    assert_eq!(col::<Date32Array>(&d, 2).value(0), 19023);
    assert_eq!(col::<BinaryArray>(&d, 3).value(0), b"foo");
    assert_eq!(d.batch.column(4).len(), 1);
    let dec = d
        .batch
        .column(5)
        .as_primitive::<crate::arrow::datatypes::Decimal128Type>();
    assert_eq!(dec.value(0), 123457);
}

#[test]
fn input_kinds_and_failfast() {
    let schema = parse_ddl("x INT").unwrap();
    let opts = DecodeOptions::new(Mode::Permissive, "+02:00").unwrap();
    let l = LargeStringArray::from(vec![r#"{"x":1}"#]);
    assert_eq!(from_json(&l, &schema, &opts).unwrap().batch.num_rows(), 1);
    let v = StringViewArray::from(vec![r#"{"x":1}"#]);
    assert_eq!(from_json(&v, &schema, &opts).unwrap().batch.num_rows(), 1);
    let b = BinaryArray::from(vec![&b"{\"x\":1, \"s\": \"\xff\"}"[..]]);
    let d = from_json(&b, &schema, &opts).unwrap();
    assert_eq!(col::<Int32Array>(&d, 0).value(0), 1);
    assert!(matches!(
        from_json(&Int32Array::from(vec![1]), &schema, &opts),
        Err(CdcError::Input(_))
    ));
    let ff = DecodeOptions::new(Mode::FailFast, "UTC").unwrap();
    let a = StringArray::from(vec![r#"{"x":1}"#, "", r#"{"x":"a"}"#]);
    match from_json(&a, &schema, &ff) {
        Err(CdcError::Decode { row, .. }) => assert_eq!(row, 2),
        other => panic!("{:?}", other.map(|d| d.batch)),
    }
    assert!(matches!(
        DecodeOptions::new(Mode::Permissive, "Mars/Base"),
        Err(CdcError::Config(_))
    ));
}

#[test]
fn decoding_in_parallel_chunks_gives_the_serial_result() {
    let schema = parse_ddl("customer_id STRING, n BIGINT, row_time TIMESTAMP").unwrap();
    let rows: Vec<String> = (0..100_000)
        .map(|i| match i % 7 {
            0 => "garbage".to_string(),
            1 => String::new(),
            _ => format!(
                r#"{{"customer_id":"C{i:05}","n":{i},"row_time":"2022-01-31T23:06:00.000Z"}}"#
            ),
        })
        .collect();
    let arr = StringArray::from(rows.clone());
    let opts = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
    let d = from_json(&arr, &schema, &opts).unwrap();
    assert_eq!(d.batch.num_rows(), 100_000);
    let n = col::<Int64Array>(&d, 1);
    assert_eq!(n.value(99_999), 99_999);
    assert!(d.malformed.value(70) && !d.malformed.value(71));
    assert_eq!(d.malformed.count_set_bits(), 100_000usize.div_ceil(7));
}

#[test]
fn selected_rows_decode_like_the_filtered_column() {
    let schema = parse_ddl("customer_id STRING, n BIGINT").unwrap();
    let rows: Vec<Option<Vec<u8>>> = (0..70_000)
        .map(|i| match i % 5 {
            0 => None,
            1 => Some(b"\xff{\"n\": 1}".to_vec()),
            2 => Some(format!(r#"{{"customer_id":"C\u00e9{i}","n":{i}}}"#).into_bytes()),
            _ => Some(format!(r#"{{"customer_id":"C{i}","n":{i}}}"#).into_bytes()),
        })
        .collect();
    let values = BinaryArray::from_iter(rows.iter().map(|r| r.as_deref()));
    let opts = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
    // every third row, across the parallel threshold
    let at: Vec<u32> = (0..70_000).filter(|i| i % 3 != 0).collect();
    let picked = crate::arrow::compute::take(
        &values,
        &crate::arrow::array::UInt32Array::from(at.clone()),
        None,
    )
    .unwrap();
    let want = from_json(picked.as_ref(), &schema, &opts).unwrap();
    let got = from_json_at(&values, Some(&at), &schema, &opts).unwrap();
    assert_eq!(got.batch, want.batch);
    assert_eq!(got.malformed, want.malformed);
    assert_eq!(got.nulls, want.nulls);
    assert!(from_json_at(&values, Some(&[70_000]), &schema, &opts).is_err());
}

/// Tiny xorshift so the test needs no extra crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_inputs_never_panic() {
    let schema = parse_ddl(
        "a INT, s STRING, t TIMESTAMP, d DATE, b BINARY, x ARRAY<STRUCT<k: DECIMAL(10,2), m: MAP<STRING, DOUBLE>>>, n STRUCT<z BOOLEAN, y TINYINT>",
    )
    .unwrap();
    let seeds = [
        r#"{"a": 1, "s": "x\u00e9\"", "t": "2022-01-31T23:06:00Z", "d": "2022-01-31", "b": "Zm9v", "x": [{"k": 1.25, "m": {"q": 1e5}}], "n": {"z": true, "y": 5}}"#,
        r#"{'a': -0, "s": [1, {"q": null}], "x": [null, {"k": "12"}], "n": {"z": false}, "other": [[[{}]]]}"#,
    ];
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut rows: Vec<Vec<u8>> = Vec::new();
    for _ in 0..20_000 {
        let base = seeds[(rng.next() % 2) as usize].as_bytes();
        let mut v = base.to_vec();
        match rng.next() % 4 {
            0 => v.truncate((rng.next() as usize) % (base.len() + 1)),
            1 => {
                for _ in 0..1 + rng.next() % 4 {
                    let p = (rng.next() as usize) % v.len();
                    v[p] = (rng.next() & 0xff) as u8;
                }
            }
            2 => {
                let p = (rng.next() as usize) % v.len();
                let q = (rng.next() as usize) % v.len();
                let (lo, hi) = (p.min(q), p.max(q));
                v.drain(lo..hi);
            }
            _ => {
                const A: &[u8] = b"{}[]\":,'\\0123eE-+.ntfu ";
                v = (0..rng.next() % 40)
                    .map(|_| A[(rng.next() as usize) % A.len()])
                    .collect()
            }
        }
        rows.push(v);
    }
    let arr = BinaryArray::from(rows.iter().map(|r| r.as_slice()).collect::<Vec<_>>());
    let opts = DecodeOptions::new(Mode::Permissive, "America/New_York").unwrap();
    let d = from_json(&arr, &schema, &opts).unwrap();
    assert_eq!(d.batch.num_rows(), rows.len());
    d.batch
        .columns()
        .iter()
        .for_each(|c| c.to_data().validate_full().unwrap());
    let _ = d.into_struct();
}

/// Throughput on ~100 MB of bookstore customer JSON:
/// `cargo test --release --lib decode::tests::throughput -- --ignored --nocapture`
/// (RAYON_NUM_THREADS=1 for one thread).
#[test]
#[ignore]
fn throughput() {
    let schema = parse_ddl(
        "customer_id STRING, email STRING, first_name STRING, last_name STRING, gender STRING, street STRING, city STRING, country_code STRING, row_status STRING, row_time TIMESTAMP",
    )
    .unwrap();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    let mut i = 0u64;
    while bytes < 100 << 20 {
        let r = format!(
            r#"{{"customer_id":"C{:05}","email":"scoulman{}@topsy.com","first_name":"Silvanus","last_name":"Coulman","gender":"Agender","street":"{} Prairieview Crossing","city":"Hengdian","country_code":"CN","row_status":"insert","row_time":"2022-01-{:02}T23:06:{:02}.000Z"}}"#,
            i % 100000,
            i,
            i % 9999,
            i % 28 + 1,
            i % 60
        );
        bytes += r.len();
        rows.push(r);
        i += 1;
    }
    let arr = StringArray::from(rows);
    let opts = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
    let mut best = f64::MAX;
    for _ in 0..10 {
        let t = std::time::Instant::now();
        let d = from_json(&arr, &schema, &opts).unwrap();
        assert_eq!(d.batch.num_rows(), arr.len());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "decoded {} rows, {:.1} MB in {:.3}s: {:.0} MB/s ({} threads)",
        arr.len(),
        bytes as f64 / 1e6,
        best,
        bytes as f64 / 1e6 / best,
        rayon::current_num_threads()
    );
}

#[test]
fn failed_nested_values_leave_no_junk() {
    let d = run(
        "a ARRAY<INT>, s STRUCT<b: ARRAY<STRING>, c INT>, m MAP<STRING, INT>",
        &[
            Some(r#"{"a": [1, 2], "m": {"k": 1}}"#),
            Some(r#"{"a": [1, "x", 3], "m": {"k": 1, "j": "x"}, "s": {"b": ["q", "r"], "c": 1}}"#),
            Some(r#"{"a": [], "m": {}, "s": {"b": ["z"], "c": "#),
            Some(r#"{"a": [7], "m": {"z": 9}, "s": {"b": [], "c": 2}}"#),
        ],
    );
    let a = col::<ListArray>(&d, 0);
    assert!(a.is_null(1) && a.is_null(2));
    assert_eq!(
        a.value(3)
            .as_primitive::<crate::arrow::datatypes::Int32Type>()
            .values()
            .to_vec(),
        vec![7]
    );
    assert!(d.malformed.value(2));
    let m = d.batch.column(2).as_map();
    assert_eq!(m.value(3).len(), 1);
    d.batch
        .columns()
        .iter()
        .for_each(|c| c.to_data().validate_full().unwrap());
}

#[test]
fn empty_and_unusual_schemas_decode() {
    let d = run(
        "e STRUCT<>, x INT",
        &[
            Some(r#"{"e": {}, "x": 1}"#),
            Some(r#"{"e": {"q": 1}}"#),
            None,
        ],
    );
    assert_eq!(d.batch.column(0).len(), 3);
    let schema: SchemaRef = Arc::new(Schema::new(vec![crate::arrow::datatypes::Field::new(
        "t",
        DataType::Timestamp(crate::arrow::datatypes::TimeUnit::Millisecond, None),
        false,
    )]));
    let arr = StringArray::from(vec!["{}"]);
    let opts = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
    assert!(matches!(
        from_json(&arr, &schema, &opts),
        Err(CdcError::Config(_))
    ));
    let empty = Arc::new(Schema::empty());
    let d = from_json(&arr, &empty, &opts).unwrap();
    assert_eq!(d.into_struct().len(), 1);
}

// ---- binary input: the fused UTF-8 check must decode exactly like "lossy text, then parse" ----

const UTF8_DDL: &str = "s STRING, `naïve` STRING, `a\u{FFFD}` INT, t TIMESTAMP, b BINARY, \
    n STRUCT<z: STRING, y: ARRAY<STRING>>, l ARRAY<STRING>, m MAP<STRING, STRING>, j STRING";

/// Decode `rows` as Binary, LargeBinary and BinaryView input and assert each gives exactly what
/// the reference gives: `utf8_lossy_java(row)` decoded as (valid by type) Utf8 input. Also in
/// FailFast mode (same error row and message). Returns the Binary decode.
fn check_binary_like_lossy(ddl: &str, rows: &[Option<&[u8]>]) -> Decoded {
    let schema = parse_ddl(ddl).unwrap();
    let lossy: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.map(|r| String::from_utf8(utf8_lossy_java(r)).unwrap()))
        .collect();
    let reference = StringArray::from(lossy.clone());
    let bin = BinaryArray::from(rows.to_vec());
    let large = crate::arrow::array::LargeBinaryArray::from(rows.to_vec());
    let view = crate::arrow::array::BinaryViewArray::from(rows.to_vec());
    let inputs: [&dyn Array; 3] = [&bin, &large, &view];
    let opts = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
    let want = from_json(&reference, &schema, &opts).unwrap();
    for input in inputs {
        let got = from_json(input, &schema, &opts).unwrap();
        for (c, (g, w)) in got
            .batch
            .columns()
            .iter()
            .zip(want.batch.columns())
            .enumerate()
        {
            if g != w {
                let i = (0..rows.len())
                    .find(|&i| g.slice(i, 1) != w.slice(i, 1))
                    .unwrap_or(0);
                panic!(
                    "{:?}: column {c} differs at row {i} ({:?} vs lossy {:?}):\n{:?}\n{:?}",
                    input.data_type(),
                    rows[i].map(|r| r.escape_ascii().to_string()),
                    lossy[i],
                    g.slice(i, 1),
                    w.slice(i, 1)
                );
            }
            g.to_data().validate_full().unwrap();
        }
        assert_eq!(got.malformed, want.malformed);
        assert_eq!(got.nulls, want.nulls);
    }
    let ff = DecodeOptions::new(Mode::FailFast, "UTC").unwrap();
    let want_err = from_json(&reference, &schema, &ff)
        .err()
        .map(|e| e.to_string());
    for input in inputs {
        let got_err = from_json(input, &schema, &ff).err().map(|e| e.to_string());
        assert_eq!(got_err, want_err);
    }
    from_json(&bin, &schema, &opts).unwrap()
}

fn binary_rows(rows: &[&[u8]]) -> Decoded {
    let rows: Vec<Option<&[u8]>> = rows.iter().map(|&r| Some(r)).collect();
    check_binary_like_lossy(UTF8_DDL, &rows)
}

#[test]
fn binary_invalid_utf8_in_string_value() {
    let d = binary_rows(&[
        b"{\"s\": \"a\xffb\"}",
        b"{\"s\": \"\xff\xfe\"}",
        b"{\"s\": \"esc\\n\xff\"}",               // after an escape
        b"{\"s\": \"0123456789abcdefghij\xff\"}", // past the first 16 bytes
        b"{\"t\": \"2022-01-31\xff\", \"b\": \"Zm9\xff\"}", // parsed types: fail -> null
        b"{\"s\": \"ok\"}",
    ]);
    let s = col::<StringArray>(&d, 0);
    assert_eq!(s.value(0), "a\u{FFFD}b");
    assert_eq!(s.value(1), "\u{FFFD}\u{FFFD}");
    assert_eq!(s.value(2), "esc\n\u{FFFD}");
    assert_eq!(s.value(5), "ok");
    assert!(d.batch.column(3).is_null(4) && d.batch.column(4).is_null(4));
    assert!(!d.malformed.value(4));
}

#[test]
fn binary_invalid_utf8_in_skipped_field() {
    let d = binary_rows(&[
        b"{\"other\": \"\xff\", \"s\": \"x\"}",
        b"{\"other\": [\"\xc3\", {\"k\": \"\xe4\xb8\"}], \"s\": \"y\"}",
        // the string value of a field whose value fails to convert (skipped after the failure)
        b"{\"l\": [1, \"\xff\"], \"s\": \"z\"}",
    ]);
    let s = col::<StringArray>(&d, 0);
    assert_eq!((s.value(0), s.value(1), s.value(2)), ("x", "y", "z"));
}

#[test]
fn binary_invalid_utf8_in_field_name() {
    let d = binary_rows(&[
        // not a schema name either way
        b"{\"\xff\": 1, \"s\": \"x\"}",
        // matches the schema name `a\u{FFFD}` only after the lossy replacement
        b"{\"a\xff\": 5}",
        b"{\"s\": \"x\", \"a\xff\": 6}",
        // valid non-ASCII name, matched raw (first field: the hint) and through the lookup
        "{\"naïve\": \"v\"}".as_bytes(),
        "{\"s\": \"x\", \"naïve\": \"w\"}".as_bytes(),
        // close to a schema name but invalid
        b"{\"na\xefve\": \"v\"}",
        b"{\"na\xc3\": \"v\"}",
        // map keys
        b"{\"m\": {\"k\xff\": \"v\", \"\xc0\xaf\": \"w\"}}",
    ]);
    let a = col::<Int32Array>(&d, 2);
    assert_eq!((a.value(1), a.value(2)), (5, 6));
    let naive = col::<StringArray>(&d, 1);
    assert_eq!((naive.value(3), naive.value(4)), ("v", "w"));
    assert!(naive.is_null(5) && naive.is_null(6));
}

#[test]
fn binary_invalid_utf8_nested() {
    let d = binary_rows(&[
        b"{\"n\": {\"z\": \"\xff\", \"y\": [\"a\", \"\xfe\"]}}",
        b"{\"l\": [\"ok\", \"b\xffc\"]}",
        b"{\"m\": {\"k\": \"\xff\"}}",
        // a STRING field given an object: re-serialised with the replacement character
        b"{\"j\": {\"k\xff\": [\"\xff\", 1.50]}}",
        b"{\"j\": [\"\\u00e9\xff\"]}",
    ]);
    let j = col::<StringArray>(&d, 8);
    assert_eq!(j.value(3), "{\"k\u{FFFD}\":[\"\u{FFFD}\",1.5]}");
    assert_eq!(j.value(4), "[\"é\u{FFFD}\"]");
}

#[test]
fn binary_invalid_utf8_after_closing_brace_or_outside_strings() {
    let d = binary_rows(&[
        b"{\"s\": \"x\"} \xff\xfe",
        b"{\"s\": \"x\"}\xe4\xb8",
        "{\"s\": \"é\"} \u{FFFD} tail".as_bytes(),
        b"{\"s\": \"\xc3\xa9\"}\xff",
        // outside strings: malformed
        b"\xff\xfe{\"s\": \"x\"}",
        b"{\"s\": \"x\", \xff}",
        b"{\"s\": \xff\"x\"}",
        b"{\"s\" \xc3\xa9: \"x\"}",
        b"{\"l\": [1\xff]}",
        b"\xef\xbb\xbf{\"s\": \"bom\"}",
    ]);
    let s = col::<StringArray>(&d, 0);
    assert_eq!(
        (s.value(0), s.value(1), s.value(2), s.value(3)),
        ("x", "x", "é", "é")
    );
    assert!((0..4).all(|i| !d.malformed.value(i)));
    assert!((4..10).all(|i| d.malformed.value(i)));
}

#[test]
fn binary_overlong_surrogate_truncated_and_valid_multibyte() {
    let d = binary_rows(&[
        b"{\"s\": \"\xc0\xaf\"}",         // overlong '/'
        b"{\"s\": \"\xe0\x80\xaf\"}",     // overlong 3-byte
        b"{\"s\": \"\xf0\x80\x80\xaf\"}", // overlong 4-byte
        b"{\"s\": \"\xed\xa0\x80\"}",     // encoded surrogate: one U+FFFD (Java)
        b"{\"s\": \"\xed\xbf\xbfx\"}",
        b"{\"s\": \"\xf4\x90\x80\x80\"}", // above U+10FFFF
        b"{\"s\": \"\xe4\xb8",            // truncated multi-byte at the end: malformed
        b"{\"s\": \"x\"}\xe4\xb8",        // ... but fine after the closing brace
        b"{\"s\": \"\xf0\x9f\x98\"}",     // truncated 4-byte inside the string
        "{\"s\": \"é中😀\", \"l\": [\"中\"], \"m\": {\"😀\": \"é\"}}".as_bytes(),
        "{'s': 'é\\'中'}".as_bytes(),
    ]);
    let s = col::<StringArray>(&d, 0);
    assert_eq!(s.value(0), "\u{FFFD}\u{FFFD}");
    assert_eq!(s.value(3), "\u{FFFD}");
    assert_eq!(s.value(4), "\u{FFFD}x");
    assert!(d.malformed.value(6) && !d.malformed.value(7));
    assert_eq!(s.value(7), "x");
    assert_eq!(s.value(8), "\u{FFFD}");
    assert_eq!(s.value(9), "é中😀");
    assert_eq!(s.value(10), "é'中");
}

#[test]
fn binary_failfast_same_message() {
    // the first bad row is malformed because of an invalid byte outside strings; the message
    // shows the lossy text as before
    let schema = parse_ddl("s STRING").unwrap();
    let ff = DecodeOptions::new(Mode::FailFast, "UTC").unwrap();
    let b = BinaryArray::from(vec![&b"{\"s\": \"\xff\"}"[..], b"\xff{\"s\": 1}"]);
    match from_json(&b, &schema, &ff) {
        Err(CdcError::Decode { row, message }) => {
            assert_eq!(row, 1);
            assert!(message.contains('\u{FFFD}'), "{message}");
        }
        other => panic!("{:?}", other.map(|d| d.batch)),
    }
    check_binary_like_lossy(
        "s STRING",
        &[Some(b"{\"s\": \"\xff\"}"), Some(b"\xff{\"s\": 1}")],
    );
    check_binary_like_lossy("s INT", &[Some(b"{\"s\": \"\xff\"}")]);
    // Java's replacement in the message too: an encoded surrogate is one U+FFFD, not three
    let d = check_binary_like_lossy("s STRING", &[Some(b"\xed\xa0\x80 {}")]);
    assert!(d.malformed.value(0));
}

/// Random byte mutations of valid rows (biased towards UTF-8 trouble), in chunks big enough to
/// decode in parallel: the Binary path equals the lossy-text path on every row.
#[test]
fn binary_random_mutations_match_lossy() {
    let seeds: [&[u8]; 5] = [
        "{\"s\": \"héllo 中文 😀 and some more ascii text\", \"naïve\": \"ü\", \"a\u{FFFD}\": 3, \"t\": \"2022-01-31T23:06:00Z\", \"b\": \"Zm9v\", \"n\": {\"z\": \"zé\", \"y\": [\"p\", \"中\"]}, \"l\": [\"x\", \"y\"], \"m\": {\"k\": \"v\", \"é\": \"w\"}, \"j\": {\"q\": [1, \"ü\\n\"]}}".as_bytes(),
        b"{\"other\": {\"deep\": [\"0123456789abcdef0123456789\", {\"k\": \"v\"}]}, \"s\": \"tail\"}  ",
        b"{'s': 'single \\' quoted', \"l\": [\"a\\u00e9\", \"\\ud83d\\ude00\"], \"j\": [true, null, 1e3]}",
        "{\"s\": \"0123456789012345é0123456789012345\", \"m\": {\"0123456789012345678\": \"中\"}} trailing".as_bytes(),
        b"{\"s\": \"plain ascii only row with a long string value to cross vectors\", \"a\xef\xbf\xbd\": 1}",
    ];
    const TROUBLE: [&[u8]; 14] = [
        b"\xff",
        b"\xfe",
        b"\x80",
        b"\xbf",
        b"\xc0\xaf",
        b"\xc3",
        b"\xe4\xb8",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xe0\x80\xaf",
        b"\xf0\x9f\x98",
        b"\xf4\x90\x80\x80",
        "é".as_bytes(),
        "😀".as_bytes(),
    ];
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let mut rows: Vec<Vec<u8>> = Vec::new();
    for _ in 0..40_000 {
        let mut v = seeds[(rng.next() % seeds.len() as u64) as usize].to_vec();
        for _ in 0..1 + rng.next() % 3 {
            let p = (rng.next() as usize) % (v.len() + 1);
            match rng.next() % 6 {
                0 => {
                    let t = TROUBLE[(rng.next() as usize) % TROUBLE.len()];
                    v.splice(p..p, t.iter().copied());
                }
                1 if p < v.len() => {
                    let t = TROUBLE[(rng.next() as usize) % TROUBLE.len()];
                    let q = (p + t.len()).min(v.len());
                    v.splice(p..q, t.iter().copied());
                }
                2 if p < v.len() => v[p] = (rng.next() & 0xff) as u8,
                3 if p < v.len() => v[p] = 0x80 | (rng.next() & 0x7f) as u8,
                4 => v.truncate(p),
                _ => {
                    let q = (p + (rng.next() as usize) % 4).min(v.len());
                    v.drain(p..q);
                }
            }
        }
        rows.push(v);
    }
    let rows: Vec<Option<&[u8]>> = rows.iter().map(|r| Some(r.as_slice())).collect();
    assert!(rows.len() >= PARALLEL_MIN_ROWS);
    let d = check_binary_like_lossy(UTF8_DDL, &rows);
    // the mutations did hit all kinds of rows
    let invalid = rows
        .iter()
        .filter(|r| std::str::from_utf8(r.unwrap()).is_err())
        .count();
    assert!(invalid > 10_000, "{invalid}");
    let m = d.malformed.count_set_bits();
    assert!(m > 1000 && m < 35_000, "{m}");
}

#[test]
fn chunk_ranges_cover_the_rows_and_balance_the_threads() {
    for n in [
        0,
        1,
        PARALLEL_MIN_ROWS - 1,
        PARALLEL_MIN_ROWS,
        60_000,
        81_920,
        600_000,
        3_000_000,
    ] {
        for threads in [1, 2, 3, 8] {
            let chunks = chunk_ranges(n, n * 250, threads);
            // contiguous, in order, covering 0..n
            assert_eq!(chunks.first().unwrap().0, 0);
            assert_eq!(chunks.last().unwrap().1, n);
            assert!(chunks
                .windows(2)
                .all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1));
            if n < PARALLEL_MIN_ROWS || threads == 1 {
                assert_eq!(chunks.len(), 1, "n={n} threads={threads}");
            } else {
                // never fewer chunks than threads, and with a few chunks a whole number each
                assert!(
                    chunks.len() >= threads.min(n / MIN_CHUNK_ROWS),
                    "n={n} threads={threads}"
                );
                if chunks.len() < threads * 4 {
                    assert_eq!(
                        chunks.len() % threads.min(chunks.len()),
                        0,
                        "n={n} threads={threads}"
                    );
                }
            }
        }
    }
    // the case that made 3 chunks on 2 cores
    assert_eq!(chunk_ranges(60_000, 15 << 20, 2).len(), 2);
}

#[test]
fn chunks_decode_like_their_concatenation() {
    let schema = parse_ddl("id INT, s STRING").unwrap();
    let pm = DecodeOptions::new(Mode::Permissive, "UTC").unwrap();
    let ff = DecodeOptions::new(Mode::FailFast, "UTC").unwrap();
    // big enough that the larger chunks are cut into parallel ranges
    let n = 3 * PARALLEL_MIN_ROWS + 7;
    let rows: Vec<Option<String>> = (0..n)
        .map(|i| match i % 97 {
            0 => None,
            1 => Some("{bad".to_string()),
            _ => Some(format!(r#"{{"id": {i}, "s": "v{i}"}}"#)),
        })
        .collect();
    let all = StringArray::from(rows.clone());
    let whole = from_json(&all, &schema, &pm).unwrap();
    for cuts in [
        vec![0, n],
        vec![0, 0, 5, n],
        vec![0, PARALLEL_MIN_ROWS + 3, n, n],
        vec![0, 1000, 2 * PARALLEL_MIN_ROWS, n],
    ] {
        let parts: Vec<StringArray> = cuts
            .windows(2)
            .map(|w| StringArray::from(rows[w[0]..w[1]].to_vec()))
            .collect();
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a as &dyn Array).collect();
        let got = from_json_chunks(&refs, &schema, &pm).unwrap();
        assert_eq!(got.batch, whole.batch, "cuts {cuts:?}");
        assert_eq!(got.malformed, whole.malformed);
        assert_eq!(got.nulls, whole.nulls);
        // FailFast names the row in the whole column, whatever chunk it is in
        let at_whole = from_json(&all, &schema, &ff).unwrap_err().to_string();
        let at_chunks = from_json_chunks(&refs, &schema, &ff)
            .unwrap_err()
            .to_string();
        assert_eq!(at_chunks, at_whole, "cuts {cuts:?}");
    }
    // a malformed row past the first chunk: its position counts the earlier chunks
    let a = StringArray::from(vec![r#"{"id": 1}"#, r#"{"id": 2}"#]);
    let b = StringArray::from(vec![r#"{"id": 3}"#, "{oops"]);
    let err = from_json_chunks(&[&a, &b], &schema, &ff).unwrap_err();
    assert!(matches!(err, CdcError::Decode { row: 3, .. }), "{err}");
    assert!(from_json_chunks(&[], &schema, &pm).is_err());
}

/// Found by fuzzing (fuzz/fuzz_targets/json_decode.rs): a duplicate key's value was converted
/// twice, so every level of nested duplicates doubled the work: 24 levels of
/// `{"a": {}, "a": {...}}`, under 300 bytes, took 2^24 conversions.
#[test]
fn nested_duplicate_keys_decode_in_linear_time() {
    let depth = 24;
    let ddl = format!("a {}INT{}", "STRUCT<a: ".repeat(depth), ">".repeat(depth));
    let mut row = "7".to_string();
    for _ in 0..=depth {
        row = format!(r#"{{"a": {{}}, "a": {row}}}"#);
    }
    let started = std::time::Instant::now();
    let d = run(&ddl, &[Some(&row), Some(r#"{"a": {"a": null}}"#)]);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let mut level: &dyn Array = d.batch.column(0).as_ref();
    for _ in 0..depth {
        level = level.as_struct().column(0).as_ref();
    }
    let leaf = level.as_primitive::<crate::arrow::datatypes::Int32Type>();
    assert_eq!((leaf.value(0), leaf.is_null(1)), (7, true));
}

/// A duplicate key's value replaces the earlier one in place, for every type (nested lists,
/// maps and structs included), and the rows after it stay aligned: the result is the same as
/// decoding the row without the replaced values.
#[test]
fn a_duplicate_key_replaces_the_earlier_value_of_any_type() {
    let ddl = "s STRING, l ARRAY<STRUCT<x: INT, t: STRING>>, m MAP<STRING, ARRAY<INT>>, \
               o STRUCT<a: INT, b: BINARY>, n INT";
    let with_duplicates = run(
        ddl,
        &[
            Some(
                r#"{"s": "first", "l": [{"x": 1, "t": "a"}, {"x": 2}], "m": {"k": [1, 2], "j": []},
                   "o": {"a": 1, "b": "Zm9v"}, "n": 1, "s": "second", "l": [{"x": 3, "t": "b"}],
                   "m": {"z": [3]}, "o": {"b": "YmFy"}, "n": "bad", "l": [{"x": "bad"}]}"#,
            ),
            Some(r#"{"n": "bad", "n": 3, "s": null, "s": "x", "o": {"a": 1, "a": 2, "a": {}}}"#),
            Some(r#"{"s": "next", "l": [{"x": 4, "t": "c"}], "m": {"q": [4]}, "o": {"a": 5}}"#),
        ],
    );
    let without = run(
        ddl,
        &[
            Some(
                r#"{"s": "second", "l": [{"x": null}], "m": {"z": [3]}, "o": {"b": "YmFy"},
                   "n": 1}"#,
            ),
            Some(r#"{"n": 3, "s": "x", "o": {"a": 2}}"#),
            Some(r#"{"s": "next", "l": [{"x": 4, "t": "c"}], "m": {"q": [4]}, "o": {"a": 5}}"#),
        ],
    );
    for c in with_duplicates.batch.columns() {
        c.to_data().validate_full().unwrap();
    }
    assert_eq!(with_duplicates.batch, without.batch);
    assert_eq!(with_duplicates.malformed, without.malformed);
}
