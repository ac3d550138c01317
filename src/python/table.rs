//! The embedded target's state, held for the Python `cdc_rs.MemoryTable`.
//!
//! The table sits behind a mutex taken only after the GIL is released: a read on one thread
//! while another thread writes waits for the write and sees the table before or after it,
//! never a half-applied batch, and never a borrow panic.
use std::sync::{Arc, Mutex, MutexGuard};

use crate::arrow::array::{Array, UInt32Array};
use crate::arrow::datatypes::Schema;
use crate::arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PyArray, PyTable};

use super::detached;
use super::errors::IntoPyResult;
use super::import::{read_batches, read_one_batch};
use super::plan::{outcome_to_py, PlanCore, PyOutcome};
use crate::error::CdcError;
use crate::interrupt::Interrupt;
use crate::table::MemoryTable;

/// A table read at one moment: its rows, its key state (if any) and its last batch id.
type Snapshot = (Py<PyAny>, Option<Py<PyAny>>, Option<i64>);

#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
#[derive(Default)]
pub struct TableCore {
    inner: Mutex<MemoryTable>,
}

fn to_pyarrow(py: Python<'_>, batch: Option<RecordBatch>) -> PyResult<Py<PyAny>> {
    let batch = batch.unwrap_or_else(|| RecordBatch::new_empty(Arc::new(Schema::empty())));
    let schema = batch.schema();
    Ok(PyTable::try_new(vec![batch], schema)?
        .into_pyarrow(py)?
        .unbind())
}

/// The values of a uint32 array without nulls.
fn positions(array: PyArray) -> PyResult<Vec<u32>> {
    let array = array.array();
    let values = array
        .as_any()
        .downcast_ref::<crate::arrow::array::UInt32Array>()
        .filter(|a| a.null_count() == 0)
        .ok_or_else(|| {
            super::errors::to_py(CdcError::Input(format!(
                "row positions must be a uint32 array without nulls, got {}",
                array.data_type()
            )))
        })?;
    Ok(values.values().to_vec())
}

