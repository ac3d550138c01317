//! cdc_rs: apply change-data-capture feeds to tables, in Rust over Arrow.
//!
//! The core modules know nothing of Python; `python` (behind the `python` feature) is the
//! only binding layer.
pub mod arrow;
pub mod bucket;
pub mod config;
pub mod decode;
pub mod deletion_vector;
pub mod enrich;
pub mod error;
pub mod gather;
pub mod interrupt;
pub mod keys;
pub mod latest;
pub mod merge;
pub mod pipeline;
pub mod places;
pub mod plan;
pub mod predicate;
pub mod read_parquet;
pub mod report;
pub mod schema;
pub mod screen;
pub mod short_bytes;
pub mod snapshot;
pub mod store;
pub mod table;
#[cfg(test)]
mod test_batches;
pub mod threads;

#[cfg(feature = "python")]
mod python;

pub use error::{CdcError, Result};
