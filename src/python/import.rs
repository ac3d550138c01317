//! Arrow data handed over by Python, read into record batches without ever panicking.
use crate::arrow::datatypes::SchemaRef;
use crate::arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

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
    quiet_panics_while_importing();
    let batches = std::iter::from_fn(move || {
        match catch_unwind(AssertUnwindSafe(|| importing(|| reader.next()))) {
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
        }
    });
    Ok((batches, schema))
}

thread_local! {
    static IMPORTING: Cell<bool> = const { Cell::new(false) };
}

/// `read` with this thread marked as importing: a panic there is caught and becomes an
/// `InputError`, so it must not also print a Rust backtrace to the user's stderr.
fn importing<R>(read: impl FnOnce() -> R) -> R {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            IMPORTING.with(|flag| flag.set(false)); // on return and on unwind alike
        }
    }
    IMPORTING.with(|flag| flag.set(true));
    let _unmark = Unmark;
    read()
}

/// Installs (once) a panic hook that stays silent for panics inside [`importing`] and
/// prints every other panic as before. The hook is this extension's own: other Rust
/// libraries in the process keep theirs.
fn quiet_panics_while_importing() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IMPORTING.with(|flag| flag.get()) {
                previous(info);
            }
        }));
    });
}

/// All of `input` as one record batch.
pub fn read_one_batch(input: AnyRecordBatch) -> PyResult<RecordBatch> {
    let (batches, schema) = read_batches(input)?;
    crate::arrow::compute::concat_batches(&schema, &batches)
        .map_err(CdcError::from)
        .py()
}
