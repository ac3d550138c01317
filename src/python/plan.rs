//! `PlanCore`: a batch's decided effect, for targets that write it out before committing.
use crate::arrow::array::{ArrayRef, UInt32Array};
use crate::arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyTable};
use std::collections::HashMap;
use std::sync::Arc;

use super::detached;
use super::errors::IntoPyResult;
use crate::error::{CdcError, Result};
use crate::plan::Plan;

#[pyclass(module = "cdc_rs._cdc_rs")]
pub struct PlanCore {
    pub inner: Option<Plan>,
}

pub fn table_or_none(py: Python<'_>, batch: Option<RecordBatch>) -> PyResult<Option<Py<PyAny>>> {
    match batch {
        None => Ok(None),
        Some(batch) => {
            let schema = batch.schema();
            Ok(Some(
                PyTable::try_new(vec![batch], schema)?
                    .into_pyarrow(py)?
                    .unbind(),
            ))
        }
    }
}

/// What `Pipeline.run` and `TableCore.commit` return: (counters, skipped_replay, rejected).
pub type PyOutcome = (HashMap<&'static str, u64>, bool, Option<Py<PyAny>>);

pub fn outcome_to_py(py: Python<'_>, outcome: crate::plan::Outcome) -> PyResult<PyOutcome> {
    let rejected = table_or_none(py, outcome.rejected)?;
    Ok((
        outcome.counts.fields().into_iter().collect(),
        outcome.skipped_replay,
        rejected,
    ))
}

/// Row positions as a pyarrow uint32 array (None: null).
fn positions(py: Python<'_>, rows: impl IntoIterator<Item = Option<u32>>) -> PyResult<Py<PyAny>> {
    let array: ArrayRef = Arc::new(UInt32Array::from_iter(rows));
    Ok(PyArray::from_array_ref(array).to_pyarrow(py)?.unbind())
}

impl PlanCore {
    fn plan(&self) -> PyResult<&Plan> {
        self.inner.as_ref().ok_or_else(|| {
            super::errors::to_py(CdcError::Config("this plan was already committed".into()))
        })
    }

    fn export(
        &self,
        py: Python<'_>,
        part: impl FnOnce(&Plan) -> Result<Option<RecordBatch>> + Send,
    ) -> PyResult<Option<Py<PyAny>>> {
        let plan = self.plan()?;
        let batch = detached(py, || part(plan)).py()?;
        table_or_none(py, batch)
    }
}

#[pymethods]
impl PlanCore {
    #[getter]
    fn batch_id(&self) -> PyResult<i64> {
        Ok(self.plan()?.batch_id)
    }

    #[getter]
    fn skipped_replay(&self) -> PyResult<bool> {
        Ok(self.plan()?.skipped_replay)
    }

    #[getter]
    fn counts(&self) -> PyResult<HashMap<&'static str, u64>> {
        Ok(self.plan()?.counts.fields().into_iter().collect())
    }

    /// Rejected input rows with a `reason`, or None.
    fn rejected(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let rejected = self.plan()?.rejected.clone();
        table_or_none(py, rejected)
    }

    /// Rows to insert or update (target columns), or None when the batch writes nothing.
    fn upserts(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.export(py, Plan::upserts)
    }

    /// Key columns of rows this batch deletes, or None.
    fn deletes(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.export(py, Plan::deletes)
    }

    /// Row positions whose rows this batch replaces or deletes, as a pyarrow uint32 array.
    fn replaced_rows(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        positions(py, self.plan()?.replaced_rows().into_iter().map(Some))
    }

    /// For each upserted row, the row position it replaces (uint32; null for an insert).
    fn upserted_from(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        positions(py, self.plan()?.upserted_from())
    }

    /// Row positions whose rows this batch deletes (uint32).
    fn deleted_rows(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        positions(py, self.plan()?.deleted_rows().into_iter().map(Some))
    }

    /// The key state written: `key.*`, `sequence.*`, `live`, one row per changed key; or None.
    fn state_changes(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.export(py, Plan::state_changes)
    }
}
