//! Spark-compatible `from_json(value, schema)`: JSON text column -> Arrow struct columns.
//!
//! A byte-level walker (no DOM) parses each row straight into one builder per schema field.
//! Semantics follow Spark 4's JacksonParser in PERMISSIVE mode (pinned by
//! tests/golden/from_json_cases.json, generated from real Spark by tests/spark_golden.py):
//! a field value of the wrong type is null and the row is kept (partial results); malformed
//! JSON or a non-object top level gives an all-null row with the `malformed` bit; empty or
//! whitespace-only input is a null row; text after the closing brace is ignored.
mod builders;
mod datetime;
mod numbers;
mod parser;
mod scan;
mod tz;

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StructArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::array::builder::BooleanBufferBuilder;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use rayon::prelude::*;

pub use tz::TimeZone;

use crate::error::{CdcError, Result};
use builders::{nullable_field, StructB};
use parser::{Parser, RowOutcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Permissive,
    FailFast,
}

#[derive(Clone, Debug)]
pub struct DecodeOptions {
    pub mode: Mode,
    pub time_zone: TimeZone,
}

impl DecodeOptions {
    /// `time_zone`: "UTC", "+02:00", "America/New_York", ... (as Spark's session time zone).
    pub fn new(mode: Mode, time_zone: &str) -> Result<Self> {
        let tz = TimeZone::parse(time_zone.trim())
            .ok_or_else(|| CdcError::Config(format!("unknown time zone {time_zone:?}")))?;
        Ok(DecodeOptions { mode, time_zone: tz })
    }
}

pub struct Decoded {
    /// One column per schema field, all nullable, len == input len.
    pub batch: RecordBatch,
    /// True where the input was not null/empty and not a parsable JSON object.
    pub malformed: BooleanBuffer,
    /// Validity of the input values (null, empty or all-whitespace input -> invalid).
    pub nulls: Option<NullBuffer>,
}

impl Decoded {
    /// Spark's shape: null input -> null struct; malformed -> non-null struct of nulls.
    pub fn into_struct(self) -> StructArray {
        let fields = self.batch.schema().fields().clone();
        let cols = self.batch.columns().to_vec();
        let len = self.batch.num_rows();
        if fields.is_empty() {
            return StructArray::new_empty_fields(len, self.nulls);
        }
        StructArray::new(fields, cols, self.nulls)
    }
}

/// Row-indexed view over the supported input array types.
enum Input<'a> {
    Str(&'a dyn Array, Kind),
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Utf8,
    LargeUtf8,
    Utf8View,
    Binary,
    LargeBinary,
    BinaryView,
}

