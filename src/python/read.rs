//! `read_parquet` for Python: the file's columns as a `pyarrow.Table` of view arrays.
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3_arrow::PyTable;

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
    let (batches, schema) = py
        .detach(|| core::read_parquet(&path, columns.as_deref()))
        .py()?;
    Ok(PyTable::try_new(batches, schema)?
        .into_pyarrow(py)?
        .unbind())
}
