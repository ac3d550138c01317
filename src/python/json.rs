//! `from_json` and schema parsing for Python.
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::{PyArray, PySchema};

use super::detached;
use super::errors::IntoPyResult;
use crate::decode::{self, DecodeOptions, Mode};
use crate::error::CdcError;
use crate::schema::parse_ddl;

/// Spark's `from_json`: one struct per JSON value (see `cdc_rs.from_json`).
#[pyfunction]
#[pyo3(signature = (values, schema, mode = "PERMISSIVE", time_zone = "UTC"))]
pub fn from_json(
    py: Python<'_>,
    values: AnyArray,
    schema: &str,
    mode: &str,
    time_zone: &str,
) -> PyResult<Py<PyAny>> {
    let schema = parse_ddl(schema).py()?;
    let mode = match mode.to_ascii_uppercase().as_str() {
        "PERMISSIVE" => Mode::Permissive,
        "FAILFAST" => Mode::FailFast,
        other => {
            return Err(CdcError::Config(format!(
                "mode must be PERMISSIVE or FAILFAST, got {other:?}"
            )))
            .py()
        }
    };
    let options = DecodeOptions::new(mode, time_zone).py()?;
    let chunked = values.into_chunked_array()?;
    let (mut chunks, field) = chunked.into_inner();
    if chunks.is_empty() {
        chunks.push(crate::arrow::array::new_empty_array(field.data_type()));
    }
    let decoded = detached(py, || -> Result<_, CdcError> {
        let chunks: Vec<&dyn crate::arrow::array::Array> =
            chunks.iter().map(|c| c.as_ref()).collect();
        Ok(decode::from_json_chunks(&chunks, &schema, &options)?.into_struct())
    });
    let array: crate::arrow::array::ArrayRef = std::sync::Arc::new(decoded.py()?);
    Ok(PyArray::from_array_ref(array).to_pyarrow(py)?.unbind())
}

/// A DDL schema string as a `pyarrow.Schema`.
#[pyfunction]
pub fn parse_schema(py: Python<'_>, ddl: &str) -> PyResult<Py<PyAny>> {
    let schema = parse_ddl(ddl).py()?;
    Ok(PySchema::new(schema).into_pyarrow(py)?.unbind())
}
