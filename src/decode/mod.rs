//! Spark-compatible `from_json(value, schema)`: JSON text column -> Arrow struct columns.
//!
//! A byte-level walker (no DOM) parses each row straight into one builder per schema field.
//! Semantics follow Spark 4's JacksonParser in PERMISSIVE mode (pinned by
//! tests/golden/from_json_cases.json, generated from real Spark by tests/spark_golden.py):
//! a field value of the wrong type is null and the row is kept (partial results); malformed
//! JSON or a non-object top level gives an all-null row with the `malformed` bit; empty or
//! whitespace-only input is a null row; text after the closing brace is ignored.
mod base64;
mod builders;
mod datetime;
mod numbers;
mod parser;
mod scan;
mod strings;
mod tz;

use std::borrow::Cow;
use std::sync::Arc;

use crate::arrow::array::builder::BooleanBufferBuilder;
use crate::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StructArray};
use crate::arrow::buffer::{BooleanBuffer, NullBuffer};
use crate::arrow::datatypes::{DataType, Schema, SchemaRef};
use rayon::prelude::*;

pub use datetime::{cast_date, cast_timestamp, cast_timestamp_ntz};
pub use tz::TimeZone;

use crate::error::{CdcError, Result};
use builders::{nullable_field, StructBuilder};
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
    /// PERMISSIVE in UTC: Spark's defaults.
    pub fn utc() -> Self {
        DecodeOptions {
            mode: Mode::Permissive,
            time_zone: TimeZone::utc(),
        }
    }

    /// `time_zone`: "UTC", "+02:00", "America/New_York", ... (as Spark's session time zone).
    pub fn new(mode: Mode, time_zone: &str) -> Result<Self> {
        let tz = TimeZone::parse(time_zone.trim())
            .ok_or_else(|| CdcError::Config(format!("unknown time zone {time_zone:?}")))?;
        Ok(DecodeOptions {
            mode,
            time_zone: tz,
        })
    }
}

#[derive(Debug)]
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

