use super::*;
use arrow::array::{
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
fn basic_and_partial() {
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
fn nested_orders() {
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
    assert!(books.is_null(1)); // a failing element fails the whole array
    assert_eq!(col::<Int64Array>(&d, 3).value(0), 1);
}

#[test]
fn types() {
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
        .as_primitive::<arrow::datatypes::Decimal128Type>();
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
fn parallel_matches_serial() {
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
            .as_primitive::<arrow::datatypes::Int32Type>()
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
fn odd_schemas() {
    let d = run(
        "e STRUCT<>, x INT",
        &[
            Some(r#"{"e": {}, "x": 1}"#),
            Some(r#"{"e": {"q": 1}}"#),
            None,
        ],
    );
    assert_eq!(d.batch.column(0).len(), 3);
    let schema: SchemaRef = Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
        "t",
        DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
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
