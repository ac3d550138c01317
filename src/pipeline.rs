//! One micro-batch, end to end: screen rows (topic, decode, operation, nulls, lookup), keep
//! the newest event per key, and merge the winners into the target.
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{cast, concat_batches, filter, filter_record_batch, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::decode::{self, DecodeOptions};
use crate::enrich::{JoinHow, Lookup};
use crate::error::{CdcError, Result};
use crate::latest::latest_per_key;
use crate::report::{Counts, Reason};
use crate::plan::{Outcome, Plan};
use crate::table::{Changes, Layout, MemoryTable};

/// Everything `batch_upsert` is configured with, already validated and parsed.
#[derive(Debug)]
pub struct Config {
    pub keys: Vec<String>,
    pub sequence_by: Vec<String>,
    /// With a schema, batches are bronze: JSON text in `value_column`.
    pub value_schema: Option<SchemaRef>,
    pub value_column: String,
    pub topic: Option<String>,
    pub topic_column: String,
    pub operation_column: Option<String>,
    pub upsert_operations: Vec<String>,
    pub delete_operations: Vec<String>,
    pub lookup: Option<Lookup>,
    pub columns: Option<Vec<String>>,
    pub except_columns: Vec<String>,
    pub decode: DecodeOptions,
}


pub struct Pipeline {
    config: Config,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Upsert,
    Delete,
    Ignored,
}

/// The rows of one input chunk that survive screening.
struct Screened {
    /// Enriched rows (decoded fields or the input's columns, then the lookup's).
    rows: RecordBatch,
    is_delete: Vec<bool>,
    /// (input row, reason), in input order.
    rejected: Vec<(u32, Reason)>,
    counts: Counts,
}

impl Pipeline {
    pub fn new(config: Config) -> Result<Self> {
        let c = &config;
        if c.keys.is_empty() {
            return Err(CdcError::Config("keys must name at least one column".into()));
        }
        if c.sequence_by.is_empty() {
            return Err(CdcError::Config("sequence_by must name at least one column".into()));
        }
        if c.columns.is_some() && !c.except_columns.is_empty() {
            return Err(CdcError::Config("give columns or except_column_list, not both".into()));
        }
        if let Some(op) = c.upsert_operations.iter().find(|op| c.delete_operations.contains(op)) {
            return Err(CdcError::Config(format!("operation {op:?} is both an upsert and a delete")));
        }
        if c.operation_column.is_none() && !c.delete_operations.is_empty() {
            return Err(CdcError::Config("delete_operations needs operation_column".into()));
        }
        if let Some(schema) = &c.value_schema {
            for name in c.keys.iter().chain(&c.sequence_by).chain(&c.operation_column) {
                if schema.column_with_name(name).is_none() {
                    return Err(CdcError::Config(format!(
                        "column {name:?} is not in value_schema (fields: {:?})",
                        schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                    )));
                }
            }
        }
        Ok(Self { config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Applies one micro-batch (given as its record batches) to `table`.
    pub fn run(&self, chunks: &[RecordBatch], batch_id: i64, table: &mut MemoryTable) -> Result<Outcome> {
        let plan = self.plan(chunks, batch_id, table)?;
        table.commit(plan)
    }

    /// Everything `run` would do to `table`, decided without changing it: a durable target
    /// writes the plan out first and commits it to its in-memory state only once that held.
    pub fn plan(&self, chunks: &[RecordBatch], batch_id: i64, table: &MemoryTable) -> Result<Plan> {
        let rows_in: u64 = chunks.iter().map(|c| c.num_rows() as u64).sum();
        let mut plan = Plan::new(batch_id, table, Counts { rows_in, ..Counts::default() });
        if table.last_batch_id().is_some_and(|last| batch_id <= last) {
            plan.skipped_replay = true;
            return Ok(plan);
        }
        let screened = chunks
            .par_iter()
            .map(|chunk| self.screen(chunk))
            .collect::<Result<Vec<_>>>()?;
        for s in &screened {
            plan.counts.add(&s.counts);
        }
        plan.rejected = rejected_rows(chunks, &screened)?;
        let Some(first) = screened.first() else {
            return Ok(plan); // no record batches: applied, changing nothing
        };
        let candidates = concat_batches(&first.rows.schema(), screened.iter().map(|s| &s.rows))?;
        if candidates.num_rows() == 0 && table.schema().is_none() {
            return Ok(plan); // let a batch with rows fix the target's columns and types
        }
        let is_delete: Vec<bool> = screened.iter().flat_map(|s| s.is_delete.iter().copied()).collect();

        let target_schema = self.target_schema(table, &candidates.schema())?;
        let layout = match table.layout() {
            Some(layout) => layout.clone(),
            None => self.layout(&candidates.schema())?,
        };
        let latest = latest_per_key(
            &layout.keys.encode(&self.columns(&candidates, &self.config.keys)?)?,
            &layout.sequences.encode(&self.columns(&candidates, &self.config.sequence_by)?)?,
        );
        plan.counts.superseded = latest.superseded as u64;
        let winners = take_record_batch(&candidates, &UInt32Array::from(latest.winners.clone()))?;
        let changes = Changes {
            keys: layout.keys.encode(&self.columns(&winners, &self.config.keys)?)?,
            sequences: layout.sequences.encode(&self.columns(&winners, &self.config.sequence_by)?)?,
            is_delete: latest.winners.iter().map(|&i| is_delete[i as usize]).collect(),
            rows: winners,
        };
        let actions = table.plan(&changes);
        plan.set_changes(changes, actions, target_schema, layout);
        Ok(plan)
    }

    /// Screens one input chunk, in the report's order.
    fn screen(&self, chunk: &RecordBatch) -> Result<Screened> {
        let c = &self.config;
        let mut counts = Counts::default();
        let mut rejected = Vec::new();

        // Input rows still in play, and the rows (decoded or as given) they stand for.
        let mut at: Vec<u32> = (0..chunk.num_rows() as u32).collect();
        let mut in_topic = None;
        if let Some(topic) = &c.topic {
            let topics = string_column(chunk, &c.topic_column, "topic")?;
            let mask: BooleanArray =
                (0..chunk.num_rows()).map(|i| Some(topics.is_valid(i) && topics.value(i) == topic)).collect();
            at.retain(|&i| mask.value(i as usize));
            counts.other_topics = (chunk.num_rows() - at.len()) as u64;
            if at.len() < chunk.num_rows() {
                in_topic = Some(mask);
            }
        }
        let mut rows = match &c.value_schema {
            None => match &in_topic {
                None => chunk.clone(),
                Some(mask) => filter_record_batch(chunk, mask)?,
            },
            Some(schema) => {
                // Only the JSON column is needed (rejects are taken from the input later).
                let values = chunk
                    .column_by_name(&c.value_column)
                    .ok_or_else(|| missing(&chunk.schema(), &c.value_column, "the bronze value column"))?;
                let values = match &in_topic {
                    None => values.clone(),
                    Some(mask) => filter(values.as_ref(), mask)?,
                };
                let decoded = decode::from_json(values.as_ref(), schema, &c.decode)?;
                // Null, empty and blank values are null structs in Spark: not an object either.
                let good: Vec<bool> = (0..values.len())
                    .map(|i| decoded.nulls.as_ref().is_none_or(|n| n.is_valid(i)) && !decoded.malformed.value(i))
                    .collect();
                let mut keep = Vec::with_capacity(at.len());
                for (i, &ok) in good.iter().enumerate() {
                    if ok {
                        keep.push(at[i]);
                    } else {
                        rejected.push((at[i], Reason::MalformedJson));
                    }
                }
                counts.malformed = (at.len() - keep.len()) as u64;
                if keep.len() == at.len() {
                    decoded.batch
                } else {
                    at = keep;
                    filter_record_batch(&decoded.batch, &BooleanArray::from(good))?
                }
            }
        };

        // Per-row decisions over `rows`; one filter at the end.
        let ops = self.operations(&rows)?;
        let null_key = any_null(&self.columns(&rows, &c.keys)?);
        let null_sequence = any_null(&self.columns(&rows, &c.sequence_by)?);
        let matches = match &c.lookup {
            Some(lookup) => Some(lookup.probe(&rows)?),
            None => None,
        };
        let mut keep = vec![false; rows.num_rows()];
        let mut is_delete = Vec::with_capacity(rows.num_rows());
        let mut enrich_with = Vec::with_capacity(rows.num_rows());
        for i in 0..rows.num_rows() {
            let op = ops[i];
            let reason = if op == Op::Ignored {
                counts.ignored_operations += 1;
                continue;
            } else if null_key[i] {
                counts.null_keys += 1;
                Reason::NullKey
            } else if null_sequence[i] {
                counts.null_sequences += 1;
                Reason::NullSequence
            } else {
                let found = matches.as_ref().and_then(|m| m[i]);
                let inner = c.lookup.as_ref().is_some_and(|l| l.how() == JoinHow::Inner);
                if op == Op::Upsert && inner && found.is_none() {
                    counts.lookup_misses += 1;
                    Reason::LookupMiss
                } else {
                    keep[i] = true;
                    is_delete.push(op == Op::Delete);
                    enrich_with.push(if op == Op::Delete { None } else { found });
                    continue;
                }
            };
            rejected.push((at[i], reason));
        }
        rejected.sort_unstable_by_key(|(row, _)| *row);
        if keep.iter().any(|k| !k) {
            rows = filter_record_batch(&rows, &BooleanArray::from(keep))?;
        }
        if let Some(lookup) = &c.lookup {
            rows = lookup.append(&rows, &enrich_with)?;
        }
        Ok(Screened { rows, is_delete, rejected, counts })
    }

    fn operations(&self, rows: &RecordBatch) -> Result<Vec<Op>> {
        let c = &self.config;
        let Some(name) = &c.operation_column else {
            return Ok(vec![Op::Upsert; rows.num_rows()]);
        };
        let ops = string_column(rows, name, "operation")?;
        Ok((0..rows.num_rows())
            .map(|i| {
                if ops.is_null(i) {
                    return Op::Ignored;
                }
                let op = ops.value(i);
                if c.upsert_operations.iter().any(|u| u == op) {
                    Op::Upsert
                } else if c.delete_operations.iter().any(|d| d == op) {
                    Op::Delete
                } else {
                    Op::Ignored
                }
            })
            .collect())
    }

    fn columns(&self, rows: &RecordBatch, names: &[String]) -> Result<Vec<ArrayRef>> {
        names
            .iter()
            .map(|name| {
                rows.column_by_name(name)
                    .cloned()
                    .ok_or_else(|| missing(&rows.schema(), name, "a key or sequence column"))
            })
            .collect()
    }

    fn layout(&self, schema: &SchemaRef) -> Result<Layout> {
        let fields = |names: &[String]| -> Result<Vec<Field>> {
            names
                .iter()
                .map(|n| {
                    schema
                        .field_with_name(n)
                        .map(canonical)
                        .map_err(|_| missing(schema, n, "a key or sequence column"))
                })
                .collect()
        };
        Layout::new(fields(&self.config.keys)?, fields(&self.config.sequence_by)?)
    }

    /// The target's columns: `columns`, or every enriched column but `except_columns`.
    fn target_schema(&self, table: &MemoryTable, enriched: &SchemaRef) -> Result<SchemaRef> {
        let c = &self.config;
        let names: Vec<String> = match &c.columns {
            Some(columns) => columns.clone(),
            None => {
                for name in &c.except_columns {
                    if enriched.column_with_name(name).is_none() {
                        return Err(missing(enriched, name, "except_column_list names a column that"));
                    }
                }
                enriched
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .filter(|n| !c.except_columns.contains(n))
                    .collect()
            }
        };
        // Later batches may list the same columns in another order: keep the target's.
        let names = match table.schema() {
            Some(existing) if same_names(existing, &names) => {
                existing.fields().iter().map(|f| f.name().clone()).collect()
            }
            _ => names,
        };
        let fields = names
            .iter()
            .map(|name| match table.schema().and_then(|s| s.field_with_name(name).ok()) {
                // A column that was all null so far takes the first real type it meets.
                Some(existing) if existing.data_type() == &DataType::Null => Ok(enriched
                    .field_with_name(name)
                    .map(|f| canonical(f).with_nullable(true))
                    .unwrap_or_else(|_| existing.clone())),
                Some(existing) => Ok(existing.clone()),
                None => enriched
                    .field_with_name(name)
                    .map(|f| canonical(f).with_nullable(true))
                    .map_err(|_| missing(enriched, name, "a target column")),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// Per row: is any of `columns` null? Logical nulls, so a `Null`-typed column counts too.
pub(crate) fn any_null(columns: &[ArrayRef]) -> Vec<bool> {
    let len = columns.first().map_or(0, |c| c.len());
    let mut out = vec![false; len];
    for column in columns {
        if let Some(nulls) = column.logical_nulls() {
            for (flag, valid) in out.iter_mut().zip(nulls.iter()) {
                *flag |= !valid;
            }
        }
    }
    out
}

fn same_names(schema: &Schema, names: &[String]) -> bool {
    let mut have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    have.sort_unstable();
    want.sort_unstable();
    have == want
}

/// Views and large variants stored as their plain types, so every batch agrees.
/// Dictionaries are stored decoded (the row format decodes them anyway).
fn canonical(field: &Field) -> Field {
    field.clone().with_data_type(canonical_type(field.data_type()))
}

fn canonical_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Dictionary(_, values) => canonical_type(values),
        other => other.clone(),
    }
}

fn missing(schema: &Schema, name: &str, what: &str) -> CdcError {
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    CdcError::Config(format!("column {name:?} ({what}) is not in the batch; its columns are {names:?}"))
}

/// A column as UTF-8 strings (cast from views, large strings or dictionaries as needed).
fn string_column(batch: &RecordBatch, name: &str, what: &str) -> Result<StringArray> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| missing(&batch.schema(), name, what))?;
    let utf8 = cast(column, &DataType::Utf8).map_err(|e| {
        CdcError::Input(format!("{what} column {name:?} of type {} is not text: {e}", column.data_type()))
    })?;
    Ok(utf8.as_string::<i32>().clone())
}

/// The rejected input rows of every chunk, with a `reason` column, in input order (an empty
/// table with the input's columns when nothing was rejected, so reports concatenate).
fn rejected_rows(chunks: &[RecordBatch], screened: &[Screened]) -> Result<Option<RecordBatch>> {
    let Some(first) = chunks.first() else { return Ok(None) };
    let mut fields: Vec<_> = first.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new("reason", DataType::Utf8, false)));
    let schema = Arc::new(Schema::new(fields));
    let mut parts = Vec::new();
    for (chunk, s) in chunks.iter().zip(screened) {
        if s.rejected.is_empty() {
            continue;
        }
        let rows = UInt32Array::from_iter_values(s.rejected.iter().map(|(r, _)| *r));
        let mut columns = take_record_batch(chunk, &rows)?.columns().to_vec();
        columns.push(Arc::new(StringArray::from_iter_values(s.rejected.iter().map(|(_, r)| r.as_str()))));
        parts.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok(Some(concat_batches(&schema, &parts)?))
}
