//! A batch's decided effect on a target, before it is applied: what a durable target writes
//! out (upserted rows, deleted keys, new key state) and then commits to its in-memory state.
use std::sync::Arc;

use crate::arrow::array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use crate::arrow::row::Rows;

use crate::error::Result;
use crate::keys::RowEncoder;
use crate::merge::{Action, MergeCounts};
use crate::report::Counts;

/// Winning events of one batch, ready to merge: encoded keys and sequences, and whether each
/// is a delete. The rows an upsert writes are gathered only once the merge has decided.
pub struct Changes {
    pub keys: Rows,
    pub sequences: Rows,
    pub is_delete: Vec<bool>,
}

/// How keys and sequences are identified; fixed by the first batch.
#[derive(Clone, Debug)]
pub struct Layout {
    pub key_fields: Vec<Field>,
    pub sequence_fields: Vec<Field>,
    pub keys: RowEncoder,
    pub sequences: RowEncoder,
}

impl Layout {
    pub fn new(key_fields: Vec<Field>, sequence_fields: Vec<Field>) -> Result<Self> {
        let types = |fs: &[Field]| fs.iter().map(|f| f.data_type().clone()).collect::<Vec<_>>();
        Ok(Self {
            keys: RowEncoder::new(types(&key_fields))?,
            sequences: RowEncoder::new(types(&sequence_fields))?,
            key_fields,
            sequence_fields,
        })
    }
}

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
    /// The row each insert and update writes, in the order of `actions`, target columns.
    pub upserts: RecordBatch,
    pub schema: SchemaRef,
    pub layout: Layout,
}

impl Plan {
    /// A plan for `batch_id` decided against the table at `table_version`.
    pub(crate) fn new(batch_id: i64, table_version: u64, counts: Counts) -> Self {
        Self {
            batch_id,
            counts,
            skipped_replay: false,
            rejected: None,
            table_version,
            merge: None,
        }
    }

