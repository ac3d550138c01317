//! Key hashes for the bucketed file layout of durable targets.
use std::sync::Arc;

use crate::arrow::array::{ArrayRef, UInt64Array};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyArray;

use super::detached;
use super::errors::IntoPyResult;
use super::import::read_one_batch;
use crate::bucket;

/// One stable 64-bit hash per row over all columns of `keys` (a table of key columns).
#[pyfunction]
pub fn key_hashes(py: Python<'_>, keys: AnyRecordBatch) -> PyResult<Py<PyAny>> {
    let batch = read_one_batch(keys)?;
    let hashes = detached(py, || bucket::key_hashes(batch.columns()));
    let array: ArrayRef = Arc::new(UInt64Array::from(hashes.py()?));
    Ok(PyArray::from_array_ref(array).to_pyarrow(py)?.unbind())
}
