//! A batch's decided effect on a target, before it is applied: what a durable target writes
//! out (upserted rows, deleted keys, new key state) and then commits to its in-memory state.
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::Result;
use crate::merge::{Action, MergeCounts};
use crate::report::Counts;
use crate::table::{Changes, Layout, MemoryTable};

/// What one batch did.
#[derive(Debug)]
pub struct Outcome {
    pub counts: Counts,
    pub skipped_replay: bool,
    /// Rejected input rows plus a `reason` column, in input order.
    pub rejected: Option<RecordBatch>,
}

pub struct Plan {
    pub batch_id: i64,
    pub counts: Counts,
    pub skipped_replay: bool,
    pub rejected: Option<RecordBatch>,
    /// The table version the plan was decided against; committing elsewhere is an error.
    pub(crate) table_version: u64,
    pub(crate) merge: Option<Merge>,
}

pub(crate) struct Merge {
    pub changes: Changes,
    pub actions: Vec<Action>,
    /// Where each change's key sits in the key state (`MemoryTable::plan`).
    pub found: Vec<Option<usize>>,
    pub schema: SchemaRef,
    pub layout: Layout,
}

impl Plan {
    pub(crate) fn new(batch_id: i64, table: &MemoryTable, counts: Counts) -> Self {
        Self {
            batch_id,
            counts,
            skipped_replay: false,
            rejected: None,
            table_version: table.version(),
            merge: None,
        }
    }

    pub(crate) fn set_changes(
        &mut self,
        changes: Changes,
        (actions, found): (Vec<Action>, Vec<Option<usize>>),
        schema: SchemaRef,
        layout: Layout,
    ) {
        let mut merged = MergeCounts::default();
        actions.iter().for_each(|&a| merged.count(a));
        self.counts.inserted = merged.inserted;
        self.counts.updated = merged.updated;
        self.counts.deleted = merged.deleted;
        self.counts.tombstoned = merged.tombstoned;
        self.counts.stale = merged.stale;
        self.merge = Some(Merge {
            changes,
            actions,
            found,
            schema,
            layout,
        });
    }

    /// Rows to insert or update, in the target's columns.
    pub fn upserts(&self) -> Result<Option<RecordBatch>> {
        let Some(m) = &self.merge else {
            return Ok(None);
        };
        let rows = m.select(|a| matches!(a, Action::Insert | Action::Update { .. }));
        Ok(Some(crate::table::take_rows(
            &m.changes.rows,
            &rows,
            &m.schema,
        )?))
    }

    /// Keys whose live row this batch deletes: the key columns.
    pub fn deletes(&self) -> Result<Option<RecordBatch>> {
        let Some(m) = &self.merge else {
            return Ok(None);
        };
        let rows = UInt32Array::from(m.select(|a| matches!(a, Action::Delete { .. })));
        let keys = m.key_columns()?;
        Ok(Some(take_record_batch(&keys, &rows)?))
    }

    /// The key state this batch writes: `key.*`, `sequence.*` and `live` (false: tombstone),
    /// one row per key that changes (stale events change nothing).
    pub fn state_changes(&self) -> Result<Option<RecordBatch>> {
        let Some(m) = &self.merge else {
            return Ok(None);
        };
        let rows = m.select(|a| a != Action::Stale);
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        let keys = m
            .layout
            .keys
            .decode(rows.iter().map(|&i| m.changes.keys.row(i as usize).data()))?;
        let sequences = m.layout.sequences.decode(
            rows.iter()
                .map(|&i| m.changes.sequences.row(i as usize).data()),
        )?;
        for (f, c) in m.layout.key_fields.iter().zip(keys) {
            fields.push(
                f.clone()
                    .with_name(format!("key.{}", f.name()))
                    .with_nullable(true),
            );
            columns.push(c);
        }
        for (f, c) in m.layout.sequence_fields.iter().zip(sequences) {
            fields.push(
                f.clone()
                    .with_name(format!("sequence.{}", f.name()))
                    .with_nullable(true),
            );
            columns.push(c);
        }
        let live: BooleanArray = rows
            .iter()
            .map(|&i| {
                Some(matches!(
                    m.actions[i as usize],
                    Action::Insert | Action::Update { .. }
                ))
            })
            .collect();
        fields.push(Field::new("live", DataType::Boolean, false));
        columns.push(Arc::new(live));
        Ok(Some(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?))
    }
}

impl Merge {
    fn select(&self, keep: impl Fn(Action) -> bool) -> Vec<u32> {
        (0..self.actions.len() as u32)
            .filter(|&i| keep(self.actions[i as usize]))
            .collect()
    }

    fn key_columns(&self) -> Result<RecordBatch> {
        let columns = self
            .layout
            .key_fields
            .iter()
            .map(|f| {
                self.changes
                    .rows
                    .column_by_name(f.name())
                    .cloned()
                    .ok_or_else(|| {
                        crate::error::CdcError::Input(format!("key column {:?} missing", f.name()))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let fields: Vec<Field> = self
            .layout
            .key_fields
            .iter()
            .map(|f| f.clone().with_nullable(true))
            .collect();
        let columns = columns
            .iter()
            .zip(&fields)
            .map(|(c, f)| Ok(arrow::compute::cast(c, f.data_type())?))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}
