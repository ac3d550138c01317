//! Arrow data handed over by Python, read into record batches without ever panicking.
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::errors::IntoPyResult;
use crate::error::CdcError;

/// All batches of `input` and their schema.
///
/// arrow-rs asserts (panics) on some valid foreign layouts, e.g. a sliced struct whose
/// children are sliced too: that becomes a `cdc_rs` input error, not a `PanicException`.
pub fn read_batches(input: AnyRecordBatch) -> PyResult<(Vec<RecordBatch>, SchemaRef)> {
    let reader = input.into_reader()?;
    let read = catch_unwind(AssertUnwindSafe(move || {
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>();
        (batches, schema)
    }));
    match read {
        Ok((batches, schema)) => Ok((batches.map_err(CdcError::from).py()?, schema)),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(CdcError::Input(format!(
                "the Arrow data could not be imported ({why}); copy the offending column \
                 first, e.g. with pyarrow.concat_arrays([column])"
            )))
            .py()
        }
    }
}

/// All of `input` as one record batch.
pub fn read_one_batch(input: AnyRecordBatch) -> PyResult<RecordBatch> {
    let (batches, schema) = read_batches(input)?;
    Ok(arrow::compute::concat_batches(&schema, &batches)
        .map_err(CdcError::from)
        .py()?)
}