/// Row-indexed view over the supported input array types (buffers extracted once).
enum Input<'a> {
    Off32 {
        offsets: &'a [i32],
        data: &'a [u8],
        nulls: Option<&'a NullBuffer>,
        binary: bool,
    },
    Off64 {
        offsets: &'a [i64],
        data: &'a [u8],
        nulls: Option<&'a NullBuffer>,
        binary: bool,
    },
    StrView(&'a crate::arrow::array::StringViewArray),
    BinView(&'a crate::arrow::array::BinaryViewArray),
}

impl<'a> Input<'a> {
    fn new(values: &'a dyn Array) -> Result<Self> {
        Ok(match values.data_type() {
            DataType::Utf8 => {
                let a = values.as_string::<i32>();
                Input::Off32 {
                    offsets: a.value_offsets(),
                    data: a.value_data(),
                    nulls: a.nulls(),
                    binary: false,
                }
            }
            DataType::LargeUtf8 => {
                let a = values.as_string::<i64>();
                Input::Off64 {
                    offsets: a.value_offsets(),
                    data: a.value_data(),
                    nulls: a.nulls(),
                    binary: false,
                }
            }
            DataType::Binary => {
                let a = values.as_binary::<i32>();
                Input::Off32 {
                    offsets: a.value_offsets(),
                    data: a.value_data(),
                    nulls: a.nulls(),
                    binary: true,
                }
            }
            DataType::LargeBinary => {
                let a = values.as_binary::<i64>();
                Input::Off64 {
                    offsets: a.value_offsets(),
                    data: a.value_data(),
                    nulls: a.nulls(),
                    binary: true,
                }
            }
            DataType::Utf8View => Input::StrView(values.as_string_view()),
            DataType::BinaryView => Input::BinView(values.as_binary_view()),
            other => {
                return Err(CdcError::Input(format!(
                    "from_json needs a string or binary column of JSON text, got {other}"
                )))
            }
        })
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a [u8]> {
        match *self {
            Input::Off32 {
                offsets,
                data,
                nulls,
                ..
            } => {
                if nulls.is_some_and(|n| n.is_null(i)) {
                    return None;
                }
                data.get(offsets[i] as usize..offsets[i + 1] as usize)
            }
            Input::Off64 {
                offsets,
                data,
                nulls,
                ..
            } => {
                if nulls.is_some_and(|n| n.is_null(i)) {
                    return None;
                }
                data.get(offsets[i] as usize..offsets[i + 1] as usize)
            }
            Input::StrView(a) => (!a.is_null(i)).then(|| a.value(i).as_bytes()),
            Input::BinView(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }

    /// Binary input: rows may hold invalid UTF-8 (string inputs are valid by type).
    fn is_binary(&self) -> bool {
        match *self {
            Input::Off32 { binary, .. } | Input::Off64 { binary, .. } => binary,
            Input::StrView(_) => false,
            Input::BinView(_) => true,
        }
    }

    /// Approximate bytes of JSON text, for chunking.
    fn byte_len(&self) -> usize {
        match *self {
            Input::Off32 { data, .. } | Input::Off64 { data, .. } => data.len(),
            Input::StrView(a) => a.get_buffer_memory_size(),
            Input::BinView(a) => a.get_buffer_memory_size(),
        }
    }
}

/// Rows per parallel chunk at least; below 2 chunks' worth we decode on the calling thread.
const MIN_CHUNK_ROWS: usize = 16 * 1024;
/// From here on both cores decode (and the chunks are concatenated): it pays from about 60k
/// rows (bench/RESULTS.md, "Decode at 100k").
pub(crate) const PARALLEL_MIN_ROWS: usize = 2 * MIN_CHUNK_ROWS;

/// Row ranges decoded in parallel: one below `PARALLEL_MIN_ROWS` rows or on one thread; else a
/// few per thread for balance, each of at least `MIN_CHUNK_ROWS` and at most ~256 MB of text.
fn chunk_ranges(n: usize, bytes: usize, threads: usize) -> Vec<(usize, usize)> {
    if n < PARALLEL_MIN_ROWS || threads < 2 {
        return vec![(0, n)];
    }
    let by_bytes = bytes / (256 << 20) + 1;
    let k = (threads * 4).max(by_bytes).min(n / MIN_CHUNK_ROWS).max(1);
    // few chunks: a whole number per thread, else one thread does twice the work of another
    // (60k rows made 3 chunks on 2 cores)
    let k = if k < threads * 4 && k > threads {
        k - k % threads
    } else {
        k
    };
    let per = n.div_ceil(k);
    (0..n).step_by(per).map(|s| (s, (s + per).min(n))).collect()
}

/// Decode `values` (JSON text per row) with the DDL-derived `schema`.
pub fn from_json(values: &dyn Array, schema: &SchemaRef, opts: &DecodeOptions) -> Result<Decoded> {
    from_json_at(values, None, schema, opts)
}

/// Like `from_json` over the rows of `chunks` in order (a chunked column), without first
/// concatenating their text (faster: bench/RESULTS.md, "Speed work log"). Row numbers in
/// errors count from the first chunk's first row.
pub fn from_json_chunks(
    chunks: &[&dyn Array],
    schema: &SchemaRef,
    opts: &DecodeOptions,
) -> Result<Decoded> {
    if chunks.is_empty() {
        return Err(CdcError::Input(
            "from_json_chunks needs at least one chunk".into(),
        ));
    }
    let mut pieces = Vec::with_capacity(chunks.len());
    let mut first_row = 0;
    for &values in chunks {
        pieces.push(Piece {
            input: Input::new(values)?,
            at: Selection { rows: None },
            rows: values.len(),
            first_row,
        });
        first_row += values.len();
    }
    decode_pieces(&pieces, schema, opts)
}

/// Like `from_json`, but only the rows at `rows` (ascending), in that order: a topic filter
/// costs no copy of the JSON text. Row numbers in errors are positions in `values`.
pub fn from_json_at(
    values: &dyn Array,
    rows: Option<&[u32]>,
    schema: &SchemaRef,
    opts: &DecodeOptions,
) -> Result<Decoded> {
    let input = Input::new(values)?;
    if let Some(bad) = rows.and_then(|r| r.iter().find(|&&i| i as usize >= values.len())) {
        return Err(CdcError::Input(format!(
            "row {bad} is out of range for {} values",
            values.len()
        )));
    }
    let piece = Piece {
        input,
        at: Selection { rows },
        rows: rows.map_or(values.len(), <[u32]>::len),
        first_row: 0,
    };
    decode_pieces(std::slice::from_ref(&piece), schema, opts)
}

/// One input array (or the selected rows of one) and where its rows start in the output.
struct Piece<'a> {
    input: Input<'a>,
    at: Selection<'a>,
    rows: usize,
    first_row: usize,
}

/// Decodes the pieces' rows in order: each piece cut into row ranges, all ranges decoded in
/// parallel, the parts' columns concatenated.
fn decode_pieces(pieces: &[Piece], schema: &SchemaRef, opts: &DecodeOptions) -> Result<Decoded> {
    for f in schema.fields() {
        builders::check_type(f.data_type())?;
    }
    let out_schema: SchemaRef = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| nullable_field(f))
            .collect::<Vec<_>>(),
    ));
    let n: usize = pieces.iter().map(|p| p.rows).sum();
    let threads = rayon::current_num_threads();
    let ranges: Vec<(&Piece, usize, usize)> = pieces
        .iter()
        .flat_map(|p| {
            chunk_ranges(p.rows, p.input.byte_len(), threads)
                .into_iter()
                .map(move |(s, e)| (p, s, e))
        })
        .collect();
    let decode = |&(p, s, e): &(&Piece, usize, usize)| {
        decode_range(&p.input, p.at, &out_schema, opts, s, e).map_err(|err| match err {
            CdcError::Decode { row, message } => CdcError::Decode {
                row: row + p.first_row,
                message,
            },
            other => other,
        })
    };
    let parts: Vec<Result<Part>> = if ranges.len() == 1 {
        vec![decode(&ranges[0])]
    } else {
        ranges.par_iter().map(decode).collect()
    };
    let mut parts_ok = Vec::with_capacity(parts.len());
    for p in parts {
        parts_ok.push(p?); // range order == row order: the first error is the first bad row
    }
    let (columns, malformed, nulls) = if parts_ok.len() == 1 {
        let p = parts_ok.pop().unwrap();
        (p.columns, p.malformed, p.valid)
    } else {
        let ncols = out_schema.fields().len();
        // columns are independent: concatenate them in parallel
        let columns = (0..ncols)
            .into_par_iter()
            .map(|c| {
                let arrs: Vec<&dyn Array> =
                    parts_ok.iter().map(|p| p.columns[c].as_ref()).collect();
                crate::arrow::compute::concat(&arrs)
            })
            .collect::<Result<Vec<_>, _>>()?;
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
        &crate::arrow::array::RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    Ok(Decoded {
        batch,
        malformed,
        nulls,
    })
}

/// Which input row each decoded row reads: all of them, or the selected ones.
#[derive(Clone, Copy)]
struct Selection<'a> {
    rows: Option<&'a [u32]>,
}

