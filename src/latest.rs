//! Newest event per key within one batch.
//!
//! Ties on the whole sequence go to the earliest-arriving event (row order). With the
//! strict-newer merge, that makes the final table independent of how events are batched;
//! Spark's `rank()` in the reference keeps every tied row instead.
use crate::arrow::row::Rows;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use rayon::prelude::*;
use std::hash::BuildHasher;

/// Events at least before the work is split across the cores.
const PARALLEL_MIN_ROWS: usize = 1 << 16;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Latest {
    /// Row positions of the winners, ascending (arrival order).
    pub winners: Vec<u32>,
    /// Events that lost to a newer (or equally new, earlier) event of the same key.
    pub superseded: usize,
}

/// `keys` and `sequences` are the encoded rows of the same events, in arrival order.
pub fn latest_per_key(keys: &Rows, sequences: &Rows) -> Latest {
    let n = keys.num_rows();
    let hasher = foldhash::fast::RandomState::default();
    let threads = rayon::current_num_threads();
    let mut winners = if n < PARALLEL_MIN_ROWS || threads < 2 {
        let hash = |i: u32| hasher.hash_one(keys.row(i as usize).data());
        newest(0..n as u32, n, hash, keys, sequences)
    } else {
        // Split by key hash: every event of a key lands in the same part, in arrival order,
        // so each part decides its keys exactly as one pass over the batch would.
        let hashes: Vec<u64> = (0..n)
            .into_par_iter()
            .map(|i| hasher.hash_one(keys.row(i).data()))
            .collect();
        let parts = threads * 4;
        let mut rows: Vec<Vec<u32>> = vec![Vec::with_capacity(n / parts + 1); parts];
        for (i, h) in hashes.iter().enumerate() {
            // High bits pick the part: the table inside a part indexes by the low ones.
            rows[((h >> 32) as usize) % parts].push(i as u32);
        }
        let hash = |i: u32| hashes[i as usize];
        rows.into_par_iter()
            .map(|part| newest(part.iter().copied(), part.len(), hash, keys, sequences))
            .flatten_iter()
            .collect()
    };
    winners.sort_unstable();
    Latest {
        superseded: n - winners.len(),
        winners,
    }
}

/// The newest of `rows` (ascending) per key; ties go to the earliest.
fn newest(
    rows: impl Iterator<Item = u32>,
    capacity: usize,
    hash: impl Fn(u32) -> u64,
    keys: &Rows,
    sequences: &Rows,
) -> Vec<u32> {
    let mut best: HashTable<u32> = HashTable::with_capacity(capacity);
    for i in rows {
        let key = keys.row(i as usize).data();
        let same_key = |&held: &u32| keys.row(held as usize).data() == key;
        match best.entry(hash(i), same_key, |&held| hash(held)) {
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
            Entry::Occupied(mut slot) => {
                let held = *slot.get() as usize;
                if sequences.row(i as usize).data() > sequences.row(held).data() {
                    *slot.get_mut() = i;
                }
            }
        }
    }
    best.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{ArrayRef, Int64Array, StringArray};
    use crate::arrow::datatypes::DataType;
    use crate::keys::RowEncoder;
    use std::sync::Arc;

    fn run(keys: Vec<&str>, seqs: Vec<i64>) -> Latest {
        let k: ArrayRef = Arc::new(StringArray::from(keys));
        let s: ArrayRef = Arc::new(Int64Array::from(seqs));
        let kr = RowEncoder::new(vec![DataType::Utf8])
            .unwrap()
            .encode(&[k])
            .unwrap();
        let sr = RowEncoder::new(vec![DataType::Int64])
            .unwrap()
            .encode(&[s])
            .unwrap();
        latest_per_key(&kr, &sr)
    }

    #[test]
    fn newest_wins_and_ties_go_to_the_earliest() {
        let l = run(vec!["a", "b", "a", "a", "b"], vec![1, 5, 3, 3, 5]);
        assert_eq!(l.winners, vec![1, 2]);
        assert_eq!(l.superseded, 3);
    }

    #[test]
    fn negative_sequences_order_correctly() {
        let l = run(vec!["a", "a"], vec![-1, -7]);
        assert_eq!(l.winners, vec![0]);
    }

    #[test]
    fn split_across_the_cores_it_decides_like_one_pass() {
        // Enough events to split, many keys, many ties: compared with an obvious model.
        let n = 200_000;
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let events: Vec<(String, i64)> = (0..n)
            .map(|_| (format!("k{}", next() % 30_000), (next() % 6) as i64))
            .collect();
        let keys = events.iter().map(|(k, _)| k.as_str()).collect();
        let seqs = events.iter().map(|(_, s)| *s).collect();
        let got = run(keys, seqs);

        let mut best: std::collections::HashMap<&str, usize> = Default::default();
        for (i, (k, s)) in events.iter().enumerate() {
            let held = best.entry(k).or_insert(i);
            if *s > events[*held].1 {
                *held = i;
            }
        }
        let mut expected: Vec<u32> = best.into_values().map(|i| i as u32).collect();
        expected.sort_unstable();
        assert!(n >= PARALLEL_MIN_ROWS);
        assert_eq!(got.winners, expected);
        assert_eq!(got.superseded, n - expected.len());
    }
}
