//! Screening one input chunk, in the report's order: topic, JSON decode, `where=`,
//! operation, null keys and sequences, lookup. Every row that does not survive is counted, and rejected
//! rows keep their input position so the report can return them as they came in.
use std::sync::Arc;

use crate::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt32Array,
};
use crate::arrow::compute::{cast, concat_batches, filter_record_batch, take, take_record_batch};
use crate::arrow::datatypes::{DataType, Field, Schema};

use crate::config::Config;
use crate::decode;
use crate::enrich::JoinHow;
use crate::error::{CdcError, Result};
use crate::keys::{any_null, any_null_within};
use crate::report::{Counts, Reason};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Upsert,
    Delete,
    Ignored,
}

/// One input chunk, screened: which rows survive, without copying any of them (the rows a
/// batch finally writes are gathered once, after the merge has decided).
pub(crate) struct ScreenedPart {
    /// Decoded fields (bronze) or the input's columns; rejected rows included.
    pub rows: RecordBatch,
    /// Rows of `rows` that survive, ascending.
    pub kept: Vec<u32>,
    /// Per kept row: a delete (else an upsert).
    pub is_delete: Vec<bool>,
    /// Per kept row: its lookup row (None: a delete, or a miss of a left join); empty
    /// without a lookup.
    pub matches: Vec<Option<u32>>,
    /// (input row, reason), in input order.
    pub rejected: Vec<(u32, Reason)>,
    pub counts: Counts,
}

