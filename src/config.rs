//! What `batch_upsert` is configured with: the engine's one input besides the batches.
use crate::arrow::datatypes::{DataType, Schema, SchemaRef};

use crate::decode::DecodeOptions;
use crate::enrich::Lookup;
use crate::error::{CdcError, Result};
use crate::predicate::Predicate;

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
    /// Events for which it is TRUE are deletes; FALSE or NULL: upserts (AUTO CDC's
    /// `apply_as_deletes`; `delete_operations` is its short form). It is tested first, so
    /// with an `operation_column` the other events are upserts only if their operation is
    /// one of `upsert_operations`.
    pub apply_as_deletes: Option<Predicate>,
    /// Only events for which it is TRUE are applied; the others count as `filtered_out`.
    pub filter: Option<Predicate>,
    pub lookup: Option<Lookup>,
    pub columns: Option<Vec<String>>,
    pub except_column_list: Vec<String>,
    pub decode: DecodeOptions,
    /// Refuse a micro-batch whose estimated peak memory exceeds this many bytes (checked as
    /// it is screened, before anything is applied); None: no limit.
    pub memory_limit: Option<usize>,
}

impl Config {
    /// Every rule the options must keep, checked when the upsert is built (here only, for
    /// Python and Rust callers alike).
    pub fn check(&self) -> Result<()> {
        if self.keys.is_empty() {
            return Err(CdcError::Config(
                "keys must name at least one column".into(),
            ));
        }
        if self.sequence_by.is_empty() {
            return Err(CdcError::Config(
                "sequence_by must name at least one column".into(),
            ));
        }
        if self.columns.is_some() && !self.except_column_list.is_empty() {
            return Err(CdcError::Config(
                "give columns or except_column_list, not both".into(),
            ));
        }
        if let Some(op) = self
            .upsert_operations
            .iter()
            .find(|op| self.delete_operations.contains(op))
        {
            return Err(CdcError::Config(format!(
                "operation {op:?} is both an upsert and a delete"
            )));
        }
        if self.apply_as_deletes.is_some() && !self.delete_operations.is_empty() {
            return Err(CdcError::Config(
                "give apply_as_deletes or delete_operations (its short form), not both".into(),
            ));
        }
        if self.operation_column.is_none() && !self.delete_operations.is_empty() {
            return Err(CdcError::Config(
                "delete_operations needs operation_column".into(),
            ));
        }
        if let Some(schema) = &self.value_schema {
            for name in self
                .keys
                .iter()
                .chain(&self.sequence_by)
                .chain(&self.operation_column)
            {
                if schema.column_with_name(name).is_none() {
                    return Err(CdcError::Config(format!(
                        "column {name:?} is not in value_schema (fields: {:?})",
                        schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                    )));
                }
            }
        }
        if let (Some(schema), Some(lookup)) = (&self.value_schema, &self.lookup) {
            check_lookup_types(schema, lookup)?;
        }
        if let Some(schema) = &self.value_schema {
            // the events' columns are known: an unknown name or a literal that cannot meet
            // its column is refused now, not at the first batch
            for predicate in self.apply_as_deletes.iter().chain(&self.filter) {
                predicate.check(schema, &self.decode.time_zone)?;
            }
        }
        Ok(())
    }
}

/// With a `value_schema`, a join column's type is known when the upsert is built: a lookup
/// key of another kind (an integer against a string) could never match, so say so now,
/// not at every batch.
fn check_lookup_types(schema: &Schema, lookup: &Lookup) -> Result<()> {
    for (probe, build_type) in lookup.probe_columns().iter().zip(lookup.key_types()) {
        let Some((_, field)) = schema.column_with_name(probe) else {
            continue; // a column the batch may carry beside `value`: checked per batch
        };
        if kind(field.data_type()) != kind(build_type) {
            return Err(CdcError::Config(format!(
                "lookup_on: {probe:?} is {} ({}) in value_schema but the lookup's key column \
                 is {} ({}); they can never match: cast one of them",
                kind(field.data_type()),
                field.data_type(),
                kind(build_type),
                build_type
            )));
        }
    }
    Ok(())
}

