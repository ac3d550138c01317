//! Append-only row storage with a liveness mask: an update appends the new row and retires
//! the old one, so a batch costs in proportion to its size, not the table's.
//!
//! An index-only store keeps the mask but not the rows: a durable target whose rows live in
//! its files uses row positions as addresses into them (see `MemoryTable::restore_index`).
use crate::arrow::array::{BooleanArray, RecordBatch};
use crate::arrow::compute::{cast, concat_batches, filter_record_batch};
use crate::arrow::datatypes::SchemaRef;

use crate::error::{CdcError, Result};

#[derive(Clone, Debug)]
pub struct RowStore {
    schema: SchemaRef,
    chunks: Vec<RecordBatch>,
    live: Vec<bool>,
    live_rows: usize,
    keeps_rows: bool,
}

impl RowStore {
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            chunks: Vec::new(),
            live: Vec::new(),
            live_rows: 0,
            keeps_rows: true,
        }
    }

    /// A store of `positions` row positions, of which those in `live` are live, that keeps
    /// no rows: positions never move, so they can stand for places in files.
    pub fn index_only(schema: SchemaRef, positions: usize, live: &[u32]) -> Result<Self> {
        let mut mask = vec![false; positions];
        for &row in live {
            match mask.get_mut(row as usize) {
                Some(slot) if !*slot => *slot = true,
                _ => {
                    return Err(CdcError::Input(format!(
                        "row position {row} is out of range or held by two keys"
                    )))
                }
            }
        }
        Ok(Self {
            schema,
            chunks: Vec::new(),
            live: mask,
            live_rows: live.len(),
            keeps_rows: false,
        })
    }

    /// An index-only store of `live.len()` positions, those set in `live` live (`live_rows`
    /// of them).
    pub fn index_only_mask(schema: SchemaRef, live: Vec<bool>, live_rows: usize) -> Self {
        debug_assert_eq!(live.iter().filter(|&&l| l).count(), live_rows);
        Self {
            schema,
            chunks: Vec::new(),
            live,
            live_rows,
            keeps_rows: false,
        }
    }

    pub fn keeps_rows(&self) -> bool {
        self.keeps_rows
    }

    /// The position the next appended row gets.
    pub fn next_row(&self) -> u32 {
        self.live.len() as u32
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn live_rows(&self) -> usize {
        self.live_rows
    }

    /// Gives columns that were all null (type `Null`) the type `schema` now has for them.
    pub fn widen_null_columns(&mut self, schema: &SchemaRef) -> Result<()> {
        for chunk in &mut self.chunks {
            let columns = chunk
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        Ok(c.clone())
                    } else {
                        cast(c, f.data_type())
                    }
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            *chunk = RecordBatch::try_new(schema.clone(), columns)?;
        }
        self.schema = schema.clone();
        Ok(())
    }

    /// Appends rows (all live); returns the position of the first.
    pub fn append(&mut self, batch: RecordBatch) -> Result<u32> {
        let first = self.append_positions(batch.num_rows())?;
        if batch.num_rows() > 0 && self.keeps_rows {
            self.chunks.push(batch);
        }
        Ok(first)
    }

    /// The positions of `n` new live rows, kept elsewhere by an index-only store's target.
    pub fn append_positions(&mut self, n: usize) -> Result<u32> {
        let first = self.next_row();
        if u32::try_from(self.live.len() + n).is_err() {
            return Err(CdcError::Config(
                "the target has used up its 2^32 row positions; open it again".into(),
            ));
        }
        self.live.extend(std::iter::repeat_n(true, n));
        self.live_rows += n;
        Ok(first)
    }

    /// Moves live rows of an index-only store to new positions at or after `next_row` (a
    /// target rewrote them into new files): `old[i]` becomes `new[i]`.
    pub fn relocate(&mut self, old: &[u32], new: &[u32]) -> Result<()> {
        let end = new.iter().map(|&n| n as usize + 1).max().unwrap_or(0);
        let fits = !self.keeps_rows
            && old.len() == new.len()
            && new.iter().all(|&n| n >= self.next_row())
            && u32::try_from(end).is_ok();
        if !fits {
            return Err(CdcError::Config(
                "rows can only move to new positions of an index-only store".into(),
            ));
        }
        if end > self.live.len() {
            self.live.resize(end, false);
        }
        for (&from, &to) in old.iter().zip(new) {
            let moving = self.live.get(from as usize).copied().unwrap_or(false);
            if !moving || self.live[to as usize] {
                return Err(CdcError::Config(format!(
                    "cannot move row {from} to {to}: not live, or the place is taken"
                )));
            }
            self.live[from as usize] = false;
            self.live[to as usize] = true;
        }
        Ok(())
    }

    pub fn retire(&mut self, row: u32) {
        let slot = &mut self.live[row as usize];
        if std::mem::replace(slot, false) {
            self.live_rows -= 1;
        }
    }

    /// The live rows, oldest first, chunk by chunk: a chunk whose rows are all live is shared
    /// (chunks are never changed in place), the others are copies of their live rows. No
    /// second copy of the whole table, for `to_arrow` of a large table.
    pub fn to_batches(&self) -> Result<Vec<RecordBatch>> {
        if !self.keeps_rows {
            return Err(CdcError::Config(
                "this table keeps only its key index; read its rows from its files".into(),
            ));
        }
        let mut first = 0;
        let mut batches = Vec::with_capacity(self.chunks.len());
        for chunk in &self.chunks {
            let live = &self.live[first..first + chunk.num_rows()];
            first += chunk.num_rows();
            if live.iter().all(|&l| l) {
                batches.push(chunk.clone());
            } else if live.iter().any(|&l| l) {
                batches.push(filter_record_batch(
                    chunk,
                    &BooleanArray::from(live.to_vec()),
                )?);
            }
        }
        Ok(batches)
    }

    /// Each store row's position among the live rows (meaningful for live rows only).
    pub fn live_ranks(&self) -> Vec<u32> {
        let mut next = 0u32;
        self.live
            .iter()
            .map(|&alive| {
                let at = next;
                next += alive as u32;
                at
            })
            .collect()
    }

    /// Drops retired rows once they outnumber live ones (amortised O(1) per retired row).
    /// Returns the new position of every old row when it compacted.
    ///
    /// Chunk by chunk, each old chunk freed once its live rows are copied: the store never
    /// holds a second copy of the whole table (peak memory, not just speed, is a target).
    pub fn compact_if_sparse(&mut self) -> Result<Option<Vec<u32>>> {
        let retired = self.live.len() - self.live_rows;
        if !self.keeps_rows || retired < COMPACT_MIN_RETIRED || retired < self.live_rows {
            return Ok(None);
        }
        let moved = self.live_ranks();
        let mut kept = Vec::new();
        let mut small: Vec<RecordBatch> = Vec::new();
        let mut first = 0;
        for chunk in std::mem::take(&mut self.chunks) {
            let live = &self.live[first..first + chunk.num_rows()];
            first += chunk.num_rows();
            let rows = if live.iter().all(|&l| l) {
                chunk
            } else {
                filter_record_batch(&chunk, &BooleanArray::from(live.to_vec()))?
            };
            // Small leftovers are joined, so that a long stream of small batches does not
            // leave the store in thousands of chunks.
            small.push(rows);
            if small.iter().map(|c| c.num_rows()).sum::<usize>() >= COALESCE_ROWS {
                kept.push(concat_batches(&self.schema, &std::mem::take(&mut small))?);
            }
        }
        if small.iter().any(|c| c.num_rows() > 0) {
            kept.push(concat_batches(&self.schema, &small)?);
        }
        self.chunks = kept;
        self.live = vec![true; self.live_rows];
        Ok(Some(moved))
    }
}

