//! The whole `Pipeline` (silver input: key, sequence, operation, value) over a script of
//! micro-batches into a `MemoryTable`, against the obvious model of tests/reference.py: per key
//! the (sequence, value) of the live row or the sequence of its tombstone; an event applies
//! only when strictly newer than what the key holds (tombstones included); within a batch the
//! newest event per key wins, ties going to the earliest row; a batch id at or below the last
//! applied one is skipped. After every batch the counters, the rejected rows, the live rows
//! (`to_batches`) and the key state (`state_batch`) must match the model. Scripts may also
//! restore the table from its rows and state (`MemoryTable::restore`). Under `--cfg fuzzing`
//! the row store compacts after a few retired rows (src/store.rs), so short scripts reach it.
//!
//! Script: byte 0 sets the key type (Int64 or Utf8, short and long past the 22-byte inline
//! size) and whether a second, string sequence column breaks ties; then commands: `0`: end the
//! batch (next byte: batch-id step -1..=2 and where to cut it into two record batches), `1`:
//! restore the table, else one event (next bytes: key, sequence, operation and second
//! sequence).
#![no_main]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::Int64Type;
use cdc_rs::config::Config;
use cdc_rs::decode::{DecodeOptions, Mode};
use cdc_rs::pipeline::Pipeline;
use cdc_rs::report::Counts;
use cdc_rs::table::MemoryTable;
use libfuzzer_sys::fuzz_target;

type Seq = (i64, Option<String>);

#[derive(Clone)]
struct Event {
    key: Option<String>,
    seq: Option<i64>,
    seq2: Option<String>,
    op: Option<&'static str>,
    val: i64,
}

#[derive(Default)]
struct Model {
    rows: HashMap<String, (Seq, i64)>,
    tombs: HashMap<String, Seq>,
    last_batch_id: Option<i64>,
}

impl Model {
    fn apply(&mut self, events: &[Event], batch_id: i64, two_seqs: bool) -> (Counts, bool) {
        let mut c = Counts {
            rows_in: events.len() as u64,
            ..Counts::default()
        };
        if self.last_batch_id.is_some_and(|last| batch_id <= last) {
            return (c, true);
        }
        self.last_batch_id = Some(batch_id);
        let mut best: HashMap<String, (Seq, bool, i64)> = HashMap::new();
        let mut candidates = 0;
        for e in events {
            let is_delete = match e.op {
                Some("delete") => true,
                Some("insert" | "update") => false,
                _ => {
                    c.ignored_operations += 1;
                    continue;
                }
            };
            let Some(key) = e.key.clone() else {
                c.null_keys += 1;
                continue;
            };
            let seq = match (e.seq, &e.seq2) {
                (Some(s), _) if !two_seqs => (s, None),
                (Some(s), Some(s2)) => (s, Some(s2.clone())),
                _ => {
                    c.null_sequences += 1;
                    continue;
                }
            };
            candidates += 1;
            match best.get(&key) {
                Some((held, ..)) if seq <= *held => {}
                _ => {
                    best.insert(key, (seq, is_delete, e.val));
                }
            }
        }
        c.superseded = (candidates - best.len()) as u64;
        for (key, (seq, is_delete, val)) in best {
            if let Some((held, _)) = self.rows.get(&key) {
                if seq <= *held {
                    c.stale += 1;
                } else if is_delete {
                    self.rows.remove(&key);
                    self.tombs.insert(key, seq);
                    c.deleted += 1;
                } else {
                    self.rows.insert(key, (seq, val));
                    c.updated += 1;
                }
            } else if self.tombs.get(&key).is_some_and(|t| seq <= *t) {
                c.stale += 1;
            } else if is_delete {
                self.tombs.insert(key, seq);
                c.tombstoned += 1;
            } else {
                self.tombs.remove(&key);
                self.rows.insert(key, (seq, val));
                c.inserted += 1;
            }
        }
        (c, false)
    }
}

struct Script<'a> {
    data: &'a [u8],
    at: usize,
}

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.data.get(self.at).copied();
        self.at += 1;
        b
    }
}

