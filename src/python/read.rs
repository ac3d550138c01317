//! Parquet reading for Python: a whole file as a `pyarrow.Table`, or a lazy scan as a
//! `pyarrow.RecordBatchReader`; byte columns as view arrays.
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3_arrow::{PyRecordBatchReader, PyTable};

use super::detached;
use super::errors::IntoPyResult;
use crate::read_parquet as core;

/// See `cdc_rs.read_parquet`.
#[pyfunction]
#[pyo3(signature = (path, columns = None))]
pub fn read_parquet(
    py: Python<'_>,
    path: PathBuf,
    columns: Option<Vec<String>>,
) -> PyResult<Py<PyAny>> {
    let (batches, schema) = detached(py, || core::read_parquet(&path, columns.as_deref())).py()?;
    Ok(PyTable::try_new(batches, schema)?
        .into_pyarrow(py)?
        .unbind())
}

/// See `cdc_rs.scan_parquet`.
#[pyfunction]
#[pyo3(signature = (path, columns = None, batch_rows = 65536, read_ahead = 1))]
pub fn scan_parquet(
    py: Python<'_>,
    path: PathBuf,
    columns: Option<Vec<String>>,
    batch_rows: usize,
    read_ahead: usize,
) -> PyResult<Py<PyAny>> {
    let scan = detached(py, || {
        core::scan_parquet(&path, columns.as_deref(), batch_rows, read_ahead)
    })
    .py()?;
    Ok(PyRecordBatchReader::new(Box::new(scan))
        .into_pyarrow(py)?
        .unbind())
}
