//! One micro-batch, end to end: screen rows (topic, decode, operation, nulls, lookup), keep
//! the newest event per key, and merge the winners into the target.
use std::sync::Arc;

use crate::arrow::array::RecordBatch;
use crate::arrow::compute::concat_batches;
use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use crate::arrow::row::Rows;
use rayon::prelude::*;

use crate::config::Config;
use crate::error::{CdcError, Result};
use crate::gather::gather;
use crate::interrupt::Interrupt;
use crate::keys::RowEncoder;
use crate::latest::latest_per_key;
use crate::merge::Action;
use crate::plan::{Changes, Layout};
use crate::plan::{Outcome, Plan};
use crate::report::Counts;
use crate::schema::duplicate_name;
use crate::screen::{missing, rejected_rows, screen, ScreenedPart};
use crate::table::MemoryTable;

/// `chunks` with every record batch longer than a screening part cut into zero-copy slices
/// of one part: a caller that checks something between batches (an interrupt) then checks
/// it every part, however the micro-batch was chunked.
pub fn in_parts(
    chunks: impl Iterator<Item = Result<RecordBatch>>,
) -> impl Iterator<Item = Result<RecordBatch>> {
    chunks.flat_map(|chunk| {
        let slices: Vec<Result<RecordBatch>> = match chunk {
            Ok(chunk) if chunk.num_rows() > PART_ROWS => (0..chunk.num_rows())
                .step_by(PART_ROWS)
                .map(|at| Ok(chunk.slice(at, PART_ROWS.min(chunk.num_rows() - at))))
                .collect(),
            other => vec![other],
        };
        slices
    })
}

pub struct Pipeline {
    config: Config,
}