const INT_KEYS: [i64; 10] = [0, 1, -1, 2, 7, 1 << 40, i64::MIN, i64::MAX, 42, -42];

fn key_text(id: u8, int_keys: bool) -> Option<String> {
    let id = id % 11;
    if id == 10 {
        return None;
    }
    Some(if int_keys {
        INT_KEYS[id as usize].to_string()
    } else {
        // lengths 0..=36: the encoded key and sequence inline (<= 22 bytes) or on the heap
        format!("{}{}", "x".repeat(id as usize * 4), id)
    })
}

fn batch(events: &[Event], int_keys: bool) -> RecordBatch {
    let key: ArrayRef = if int_keys {
        Arc::new(Int64Array::from_iter(
            events
                .iter()
                .map(|e| e.key.as_ref().map(|k| k.parse::<i64>().unwrap())),
        ))
    } else {
        Arc::new(StringArray::from_iter(events.iter().map(|e| e.key.clone())))
    };
    RecordBatch::try_from_iter(vec![
        ("k", key),
        (
            "seq",
            Arc::new(Int64Array::from_iter(events.iter().map(|e| e.seq))) as ArrayRef,
        ),
        (
            "seq2",
            Arc::new(StringArray::from_iter(
                events.iter().map(|e| e.seq2.clone()),
            )),
        ),
        (
            "op",
            Arc::new(StringArray::from_iter(events.iter().map(|e| e.op))),
        ),
        (
            "val",
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.val))),
        ),
    ])
    .unwrap()
}

fn key_at(column: &dyn Array, i: usize, int_keys: bool) -> String {
    assert!(column.is_valid(i), "a null key in the target");
    if int_keys {
        column.as_primitive::<Int64Type>().value(i).to_string()
    } else {
        column.as_string::<i32>().value(i).to_string()
    }
}

fn seq_at(seq: &dyn Array, seq2: Option<&ArrayRef>, i: usize) -> Seq {
    assert!(seq.is_valid(i), "a null sequence in the target");
    let s2 = seq2.map(|c| {
        assert!(c.is_valid(i), "a null seq2 in the target");
        c.as_string::<i32>().value(i).to_string()
    });
    (seq.as_primitive::<Int64Type>().value(i), s2)
}

