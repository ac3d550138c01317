//! Newest event per key within one batch.
//!
//! Ties on the whole sequence go to the earliest-arriving event (row order). With the
//! strict-newer merge, that makes the final table independent of how events are batched;
//! Spark's `rank()` in the reference keeps every tied row instead.
use arrow::row::Rows;
use hashbrown::hash_map::Entry;
use hashbrown::HashMap;

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
    let mut best: HashMap<&[u8], u32, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(n, Default::default());
    for i in 0..n {
        match best.entry(keys.row(i).data()) {
            Entry::Vacant(slot) => {
                slot.insert(i as u32);
            }
            Entry::Occupied(mut slot) => {
                let held = *slot.get() as usize;
                if sequences.row(i).data() > sequences.row(held).data() {
                    slot.insert(i as u32);
                }
            }
        }
    }
    let mut winners: Vec<u32> = best.into_values().collect();
    winners.sort_unstable();
    Latest {
        superseded: n - winners.len(),
        winners,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RowEncoder;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::DataType;
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
}
