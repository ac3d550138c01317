//! Arrow data handed over by Python, read into record batches without ever panicking.
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::errors::IntoPyResult;
use crate::error::CdcError;

/// All batches of `input` and their schema.
pub fn read_batches(input: AnyRecordBatch) -> PyResult<(Vec<RecordBatch>, SchemaRef)> {
    let (batches, schema) = stream_batches(input)?;
    Ok((batches.collect::<Result<Vec<_>, _>>().py()?, schema))
}

/// The batches of `input` as they are read (a stream is not read ahead of its consumer),
/// and their schema.
///
/// arrow-rs asserts (panics) on some valid foreign layouts, e.g. a sliced struct whose
/// children are sliced too: that becomes a `cdc_rs` input error, not a `PanicException`.
pub fn stream_batches(
    input: AnyRecordBatch,
) -> PyResult<(
    impl Iterator<Item = Result<RecordBatch, CdcError>> + Send,
    SchemaRef,
)> {
    let mut reader = input.into_reader()?;
    let schema = reader.schema();
    let batches =
        std::iter::from_fn(
            move || match catch_unwind(AssertUnwindSafe(|| reader.next())) {
                Ok(batch) => batch.map(|b| b.map_err(CdcError::from)),
                Err(panic) => {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Some(Err(CdcError::Input(format!(
                        "the Arrow data could not be imported ({why}); copy the offending column \
                     first, e.g. with pyarrow.concat_arrays([column])"
                    ))))
                }
            },
        );
    Ok((batches, schema))
}

/// All of `input` as one record batch.
pub fn read_one_batch(input: AnyRecordBatch) -> PyResult<RecordBatch> {
    let (batches, schema) = read_batches(input)?;
    Ok(arrow::compute::concat_batches(&schema, &batches)
        .map_err(CdcError::from)
        .py()?)
}