/// The table's live rows and key state against the model.
fn check(table: &MemoryTable, model: &Model, int_keys: bool, two_seqs: bool) {
    assert_eq!(table.last_batch_id(), model.last_batch_id);
    assert_eq!(table.len(), model.rows.len(), "live rows");
    assert_eq!(
        table.keys_tracked(),
        model.rows.len() + model.tombs.len(),
        "keys tracked"
    );
    let Some((chunks, schema)) = table.to_batches().unwrap() else {
        assert!(model.rows.is_empty());
        return;
    };
    let rows = concat_batches(&schema, &chunks).unwrap();
    let mut live_keys = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..rows.num_rows() {
        let key = key_at(rows.column_by_name("k").unwrap(), i, int_keys);
        let seq = seq_at(
            rows.column_by_name("seq").unwrap(),
            two_seqs.then(|| rows.column_by_name("seq2").unwrap()),
            i,
        );
        let val = rows
            .column_by_name("val")
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(i);
        assert!(
            seen.insert(key.clone(), (seq, val)).is_none(),
            "key {key} twice"
        );
        live_keys.push(key);
    }
    assert_eq!(seen, model.rows, "live rows differ from the model");

    let state = table
        .state_batch()
        .unwrap()
        .expect("a table with rows has a state");
    assert_eq!(state.num_rows(), model.rows.len() + model.tombs.len());
    let row = state
        .column_by_name("row")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt32Type>();
    for i in 0..state.num_rows() {
        let key = key_at(state.column_by_name("key.k").unwrap(), i, int_keys);
        let seq = seq_at(
            state.column_by_name("sequence.seq").unwrap(),
            two_seqs.then(|| state.column_by_name("sequence.seq2").unwrap()),
            i,
        );
        if row.is_null(i) {
            assert_eq!(model.tombs.get(&key), Some(&seq), "tombstone of {key}");
        } else {
            assert_eq!(
                model.rows.get(&key).map(|r| &r.0),
                Some(&seq),
                "state of {key}"
            );
            assert_eq!(live_keys[row.value(i) as usize], key, "row of {key}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Script { data, at: 0 };
    let Some(mode) = s.byte() else { return };
    let (int_keys, two_seqs) = (mode & 1 == 0, mode & 2 != 0);
    let mut sequence_by = vec!["seq".to_string()];
    if two_seqs {
        sequence_by.push("seq2".into());
    }
    let pipeline = Pipeline::new(Config {
        keys: vec!["k".into()],
        sequence_by,
        value_schema: None,
        value_column: "value".into(),
        topic: None,
        topic_column: "topic".into(),
        operation_column: Some("op".into()),
        upsert_operations: vec!["insert".into(), "update".into()],
        delete_operations: vec!["delete".into()],
        apply_as_deletes: None,
        filter: None,
        lookup: None,
        columns: None,
        except_column_list: vec![],
        decode: DecodeOptions::new(Mode::Permissive, "UTC").unwrap(),
        memory_limit: None,
    })
    .unwrap();
    let mut table = MemoryTable::new();
    let mut model = Model::default();
    let (mut events, mut batch_id, mut val) = (Vec::new(), 0i64, 0i64);
    loop {
        let command = s.byte();
        match command {
            None | Some(0) => {
                let step = s.byte().unwrap_or(1);
                batch_id += (step % 4) as i64 - 1;
                let all = batch(&events, int_keys);
                let cut = (step as usize / 4) % (events.len() + 1);
                let chunks = if step & 0x80 != 0 {
                    vec![all.slice(0, cut), all.slice(cut, events.len() - cut)]
                } else {
                    vec![all]
                };
                let outcome = pipeline.run(&chunks, batch_id, &mut table).unwrap();
                let (counts, skipped) = model.apply(&events, batch_id, two_seqs);
                assert_eq!(
                    outcome.skipped_replay, skipped,
                    "replay of batch {batch_id}"
                );
                assert_eq!(outcome.counts, counts, "counters of batch {batch_id}");
                if !skipped {
                    assert_eq!(outcome.counts.accounted(), outcome.counts.rows_in);
                }
                let rejected = outcome.rejected.map_or(0, |r| r.num_rows() as u64);
                assert_eq!(rejected, counts.null_keys + counts.null_sequences);
                check(&table, &model, int_keys, two_seqs);
                events.clear();
                if command.is_none() {
                    return;
                }
            }
            Some(1) => {
                if let (Some((chunks, schema)), Some(state)) =
                    (table.to_batches().unwrap(), table.state_batch().unwrap())
                {
                    let rows = concat_batches(&schema, &chunks).unwrap();
                    table = MemoryTable::restore(
                        rows,
                        std::slice::from_ref(&state),
                        table.last_batch_id(),
                    )
                    .unwrap();
                    check(&table, &model, int_keys, two_seqs);
                }
            }
            Some(_) => {
                let (k, q, o) = (
                    s.byte().unwrap_or(0),
                    s.byte().unwrap_or(0),
                    s.byte().unwrap_or(0),
                );
                val += 1;
                events.push(Event {
                    key: key_text(k, int_keys),
                    seq: match q {
                        0xFF => None,
                        0xFE => Some(i64::MIN),
                        0xFD => Some(i64::MAX),
                        _ => Some((q % 8) as i64 - 2),
                    },
                    seq2: [None, Some(""), Some("a"), Some("ab"), Some("b")][(o / 8 % 5) as usize]
                        .map(String::from),
                    op: [
                        Some("insert"),
                        Some("update"),
                        Some("delete"),
                        None,
                        Some("DELETE"),
                    ][(o % 5) as usize],
                    val,
                });
            }
        }
    }
});
