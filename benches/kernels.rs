//! Micro-benchmarks of the Rust kernels: decode (MB/s of JSON), lookup join, newest event per
//! key ("rank") and merge (rows/s), plus one whole micro-batch into a 1M-key table.
//!
//!     cargo bench --bench kernels               # all, a few minutes on 2 cores
//!     cargo bench --bench kernels -- decode     # one group
use std::time::Duration;

use cdc_rs::arrow::array::{BinaryArray, RecordBatch};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

use cdc_rs::config::Config;
use cdc_rs::decode::{from_json, DecodeOptions};
use cdc_rs::enrich::{JoinHow, Lookup};
use cdc_rs::latest::latest_per_key;
use cdc_rs::pipeline::Pipeline;
use cdc_rs::plan::{Changes, Layout};
use cdc_rs::schema::parse_ddl;
use cdc_rs::table::{MemoryTable, Placement};

mod synthetic;
use synthetic::{bronze, countries, customers_json, silver, CUSTOMERS_SCHEMA, SILVER_COLUMNS};

/// Keys in the target table for the merge and batch benchmarks.
const TABLE_KEYS: u64 = 1_000_000;
/// Events per micro-batch in the growth scenario (bench/growth.py).
const BATCH_EVENTS: usize = 10_000;

fn decoded(rows: usize) -> RecordBatch {
    let schema = parse_ddl(CUSTOMERS_SCHEMA).unwrap();
    let json = customers_json(rows, TABLE_KEYS, 0, 1);
    from_json(&json, &schema, &DecodeOptions::utc())
        .unwrap()
        .batch
}

/// Changes row `i`'s JSON bytes in place.
type Mutate = fn(usize, &mut Vec<u8>);

/// Where the street name starts in a customers event.
fn street(v: &[u8]) -> usize {
    const KEY: &[u8] = br#""street":""#;
    v.windows(KEY.len()).position(|w| w == KEY).unwrap() + KEY.len()
}

