//! Snapshots (Databricks' `AUTO CDC FROM SNAPSHOT`): each full snapshot of a table becomes
//! the micro-batch of its difference from the previous one — new keys and changed rows as
//! upserts, vanished keys as deletes — which the ordinary pipeline then applies.
//!
//! The previous snapshot is remembered as a [`SnapshotState`]: each key (in the row format,
//! as `keys.rs` encodes keys) with a 64-bit fingerprint of the rest of its row. Unchanged rows
//! never reach the target, so a durable target writes only what changed.
mod compare;
mod diff;
mod shard;
mod state;

pub use diff::{diff, DiffCounts, SnapshotDiff};
pub use state::{SnapshotState, FINGERPRINT};

use std::sync::Arc;

use crate::arrow::datatypes::{Field, Schema, SchemaRef};
use crate::error::{CdcError, Result};
use crate::pipeline::canonical_type;

/// How snapshots map onto the target: which columns are keys and which are stored, and the
/// names of the two columns the change batch adds for the pipeline.
#[derive(Clone, Debug)]
pub struct SnapshotSpec {
    pub keys: Vec<String>,
    /// The target columns (`columns=`); None: every column but `except_column_list`.
    pub columns: Option<Vec<String>>,
    pub except_column_list: Vec<String>,
    /// Added to the change batch: `"upsert"` or `"delete"`.
    pub operation_column: String,
    /// Added to the change batch: the snapshot's version (the pipeline's sequence).
    pub version_column: String,
}

impl SnapshotSpec {
    /// The target columns of a snapshot of `schema` (their plain types, nullable), and where
    /// each is in `schema`. With a `previous` state, the columns must be the same ones (in any
    /// order), each castable to its earlier type without changing a value (checked as rows
    /// are encoded); the state's order and types are kept.
    pub(crate) fn layout(
        &self,
        schema: &Schema,
        previous: Option<&SnapshotState>,
    ) -> Result<(SchemaRef, Vec<usize>)> {
        let names = self.target_names(schema, previous.is_some())?;
        let Some(previous) = previous else {
            let fields: Vec<Field> = names
                .iter()
                .map(|n| {
                    let field = schema
                        .field_with_name(n)
                        .expect("names come from the schema");
                    Field::new(n, canonical_type(field.data_type()), true)
                })
                .collect();
            let at = names.iter().map(|n| position(schema, n)).collect();
            return Ok((Arc::new(Schema::new(fields)), at));
        };
        let columns = previous.columns().clone();
        let before: Vec<&String> = columns.fields().iter().map(|f| f.name()).collect();
        let lost: Vec<&&String> = before.iter().filter(|n| !names.contains(n)).collect();
        let new: Vec<&String> = names.iter().filter(|n| !before.contains(n)).collect();
        if !lost.is_empty() || !new.is_empty() {
            return Err(CdcError::SchemaChange(format!(
                "the snapshot's columns differ from the previous snapshot's {before:?}: \
                 missing {lost:?}, new {new:?}; a snapshot flow keeps one set of columns"
            )));
        }
        let at = before.iter().map(|n| position(schema, n)).collect();
        Ok((columns, at))
    }

    fn target_names(&self, schema: &Schema, later: bool) -> Result<Vec<String>> {
        let all: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        if let Some(twice) = all.iter().enumerate().find(|(i, n)| all[..*i].contains(n)) {
            return Err(CdcError::Input(format!(
                "the snapshot has two columns named {:?}; rename or drop one of them",
                twice.1
            )));
        }
        let absent = |name: &String, what: &str| {
            let message =
                format!("column {name:?} ({what}) is not in the snapshot; its columns are {all:?}");
            if later {
                CdcError::SchemaChange(message)
            } else {
                CdcError::Config(message)
            }
        };
        let names: Vec<String> = match &self.columns {
            Some(columns) => {
                if let Some(name) = columns.iter().find(|n| !all.contains(n)) {
                    return Err(absent(name, "a target column"));
                }
                columns.clone()
            }
            None => {
                if let Some(name) = self.except_column_list.iter().find(|n| !all.contains(n)) {
                    return Err(absent(name, "in except_column_list"));
                }
                all.iter()
                    .filter(|n| !self.except_column_list.contains(n))
                    .map(|n| n.to_string())
                    .collect()
            }
        };
        if let Some(key) = self.keys.iter().find(|k| !names.contains(k)) {
            return Err(if all.contains(&key) {
                CdcError::Config(format!(
                    "key column {key:?} must be one of the target columns"
                ))
            } else {
                absent(key, "a key")
            });
        }
        for hidden in [&self.operation_column, &self.version_column] {
            if names.contains(hidden) {
                return Err(CdcError::Config(format!(
                    "the snapshot has a column named {hidden:?}, which the snapshot flow adds \
                     to its change batches; rename it or leave it out of the target columns"
                )));
            }
        }
        Ok(names)
    }
}

fn position(schema: &Schema, name: &str) -> usize {
    schema.index_of(name).expect("checked to be in the schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::datatypes::DataType;

    pub(crate) fn spec(keys: &[&str]) -> SnapshotSpec {
        SnapshotSpec {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            columns: None,
            except_column_list: vec![],
            operation_column: "_op".into(),
            version_column: "_version".into(),
        }
    }

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), false))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn the_target_columns_are_the_snapshots_in_plain_types_or_those_chosen() {
        let s = schema(&[
            ("id", DataType::Int64),
            ("v", DataType::Utf8View),
            ("x", DataType::Int8),
        ]);
        let (columns, at) = spec(&["id"]).layout(&s, None).unwrap();
        assert_eq!(columns.field(1).data_type(), &DataType::Utf8);
        assert!(columns.field(0).is_nullable());
        assert_eq!(at, vec![0, 1, 2]);
        let chosen = SnapshotSpec {
            columns: Some(vec!["x".into(), "id".into()]),
            ..spec(&["id"])
        };
        assert_eq!(chosen.layout(&s, None).unwrap().1, vec![2, 0]);
        let except = SnapshotSpec {
            except_column_list: vec!["v".into()],
            ..spec(&["id"])
        };
        assert_eq!(except.layout(&s, None).unwrap().1, vec![0, 2]);
    }

    #[test]
    fn missing_keys_hidden_names_and_twice_named_columns_are_refused() {
        let s = schema(&[("id", DataType::Int64), ("_op", DataType::Utf8)]);
        let err = spec(&["nope"]).layout(&s, None).unwrap_err();
        assert!(matches!(err, CdcError::Config(_)) && err.to_string().contains("\"nope\""));
        let err = spec(&["id"]).layout(&s, None).unwrap_err();
        assert!(err.to_string().contains("\"_op\""), "{err}");
        let twice = schema(&[("id", DataType::Int64), ("id", DataType::Int64)]);
        assert!(matches!(
            spec(&["id"]).layout(&twice, None),
            Err(CdcError::Input(_))
        ));
    }
}