    pub(crate) fn set_changes(
        &mut self,
        changes: Changes,
        (actions, found): (Vec<Action>, Vec<Option<usize>>),
        upserts: RecordBatch,
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
            upserts,
            schema,
            layout,
        });
    }

    /// Rows to insert or update, in the target's columns.
    pub fn upserts(&self) -> Result<Option<RecordBatch>> {
        let Some(m) = &self.merge else {
            return Ok(None);
        };
        Ok(Some(m.upserts.clone()))
    }

    /// Keys whose live row this batch deletes: the key columns.
    pub fn deletes(&self) -> Result<Option<RecordBatch>> {
        let Some(m) = &self.merge else {
            return Ok(None);
        };
        let rows = m.select(|a| matches!(a, Action::Delete { .. }));
        Ok(Some(m.key_columns(&rows)?))
    }

    /// The row positions whose rows this batch replaces or deletes (a durable target marks
    /// them deleted in its files), in the order of the changes.
    pub fn replaced_rows(&self) -> Vec<u32> {
        let Some(m) = &self.merge else {
            return Vec::new();
        };
        m.actions
            .iter()
            .filter_map(|a| match *a {
                Action::Update { row } | Action::Delete { row } => Some(row),
                _ => None,
            })
            .collect()
    }

    /// For each upserted row (in the order of `upserts`), the row position it replaces;
    /// None for an insert.
    pub fn upserted_from(&self) -> Vec<Option<u32>> {
        let Some(m) = &self.merge else {
            return Vec::new();
        };
        m.actions
            .iter()
            .filter_map(|a| match *a {
                Action::Insert => Some(None),
                Action::Update { row } => Some(Some(row)),
                _ => None,
            })
            .collect()
    }

    /// The row positions whose rows this batch deletes.
    pub fn deleted_rows(&self) -> Vec<u32> {
        let Some(m) = &self.merge else {
            return Vec::new();
        };
        m.actions
            .iter()
            .filter_map(|a| match *a {
                Action::Delete { row } => Some(row),
                _ => None,
            })
            .collect()
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

    /// The key columns of the changes at `rows`, decoded from their encoded keys.
    fn key_columns(&self, rows: &[u32]) -> Result<RecordBatch> {
        let columns = self.layout.keys.decode(
            rows.iter()
                .map(|&i| self.changes.keys.row(i as usize).data()),
        )?;
        let fields: Vec<Field> = self
            .layout
            .key_fields
            .iter()
            .map(|f| f.clone().with_nullable(true))
            .collect();
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use crate::arrow::array::{Int64Array, StringArray};
    use crate::config::Config;
    use crate::pipeline::Pipeline;
    use crate::table::MemoryTable;
    use crate::test_batches::events;

    #[test]
    fn a_plan_lists_the_rows_to_write_the_keys_to_delete_and_the_key_state_written() {
        let p = Pipeline::new(Config {
            operation_column: Some("op".into()),
            upsert_operations: vec!["u".into()],
            delete_operations: vec!["d".into()],
            ..Config::new(&["id"], &["ts"])
        })
        .unwrap();
        let mut table = MemoryTable::new();
        p.run(
            &[events(&[(1, 1, "u", "a"), (2, 1, "u", "b")])],
            0,
            &mut table,
        )
        .unwrap();
        let plan = p
            .plan(
                &[events(&[
                    (1, 2, "u", "a2"),
                    (2, 2, "d", ""),
                    (3, 1, "d", ""),
                ])],
                1,
                &table,
            )
            .unwrap();
        let upserts = plan.upserts().unwrap().unwrap();
        assert_eq!(upserts.num_rows(), 1);
        assert_eq!(
            upserts.column_by_name("v").unwrap().as_ref(),
            &StringArray::from(vec!["a2"]) as &dyn crate::arrow::array::Array
        );
        let deletes = plan.deletes().unwrap().unwrap();
        assert_eq!(
            deletes.column(0).as_ref(),
            &Int64Array::from(vec![2]) as &dyn crate::arrow::array::Array
        );
        // key 1 updated, key 2 deleted (a tombstone), key 3 a tombstone never seen before
        let state = plan.state_changes().unwrap().unwrap();
        assert_eq!(state.num_rows(), 3);
        let c = &plan.counts;
        assert_eq!((c.updated, c.deleted, c.tombstoned), (1, 1, 1));
    }

    #[test]
    fn an_index_only_table_places_rows_where_its_target_wrote_them_and_reports_replaced_rows() {
        let p = Pipeline::new(Config {
            operation_column: Some("op".into()),
            upsert_operations: vec!["u".into()],
            delete_operations: vec!["d".into()],
            ..Config::new(&["id"], &["ts"])
        })
        .unwrap();
        let mut table = MemoryTable::new_index_only();
        let first = [events(&[
            (1, 1, "u", "a"),
            (2, 1, "u", "b"),
            (3, 1, "u", "c"),
        ])];
        let plan = p.plan(&first, 0, &table).unwrap();
        assert!(plan.replaced_rows().is_empty());
        // the target wrote the three rows in reverse order
        table.commit_placed(plan, Some(&[2, 1, 0])).unwrap();
        assert_eq!((table.len(), table.next_row()), (3, 3));
        assert!(
            table.to_batches().is_err(),
            "an index-only table keeps no rows"
        );
        let second = [events(&[
            (1, 2, "d", ""),
            (3, 2, "u", "c2"),
            (4, 1, "u", "d"),
        ])];
        let plan = p.plan(&second, 1, &table).unwrap();
        // key 1 sits at position 2 and key 3 at position 0, as placed
        let mut replaced = plan.replaced_rows();
        replaced.sort();
        assert_eq!(replaced, vec![0, 2]);
        assert_eq!(plan.deleted_rows(), vec![2]);
        assert_eq!(plan.upserted_from(), vec![Some(0), None]); // key 3 updated, key 4 new
        assert!(
            table.commit_placed(plan, Some(&[3, 3])).is_err(),
            "not a permutation"
        );
        let plan = p.plan(&second, 1, &table).unwrap();
        table.commit_placed(plan, None).unwrap();
        assert_eq!((table.len(), table.next_row()), (3, 5));
        // compaction moves key 2's row (position 1) to position 5
        table.relocate(&[1], &[5]).unwrap();
        let plan = p.plan(&[events(&[(2, 3, "u", "b2")])], 2, &table).unwrap();
        assert_eq!(plan.replaced_rows(), vec![5]);
        assert!(MemoryTable::new().relocate(&[0], &[1]).is_err());
    }
}
