//! The embedded target: rows in a `RowStore`, per-key state in a `KeyState`, and the id of
//! the last batch applied (for exactly-once replays).
use std::sync::Arc;

use crate::arrow::array::{
    new_empty_array, Array, AsArray, BooleanArray, RecordBatch, UInt32Array,
};
use crate::arrow::compute::cast;
use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::error::{CdcError, Result};
use crate::gather::fit_to;
use crate::merge::{Action, Emit, KeyState, MergeCounts};
use crate::plan::{Changes, Layout, Outcome, Plan};
use crate::store::RowStore;

/// Where `MemoryTable::apply` puts things: each change's key slot as `plan` found it, and
/// optionally the row position of each upserted row (see `commit_placed`).
#[derive(Clone, Copy)]
pub struct Placement<'a> {
    pub found: &'a [Option<usize>],
    pub placed: Option<&'a [u32]>,
}

/// `placed` gives each of `n` upserted rows a distinct position in `next..next + n`.
fn check_placement(placed: &[u32], next: u32, n: usize) -> Result<()> {
    let mut seen = vec![false; n];
    let fits = placed.len() == n
        && placed.iter().all(|&p| {
            let slot = (p as usize)
                .checked_sub(next as usize)
                .and_then(|i| seen.get_mut(i));
            slot.is_some_and(|s| !std::mem::replace(s, true))
        });
    if fits {
        Ok(())
    } else {
        Err(CdcError::Config(format!(
            "the {} row positions given for {n} upserted rows are not a permutation of {next}..{}",
            placed.len(),
            next as usize + n
        )))
    }
}

#[derive(Clone, Debug, Default)]
pub struct MemoryTable {
    store: Option<RowStore>,
    layout: Option<Layout>,
    state: KeyState,
    last_batch_id: Option<i64>,
    /// Bumped by every change, so a plan is only committed to the state it was made on.
    version: u64,
    /// Keeps only the key index, not the rows (see `RowStore::index_only`).
    index_only: bool,
}