/// Retired rows at least before a compaction. Under the fuzzer (`--cfg fuzzing`, set by
/// cargo-fuzz) a few rows, so that short inputs compact too.
#[allow(unexpected_cfgs)]
const COMPACT_MIN_RETIRED: usize = if cfg!(fuzzing) { 8 } else { 4096 };

/// Rows a compacted chunk gathers at least, from the live rows of consecutive chunks (a few
/// under the fuzzer, as above).
#[allow(unexpected_cfgs)]
const COALESCE_ROWS: usize = if cfg!(fuzzing) { 16 } else { 1 << 16 };

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{ArrayRef, Int32Array};
    use std::sync::Arc;

    /// The live rows as one batch, oldest first.
    fn live_rows(store: &RowStore) -> RecordBatch {
        concat_batches(store.schema(), &store.to_batches().unwrap()).unwrap()
    }

    fn batch(values: Vec<i32>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![("v", Arc::new(Int32Array::from(values)) as ArrayRef)])
            .unwrap()
    }

    #[test]
    fn retired_rows_disappear() {
        let b = batch(vec![1, 2, 3]);
        let mut store = RowStore::new(b.schema());
        assert_eq!(store.append(b).unwrap(), 0);
        assert_eq!(store.append(batch(vec![4])).unwrap(), 3);
        store.retire(1);
        store.retire(1);
        assert_eq!(store.live_rows(), 3);
        let out = live_rows(&store);
        let v = out.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(v.values().to_vec(), vec![1, 3, 4]);
    }

    #[test]
    fn compaction_renumbers_rows() {
        let b = batch((0..10_000).collect());
        let mut store = RowStore::new(b.schema());
        store.append(b).unwrap();
        for r in 0..6000 {
            store.retire(r);
        }
        let moved = store.compact_if_sparse().unwrap().unwrap();
        assert_eq!(moved[6000], 0);
        assert_eq!(live_rows(&store).num_rows(), 4000);
    }

    #[test]
    fn compaction_chunk_by_chunk_keeps_the_order_and_joins_small_chunks() {
        let mut store = RowStore::new(batch(vec![]).schema());
        for c in 0..100 {
            store
                .append(batch((c * 1000..(c + 1) * 1000).collect()))
                .unwrap();
        }
        store.append(batch(vec![])).unwrap();
        let retired = |v: i32| v % 5 < 3 || (20_000..30_000).contains(&v);
        for v in 0..100_000 {
            if retired(v) {
                store.retire(v as u32);
            }
        }
        let moved = store.compact_if_sparse().unwrap().unwrap();
        let live: Vec<i32> = (0..100_000).filter(|&v| !retired(v)).collect();
        for (rank, &v) in live.iter().enumerate() {
            assert_eq!(moved[v as usize], rank as u32);
        }
        assert!(store.chunks.len() <= 2, "{} chunks", store.chunks.len());
        let out = live_rows(&store);
        let v = out.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(v.values().to_vec(), live);
        assert_eq!(store.append(batch(vec![7])).unwrap() as usize, live.len());
    }

    #[test]
    fn an_index_only_store_counts_positions_without_keeping_rows_and_never_moves_them() {
        let b = batch(vec![1, 2, 3]);
        let mut store = RowStore::index_only(b.schema(), 10, &[0, 4, 9]).unwrap();
        assert_eq!((store.live_rows(), store.next_row()), (3, 10));
        assert_eq!(store.append(b).unwrap(), 10);
        for r in 0..13 {
            store.retire(r);
        }
        assert_eq!(store.live_rows(), 0);
        assert!(store.compact_if_sparse().unwrap().is_none());
        assert!(store.to_batches().is_err());
        assert!(RowStore::index_only(batch(vec![]).schema(), 3, &[1, 1]).is_err());
        let mut moving = RowStore::index_only(batch(vec![]).schema(), 4, &[0, 2]).unwrap();
        moving.relocate(&[2, 0], &[4, 6]).unwrap();
        assert_eq!((moving.live_rows(), moving.next_row()), (2, 7));
        assert!(moving.relocate(&[2], &[7]).is_err()); // no longer live
        assert!(moving.relocate(&[4], &[1]).is_err()); // not a new position
        assert!(RowStore::index_only(batch(vec![]).schema(), 3, &[3]).is_err());
    }
}