/// Types whose values can be the same: all integers, all floats, all text, all bytes…
fn kind(data_type: &DataType) -> String {
    use DataType::*;
    match data_type {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => "integer".into(),
        Float16 | Float32 | Float64 => "float".into(),
        Utf8 | LargeUtf8 | Utf8View => "string".into(),
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => "binary".into(),
        Dictionary(_, values) => kind(values),
        Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => "decimal".into(),
        Timestamp(..) => "timestamp".into(),
        Date32 | Date64 => "date".into(),
        other => other.to_string(),
    }
}

impl Config {
    /// Parsed rows keyed by `keys`, newest by `sequence_by`, every other option at its
    /// default (no JSON, topic, operations, lookup or column choice; UTC; no memory limit).
    /// Set the others with `Config { topic: …, ..Config::new(keys, sequence_by) }`.
    pub fn new(keys: &[&str], sequence_by: &[&str]) -> Self {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
        Config {
            keys: names(keys),
            sequence_by: names(sequence_by),
            value_schema: None,
            value_column: "value".into(),
            topic: None,
            topic_column: "topic".into(),
            operation_column: None,
            upsert_operations: vec![],
            delete_operations: vec![],
            apply_as_deletes: None,
            filter: None,
            lookup: None,
            columns: None,
            except_column_list: vec![],
            decode: DecodeOptions::utc(),
            memory_limit: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(config: Config) -> String {
        config.check().unwrap_err().to_string()
    }

    #[test]
    fn each_rule_of_the_options_is_checked_when_the_upsert_is_built() {
        assert!(Config::new(&["id"], &["ts"]).check().is_ok());
        assert!(refused(Config::new(&[], &["ts"])).contains("keys must name"));
        assert!(refused(Config::new(&["id"], &[])).contains("sequence_by must name"));
        let both = Config {
            columns: Some(vec!["id".into()]),
            except_column_list: vec!["x".into()],
            ..Config::new(&["id"], &["ts"])
        };
        assert!(refused(both).contains("not both"));
        let twice = Config {
            operation_column: Some("op".into()),
            upsert_operations: vec!["u".into()],
            delete_operations: vec!["u".into()],
            ..Config::new(&["id"], &["ts"])
        };
        assert!(refused(twice).contains("both an upsert and a delete"));
        let deletes = Config {
            delete_operations: vec!["d".into()],
            ..Config::new(&["id"], &["ts"])
        };
        assert!(refused(deletes).contains("needs operation_column"));
        let both_forms = Config {
            operation_column: Some("op".into()),
            delete_operations: vec!["d".into()],
            apply_as_deletes: Some(Predicate::parse("apply_as_deletes=", "op = 'd'").unwrap()),
            ..Config::new(&["id"], &["ts"])
        };
        assert!(refused(both_forms).contains("not both"));
        let schema = crate::schema::parse_ddl("id INT, ts INT").unwrap();
        let absent = Config {
            value_schema: Some(schema),
            ..Config::new(&["id"], &["when"])
        };
        assert!(refused(absent).contains("\"when\" is not in value_schema"));
        let typo = Config {
            value_schema: Some(crate::schema::parse_ddl("id INT, ts INT").unwrap()),
            filter: Some(Predicate::parse("where=", "ts > 0 AND idd = 1").unwrap()),
            ..Config::new(&["id"], &["ts"])
        };
        assert!(refused(typo).contains("where=: unknown column \"idd\""));
    }

    #[test]
    fn a_lookup_key_of_another_kind_than_its_event_column_is_refused_at_build() {
        use crate::arrow::array::{ArrayRef, Int32Array, RecordBatch};
        use std::sync::Arc;
        let table = RecordBatch::try_from_iter(vec![(
            "code",
            Arc::new(Int32Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let lookup = Lookup::new(
            table,
            &[("cc".into(), "code".into())],
            crate::enrich::JoinHow::Inner,
        )
        .unwrap();
        let config = Config {
            value_schema: Some(crate::schema::parse_ddl("id INT, ts INT, cc STRING").unwrap()),
            lookup: Some(lookup),
            ..Config::new(&["id"], &["ts"])
        };
        let e = refused(config);
        assert!(
            e.contains("\"cc\" is string") && e.contains("integer"),
            "{e}"
        );
    }
}