fn decode(c: &mut Criterion) {
    let schema = parse_ddl(CUSTOMERS_SCHEMA).unwrap();
    let opts = DecodeOptions::utc();
    let mut group = c.benchmark_group("decode");
    // 6k: the customers share of a growth batch; 60k: of a 1M x 10 batch; 200k: a bulk batch.
    for rows in [6_000, 60_000, 200_000] {
        let json = customers_json(rows, TABLE_KEYS, 0, 1);
        group.throughput(Throughput::Bytes(json.value_data().len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(rows), &json, |b, json| {
            b.iter(|| from_json(json, &schema, &opts).unwrap())
        });
    }
    // Binary input (Kafka `value` bytes): all valid UTF-8; 1 row in 1000 invalid (half of them
    // starting with \xff\xfe like the real feed, half with a \xff inside a string); 1 row in 10
    // with valid non-ASCII text.
    for rows in [60_000, 200_000] {
        let json = customers_json(rows, TABLE_KEYS, 0, 1);
        let variants: [(&str, Mutate); 3] = [
            ("bin", |_, _| {}),
            ("bin-invalid-1in1000", |i, v| match i % 1000 {
                0 => {
                    v.splice(0..0, [0xff, 0xfe]);
                }
                500 => {
                    let p = street(v);
                    v.insert(p, 0xff);
                }
                _ => {}
            }),
            ("bin-nonascii-1in10", |i, v| {
                if i % 10 == 0 {
                    let p = street(v);
                    v.splice(p..p, "é中".bytes());
                }
            }),
        ];
        for (name, mutate) in variants {
            let bin: BinaryArray = (0..rows)
                .map(|i| {
                    let mut v = json.value(i).as_bytes().to_vec();
                    mutate(i, &mut v);
                    Some(v)
                })
                .collect();
            group.throughput(Throughput::Bytes(bin.value_data().len() as u64));
            group.bench_with_input(BenchmarkId::new(name, rows), &bin, |b, bin| {
                b.iter(|| from_json(bin, &schema, &opts).unwrap())
            });
        }
    }
    group.finish();
}

fn join(c: &mut Criterion) {
    let lookup = Lookup::new(
        countries(),
        &[("country_code".into(), "code".into())],
        JoinHow::Inner,
    )
    .unwrap();
    let rows = decoded(100_000);
    let mut group = c.benchmark_group("join");
    group.throughput(Throughput::Elements(rows.num_rows() as u64));
    group.bench_function("100k", |b| {
        b.iter(|| {
            // the probe, then the lookup's column for every row (the pipeline takes it
            // only for the rows it writes)
            let matches = lookup.probe(&rows).unwrap();
            lookup.column_at("country", &matches).unwrap()
        })
    });
    group.finish();
}

fn key_layout(rows: &RecordBatch) -> Layout {
    let field = |name: &str| rows.schema().field_with_name(name).unwrap().clone();
    Layout::new(vec![field("customer_id")], vec![field("row_time")]).unwrap()
}

/// Encoding of keys and sequences, then the newest event per key (≈2 events per key).
fn rank(c: &mut Criterion) {
    let rows = decoded(100_000);
    let layout = key_layout(&rows);
    let keys = [rows.column_by_name("customer_id").unwrap().clone()];
    let sequences = [rows.column_by_name("row_time").unwrap().clone()];
    let mut group = c.benchmark_group("rank");
    group.throughput(Throughput::Elements(rows.num_rows() as u64));
    group.bench_function("100k", |b| {
        b.iter(|| {
            let k = layout.keys.encode(&keys).unwrap();
            let s = layout.sequences.encode(&sequences).unwrap();
            latest_per_key(&k, &s)
        })
    });
    group.finish();
}

/// A table of `TABLE_KEYS` keys, all at minute 0.
fn loaded_table() -> MemoryTable {
    let all: Vec<u64> = (0..TABLE_KEYS).collect();
    let rows = silver(&all, 0, 7);
    let load = Pipeline::new(Config {
        columns: Some(SILVER_COLUMNS.iter().map(|s| s.to_string()).collect()),
        decode: DecodeOptions::utc(),
        ..Config::new(&["customer_id"], &["row_time"])
    })
    .unwrap();
    let mut table = MemoryTable::new();
    load.run(&[rows], 0, &mut table).unwrap();
    table
}

/// Plan + commit of 10k winners (updates of existing keys, each batch newer than the last).
fn merge(c: &mut Criterion) {
    let mut table = loaded_table();
    let layout = table.layout().unwrap().clone();
    let schema = table.schema().unwrap().clone();
    let mut group = c.benchmark_group("merge");
    group.throughput(Throughput::Elements(BATCH_EVENTS as u64));
    let mut batch = 0i64;
    group.bench_function("10k-into-1M", |b| {
        b.iter_batched(
            || {
                batch += 1;
                // distinct keys spread over the table (7919 is coprime with 10^6)
                let keys: Vec<u64> = (0..BATCH_EVENTS as u64)
                    .map(|i| (i * 7919 + batch as u64 * 104_729) % TABLE_KEYS)
                    .collect();
                let rows = silver(&keys, batch, batch as u64);
                let changes = Changes {
                    keys: layout.keys.encode(&[rows.column(0).clone()]).unwrap(),
                    sequences: layout.sequences.encode(&[rows.column(8).clone()]).unwrap(),
                    is_delete: vec![false; rows.num_rows()],
                };
                (batch, changes, rows)
            },
            |(id, changes, rows)| {
                let (actions, found) = table.plan(&changes);
                table.bind(&schema, layout.clone()).unwrap();
                let at = Placement {
                    found: &found,
                    placed: None,
                };
                table.apply(&changes, &actions, at, &rows, id).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// One bronze micro-batch of 10k events (≈6k customers) end to end into a 1M-key table:
/// topic filter, decode, screening, lookup join, newest per key, merge.
fn micro_batch(c: &mut Criterion) {
    let mut table = loaded_table();
    let pipeline = Pipeline::new(Config {
        value_schema: Some(parse_ddl(CUSTOMERS_SCHEMA).unwrap()),
        topic: Some("customers".into()),
        operation_column: Some("row_status".into()),
        upsert_operations: vec!["insert".into(), "update".into()],
        delete_operations: vec!["delete".into()],
        lookup: Some(
            Lookup::new(
                countries(),
                &[("country_code".into(), "code".into())],
                JoinHow::Inner,
            )
            .unwrap(),
        ),
        columns: Some(SILVER_COLUMNS.iter().map(|s| s.to_string()).collect()),
        decode: DecodeOptions::utc(),
        ..Config::new(&["customer_id"], &["row_time"])
    })
    .unwrap();
    let probe = pipeline.run(
        &[bronze(BATCH_EVENTS, TABLE_KEYS, 5, 99)],
        1,
        &mut table.clone(),
    );
    assert!(
        probe.unwrap().counts.updated > 5_000,
        "the batch should mostly update keys"
    );
    let mut group = c.benchmark_group("micro_batch");
    group.throughput(Throughput::Elements(BATCH_EVENTS as u64));
    let mut batch = 0i64;
    group.bench_function("10k-events-into-1M", |b| {
        b.iter_batched(
            || {
                batch += 1;
                let events = bronze(BATCH_EVENTS, TABLE_KEYS, batch * 10_000, batch as u64);
                (batch, events)
            },
            |(id, events)| pipeline.run(&[events], id, &mut table).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    assert!(!table.is_empty());
}

fn quick() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = kernels;
    config = quick();
    targets = decode, join, rank, merge, micro_batch
}
criterion_main!(kernels);