/// A key state's batches as handed over (a table's chunks: no copy into one), at least one.
fn state_batches(state: AnyRecordBatch) -> PyResult<Vec<RecordBatch>> {
    let (mut batches, schema) = read_batches(state)?;
    batches.retain(|b| b.num_rows() > 0);
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

impl TableCore {
    /// Runs `work` on the table without the GIL, once the table is free.
    pub fn with<R: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&mut MemoryTable) -> R + Send,
    ) -> R {
        detached(py, || work(&mut self.lock()))
    }

    /// [`TableCore::with`] for a write that may take seconds: Ctrl-C stops it before it
    /// commits (see [`super::interruptible`]).
    pub fn write<R: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&mut MemoryTable, &Interrupt) -> Result<R, CdcError> + Send,
    ) -> PyResult<R> {
        super::interruptible(py, Interrupt::default(), |interrupt| {
            work(&mut self.lock(), interrupt)
        })
    }

    /// A panic inside the engine while the lock was held leaves a table we cannot trust; it
    /// is still the last consistent state or the error was raised, so reading on is safe.
    fn lock(&self) -> MutexGuard<'_, MemoryTable> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl TableCore {
    /// An empty table; with `keeps_rows=False` it keeps only its key index (a durable
    /// target that writes the rows places them: see `commit`).
    #[new]
    #[pyo3(signature = (keeps_rows=true))]
    fn new(keeps_rows: bool) -> Self {
        let table = if keeps_rows {
            MemoryTable::new()
        } else {
            MemoryTable::new_index_only()
        };
        Self {
            inner: Mutex::new(table),
        }
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.with(py, |t| t.len())
    }

    #[getter]
    fn last_batch_id(&self, py: Python<'_>) -> Option<i64> {
        self.with(py, |t| t.last_batch_id())
    }

    #[getter]
    fn keys_tracked(&self, py: Python<'_>) -> usize {
        self.with(py, |t| t.keys_tracked())
    }

    /// The live rows as a pyarrow Table.
    fn to_arrow(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.with(py, |t| t.to_batches()).py()? {
            Some((batches, schema)) => Ok(PyTable::try_new(batches, schema)?
                .into_pyarrow(py)?
                .unbind()),
            None => to_pyarrow(py, None),
        }
    }

    /// Per-key bookkeeping (`key.*`, `sequence.*`, `live`) as a pyarrow Table, or None;
    /// with `positions`, also each live key's row `position` (index-only tables).
    #[pyo3(signature = (positions=false))]
    fn state(&self, py: Python<'_>, positions: bool) -> PyResult<Option<Py<PyAny>>> {
        let batch = if positions {
            self.with(py, |t| t.state_batch_with_positions())
        } else {
            self.with(py, |t| t.state_batch())
        };
        match batch.py()? {
            None => Ok(None),
            batch => Ok(Some(to_pyarrow(py, batch)?)),
        }
    }

    /// `(rows, state, last_batch_id)` read under one lock: a consistent copy for pickling.
    fn snapshot(&self, py: Python<'_>) -> PyResult<Snapshot> {
        let (rows, state, last) = self
            .with(py, |t| -> Result<_, CdcError> {
                Ok((t.to_batches()?, t.state_batch()?, t.last_batch_id()))
            })
            .py()?;
        let rows = match rows {
            Some((batches, schema)) => PyTable::try_new(batches, schema)?
                .into_pyarrow(py)?
                .unbind(),
            None => to_pyarrow(py, None)?,
        };
        let state = match state {
            None => None,
            batch => Some(to_pyarrow(py, batch)?),
        };
        Ok((rows, state, last))
    }

    /// Rebuilds a table from its rows (any order) and a `state()`: each live key gets the
    /// row holding its key (pickling, copy-on-write targets).
    #[staticmethod]
    #[pyo3(signature = (rows, state, last_batch_id=None))]
    fn restore(
        py: Python<'_>,
        rows: AnyRecordBatch,
        state: AnyRecordBatch,
        last_batch_id: Option<i64>,
    ) -> PyResult<Self> {
        let rows = read_one_batch(rows)?;
        let state = state_batches(state)?;
        let inner = detached(py, || MemoryTable::restore(rows, &state, last_batch_id)).py()?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// An index-only table (no rows kept) from a `state()` and the key columns of the live
    /// rows (`keys`) with each row's position (`positions`, uint32, below `next_row`);
    /// `schema` is an empty table of the rows.
    #[staticmethod]
    #[pyo3(signature = (schema, keys, positions, state, next_row, last_batch_id=None))]
    fn restore_index(
        py: Python<'_>,
        schema: AnyRecordBatch,
        keys: AnyRecordBatch,
        positions: PyArray,
        state: AnyRecordBatch,
        next_row: usize,
        last_batch_id: Option<i64>,
    ) -> PyResult<Self> {
        let schema = read_one_batch(schema)?.schema();
        let keys = read_one_batch(keys)?;
        let state = state_batches(state)?;
        let positions = positions.array();
        let positions = positions
            .as_any()
            .downcast_ref::<UInt32Array>()
            .filter(|a| a.null_count() == 0)
            .ok_or_else(|| CdcError::Input("row positions must be uint32 without nulls".into()))
            .py()?;
        let inner = detached(py, || {
            MemoryTable::restore_index(
                schema,
                &keys,
                positions.values(),
                &state,
                next_row,
                last_batch_id,
            )
        })
        .py()?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// An index-only table from a `state(positions=True)`-like table (the bookkeeping says
    /// where each live key's row is), given the positions below `next_row` that are deleted
    /// (uint32); `TargetStateError` unless live keys and the other positions match one to one.
    #[staticmethod]
    #[pyo3(signature = (schema, state, next_row, deleted, last_batch_id=None))]
    fn restore_located(
        py: Python<'_>,
        schema: AnyRecordBatch,
        state: AnyRecordBatch,
        next_row: usize,
        deleted: PyArray,
        last_batch_id: Option<i64>,
    ) -> PyResult<Self> {
        let schema = read_one_batch(schema)?.schema();
        let state = state_batches(state)?;
        let deleted = positions(deleted)?;
        let inner = detached(py, || {
            MemoryTable::restore_located(schema, &state, next_row, &deleted, last_batch_id)
        })
        .py()?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// The row position the next upserted row gets.
    #[getter]
    fn next_row(&self, py: Python<'_>) -> u32 {
        self.with(py, |t| t.next_row())
    }

    /// False for an index-only table (`restore_index`).
    #[getter]
    fn keeps_rows(&self, py: Python<'_>) -> bool {
        self.with(py, |t| t.keeps_rows())
    }

    /// Applies a plan made by `Pipeline.plan` on this table; returns like `Pipeline.run`.
    /// `placed` (uint32) gives the row position of each upserted row, for an index-only
    /// table whose target wrote them (default: in order from `next_row`).
    #[pyo3(signature = (plan, placed=None))]
    fn commit(
        &self,
        py: Python<'_>,
        plan: &Bound<'_, PlanCore>,
        placed: Option<PyArray>,
    ) -> PyResult<PyOutcome> {
        let placed = placed.map(positions).transpose()?;
        let plan = plan.borrow_mut().inner.take().ok_or_else(|| {
            super::errors::to_py(CdcError::Config("this plan was already committed".into()))
        })?;
        let outcome = self
            .with(py, |t| t.commit_placed(plan, placed.as_deref()))
            .py()?;
        outcome_to_py(py, outcome)
    }

    /// Moves the rows at positions `old` to positions `new` (uint32 arrays) in an index-only
    /// table whose target rewrote them into new files (compaction).
    fn relocate(&self, py: Python<'_>, old: PyArray, new: PyArray) -> PyResult<()> {
        let (old, new) = (positions(old)?, positions(new)?);
        self.with(py, |t| t.relocate(&old, &new)).py()
    }

    /// Records a batch id as applied without changes.
    fn mark_applied(&self, py: Python<'_>, batch_id: i64) {
        self.with(py, |t| t.mark_applied(batch_id));
    }
}
