//! SQL predicates over event columns (`apply_as_deletes=`, `where=`), as Databricks AUTO CDC
//! takes them: parsed once when the upsert is built, evaluated per screened part with Arrow's
//! comparison kernels and SQL's three-valued logic (NULL is "unknown").
//!
//! The grammar is a small part of Spark SQL: names (plain, or `backquoted`), literals
//! (numbers, `'text'`, TRUE, FALSE, NULL), `= == <> != < <= > >=`, `[NOT] IN (…)`,
//! `IS [NOT] NULL`, `NOT`, `AND`, `OR` and parentheses. A name matches its column ignoring
//! case, as Spark resolves it; when several columns match so, only the exact spelling does.
mod compare;
mod eval;
mod lex;
mod numbers;
mod parse;

use crate::arrow::array::{BooleanArray, RecordBatch};
use crate::arrow::datatypes::SchemaRef;
use crate::decode::TimeZone;
use crate::error::{CdcError, Result};

/// A parsed predicate, ready to evaluate on batches of event columns.
#[derive(Clone, Debug)]
pub struct Predicate {
    /// The option it was given as (`where=`), for errors.
    option: String,
    text: String,
    expr: parse::Expr,
}

impl Predicate {
    /// Parses `text`; a syntax error names `option` and points at the offending token.
    pub fn parse(option: &str, text: &str) -> Result<Self> {
        let expr = lex::tokens(text).and_then(|tokens| parse::parse(&tokens));
        match expr {
            Ok(expr) => Ok(Predicate {
                option: option.to_string(),
                text: text.to_string(),
                expr,
            }),
            Err(failure) => Err(failure.into_error(option, text)),
        }
    }

    /// The predicate as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Per row of `rows`: true, false or null (unknown). String literals compared with
    /// timestamps are read in `time_zone` unless they carry their own offset.
    pub fn evaluate(&self, rows: &RecordBatch, time_zone: &TimeZone) -> Result<BooleanArray> {
        eval::condition(&self.expr, &eval::Rows::new(rows, time_zone))
            .map_err(|f| f.into_error(&self.option, &self.text))
    }

    /// Checks the names and types against the columns of `schema` (what evaluating it on
    /// such a batch would raise), before any batch arrives.
    pub fn check(&self, schema: &SchemaRef, time_zone: &TimeZone) -> Result<()> {
        self.evaluate(&RecordBatch::new_empty(schema.clone()), time_zone)
            .map(|_| ())
    }
}

/// Why a predicate cannot be read or evaluated, and where in its text.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Character offset in the predicate.
    pub at: usize,
    pub message: String,
}

impl Failure {
    fn new(at: usize, message: impl Into<String>) -> Self {
        Failure {
            at,
            message: message.into(),
        }
    }

    fn into_error(self, option: &str, text: &str) -> CdcError {
        CdcError::Predicate {
            option: option.to_string(),
            text: text.to_string(),
            position: self.at,
            message: self.message,
        }
    }
}

#[cfg(test)]
mod tests;