impl Selection<'_> {
    #[inline]
    fn get(&self, k: usize) -> usize {
        self.rows.map_or(k, |r| r[k] as usize)
    }
}

struct Part {
    columns: Vec<ArrayRef>,
    malformed: BooleanBuffer,
    valid: BooleanBuffer,
}

/// Decodes output rows `start..end` (input rows `at.get(k)`).
fn decode_range(
    input: &Input,
    at: Selection,
    schema: &SchemaRef,
    opts: &DecodeOptions,
    start: usize,
    end: usize,
) -> Result<Part> {
    let mut root = StructBuilder::new(schema.fields());
    let mut p = Parser::new(&opts.time_zone);
    let mut malformed = BooleanBufferBuilder::new(end - start);
    let mut valid = BooleanBufferBuilder::new(end - start);
    let binary = input.is_binary();
    for k in start..end {
        if k == start + 1024 && end - start > 4096 {
            root.reserve_like(1024, end - k);
        }
        let row = at.get(k);
        let Some(raw) = input.get(row) else {
            root.null();
            malformed.append(false);
            valid.append(false);
            continue;
        };
        let mark = root.len();
        let mut text: Cow<[u8]> = Cow::Borrowed(raw);
        let mut outcome = p.row(raw, &mut root);
        // Binary input is CAST(binary AS STRING) then Jackson: invalid sequences read as U+FFFD.
        // A row whose strings were all ASCII and that parsed is valid UTF-8 up to its closing
        // brace (what follows is ignored), so the lossy text would parse the same. Otherwise
        // check the whole row, and on invalid UTF-8 parse the lossy text instead, exactly as
        // if every row were checked (malformed rows too, for the same FailFast message).
        if binary
            && (p.non_ascii || matches!(outcome, RowOutcome::Malformed))
            && std::str::from_utf8(raw).is_err()
        {
            root.truncate(mark);
            text = Cow::Owned(utf8_lossy_java(raw));
            outcome = p.row(&text, &mut root);
        }
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
                    return Err(CdcError::Decode {
                        row,
                        message: malformed_message(&text),
                    });
                }
                (true, true)
            }
        };
        valid.append(is_valid);
        malformed.append(is_malformed);
    }
    let columns = root.finish_children()?;
    Ok(Part {
        columns,
        malformed: malformed.finish(),
        valid: valid.finish(),
    })
}

/// UTF-8 with invalid sequences replaced by U+FFFD the way Java's decoder does (Spark reads
/// the bytes through an `InputStreamReader`): like `from_utf8_lossy`, except that an encoded
/// surrogate (ED A0..BF 80..BF) is one malformed 3-byte sequence.
fn utf8_lossy_java(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + 8);
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.extend_from_slice(s.as_bytes());
                return out;
            }
            Err(e) => {
                let ok = e.valid_up_to();
                out.extend_from_slice(&b[..ok]);
                out.extend_from_slice("\u{FFFD}".as_bytes());
                let rest = &b[ok..];
                let skip = if rest.len() >= 3
                    && rest[0] == 0xED
                    && (0xA0..=0xBF).contains(&rest[1])
                    && (0x80..=0xBF).contains(&rest[2])
                {
                    3
                } else {
                    match e.error_len() {
                        Some(n) => n,
                        None => return out,
                    }
                };
                b = &rest[skip..];
            }
        }
    }
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
