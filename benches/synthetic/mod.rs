//! Deterministic bookstore-like data for the kernel benchmarks: customers events as JSON
//! (the shape of `cdc_rs.datasets.bookstore`), their decoded rows, and a country lookup.
use std::fmt::Write;
use std::sync::Arc;

use cdc_rs::arrow::array::{
    ArrayRef, BinaryArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};

/// The silver table's columns (`cdc_rs.datasets.SILVER_COLUMNS`).
pub const SILVER_COLUMNS: [&str; 9] = [
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "gender",
    "street",
    "city",
    "country",
    "row_time",
];

pub const CUSTOMERS_SCHEMA: &str = "customer_id STRING, email STRING, first_name STRING, \
    last_name STRING, gender STRING, street STRING, city STRING, country_code STRING, \
    row_status STRING, row_time timestamp";

const FIRST: [&str; 8] = [
    "Reinold", "Sula", "Cahra", "Josias", "Trixi", "Melli", "Ray", "Etti",
];
const LAST: [&str; 8] = [
    "Uttley", "Coulman", "Cottey", "Abby", "Abels", "Cosson", "Ackwood", "Abbys",
];
const GENDER: [&str; 4] = ["Female", "Male", "Agender", "Bigender"];
const STREET: [&str; 6] = [
    "6147 Gallagher Hill",
    "45740 Mesta Alley",
    "2 Oak Ave",
    "3 Elm Way",
    "71 Pine Road",
    "5 Ash Court",
];
const CITY: [(&str, &str, &str); 8] = [
    ("Yerevan", "AM", "Armenia"),
    ("Annecy", "FR", "France"),
    ("Hexi", "CN", "China"),
    ("Diffa", "NE", "Niger"),
    ("Nidek", "PL", "Poland"),
    ("Ugep", "NG", "Nigeria"),
    ("Gibara", "CU", "Cuba"),
    ("Varge Mondar", "PT", "Portugal"),
];
const DOMAIN: [&str; 4] = ["gmail.com", "blinklist.com", "example.org", "yahoo.co.jp"];
/// Seconds from the epoch to 2021-11-01T00:00:00Z, where event times start.
const START: i64 = 1_635_724_800;

/// SplitMix64: the same numbers on every run and machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len() as u64) as usize]
    }
}

pub fn customer_id(k: u64) -> String {
    format!("C{k:08}")
}

/// One customers event: a key out of `keys`, a row time `minute` minutes after the start.
fn customer_json(out: &mut String, rng: &mut Rng, keys: u64, minute: i64) {
    let id = customer_id(rng.below(keys));
    let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
    let (city, code, _) = CITY[rng.below(CITY.len() as u64) as usize];
    let status = match rng.below(20) {
        0 => "delete",
        1..=4 => "insert",
        _ => "update",
    };
    let t = chrono::DateTime::from_timestamp(START + minute * 60, 0).unwrap();
    out.clear();
    write!(
        out,
        r#"{{"customer_id":"{id}","email":"{}{}{}@{}","first_name":"{first}","last_name":"{last}","gender":"{}","street":"{}","city":"{city}","country_code":"{code}","row_status":"{status}","row_time":"{}"}}"#,
        first.to_lowercase(),
        &last[..1].to_lowercase(),
        rng.below(1000),
        rng.pick(&DOMAIN),
        rng.pick(&GENDER),
        rng.pick(&STREET),
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
    )
    .unwrap();
}

/// `n` customers events as JSON text (≈250 bytes each), times rising from `first_minute`.
pub fn customers_json(n: usize, keys: u64, first_minute: i64, seed: u64) -> StringArray {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    (0..n)
        .map(|i| {
            customer_json(&mut text, &mut rng, keys, first_minute + i as i64 / 8);
            Some(text.clone())
        })
        .collect()
}

/// A bronze micro-batch: `topic` and binary `value`, 60% customers events (the rest other
/// topics' JSON, which the topic filter drops), like the bookstore's Kafka feed.
pub fn bronze(events: usize, keys: u64, first_minute: i64, seed: u64) -> RecordBatch {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    let mut topics = Vec::with_capacity(events);
    let mut values: Vec<Vec<u8>> = Vec::with_capacity(events);
    for i in 0..events {
        let minute = first_minute + i as i64 / 8;
        if rng.below(10) < 6 {
            customer_json(&mut text, &mut rng, keys, minute);
            topics.push("customers");
        } else {
            text = format!(
                r#"{{"order_id":"{i:015}","customer_id":"{}","quantity":1,"total":15}}"#,
                customer_id(rng.below(keys))
            );
            topics.push("orders");
        }
        values.push(text.clone().into_bytes());
    }
    RecordBatch::try_from_iter([
        ("topic", Arc::new(StringArray::from(topics)) as ArrayRef),
        (
            "value",
            Arc::new(BinaryArray::from_iter_values(values.iter())) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// Silver rows (the target's columns) for customers `keys`, all with the same row time
/// `minute` minutes after the start: a table to load, or the winners of a batch.
pub fn silver(keys: &[u64], minute: i64, seed: u64) -> RecordBatch {
    let mut rng = Rng::new(seed);
    let mut column = |f: &mut dyn FnMut(&mut Rng, u64) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            keys.iter().map(|&k| f(&mut rng, k)),
        ))
    };
    let ids = column(&mut |_, k| customer_id(k));
    let email = column(&mut |r, k| format!("c{k}@{}", r.pick(&DOMAIN)));
    let first = column(&mut |r, _| r.pick(&FIRST).to_string());
    let last = column(&mut |r, _| r.pick(&LAST).to_string());
    let gender = column(&mut |r, _| r.pick(&GENDER).to_string());
    let street = column(&mut |r, _| r.pick(&STREET).to_string());
    let city_index: Vec<usize> = keys
        .iter()
        .map(|_| rng.below(CITY.len() as u64) as usize)
        .collect();
    let city: ArrayRef = Arc::new(StringArray::from_iter_values(
        city_index.iter().map(|&c| CITY[c].0),
    ));
    let country: ArrayRef = Arc::new(StringArray::from_iter_values(
        city_index.iter().map(|&c| CITY[c].2),
    ));
    let micros = (START + minute * 60) * 1_000_000;
    let row_time: ArrayRef =
        Arc::new(TimestampMicrosecondArray::from(vec![micros; keys.len()]).with_timezone("UTC"));
    RecordBatch::try_from_iter([
        ("customer_id", ids),
        ("email", email),
        ("first_name", first),
        ("last_name", last),
        ("gender", gender),
        ("street", street),
        ("city", city),
        ("country", country),
        ("row_time", row_time),
    ])
    .unwrap()
}

/// The country lookup: `code` → `country`, with filler codes to make it a realistic size.
pub fn countries() -> RecordBatch {
    let mut codes: Vec<String> = CITY.iter().map(|c| c.1.to_string()).collect();
    let mut names: Vec<String> = CITY.iter().map(|c| c.2.to_string()).collect();
    for i in 0..240u32 {
        codes.push(format!("X{i:03}"));
        names.push(format!("Country {i}"));
    }
    RecordBatch::try_from_iter([
        ("code", Arc::new(StringArray::from(codes)) as ArrayRef),
        ("country", Arc::new(StringArray::from(names)) as ArrayRef),
    ])
    .unwrap()
}
