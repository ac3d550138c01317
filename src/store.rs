//! Append-only row storage with a liveness mask: an update appends the new row and retires
//! the old one, so a batch costs in proportion to its size, not the table's.
use arrow::array::{Array, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{cast, concat_batches, filter_record_batch, interleave};
use arrow::datatypes::SchemaRef;
use rayon::prelude::*;

use crate::error::Result;

#[derive(Clone, Debug)]
pub struct RowStore {
    schema: SchemaRef,
    chunks: Vec<RecordBatch>,
    live: Vec<bool>,
    live_rows: usize,
}

impl RowStore {
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            chunks: Vec::new(),
            live: Vec::new(),
            live_rows: 0,
        }
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
    pub fn append(&mut self, batch: RecordBatch) -> u32 {
        let first = self.live.len() as u32;
        self.live
            .extend(std::iter::repeat_n(true, batch.num_rows()));
        self.live_rows += batch.num_rows();
        if batch.num_rows() > 0 {
            self.chunks.push(batch);
        }
        first
    }

    pub fn retire(&mut self, row: u32) {
        let slot = &mut self.live[row as usize];
        if std::mem::replace(slot, false) {
            self.live_rows -= 1;
        }
    }

    /// The live rows as one batch, oldest first: one copy of the live rows, none of the
    /// retired ones.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        if self.live_rows == self.live.len() {
            return Ok(concat_batches(&self.schema, &self.chunks)?);
        }
        if let [only] = &self.chunks[..] {
            let mask = BooleanArray::from(self.live.clone());
            return Ok(filter_record_batch(only, &mask)?);
        }
        let mut at = Vec::with_capacity(self.live_rows);
        let mut first = 0;
        for (c, chunk) in self.chunks.iter().enumerate() {
            let live = &self.live[first..first + chunk.num_rows()];
            at.extend(
                live.iter()
                    .enumerate()
                    .filter(|(_, &l)| l)
                    .map(|(r, _)| (c, r)),
            );
            first += chunk.num_rows();
        }
        let chunks: Vec<&RecordBatch> = self.chunks.iter().collect();
        // Columns are independent copies: one per core.
        let columns = (0..self.schema.fields().len())
            .into_par_iter()
            .map(|i| {
                let column: Vec<&dyn Array> = chunks.iter().map(|c| c.column(i).as_ref()).collect();
                interleave(&column, &at)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(at.len())),
        )?)
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
    pub fn compact_if_sparse(&mut self) -> Result<Option<Vec<u32>>> {
        let retired = self.live.len() - self.live_rows;
        if retired < 4096 || retired < self.live_rows {
            return Ok(None);
        }
        let kept = self.to_batch()?;
        let moved = self.live_ranks();
        self.chunks = vec![kept];
        self.live = vec![true; self.live_rows];
        Ok(Some(moved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array};
    use std::sync::Arc;

    fn batch(values: Vec<i32>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![("v", Arc::new(Int32Array::from(values)) as ArrayRef)])
            .unwrap()
    }

    #[test]
    fn retired_rows_disappear() {
        let b = batch(vec![1, 2, 3]);
        let mut store = RowStore::new(b.schema());
        assert_eq!(store.append(b), 0);
        assert_eq!(store.append(batch(vec![4])), 3);
        store.retire(1);
        store.retire(1);
        assert_eq!(store.live_rows(), 3);
        let out = store.to_batch().unwrap();
        let v = out.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(v.values().to_vec(), vec![1, 3, 4]);
    }

    #[test]
    fn compaction_renumbers_rows() {
        let b = batch((0..10_000).collect());
        let mut store = RowStore::new(b.schema());
        store.append(b);
        for r in 0..6000 {
            store.retire(r);
        }
        let moved = store.compact_if_sparse().unwrap().unwrap();
        assert_eq!(moved[6000], 0);
        assert_eq!(store.to_batch().unwrap().num_rows(), 4000);
    }
}