impl MemoryTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table that will keep only its key index, for a target that writes the rows.
    pub fn new_index_only() -> Self {
        Self {
            index_only: true,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.store.as_ref().map_or(0, RowStore::live_rows)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn schema(&self) -> Option<&SchemaRef> {
        self.store.as_ref().map(RowStore::schema)
    }

    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    pub fn last_batch_id(&self) -> Option<i64> {
        self.last_batch_id
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Applies a plan made against this table (and not changed since).
    pub fn commit(&mut self, plan: Plan) -> Result<Outcome> {
        self.commit_placed(plan, None)
    }

    /// [`MemoryTable::commit`] for an index-only table whose target wrote the plan's upserted
    /// rows itself: `placed[i]` is the row position it gave upsert `i`, a permutation of the
    /// positions from [`MemoryTable::next_row`] on (None: in upsert order).
    pub fn commit_placed(&mut self, plan: Plan, placed: Option<&[u32]>) -> Result<Outcome> {
        if plan.table_version != self.version {
            return Err(CdcError::Config(
                "the target changed after this batch was planned; plan it again".into(),
            ));
        }
        if !plan.skipped_replay {
            match plan.merge {
                Some(mut m) => {
                    self.bind(&m.schema, m.layout.clone())?;
                    if let Some(placed) = placed {
                        check_placement(placed, self.next_row(), m.upserts.num_rows())?;
                    }
                    if self.index_only {
                        // The target wrote the rows: let them go before the key index grows.
                        let upserted = m.upserts.num_rows();
                        m.upserts = RecordBatch::new_empty(m.upserts.schema());
                        check_upserts(&m.actions, upserted)?;
                    }
                    let at = Placement {
                        found: &m.found,
                        placed,
                    };
                    self.apply(&m.changes, &m.actions, at, &m.upserts, plan.batch_id)?;
                }
                None => self.mark_applied(plan.batch_id),
            }
        }
        Ok(Outcome {
            counts: plan.counts,
            skipped_replay: plan.skipped_replay,
            rejected: plan.rejected,
        })
    }

    /// The row position the next upserted row gets.
    pub fn next_row(&self) -> u32 {
        self.store.as_ref().map_or(0, RowStore::next_row)
    }

    /// Whether the rows themselves are kept (else only the key index: `restore_index`).
    pub fn keeps_rows(&self) -> bool {
        !self.index_only
    }

    /// Keys ever seen, tombstones included.
    pub fn keys_tracked(&self) -> usize {
        self.state.len()
    }

    /// Fixes the row schema and key layout on the first batch; later batches must agree.
    pub fn bind(&mut self, schema: &SchemaRef, layout: Layout) -> Result<()> {
        match &self.store {
            None if self.index_only => {
                self.store = Some(RowStore::index_only(schema.clone(), 0, &[])?)
            }
            None => self.store = Some(RowStore::new(schema.clone())),
            Some(store) => {
                let names = |s: &Schema| {
                    s.fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect::<Vec<_>>()
                };
                if names(store.schema()) != names(schema) {
                    return Err(CdcError::Config(format!(
                        "target already holds columns {:?}; this batch would write {:?}",
                        names(store.schema()),
                        names(schema)
                    )));
                }
                if store.schema() != schema {
                    self.store.as_mut().unwrap().widen_null_columns(schema)?;
                }
            }
        }
        if self.layout.is_none() {
            self.layout = Some(layout);
        }
        Ok(())
    }

    /// The action each change would take, and where its key sits in the key state (so that
    /// applying needs no second lookup); the table is not modified.
    pub fn plan(&self, changes: &Changes) -> (Vec<Action>, Vec<Option<usize>>) {
        let decide = |i: usize| {
            let found = self.state.find(changes.keys.row(i).data());
            let sequence = changes.sequences.row(i).data();
            let action = self
                .state
                .decide_found(found, sequence, changes.is_delete[i]);
            (action, found)
        };
        let n = changes.keys.num_rows();
        // Lookups into a large state are cache misses: overlap them across cores.
        if n >= 4096 {
            (0..n).into_par_iter().map(decide).unzip()
        } else {
            (0..n).map(decide).unzip()
        }
    }

    /// Applies a plan made by `plan` on this same state, and records `batch_id`. `at.found`
    /// is what `plan` returned with the actions (an empty slice looks every key up again);
    /// `upserts` holds the row of each insert and update, in the order of `actions` (an
    /// index-only table takes none: it only numbers them).
    pub fn apply(
        &mut self,
        changes: &Changes,
        actions: &[Action],
        at: Placement<'_>,
        upserts: &RecordBatch,
        batch_id: i64,
    ) -> Result<MergeCounts> {
        let found = at.found;
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| CdcError::Config("target has no schema yet; bind it first".into()))?;
        let first = if store.keeps_rows() {
            check_upserts(actions, upserts.num_rows())?;
            store.append(fit_to(upserts, store.schema())?)?
        } else {
            store.append_positions(upserts_of(actions))?
        };
        let mut counts = MergeCounts::default();
        let mut upserted = 0usize;
        // Keys the state holds are written in place first; new keys go in after one reserve
        // (inserting may move entries, which would stale the positions `plan` found).
        let mut new_keys = Vec::new();
        for (i, &action) in actions.iter().enumerate() {
            counts.count(action);
            let row = match action {
                Action::Insert | Action::Update { .. } => {
                    if let Action::Update { row } = action {
                        store.retire(row);
                    }
                    upserted += 1;
                    Some(match at.placed {
                        Some(placed) => placed[upserted - 1],
                        None => first + upserted as u32 - 1,
                    })
                }
                Action::Delete { row } => {
                    store.retire(row);
                    None
                }
                Action::Tombstone => None,
                Action::Stale => continue,
            };
            let (key, sequence) = (changes.keys.row(i).data(), changes.sequences.row(i).data());
            match found.get(i).copied().flatten() {
                Some(at) => self.state.set_found(Some(at), key, sequence, row),
                None => new_keys.push((i, row)),
            }
        }
        let entry = |&(i, row): &(usize, Option<u32>)| {
            (
                changes.keys.row(i).data(),
                changes.sequences.row(i).data(),
                row,
            )
        };
        if found.len() == actions.len() {
            // `plan` looked every key up on this very state: these are absent
            self.state
                .insert_absent(new_keys.len(), |k| entry(&new_keys[k]));
        } else {
            self.state.reserve(new_keys.len());
            for (key, sequence, row) in new_keys.iter().map(entry) {
                self.state.set(key, sequence, row);
            }
        }
        if let Some(moved) = store.compact_if_sparse()? {
            self.state.renumber_rows(&moved);
        }
        self.last_batch_id = Some(batch_id);
        self.version += 1;
        Ok(counts)
    }

    /// Points the keys of rows at `old` positions to `new` ones (an index-only table whose
    /// target rewrote those rows into new files, e.g. compaction). No batch is recorded.
    pub fn relocate(&mut self, old: &[u32], new: &[u32]) -> Result<()> {
        let Some(store) = self.store.as_mut().filter(|_| self.index_only) else {
            return Err(CdcError::Config(
                "only an index-only table with rows can relocate them".into(),
            ));
        };
        let before = store.next_row() as usize;
        store.relocate(old, new)?;
        let mut moved: Vec<u32> = (0..before as u32).collect();
        for (&from, &to) in old.iter().zip(new) {
            moved[from as usize] = to;
        }
        self.state.renumber_rows(&moved);
        self.version += 1;
        Ok(())
    }

    /// Records a batch that changed nothing (e.g. an empty micro-batch).
    pub fn mark_applied(&mut self, batch_id: i64) {
        self.version += 1;
        self.last_batch_id = Some(batch_id);
    }

    /// The live rows in chunks, sharing the chunks whose rows are all live (see `RowStore`).
    pub fn to_batches(&self) -> Result<Option<(Vec<RecordBatch>, SchemaRef)>> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        Ok(Some((store.to_batches()?, store.schema().clone())))
    }

    /// Per-key bookkeeping as columns: `key.<name>…`, `sequence.<name>…` and `live` (false
    /// for a tombstone). The same layout the durable targets keep on disk: a key's row is
    /// found again by its key (`restore`), never by a position that a compaction moves.
    pub fn state_batch(&self) -> Result<Option<RecordBatch>> {
        self.state_columns(false)
    }

    /// `state_batch()` plus `position` (uint32, null for a tombstone): where each live key's
    /// row is, for a durable target that records it as a place in its files.
    pub fn state_batch_with_positions(&self) -> Result<Option<RecordBatch>> {
        self.state_columns(true)
    }

    fn state_columns(&self, with_positions: bool) -> Result<Option<RecordBatch>> {
        let Some(layout) = &self.layout else {
            return Ok(None);
        };
        if self.store.is_none() && self.state.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(self.state.len());
        let mut sequences = Vec::with_capacity(self.state.len());
        let mut live = Vec::with_capacity(self.state.len());
        let mut positions = Vec::with_capacity(if with_positions { self.state.len() } else { 0 });
        for (key, slot) in self.state.iter() {
            keys.push(key);
            sequences.push(slot.sequence);
            live.push(slot.row.is_some());
            if with_positions {
                positions.push(slot.row);
            }
        }
        let mut fields = Vec::new();
        let mut columns = layout.keys.decode(keys)?;
        columns.extend(layout.sequences.decode(sequences)?);
        for (prefix, group) in [
            ("key", &layout.key_fields),
            ("sequence", &layout.sequence_fields),
        ] {
            for f in group {
                fields.push(
                    f.clone()
                        .with_name(format!("{prefix}.{}", f.name()))
                        .with_nullable(true),
                );
            }
        }
        fields.push(Field::new("live", DataType::Boolean, false));
        columns.push(Arc::new(BooleanArray::from(live)));
        if with_positions {
            fields.push(Field::new("position", DataType::UInt32, true));
            columns.push(Arc::new(UInt32Array::from(positions)));
        }
        Ok(Some(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?))
    }

    /// Rebuilds a table from its live rows (one batch, in any order) and a `state_batch()`:
    /// each live key gets the row holding that key (pickling, copy-on-write targets).
    pub fn restore(
        rows: RecordBatch,
        state: &[RecordBatch],
        last_batch_id: Option<i64>,
    ) -> Result<Self> {
        let n = u32::try_from(rows.num_rows())
            .ok()
            .filter(|&n| n < UNPLACED)
            .ok_or_else(|| restore_error("more rows than a table holds (2^32 - 2)"))?;
        let positions: Vec<u32> = (0..n).collect();
        let mut table = Self::restore_keyed(&rows, &positions, state)?;
        // No columns yet (only tombstones): the first batch with rows fixes them.
        if rows.num_columns() > 0 {
            let mut store = RowStore::new(rows.schema());
            store.append(rows)?;
            table.store = Some(store);
        }
        table.last_batch_id = last_batch_id;
        Ok(table)
    }

    /// An index-only table (see `RowStore::index_only`) from a `state_batch()` and the key
    /// columns of the live rows with each row's position (below `next_row`): a durable target
    /// that reads its rows from its files keeps only this in memory. `schema` (of the rows)
    /// has no fields while the table has none (only tombstones so far).
    pub fn restore_index(
        schema: SchemaRef,
        keys: &RecordBatch,
        positions: &[u32],
        state: &[RecordBatch],
        next_row: usize,
        last_batch_id: Option<i64>,
    ) -> Result<Self> {
        if positions.len() != keys.num_rows() {
            return Err(restore_error("one row position per key row is needed"));
        }
        if positions
            .iter()
            .any(|&p| p >= UNPLACED || p as usize >= next_row)
        {
            return Err(restore_error("row position out of range"));
        }
        let mut table = Self::restore_keyed(keys, positions, state)?;
        table.store = if schema.fields().is_empty() {
            None
        } else {
            Some(RowStore::index_only(schema, next_row, positions)?)
        };
        table.index_only = true;
        table.last_batch_id = last_batch_id;
        Ok(table)
    }

    /// An index-only table from a state that says where each live key's row is (`position`,
    /// uint32, as `state_batch_with_positions()` gives it), so no row is read: the positions
    /// below `next_row` are the live keys' rows and the `deleted` ones, each exactly once. A
    /// state that says otherwise (e.g. another writer changed the files) is a `State` error;
    /// the target then restores by key (`restore_index`). `state` is in batches, oldest
    /// first (a key's last row is its state), read a block of rows at a time: no copy of it
    /// whole, encoded or not.
    pub fn restore_located(
        schema: SchemaRef,
        state: &[RecordBatch],
        next_row: usize,
        deleted: &[u32],
        last_batch_id: Option<i64>,
    ) -> Result<Self> {
        if next_row > UNPLACED as usize {
            return Err(restore_error(
                "more row positions than a table holds (2^32 - 2)",
            ));
        }
        let columns = StateColumns::of(state, true)?;
        let position = columns.position.expect("asked for");
        // A live key's row; UNPLACED (out of range) where its place was in no live file.
        let (state, layout) = columns.load(state, |chunk, live| {
            let position = chunk
                .column(position)
                .as_any()
                .downcast_ref::<UInt32Array>()
                .ok_or_else(|| restore_error("no uint32 column 'position'"))?;
            Ok((0..chunk.num_rows())
                .map(|i| {
                    live.value(i)
                        .then(|| position.is_valid(i).then(|| position.value(i)))
                        .map(|p| p.unwrap_or(UNPLACED))
                })
                .collect())
        })?;
        // Every position below next_row is either one live key's row or deleted, once.
        let mut taken = vec![false; next_row];
        let mut take = |p: u32| match taken.get_mut(p as usize) {
            Some(slot) if !*slot => {
                *slot = true;
                true
            }
            _ => false,
        };
        let mut live_rows = 0;
        let all_once = deleted.iter().all(|&p| take(p))
            && state.iter().filter_map(|(_, slot)| slot.row).all(|p| {
                live_rows += 1;
                take(p)
            })
            && deleted.len() + live_rows == next_row;
        if !all_once {
            return Err(disagree());
        }
        for &p in deleted {
            taken[p as usize] = false;
        }
        let mut table = MemoryTable::new();
        table.state = state;
        table.layout = Some(layout);
        table.store = Some(RowStore::index_only_mask(schema, taken, live_rows));
        table.index_only = true;
        table.last_batch_id = last_batch_id;
        Ok(table)
    }

    /// The key state of `state`, each live key holding the position of the row of `rows`
    /// with its key; an error unless live keys and rows match one to one. `state` may hold a
    /// key several times (the bookkeeping files of several batches, oldest first): its last
    /// row is the key's state.
    fn restore_keyed(rows: &RecordBatch, positions: &[u32], state: &[RecordBatch]) -> Result<Self> {
        // Live keys start UNPLACED; each row then claims its key's slot.
        let (state, layout) = StateColumns::of(state, false)?.load(state, |chunk, live| {
            Ok((0..chunk.num_rows())
                .map(|i| live.value(i).then_some(UNPLACED))
                .collect())
        })?;
        let live_keys = state.iter().filter(|(_, slot)| slot.row.is_some()).count();
        let mut table = MemoryTable::new();
        table.state = state;
        let row_keys = layout
            .key_fields
            .iter()
            .map(|f| match rows.column_by_name(f.name()) {
                Some(column) => Ok(cast(column, f.data_type())?),
                // no rows and no columns yet: only tombstones so far
                None if rows.num_rows() == 0 => Ok(new_empty_array(f.data_type())),
                None => Err(restore_error(&format!(
                    "the rows have no key column {:?}",
                    f.name()
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let encoded = layout.keys.encode(&row_keys)?;
        let found: Vec<Option<usize>> = (0..rows.num_rows())
            .into_par_iter()
            .map(|i| table.state.find(encoded.row(i).data()))
            .collect();
        for (i, at) in found.into_iter().enumerate() {
            if !table
                .state
                .claim(at, encoded.row(i).data(), UNPLACED, positions[i])
            {
                return Err(disagree());
            }
        }
        if rows.num_rows() != live_keys {
            return Err(disagree());
        }
        table.layout = Some(layout);
        Ok(table)
    }
}

/// Where a state's columns are (`key.*`, `sequence.*`, `live`, optionally `position`), and
/// the key and sequence layout they give.
struct StateColumns {
    layout: Layout,
    keys: Vec<usize>,
    sequences: Vec<usize>,
    live: usize,
    position: Option<usize>,
}

impl StateColumns {
    /// The columns of `state` (batches of one schema; none is an empty state).
    fn of(state: &[RecordBatch], with_position: bool) -> Result<Self> {
        let Some(first) = state.first() else {
            return Err(restore_error("no key.* or sequence.* columns"));
        };
        let schema = first.schema();
        if state.iter().any(|b| b.schema() != schema) {
            return Err(restore_error("state batches of different schemas"));
        }
        let pick = |prefix: &str| -> (Vec<Field>, Vec<usize>) {
            schema
                .fields()
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let name = f.name().strip_prefix(prefix)?;
                    Some((f.as_ref().clone().with_name(name), i))
                })
                .unzip()
        };
        let (key_fields, keys) = pick("key.");
        let (sequence_fields, sequences) = pick("sequence.");
        let live = schema
            .index_of("live")
            .ok()
            .filter(|&i| schema.field(i).data_type() == &DataType::Boolean)
            .ok_or_else(|| restore_error("no boolean column 'live' without nulls"))?;
        if state.iter().any(|b| b.column(live).null_count() > 0) {
            return Err(restore_error("no boolean column 'live' without nulls"));
        }
        let position = if with_position {
            Some(
                schema
                    .index_of("position")
                    .ok()
                    .filter(|&i| schema.field(i).data_type() == &DataType::UInt32)
                    .ok_or_else(|| restore_error("no uint32 column 'position'"))?,
            )
        } else {
            None
        };
        if key_fields.is_empty() || sequence_fields.is_empty() {
            return Err(restore_error("no key.* or sequence.* columns"));
        }
        Ok(Self {
            layout: Layout::new(key_fields, sequence_fields)?,
            keys,
            sequences,
            live,
            position,
        })
    }

    /// The key state of `state` (oldest rows first: a key's last row is its state), each
    /// key given the row `rows(piece, live)` says (None: a tombstone), and the layout.
    /// Built a block of rows at a time on all cores (see `KeyState::build`): no encoded
    /// copy of the whole state.
    fn load(
        self,
        state: &[RecordBatch],
        rows: impl Fn(&RecordBatch, &BooleanArray) -> Result<Vec<Option<u32>>> + Sync,
    ) -> Result<(KeyState, Layout)> {
        let starts: Vec<usize> = state
            .iter()
            .scan(0, |at, batch| {
                let start = *at;
                *at += batch.num_rows();
                Some(start)
            })
            .collect();
        let total = state.iter().map(RecordBatch::num_rows).sum();
        let fill = |range: std::ops::Range<usize>, emit: &mut Emit<'_>| -> Result<()> {
            // the pieces of the batches that hold these rows
            let mut b = starts.partition_point(|&s| s <= range.start) - 1;
            let mut at = range.start;
            while at < range.end {
                let (batch, start) = (&state[b], starts[b]);
                let len = (batch.num_rows() - (at - start)).min(range.end - at);
                let piece = batch.slice(at - start, len);
                let pick = |of: &[usize]| {
                    of.iter()
                        .map(|&i| piece.column(i).clone())
                        .collect::<Vec<_>>()
                };
                let keys = self.layout.keys.encode(&pick(&self.keys))?;
                let sequences = self.layout.sequences.encode(&pick(&self.sequences))?;
                let rows = rows(&piece, piece.column(self.live).as_boolean())?;
                for (i, &row) in rows.iter().enumerate() {
                    emit(keys.row(i).data(), sequences.row(i).data(), row);
                }
                at += len;
                b += 1;
            }
            Ok(())
        };
        let keys = KeyState::build(total, fill)?;
        Ok((keys, self.layout))
    }
}

/// How many rows `actions` insert or update.
fn upserts_of(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Insert | Action::Update { .. }))
        .count()
}

fn check_upserts(actions: &[Action], rows: usize) -> Result<()> {
    let written = upserts_of(actions);
    if rows != written {
        return Err(CdcError::Config(format!(
            "{rows} upserted rows for {written} inserts and updates"
        )));
    }
    Ok(())
}

/// The row of a live key not found yet while a table is restored (positions stay below it).
const UNPLACED: u32 = u32::MAX - 1;

fn restore_error(what: &str) -> CdcError {
    CdcError::Input(format!("cannot restore table state: {what}"))
}

fn disagree() -> CdcError {
    CdcError::State(
        "the rows and the per-key bookkeeping disagree on keys (a key without its row, a row \
         without a live key, or a key twice); was the table changed by another writer?"
            .into(),
    )
}
