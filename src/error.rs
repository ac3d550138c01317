//! The one error type of the core. The Python layer maps each variant to a `cdc_rs` exception.
use arrow::error::ArrowError;

#[derive(Debug, thiserror::Error)]
pub enum CdcError {
    /// A DDL schema string that does not parse; `position` is a 0-based character offset.
    #[error("invalid schema at position {position}: {message}\n  {ddl}\n  {caret:>width$}", caret = "^", width = position + 1)]
    Schema {
        ddl: String,
        position: usize,
        message: String,
    },

    /// FAILFAST decoding met a value that is not a JSON object of the schema.
    #[error("malformed JSON at row {row}: {message}")]
    Decode { row: usize, message: String },

    /// A configuration that cannot work (bad option, missing column, duplicate lookup key...).
    #[error("{0}")]
    Config(String),

    /// The batch does not have the shape the pipeline needs (missing or mistyped column).
    #[error("{0}")]
    Input(String),

    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

pub type Result<T, E = CdcError> = std::result::Result<T, E>;