impl ScreenedPart {
    /// The kept rows' values of `columns` (zero-copy when every row was kept).
    pub fn kept_columns(&self, names: &[String]) -> Result<Vec<ArrayRef>> {
        let all = columns(&self.rows, names)?;
        if self.kept.len() == self.rows.num_rows() {
            return Ok(all);
        }
        let at = UInt32Array::from(self.kept.clone());
        Ok(all
            .iter()
            .map(|c| take(c.as_ref(), &at, None))
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// Screens one input chunk, in the report's order.
pub(crate) fn screen(c: &Config, chunk: &RecordBatch) -> Result<ScreenedPart> {
    if c.value_schema.is_none() && chunk.column_by_name(&c.value_column).is_some() {
        let needed = c
            .keys
            .iter()
            .chain(&c.sequence_by)
            .chain(&c.operation_column);
        if let Some(name) = needed
            .into_iter()
            .find(|n| chunk.column_by_name(n).is_none())
        {
            return Err(CdcError::Config(format!(
                "column {name:?} is not in the batch, which has a {:?} column: a bronze batch? \
                 Give value_schema= (a Spark DDL string) to decode the JSON in it",
                c.value_column
            )));
        }
    }
    let mut counts = Counts::default();
    let mut rejected = Vec::new();

    // Input rows still in play, and the rows (decoded or as given) they stand for.
    let mut at: Vec<u32> = (0..chunk.num_rows() as u32).collect();
    let mut in_topic = None;
    if let Some(topic) = &c.topic {
        let topics = string_column(chunk, &c.topic_column, "topic")?;
        let mask: BooleanArray = (0..chunk.num_rows())
            .map(|i| Some(topics.is_valid(i) && topics.value(i) == topic))
            .collect();
        at.retain(|&i| mask.value(i as usize));
        counts.other_topics = (chunk.num_rows() - at.len()) as u64;
        if at.len() < chunk.num_rows() {
            in_topic = Some(mask);
        }
    }
    // Per row of `rows`: could it be applied at all (decoded as a JSON object)?
    let mut decoded_ok = None;
    let rows = match &c.value_schema {
        None => match &in_topic {
            None => chunk.clone(),
            Some(mask) => filter_record_batch(chunk, mask)?,
        },
        Some(schema) => {
            // Only the JSON column is needed (rejects are taken from the input later).
            let values = chunk.column_by_name(&c.value_column).ok_or_else(|| {
                missing(&chunk.schema(), &c.value_column, "the bronze value column")
            })?;
            if !is_text(values.data_type()) {
                return Err(CdcError::Input(format!(
                    "the bronze value column {:?} is {}; it must hold JSON text (string or \
                     binary)",
                    c.value_column,
                    values.data_type()
                )));
            }
            let selection = in_topic.is_some().then_some(&at[..]);
            let decoded = decode::from_json_at(values.as_ref(), selection, schema, &c.decode)?;
            // Null, empty and blank values are null structs in Spark: not an object either.
            decoded_ok = Some(
                (0..at.len())
                    .map(|i| {
                        decoded.nulls.as_ref().is_none_or(|n| n.is_valid(i))
                            && !decoded.malformed.value(i)
                    })
                    .collect::<Vec<bool>>(),
            );
            decoded.batch
        }
    };

    // Per-row decisions over `rows`; nothing is copied.
    let passes = match &c.filter {
        Some(filter) => Some(filter.evaluate(&rows, &c.decode.time_zone)?),
        None => None,
    };
    let ops = operations(c, &rows)?;
    let null_key = any_null(&columns(&rows, &c.keys)?);
    let null_sequence = any_null_within(&columns(&rows, &c.sequence_by)?);
    let probed = match &c.lookup {
        Some(lookup) => Some(lookup.probe(&rows)?),
        None => None,
    };
    let inner = c.lookup.as_ref().is_some_and(|l| l.how() == JoinHow::Inner);
    let mut kept = Vec::with_capacity(rows.num_rows());
    let mut is_delete = Vec::with_capacity(rows.num_rows());
    let mut matches = Vec::with_capacity(if probed.is_some() { rows.num_rows() } else { 0 });
    for i in 0..rows.num_rows() {
        let op = ops[i];
        let reason = if decoded_ok.as_ref().is_some_and(|ok| !ok[i]) {
            counts.malformed += 1;
            Reason::MalformedJson
        } else if passes.as_ref().is_some_and(|p| !is_true(p, i)) {
            counts.filtered_out += 1; // FALSE or NULL: SQL's WHERE keeps TRUE only
            continue;
        } else if op == Op::Ignored {
            counts.ignored_operations += 1;
            continue;
        } else if null_key[i] {
            counts.null_keys += 1;
            Reason::NullKey
        } else if null_sequence[i] {
            counts.null_sequences += 1;
            Reason::NullSequence
        } else {
            let found = probed.as_ref().and_then(|m| m[i]);
            if op == Op::Upsert && inner && found.is_none() {
                counts.lookup_misses += 1;
                Reason::LookupMiss
            } else {
                kept.push(i as u32);
                is_delete.push(op == Op::Delete);
                if probed.is_some() {
                    matches.push(if op == Op::Delete { None } else { found });
                }
                continue;
            }
        };
        rejected.push((at[i], reason));
    }
    rejected.sort_unstable_by_key(|(row, _)| *row);
    Ok(ScreenedPart {
        rows,
        kept,
        is_delete,
        matches,
        rejected,
        counts,
    })
}

/// Each row's operation: a delete when `apply_as_deletes` is TRUE, else by its
/// `operation_column` (none: an upsert).
fn operations(c: &Config, rows: &RecordBatch) -> Result<Vec<Op>> {
    let deletes = match &c.apply_as_deletes {
        Some(predicate) => Some(predicate.evaluate(rows, &c.decode.time_zone)?),
        None => None,
    };
    let ops = match &c.operation_column {
        Some(name) => Some(string_column(rows, name, "operation")?),
        None => None,
    };
    Ok((0..rows.num_rows())
        .map(|i| {
            if deletes.as_ref().is_some_and(|d| is_true(d, i)) {
                return Op::Delete;
            }
            let Some(ops) = &ops else {
                return Op::Upsert;
            };
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

fn is_true(condition: &BooleanArray, row: usize) -> bool {
    condition.is_valid(row) && condition.value(row)
}

pub(crate) fn columns(rows: &RecordBatch, names: &[String]) -> Result<Vec<ArrayRef>> {
    names
        .iter()
        .map(|name| {
            rows.column_by_name(name)
                .cloned()
                .ok_or_else(|| missing(&rows.schema(), name, "a key or sequence column"))
        })
        .collect()
}

pub(crate) fn missing(schema: &Schema, name: &str, what: &str) -> CdcError {
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    CdcError::Config(format!(
        "column {name:?} ({what}) is not in the batch; its columns are {names:?}"
    ))
}

fn is_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

/// A column as UTF-8 strings (cast from views, large strings or dictionaries as needed).
fn string_column(batch: &RecordBatch, name: &str, what: &str) -> Result<StringArray> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| missing(&batch.schema(), name, what))?;
    let utf8 = cast(column, &DataType::Utf8).map_err(|e| {
        CdcError::Input(format!(
            "{what} column {name:?} of type {} is not text: {e}",
            column.data_type()
        ))
    })?;
    Ok(utf8.as_string::<i32>().clone())
}

/// A view column with its own copy of the bytes it points at: taken rejected rows must not
/// hold on to the input's pages (a lazily read batch frees them part by part).
fn own_bytes(column: &ArrayRef) -> ArrayRef {
    match column.data_type() {
        DataType::Utf8View => Arc::new(column.as_string_view().gc()),
        DataType::BinaryView => Arc::new(column.as_binary_view().gc()),
        _ => column.clone(),
    }
}

/// The rejected input rows of every chunk, with a `reason` column, in input order (an empty
/// table with the input's columns when nothing was rejected, so reports concatenate).
pub(crate) fn rejected_rows(
    chunks: &[RecordBatch],
    screened: &[ScreenedPart],
) -> Result<Option<RecordBatch>> {
    let Some(first) = chunks.first() else {
        return Ok(None);
    };
    let mut fields: Vec<_> = first.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new("reason", DataType::Utf8, false)));
    let schema = Arc::new(Schema::new(fields));
    let mut parts = Vec::new();
    for (chunk, s) in chunks.iter().zip(screened) {
        if s.rejected.is_empty() {
            continue;
        }
        let rows = UInt32Array::from_iter_values(s.rejected.iter().map(|(r, _)| *r));
        let mut columns: Vec<ArrayRef> = take_record_batch(chunk, &rows)?
            .columns()
            .iter()
            .map(own_bytes)
            .collect();
        columns.push(Arc::new(StringArray::from_iter_values(
            s.rejected.iter().map(|(_, r)| r.as_str()),
        )));
        parts.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok(Some(concat_batches(&schema, &parts)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn bronze(rows: &[(&str, Option<&str>)]) -> RecordBatch {
        let topics: StringArray = rows.iter().map(|(t, _)| Some(*t)).collect();
        let values: StringArray = rows.iter().map(|(_, v)| *v).collect();
        RecordBatch::try_from_iter(vec![
            ("topic", Arc::new(topics) as ArrayRef),
            ("value", Arc::new(values) as ArrayRef),
        ])
        .unwrap()
    }

    fn customers() -> Config {
        Config {
            value_schema: Some(crate::schema::parse_ddl("id INT, ts INT, op STRING").unwrap()),
            topic: Some("customers".into()),
            operation_column: Some("op".into()),
            upsert_operations: vec!["insert".into(), "update".into()],
            delete_operations: vec!["delete".into()],
            ..Config::new(&["id"], &["ts"])
        }
    }

    #[test]
    fn a_bronze_part_counts_every_row_once_in_the_reports_order() {
        let part = bronze(&[
            ("orders", Some(r#"{"id": 9, "ts": 1, "op": "insert"}"#)),
            ("customers", Some("{oops")),
            ("customers", Some(r#"{"id": 1, "ts": 1, "op": "snapshot"}"#)),
            (
                "customers",
                Some(r#"{"id": null, "ts": 1, "op": "insert"}"#),
            ),
            ("customers", Some(r#"{"id": 2, "op": "insert"}"#)),
            ("customers", Some(r#"{"id": 3, "ts": 1, "op": "insert"}"#)),
            ("customers", Some(r#"{"id": 4, "ts": 1, "op": "delete"}"#)),
        ]);
        let s = screen(&customers(), &part).unwrap();
        let c = &s.counts;
        assert_eq!(
            (
                c.other_topics,
                c.malformed,
                c.ignored_operations,
                c.null_keys,
                c.null_sequences
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(c.accounted() + s.kept.len() as u64, 7);
        let kept_ids = s.kept_columns(&["id".to_string()]).unwrap();
        let kept_ids = kept_ids[0]
            .as_any()
            .downcast_ref::<crate::arrow::array::Int32Array>()
            .unwrap();
        assert_eq!(kept_ids.values().to_vec(), vec![3, 4]);
        assert_eq!(s.is_delete, vec![false, true]);
        let reasons: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(reasons, vec!["malformed_json", "null_key", "null_sequence"]);
    }

    #[test]
    fn where_counts_the_events_it_does_not_keep_and_apply_as_deletes_marks_deletes() {
        use crate::predicate::Predicate;
        let config = Config {
            value_schema: Some(
                crate::schema::parse_ddl("id INT, ts INT, op STRING, shop STRING").unwrap(),
            ),
            operation_column: Some("op".into()),
            upsert_operations: vec!["insert".into()],
            apply_as_deletes: Some(Predicate::parse("a=", "op IN ('d', 't')").unwrap()),
            filter: Some(Predicate::parse("w=", "shop = 'a'").unwrap()),
            ..Config::new(&["id"], &["ts"])
        };
        let part = bronze(&[
            (
                "t",
                Some(r#"{"id": 1, "ts": 1, "op": "insert", "shop": "a"}"#),
            ),
            ("t", Some(r#"{"id": 2, "ts": 1, "op": "d", "shop": "a"}"#)),
            ("t", Some(r#"{"id": 3, "ts": 1, "op": "t", "shop": "b"}"#)),
            ("t", Some(r#"{"id": 4, "ts": 1, "op": "insert"}"#)), // shop NULL: not kept
            (
                "t",
                Some(r#"{"id": 5, "ts": 1, "op": "merge", "shop": "a"}"#),
            ),
            ("t", Some("{oops")), // malformed before where=
        ]);
        let s = screen(&config, &part).unwrap();
        let c = &s.counts;
        assert_eq!(
            (c.malformed, c.filtered_out, c.ignored_operations),
            (1, 2, 1)
        );
        assert_eq!(s.kept, vec![0, 1]);
        assert_eq!(s.is_delete, vec![false, true]);
        assert_eq!(c.accounted() + s.kept.len() as u64, 6);
    }

    #[test]
    fn a_missing_key_column_in_parsed_rows_is_named() {
        let rows = RecordBatch::try_from_iter(vec![(
            "ts",
            Arc::new(crate::arrow::array::Int32Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let Err(e) = screen(&Config::new(&["id"], &["ts"]), &rows) else {
            panic!("a batch without its key column was screened");
        };
        assert!(e.to_string().contains("\"id\""), "{e}");
    }
}
