//! Delta deletion vectors for the Delta target: files written and read, Z85 text.
use std::sync::Arc;

use crate::arrow::array::{Array, ArrayRef, UInt64Array};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_arrow::PyArray;
use roaring::RoaringTreemap;

use super::errors::IntoPyResult;
use crate::deletion_vector as dv;
use crate::error::CdcError;

fn treemap(positions: PyArray) -> PyResult<RoaringTreemap> {
    let array = positions.array();
    let values = array
        .as_any()
        .downcast_ref::<UInt64Array>()
        .filter(|a| a.null_count() == 0)
        .ok_or_else(|| {
            CdcError::Input(format!(
                "deleted row positions must be uint64 without nulls, got {}",
                array.data_type()
            ))
        })
        .py()?;
    Ok(values.values().iter().copied().collect())
}

fn to_pyarrow(py: Python<'_>, positions: &RoaringTreemap) -> PyResult<Py<PyAny>> {
    let array: ArrayRef = Arc::new(UInt64Array::from_iter_values(positions.iter()));
    Ok(PyArray::from_array_ref(array).to_pyarrow(py)?.unbind())
}

/// Where each vector landed in its file: `(offset, sizeInBytes, cardinality)`.
type Descriptors = Vec<(u32, u32, u64)>;

/// One deletion vector file holding a vector per uint64 array of deleted row positions
/// (duplicates allowed), and each vector's `(offset, sizeInBytes, cardinality)`.
#[pyfunction]
pub fn deletion_vector_file(
    py: Python<'_>,
    vectors: Vec<PyArray>,
) -> PyResult<(Py<PyBytes>, Descriptors)> {
    let maps = vectors
        .into_iter()
        .map(treemap)
        .collect::<PyResult<Vec<_>>>()?;
    let (file, stored) = py.detach(|| dv::write_file(&maps));
    let stored = stored
        .into_iter()
        .map(|s| (s.offset, s.size, s.cardinality))
        .collect();
    Ok((PyBytes::new(py, &file).unbind(), stored))
}

/// The sorted deleted row positions (uint64) of the vector at `offset` of a deletion vector
/// file, or, without an offset, of `data` holding one vector inline (already Z85-decoded).
#[pyfunction]
#[pyo3(signature = (data, offset, size))]
pub fn read_deletion_vector(
    py: Python<'_>,
    data: &[u8],
    offset: Option<usize>,
    size: usize,
) -> PyResult<Py<PyAny>> {
    let positions = py
        .detach(|| match offset {
            Some(offset) => dv::read_from_file(data, offset, size),
            None => dv::decode(data.get(..size).unwrap_or(data)),
        })
        .py()?;
    to_pyarrow(py, &positions)
}

#[pyfunction]
pub fn z85_encode(data: &[u8]) -> PyResult<String> {
    dv::z85_encode(data).py()
}

#[pyfunction]
pub fn z85_decode(py: Python<'_>, text: &str) -> PyResult<Py<PyBytes>> {
    Ok(PyBytes::new(py, &dv::z85_decode(text).py()?).unbind())
}