impl<'a> Input<'a> {
    fn new(values: &'a dyn Array) -> Result<Self> {
        let k = match values.data_type() {
            DataType::Utf8 => Kind::Utf8,
            DataType::LargeUtf8 => Kind::LargeUtf8,
            DataType::Utf8View => Kind::Utf8View,
            DataType::Binary => Kind::Binary,
            DataType::LargeBinary => Kind::LargeBinary,
            DataType::BinaryView => Kind::BinaryView,
            other => {
                return Err(CdcError::Input(format!(
                    "from_json needs a string or binary column of JSON text, got {other}"
                )))
            }
        };
        Ok(Input::Str(values, k))
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a [u8]> {
        let Input::Str(a, k) = *self;
        if a.is_null(i) {
            return None;
        }
        Some(match k {
            Kind::Utf8 => a.as_string::<i32>().value(i).as_bytes(),
            Kind::LargeUtf8 => a.as_string::<i64>().value(i).as_bytes(),
            Kind::Utf8View => a.as_string_view().value(i).as_bytes(),
            Kind::Binary => a.as_binary::<i32>().value(i),
            Kind::LargeBinary => a.as_binary::<i64>().value(i),
            Kind::BinaryView => a.as_binary_view().value(i),
        })
    }

    fn is_binary(&self) -> bool {
        let Input::Str(_, k) = *self;
        matches!(k, Kind::Binary | Kind::LargeBinary | Kind::BinaryView)
    }

    /// Approximate bytes of JSON text, for chunking.
    fn byte_len(&self) -> usize {
        let Input::Str(a, _) = *self;
        a.get_buffer_memory_size()
    }
}

/// Rows per parallel chunk at least; below 2 chunks' worth we decode on the calling thread.
const MIN_CHUNK_ROWS: usize = 16 * 1024;
const PARALLEL_MIN_ROWS: usize = 64 * 1024;

/// Decode `values` (JSON text per row) with the DDL-derived `schema`.
pub fn from_json(values: &dyn Array, schema: &SchemaRef, opts: &DecodeOptions) -> Result<Decoded> {
    let input = Input::new(values)?;
    let out_schema: SchemaRef =
        Arc::new(Schema::new(schema.fields().iter().map(|f| nullable_field(f)).collect::<Vec<_>>()));
    let n = values.len();
    let threads = rayon::current_num_threads().max(1);
    let chunks: Vec<(usize, usize)> = if n >= PARALLEL_MIN_ROWS && threads > 1 {
        // a few chunks per thread for balance, but chunks of at most ~256 MB of text
        let by_bytes = input.byte_len() / (256 << 20) + 1;
        let k = (threads * 4).max(by_bytes).min(n / MIN_CHUNK_ROWS).max(1);
        let per = n.div_ceil(k);
        (0..n).step_by(per).map(|s| (s, (s + per).min(n))).collect()
    } else {
        vec![(0, n)]
    };
    let parts: Vec<Result<Part>> = if chunks.len() == 1 {
        vec![decode_range(&input, &out_schema, opts, 0, n)]
    } else {
        chunks.par_iter().map(|&(s, e)| decode_range(&input, &out_schema, opts, s, e)).collect()
    };
    let mut parts_ok = Vec::with_capacity(parts.len());
    for p in parts {
        parts_ok.push(p?); // chunk order == row order: the first error is the first bad row
    }
    let (columns, malformed, nulls) = if parts_ok.len() == 1 {
        let p = parts_ok.pop().unwrap();
        (p.columns, p.malformed, p.valid)
    } else {
        let ncols = out_schema.fields().len();
        let mut columns = Vec::with_capacity(ncols);
        for c in 0..ncols {
            let arrs: Vec<&dyn Array> = parts_ok.iter().map(|p| p.columns[c].as_ref()).collect();
            columns.push(arrow::compute::concat(&arrs)?);
        }
        let mut m = BooleanBufferBuilder::new(n);
        let mut v = BooleanBufferBuilder::new(n);
        for p in &parts_ok {
            m.append_buffer(&p.malformed);
            v.append_buffer(&p.valid);
        }
        (columns, m.finish(), v.finish())
    };
    let nulls = NullBuffer::new(nulls);
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    let batch = RecordBatch::try_new_with_options(
        out_schema,
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    Ok(Decoded { batch, malformed, nulls })
}

struct Part {
    columns: Vec<ArrayRef>,
    malformed: BooleanBuffer,
    valid: BooleanBuffer,
}

fn decode_range(input: &Input, schema: &SchemaRef, opts: &DecodeOptions, start: usize, end: usize) -> Result<Part> {
    let mut root = StructB::new(schema.fields());
    let mut p = Parser::new(&opts.time_zone);
    let mut malformed = BooleanBufferBuilder::new(end - start);
    let mut valid = BooleanBufferBuilder::new(end - start);
    let binary = input.is_binary();
    for row in start..end {
        let Some(raw) = input.get(row) else {
            root.null();
            malformed.append(false);
            valid.append(false);
            continue;
        };
        let text: Cow<[u8]> = if binary && std::str::from_utf8(raw).is_err() {
            // CAST(binary AS STRING) then Jackson: invalid sequences read as U+FFFD
            Cow::Owned(String::from_utf8_lossy(raw).into_owned().into_bytes())
        } else {
            Cow::Borrowed(raw)
        };
        let outcome = p.row(&text, &mut root);
        let (is_valid, is_malformed) = match outcome {
            RowOutcome::Null => (false, false),
            RowOutcome::Ok => (true, false),
            RowOutcome::Partial => {
                if opts.mode == Mode::FailFast {
                    return Err(CdcError::Decode {
                        row,
                        message: "a field value does not match its schema type".into(),
                    });
                }
                (true, false)
            }
            RowOutcome::Malformed => {
                if opts.mode == Mode::FailFast {
                    return Err(CdcError::Decode { row, message: malformed_message(&text) });
                }
                (true, true)
            }
        };
        valid.append(is_valid);
        malformed.append(is_malformed);
    }
    let columns = root.finish_children()?;
    Ok(Part { columns, malformed: malformed.finish(), valid: valid.finish() })
}

fn malformed_message(text: &[u8]) -> String {
    let t = String::from_utf8_lossy(&text[..text.len().min(80)]).into_owned();
    let first = text.iter().find(|c| !c.is_ascii_whitespace());
    match first {
        Some(b'[') => format!("a JSON array cannot be parsed as a struct: {t:?}"),
        Some(b'{') => format!("invalid JSON: {t:?}"),
        _ => format!("not a JSON object: {t:?}"),
    }
}

#[cfg(test)]
mod tests;
