//! Places of a merge-on-read target's rows as row positions (see `crate::places`).
use std::sync::Arc;

use crate::arrow::array::{Array, ArrayRef, Int32Array, Int64Array, UInt32Array};
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use super::errors::IntoPyResult;
use crate::error::CdcError;

fn of<'a, T: 'static>(array: &'a ArrayRef, what: &str) -> PyResult<&'a T> {
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| CdcError::Input(format!("places: {what}, got {}", array.data_type())))
        .py()
}

/// `(positions, gone)`: the row position of each place (uint32, null where there is none)
/// and the indices of the places in files no longer live (uint32); see `crate::places`.
#[pyfunction]
pub fn place_positions(
    py: Python<'_>,
    files: PyArray,
    rows: PyArray,
    starts: PyArray,
    sizes: PyArray,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let (files, rows) = (files.array().clone(), rows.array().clone());
    let (starts, sizes) = (starts.array().clone(), sizes.array().clone());
    let files = of::<Int32Array>(&files, "file indices must be int32")?;
    let rows = of::<UInt32Array>(&rows, "rows must be uint32")?;
    let starts = of::<Int64Array>(&starts, "starts must be int64")?;
    let sizes = of::<Int64Array>(&sizes, "sizes must be int64")?;
    let (positions, gone) =
        crate::places::place_positions(files, rows, starts.values(), sizes.values()).py()?;
    let positions: ArrayRef = Arc::new(positions);
    let gone: ArrayRef = Arc::new(UInt32Array::from(gone));
    Ok((
        PyArray::from_array_ref(positions).to_pyarrow(py)?.unbind(),
        PyArray::from_array_ref(gone).to_pyarrow(py)?.unbind(),
    ))
}