impl Pipeline {
    pub fn new(config: Config) -> Result<Self> {
        config.check()?;
        Ok(Self { config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Applies one micro-batch (given as its record batches) to `table`.
    pub fn run(
        &self,
        chunks: &[RecordBatch],
        batch_id: i64,
        table: &mut MemoryTable,
    ) -> Result<Outcome> {
        self.run_stream(chunks.iter().cloned().map(Ok), batch_id, table)
    }

    /// [`Pipeline::run`] over record batches that arrive one by one (see `plan_stream`).
    pub fn run_stream(
        &self,
        chunks: impl Iterator<Item = Result<RecordBatch>>,
        batch_id: i64,
        table: &mut MemoryTable,
    ) -> Result<Outcome> {
        let plan = self.plan_stream(chunks, batch_id, table, &Interrupt::default())?;
        table.commit(plan)
    }

    /// Everything `run` would do to `table`, decided without changing it: a durable target
    /// writes the plan out first and commits it to its in-memory state only once that held.
    pub fn plan(&self, chunks: &[RecordBatch], batch_id: i64, table: &MemoryTable) -> Result<Plan> {
        let chunks = chunks.iter().cloned().map(Ok);
        self.plan_stream(chunks, batch_id, table, &Interrupt::default())
    }

    /// [`Pipeline::plan`] over a micro-batch whose record batches arrive one by one (see
    /// [`Pipeline::screen_stream`]); a replay is only counted. Planning stops with
    /// `Interrupted` once `stop` is raised (the caller guards `chunks` for the screening).
    pub fn plan_stream(
        &self,
        chunks: impl Iterator<Item = Result<RecordBatch>>,
        batch_id: i64,
        table: &MemoryTable,
        stop: &Interrupt,
    ) -> Result<Plan> {
        if is_replay(table, batch_id) {
            let mut rows_in = 0;
            for chunk in chunks {
                rows_in += chunk?.num_rows() as u64;
            }
            return Ok(replay_plan(rows_in, batch_id, table));
        }
        self.plan_screened(&self.screen_stream(chunks)?, batch_id, table, stop)
    }

    /// Screens a micro-batch whose record batches arrive one by one, a part (about
    /// `PART_ROWS` rows) at a time: a part's bronze columns are dropped once it is decoded
    /// (only decoded and rejected rows are kept), so a large batch read lazily is never in
    /// memory whole. Screening needs only the configuration, not the table: the next batch
    /// can be screened while this one merges.
    pub fn screen_stream(
        &self,
        chunks: impl Iterator<Item = Result<RecordBatch>>,
    ) -> Result<ScreenedBatch> {
        let mut screening = ScreenedBatch {
            rows_in: 0,
            screened: Vec::new(),
            rejected: None,
        };
        let mut rejected = Vec::new();
        let mut part = Vec::new();
        let mut held = 0usize; // bytes of the screened rows so far
        let mut chunks = chunks.peekable();
        while let Some(chunk) = chunks.next() {
            let chunk = chunk?;
            if let Some(name) = duplicate_name(&chunk.schema()) {
                return Err(CdcError::Input(format!(
                    "the micro-batch has two columns named {name:?}; rename or drop one of them"
                )));
            }
            screening.rows_in += chunk.num_rows() as u64;
            part.push(chunk);
            let rows: usize = part.iter().map(|c| c.num_rows()).sum();
            if rows < PART_ROWS && chunks.peek().is_some() {
                continue;
            }
            let pieces = match self.config.value_schema {
                Some(_) => cut_for_decoding(&std::mem::take(&mut part)),
                None => std::mem::take(&mut part),
            };
            let screened = pieces
                .par_iter()
                .map(|piece| screen(&self.config, piece))
                .collect::<Result<Vec<_>>>()?;
            rejected.extend(rejected_rows(&pieces, &screened)?);
            if let Some(limit) = self.config.memory_limit {
                held += screened.iter().map(|s| slice_bytes(&s.rows)).sum::<usize>();
                let needed = held.saturating_mul(PEAK_PER_SCREENED_BYTE);
                if needed > limit {
                    return Err(too_big(needed, limit, screening.rows_in));
                }
            }
            screening.screened.extend(screened);
        }
        if let Some(first) = rejected.first() {
            screening.rejected = Some(concat_batches(&first.schema(), &rejected)?);
        }
        Ok(screening)
    }

    /// [`Pipeline::run`] for a batch screened ahead (see [`Pipeline::screen_stream`]).
    pub fn run_screened(
        &self,
        screening: &ScreenedBatch,
        batch_id: i64,
        table: &mut MemoryTable,
    ) -> Result<Outcome> {
        let plan = self.plan_screened(screening, batch_id, table, &Interrupt::default())?;
        table.commit(plan)
    }

    /// [`Pipeline::plan`] for a screened batch; it can be planned again (a durable target
    /// re-plans after a concurrent commit). Each step checks `stop` first: planning changes
    /// nothing, so it can stop anywhere (Ctrl-C within a step's time, not the batch's).
    pub fn plan_screened(
        &self,
        screening: &ScreenedBatch,
        batch_id: i64,
        table: &MemoryTable,
        stop: &Interrupt,
    ) -> Result<Plan> {
        if is_replay(table, batch_id) {
            return Ok(replay_plan(screening.rows_in, batch_id, table));
        }
        let counts = Counts {
            rows_in: screening.rows_in,
            ..Counts::default()
        };
        let mut plan = Plan::new(batch_id, table.version(), counts);
        let screened = &screening.screened;
        for s in screened {
            plan.counts.add(&s.counts);
        }
        plan.rejected = screening.rejected.clone();
        let Some(first) = screened.first() else {
            return Ok(plan); // no record batches: applied, changing nothing
        };
        // Candidates: the kept rows of every piece, in arrival order, as (piece, row).
        let candidates: Vec<(usize, usize)> = screened
            .iter()
            .enumerate()
            .flat_map(|(p, s)| s.kept.iter().map(move |&r| (p, r as usize)))
            .collect();
        if candidates.is_empty() && table.schema().is_none() {
            return Ok(plan); // let a batch with rows fix the target's columns and types
        }
        let enriched = match &self.config.lookup {
            Some(lookup) => lookup.enriched_schema(&first.rows.schema())?,
            None => first.rows.schema(),
        };
        let target_schema = self.target_schema(table, &enriched)?;
        let layout = match table.layout() {
            Some(layout) => layout.clone(),
            None => self.layout(&enriched)?,
        };
        let encode = |encoder: &RowEncoder, names: &[String]| -> Result<Rows> {
            let mut rows = encoder.empty_rows(candidates.len());
            for s in screened.iter() {
                encoder.append(&mut rows, &s.kept_columns(names)?)?;
            }
            Ok(rows)
        };
        stop.check()?;
        let keys = encode(&layout.keys, &self.config.keys)?;
        stop.check()?;
        let sequences = encode(&layout.sequences, &self.config.sequence_by)?;
        let is_delete: Vec<bool> = screened
            .iter()
            .flat_map(|s| s.is_delete.iter().copied())
            .collect();
        stop.check()?;
        let latest = latest_per_key(&keys, &sequences);
        plan.counts.superseded = latest.superseded as u64;
        stop.check()?;
        let changes = Changes {
            keys: layout.keys.select(&keys, &latest.winners),
            sequences: layout.sequences.select(&sequences, &latest.winners),
            is_delete: latest
                .winners
                .iter()
                .map(|&i| is_delete[i as usize])
                .collect(),
        };
        stop.check()?;
        let (actions, found) = table.plan(&changes);
        stop.check()?;

        // Only now are rows copied: those the merge writes, straight into target columns.
        let written: Vec<usize> = actions
            .iter()
            .zip(&latest.winners)
            .filter(|(a, _)| matches!(a, Action::Insert | Action::Update { .. }))
            .map(|(_, &w)| w as usize)
            .collect();
        let at: Vec<(usize, usize)> = written.iter().map(|&w| candidates[w]).collect();
        let pieces: Vec<&RecordBatch> = screened.iter().map(|s| &s.rows).collect();
        let matches: Vec<Option<u32>>;
        let lookup = match &self.config.lookup {
            Some(lookup) => {
                let all: Vec<Option<u32>> = screened
                    .iter()
                    .flat_map(|s| s.matches.iter().copied())
                    .collect();
                matches = written.iter().map(|&w| all[w]).collect();
                Some((lookup, &matches[..]))
            }
            None => None,
        };
        let decoded = self.config.value_schema.is_some();
        let upserts = gather(&pieces, &at, lookup, &target_schema, decoded)?;
        plan.set_changes(changes, (actions, found), upserts, target_schema, layout);
        Ok(plan)
    }

    fn layout(&self, schema: &SchemaRef) -> Result<Layout> {
        let fields = |names: &[String]| -> Result<Vec<Field>> {
            names
                .iter()
                .map(|n| {
                    schema
                        .field_with_name(n)
                        .map(canonical)
                        .map_err(|_| missing(schema, n, "a key or sequence column"))
                })
                .collect()
        };
        Layout::new(
            fields(&self.config.keys)?,
            fields(&self.config.sequence_by)?,
        )
    }

    /// The columns this pipeline writes for micro-batches of schema `input`, known before any
    /// row is (an executor that saw no valid row still emits them).
    pub fn output_schema(&self, input: SchemaRef) -> Result<SchemaRef> {
        let screened = screen(&self.config, &RecordBatch::new_empty(input))?;
        let enriched = match &self.config.lookup {
            Some(lookup) => lookup.enriched_schema(&screened.rows.schema())?,
            None => screened.rows.schema(),
        };
        self.target_schema(&MemoryTable::new(), &enriched)
    }

    /// The target's columns: `columns`, or every enriched column but `except_column_list`.
    fn target_schema(&self, table: &MemoryTable, enriched: &SchemaRef) -> Result<SchemaRef> {
        let c = &self.config;
        let names: Vec<String> = match &c.columns {
            Some(columns) => columns.clone(),
            None => {
                for name in &c.except_column_list {
                    if enriched.column_with_name(name).is_none() {
                        return Err(missing(
                            enriched,
                            name,
                            "except_column_list names a column that",
                        ));
                    }
                }
                enriched
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .filter(|n| !c.except_column_list.contains(n))
                    .collect()
            }
        };
        // Later batches may list the same columns in another order: keep the target's.
        let names = match table.schema() {
            Some(existing) if same_names(existing, &names) => {
                existing.fields().iter().map(|f| f.name().clone()).collect()
            }
            _ => names,
        };
        let fields = names
            .iter()
            .map(
                |name| match table.schema().and_then(|s| s.field_with_name(name).ok()) {
                    // A column that was all null so far takes the first real type it meets.
                    Some(existing) if existing.data_type() == &DataType::Null => Ok(enriched
                        .field_with_name(name)
                        .map(|f| canonical(f).with_nullable(true))
                        .unwrap_or_else(|_| existing.clone())),
                    Some(existing) => Ok(existing.clone()),
                    None => enriched
                        .field_with_name(name)
                        .map(|f| canonical(f).with_nullable(true))
                        .map_err(|_| missing(enriched, name, "a target column")),
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// A micro-batch screened (decoded, filtered, probed against the lookup) and not yet planned.
pub struct ScreenedBatch {
    rows_in: u64,
    screened: Vec<ScreenedPart>,
    rejected: Option<RecordBatch>,
}

impl ScreenedBatch {
    /// Input rows of the batch.
    pub fn rows_in(&self) -> u64 {
        self.rows_in
    }
}

/// The plan of a replayed batch: its rows counted, nothing else done.
fn replay_plan(rows_in: u64, batch_id: i64, table: &MemoryTable) -> Plan {
    let counts = Counts {
        rows_in,
        ..Counts::default()
    };
    let mut plan = Plan::new(batch_id, table.version(), counts);
    plan.skipped_replay = true;
    plan
}

/// A batch id at or below the last applied one: a retried batch, skipped.
fn is_replay(table: &MemoryTable, batch_id: i64) -> bool {
    table.last_batch_id().is_some_and(|last| batch_id <= last)
}

/// Rows screened together: enough for every core, few enough to drop bronze bytes early.
const PART_ROWS: usize = 1 << 16;

/// A batch's peak memory in the engine per byte of its screened rows (the rows, their
/// encoded keys and sequences, the newest-per-key pass and the rows written): measured in
/// bench/RESULTS.md ("Memory bounds"), rounded up with a margin.
const PEAK_PER_SCREENED_BYTE: usize = 6;

/// The bytes a record batch's columns use, counting only the rows of a slice.
fn slice_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
        .sum()
}

fn too_big(needed: usize, limit: usize, rows: u64) -> CdcError {
    const MB: usize = 1 << 20;
    CdcError::Input(format!(
        "the micro-batch needs more memory than memory_limit allows: about {} MB from its \
         first {rows} rows alone (limit {} MB); nothing of it was applied. Split it into \
         smaller micro-batches (e.g. cdc_rs.stream(..., max_rows_per_batch=...)) or raise \
         memory_limit",
        needed / MB,
        limit / MB
    ))
}
/// Rows per piece at least: below this, waking a second thread costs more than it saves.
const MIN_PIECE_ROWS: usize = 4 * 1024;
/// Rows per piece at most, so that each piece decodes on one thread.
const MAX_PIECE_ROWS: usize = crate::decode::PARALLEL_MIN_ROWS - 1;

/// Bronze chunks cut into zero-copy row ranges, so that screening, JSON decoding included,
/// runs on every core; the rows a batch writes are later gathered from the pieces.
fn cut_for_decoding(chunks: &[RecordBatch]) -> Vec<RecordBatch> {
    let threads = rayon::current_num_threads().max(1);
    let mut pieces = Vec::new();
    for chunk in chunks {
        let n = chunk.num_rows();
        let k = (n / MIN_PIECE_ROWS)
            .min(threads * 4)
            .max(n.div_ceil(MAX_PIECE_ROWS))
            .max(1);
        let per = n.div_ceil(k).max(1);
        if n == 0 {
            pieces.push(chunk.clone()); // keeps the columns of an empty batch
        }
        pieces.extend(
            (0..n)
                .step_by(per)
                .map(|start| chunk.slice(start, per.min(n - start))),
        );
    }
    pieces
}

fn same_names(schema: &Schema, names: &[String]) -> bool {
    let mut have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    have.sort_unstable();
    want.sort_unstable();
    have == want
}

/// Views and large variants stored as their plain types, so every batch agrees.
/// Dictionaries are stored decoded (the row format decodes them anyway).
fn canonical(field: &Field) -> Field {
    field
        .clone()
        .with_data_type(canonical_type(field.data_type()))
}

pub(crate) fn canonical_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Dictionary(_, values) => canonical_type(values),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{AsArray, UInt32Array};
    use crate::arrow::datatypes::{DataType, Field, Schema, UInt32Type};
    use crate::test_batches::events;

    fn pipeline() -> Pipeline {
        Pipeline::new(Config {
            operation_column: Some("op".into()),
            upsert_operations: vec!["u".into()],
            delete_operations: vec!["d".into()],
            ..Config::new(&["id"], &["ts"])
        })
        .unwrap()
    }

    #[test]
    fn a_batch_runs_end_to_end_newest_event_per_key_and_deletes_leave_tombstones() {
        let (p, mut table) = (pipeline(), MemoryTable::new());
        let first = p.run(
            &[events(&[(1, 1, "u", ""), (1, 2, "u", ""), (2, 1, "u", "")])],
            0,
            &mut table,
        );
        let c = first.unwrap().counts;
        assert_eq!((c.inserted, c.superseded), (2, 1));
        let second = p.run(
            &[events(&[(1, 1, "u", ""), (2, 2, "d", ""), (2, 1, "u", "")])],
            1,
            &mut table,
        );
        let c = second.unwrap().counts;
        assert_eq!((c.stale, c.deleted, c.superseded), (1, 1, 1));
        assert_eq!((table.len(), table.keys_tracked()), (1, 2));
        // a replayed batch id changes nothing
        let replay = p.run(&[events(&[(3, 9, "u", "")])], 1, &mut table).unwrap();
        assert!(replay.skipped_replay && table.len() == 1);
    }

    #[test]
    fn the_output_schema_is_known_without_rows_and_matches_a_run() {
        let (p, mut table) = (pipeline(), MemoryTable::new());
        let batch = events(&[(1, 1, "u", "")]);
        let schema = p.output_schema(batch.schema()).unwrap();
        p.run(&[batch], 0, &mut table).unwrap();
        assert_eq!(Some(&schema), table.schema());
    }

    #[test]
    fn planning_changes_nothing_and_a_plan_commits_only_on_the_table_it_was_made_on() {
        let (p, mut table) = (pipeline(), MemoryTable::new());
        let plan = p.plan(&[events(&[(1, 1, "u", "")])], 0, &table).unwrap();
        assert_eq!(table.len(), 0);
        let mut other = MemoryTable::new();
        p.run(&[events(&[(7, 1, "u", "")])], 0, &mut other).unwrap();
        assert!(
            other.commit(plan).is_err(),
            "a plan made on another version"
        );
        let plan = p.plan(&[events(&[(1, 1, "u", "")])], 0, &table).unwrap();
        table.commit(plan).unwrap();
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_raised_interrupt_stops_planning_with_nothing_applied() {
        let (p, table) = (pipeline(), MemoryTable::new());
        let stop = Interrupt::default();
        let screened = p
            .screen_stream(std::iter::once(Ok(events(&[(1, 1, "u", "")]))))
            .unwrap();
        stop.raise();
        let planned = p.plan_screened(&screened, 0, &table, &stop);
        assert!(matches!(planned, Err(CdcError::Interrupted)));
        assert_eq!(table.len(), 0);
    }

    /// A table with live keys 1 and 3 and a tombstone for 2.
    fn with_a_tombstone() -> MemoryTable {
        let (p, mut table) = (pipeline(), MemoryTable::new());
        let batch = events(&[(1, 1, "u", "a"), (2, 1, "u", "b"), (3, 1, "u", "c")]);
        p.run(&[batch], 0, &mut table).unwrap();
        p.run(&[events(&[(2, 2, "d", "")])], 1, &mut table).unwrap();
        table
    }

    fn rows_of(table: &MemoryTable) -> RecordBatch {
        let (batches, schema) = table.to_batches().unwrap().unwrap();
        crate::arrow::compute::concat_batches(&schema, &batches).unwrap()
    }

    #[test]
    fn a_table_restored_from_its_rows_in_any_order_and_its_state_is_the_same_table() {
        let table = with_a_tombstone();
        let state = table.state_batch().unwrap().unwrap();
        let rows = rows_of(&table);
        let reversed = crate::arrow::compute::take_record_batch(
            &rows,
            &crate::arrow::array::UInt32Array::from(vec![1, 0]),
        )
        .unwrap();
        let mut restored =
            MemoryTable::restore(reversed, std::slice::from_ref(&state), Some(1)).unwrap();
        assert_eq!((restored.len(), restored.keys_tracked()), (2, 3));
        assert_eq!(restored.state_batch().unwrap().unwrap().num_rows(), 3);
        // the tombstone still wins over an older event, and an update finds its row
        let p = pipeline();
        let batch = events(&[(2, 1, "u", "late"), (3, 5, "u", "new")]);
        let c = p.run(&[batch], 2, &mut restored).unwrap().counts;
        assert_eq!((c.stale, c.updated, c.inserted), (1, 1, 0));
        assert_eq!(restored.len(), 2);
    }

    #[test]
    fn restoring_refuses_rows_and_state_that_disagree() {
        let table = with_a_tombstone();
        let state = table.state_batch().unwrap().unwrap();
        let rows = rows_of(&table);
        let pick = |at: Vec<u32>| {
            let at = crate::arrow::array::UInt32Array::from(at);
            crate::arrow::compute::take_record_batch(&rows, &at).unwrap()
        };
        for (rows, case) in [
            (pick(vec![0]), "a live key without its row"),
            (pick(vec![0, 0, 1]), "a row twice"),
        ] {
            let err = MemoryTable::restore(rows, std::slice::from_ref(&state), None).unwrap_err();
            assert!(matches!(err, CdcError::State(_)), "{case}: {err}");
        }
        // a row whose key is a tombstone
        let tombstone_row = events(&[(2, 2, "u", "x")]);
        let both =
            crate::arrow::compute::concat_batches(&rows.schema(), &[rows, tombstone_row]).unwrap();
        let err = MemoryTable::restore(both, std::slice::from_ref(&state), None).unwrap_err();
        assert!(matches!(err, CdcError::State(_)), "{err}");
    }

    #[test]
    fn an_index_only_table_restores_from_key_columns_and_row_positions() {
        let table = with_a_tombstone();
        let state = table.state_batch().unwrap().unwrap();
        let keys = rows_of(&table).project(&[0]).unwrap();
        let schema = rows_of(&table).schema();
        let restored = MemoryTable::restore_index(
            schema.clone(),
            &keys,
            &[7, 3],
            std::slice::from_ref(&state),
            8,
            Some(1),
        )
        .unwrap();
        assert!(!restored.keeps_rows());
        assert_eq!((restored.len(), restored.next_row()), (2, 8));
        assert!(MemoryTable::restore_index(
            schema,
            &keys,
            &[7, 8],
            std::slice::from_ref(&state),
            8,
            None
        )
        .is_err());
    }

    #[test]
    fn an_index_only_table_restores_from_the_positions_its_state_records() {
        let table = with_a_tombstone();
        let schema = rows_of(&table).schema();
        let state = table.state_batch().unwrap().unwrap();
        // live keys at 7 and 3 of 8 positions; the other six are deleted rows
        let live: Vec<bool> = (0..state.num_rows())
            .map(|i| state["live"].as_boolean().value(i))
            .collect();
        let mut next = [7u32, 3].into_iter();
        let position: UInt32Array = live
            .iter()
            .map(|&l| l.then(|| next.next().unwrap()))
            .collect();
        let mut columns = state.columns().to_vec();
        columns.push(Arc::new(position));
        let mut fields: Vec<_> = state.schema().fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("position", DataType::UInt32, true)));
        let located = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let deleted = [0, 1, 2, 4, 5, 6];
        let restored = MemoryTable::restore_located(
            schema.clone(),
            std::slice::from_ref(&located),
            8,
            &deleted,
            Some(1),
        )
        .unwrap();
        assert!(!restored.keeps_rows());
        assert_eq!((restored.len(), restored.next_row()), (2, 8));
        assert_eq!(restored.last_batch_id(), Some(1));
        let positions = restored.state_batch_with_positions().unwrap().unwrap();
        let mut at: Vec<_> = positions["position"]
            .as_primitive::<UInt32Type>()
            .iter()
            .flatten()
            .collect();
        at.sort();
        assert_eq!(at, vec![3, 7]);
        // positions that do not account for the table exactly are a State error
        for (deleted, next_row, case) in [
            (
                &[0, 1, 2, 4, 5][..],
                8,
                "a position neither live nor deleted",
            ),
            (&[0, 1, 2, 3, 4, 5, 6][..], 8, "a live key's row deleted"),
            (&[0, 1, 2, 4, 5, 6][..], 7, "a position out of range"),
        ] {
            let err = MemoryTable::restore_located(
                schema.clone(),
                std::slice::from_ref(&located),
                next_row,
                deleted,
                None,
            )
            .unwrap_err();
            assert!(matches!(err, CdcError::State(_)), "{case}: {err}");
        }
    }

    #[test]
    fn a_located_state_in_batches_restores_each_key_from_its_last_row() {
        let table = with_a_tombstone();
        let schema = rows_of(&table).schema();
        let state = table.state_batch().unwrap().unwrap();
        let live: Vec<bool> = (0..state.num_rows())
            .map(|i| state["live"].as_boolean().value(i))
            .collect();
        let with_positions = |positions: &mut dyn Iterator<Item = Option<u32>>| {
            let position: UInt32Array = live
                .iter()
                .map(|&l| if l { positions.next().unwrap() } else { None })
                .collect();
            let mut columns = state.columns().to_vec();
            columns.push(Arc::new(position));
            let mut fields: Vec<_> = state.schema().fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new("position", DataType::UInt32, true)));
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
        };
        // an older batch whose places were lost (null), then the keys' last rows
        let lost = with_positions(&mut std::iter::repeat(None));
        let placed = with_positions(&mut [Some(7), Some(3)].into_iter());
        let deleted = [0, 1, 2, 4, 5, 6];
        let both = [lost.clone(), placed.clone()];
        let restored =
            MemoryTable::restore_located(schema.clone(), &both, 8, &deleted, None).unwrap();
        assert_eq!((restored.len(), restored.keys_tracked()), (2, 3));
        // the last row of a live key without a place: the state disagrees with the files
        let err =
            MemoryTable::restore_located(schema, &[placed, lost], 8, &deleted, None).unwrap_err();
        assert!(matches!(err, CdcError::State(_)), "{err}");
    }

    #[test]
    fn a_state_holding_a_key_several_times_restores_its_last_row() {
        let (p, mut table) = (pipeline(), MemoryTable::new());
        p.run(
            &[events(&[(1, 1, "u", "a"), (2, 1, "u", "b")])],
            0,
            &mut table,
        )
        .unwrap();
        let older = table.state_batch().unwrap().unwrap();
        p.run(&[events(&[(2, 3, "d", "")])], 1, &mut table).unwrap();
        let newer = table.state_batch().unwrap().unwrap();
        // the bookkeeping of two batches, oldest first: key 2 live, then a tombstone
        let both = crate::arrow::compute::concat_batches(&older.schema(), &[older, newer]).unwrap();
        let rows = rows_of(&table);
        let restored =
            MemoryTable::restore(rows.clone(), std::slice::from_ref(&both), Some(1)).unwrap();
        assert_eq!((restored.len(), restored.keys_tracked()), (1, 2));
        let stale = events(&[(2, 2, "u", "late")]);
        let mut restored = restored;
        let c = p.run(&[stale], 2, &mut restored).unwrap().counts;
        assert_eq!(c.stale, 1, "the tombstone (sequence 3) is the key's state");
        let with_two = crate::arrow::compute::concat_batches(
            &rows.schema(),
            &[rows, events(&[(2, 1, "u", "b")])],
        )
        .unwrap();
        assert!(MemoryTable::restore(with_two, std::slice::from_ref(&both), None).is_err());
    }
}
