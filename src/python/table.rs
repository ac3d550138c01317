//! The embedded target's state, held for the Python `cdc_rs.MemoryTable`.
use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;

use super::detached;
use super::errors::IntoPyResult;
use super::import::read_one_batch;
use super::plan::{outcome_to_py, PlanCore, PyOutcome};
use crate::error::CdcError;
use crate::table::MemoryTable;

#[pyclass(module = "cdc_rs._cdc_rs")]
#[derive(Default)]
pub struct TableCore {
    pub inner: MemoryTable,
}

fn to_pyarrow(py: Python<'_>, batch: Option<RecordBatch>) -> PyResult<Py<PyAny>> {
    let batch = batch.unwrap_or_else(|| RecordBatch::new_empty(Arc::new(Schema::empty())));
    let schema = batch.schema();
    Ok(PyTable::try_new(vec![batch], schema)?
        .into_pyarrow(py)?
        .unbind())
}

#[pymethods]
impl TableCore {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn last_batch_id(&self) -> Option<i64> {
        self.inner.last_batch_id()
    }

    #[getter]
    fn keys_tracked(&self) -> usize {
        self.inner.keys_tracked()
    }

    /// The live rows as a pyarrow Table.
    fn to_arrow(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match detached(py, || self.inner.to_batches()).py()? {
            Some((batches, schema)) => Ok(PyTable::try_new(batches, schema)?
                .into_pyarrow(py)?
                .unbind()),
            None => to_pyarrow(py, None),
        }
    }

    /// Per-key bookkeeping (keys, sequences, row or tombstone) as a pyarrow Table, or None.
    fn state(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match detached(py, || self.inner.state_batch()).py()? {
            None => Ok(None),
            batch => Ok(Some(to_pyarrow(py, batch)?)),
        }
    }

    /// Rebuilds a table from `to_arrow()` and `state()` (pickling, durable targets).
    #[staticmethod]
    #[pyo3(signature = (rows, state, last_batch_id=None))]
    fn restore(
        rows: AnyRecordBatch,
        state: AnyRecordBatch,
        last_batch_id: Option<i64>,
    ) -> PyResult<Self> {
        let rows = read_one_batch(rows)?;
        let state = read_one_batch(state)?;
        let inner = MemoryTable::restore(rows, &state, last_batch_id).py()?;
        Ok(Self { inner })
    }

    /// Applies a plan made by `Pipeline.plan` on this table; returns like `Pipeline.run`.
    fn commit(&mut self, py: Python<'_>, plan: &Bound<'_, PlanCore>) -> PyResult<PyOutcome> {
        let plan = plan.borrow_mut().inner.take().ok_or_else(|| {
            super::errors::to_py(CdcError::Config("this plan was already committed".into()))
        })?;
        let target = &mut self.inner;
        let outcome = detached(py, || target.commit(plan)).py()?;
        outcome_to_py(py, outcome)
    }

    /// Records a batch id as applied without changes.
    fn mark_applied(&mut self, batch_id: i64) {
        self.inner.mark_applied(batch_id);
    }
}
