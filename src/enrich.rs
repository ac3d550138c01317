//! Broadcast hash join: the lookup table is hashed once, every batch probes it.
use std::sync::Arc;

use crate::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use crate::arrow::compute::take;
use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use crate::arrow::util::display::{ArrayFormatter, FormatOptions};
use hashbrown::HashMap;

use crate::error::{CdcError, Result};
use crate::keys::RowEncoder;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinHow {
    Inner,
    Left,
}

impl std::str::FromStr for JoinHow {
    type Err = CdcError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "inner" => Ok(Self::Inner),
            "left" | "left_outer" | "leftouter" => Ok(Self::Left),
            _ => Err(CdcError::Config(format!(
                "lookup_how must be 'inner' or 'left', got {s:?}"
            ))),
        }
    }
}

#[derive(Debug)]
pub struct Lookup {
    /// Batch-side join columns, paired by position with the lookup-side ones.
    probe_columns: Vec<String>,
    encoder: RowEncoder,
    index: HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>,
    /// The lookup columns appended to each batch.
    payload: RecordBatch,
    how: JoinHow,
}

impl Lookup {
    /// `on` pairs (batch column, lookup column). A lookup join column with the same name as its
    /// batch column is not appended again (it would only repeat the batch's value).
    pub fn new(table: RecordBatch, on: &[(String, String)], how: JoinHow) -> Result<Self> {
        if on.is_empty() {
            return Err(CdcError::Config(
                "lookup needs lookup_on: the (event column, lookup column) pairs to join on, \
                 e.g. {'country_code': 'code'}"
                    .into(),
            ));
        }
        if let Some(name) = crate::schema::duplicate_name(&table.schema()) {
            return Err(CdcError::Config(format!(
                "lookup has two columns named {name:?}; rename one of them"
            )));
        }
        let build_columns = on
            .iter()
            .map(|(_, build)| column(&table, build, "lookup"))
            .collect::<Result<Vec<_>>>()?;
        let encoder = RowEncoder::new(
            build_columns
                .iter()
                .map(|c| c.data_type().clone())
                .collect(),
        )?;
        let rows = encoder.encode(&build_columns)?;
        let mut index = HashMap::with_capacity_and_hasher(table.num_rows(), Default::default());
        let null_key = crate::keys::any_null(&build_columns);
        for (i, &null) in null_key.iter().enumerate() {
            if null {
                continue; // null keys never match
            }
            if index
                .insert(Box::<[u8]>::from(rows.row(i).data()), i as u32)
                .is_some()
            {
                return Err(CdcError::Config(format!(
                    "lookup has duplicate key {} in {:?}: a lookup key must identify one row",
                    display_row(&build_columns, i),
                    on.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>()
                )));
            }
        }
        let keep: Vec<usize> = (0..table.num_columns())
            .filter(|&i| {
                let name = table.schema().field(i).name().clone();
                !on.iter()
                    .any(|(probe, build)| *build == name && *probe == name)
            })
            .collect();
        let payload = table.project(&keep)?;
        let probe_columns = on.iter().map(|(probe, _)| probe.clone()).collect();
        Ok(Self {
            probe_columns,
            encoder,
            index,
            payload,
            how,
        })
    }

    pub fn how(&self) -> JoinHow {
        self.how
    }

    pub fn probe_columns(&self) -> &[String] {
        &self.probe_columns
    }

    /// The types of the lookup's key columns, in `lookup_on` order.
    pub fn key_types(&self) -> &[DataType] {
        self.encoder.types()
    }

    /// The lookup row matched by each batch row (None: no match).
    pub fn probe(&self, batch: &RecordBatch) -> Result<Vec<Option<u32>>> {
        let columns = self
            .probe_columns
            .iter()
            .map(|name| column(batch, name, "batch"))
            .collect::<Result<Vec<_>>>()?;
        let rows = self.encoder.encode(&columns).map_err(|e| match e {
            CdcError::Input(why) => CdcError::Input(format!(
                "lookup_on columns {:?} cannot be matched with the lookup's key columns \
                 ({:?}): {why}",
                self.probe_columns,
                self.encoder.types()
            )),
            other => other,
        })?;
        let null_key = crate::keys::any_null(&columns);
        Ok((0..batch.num_rows())
            .map(|i| {
                if null_key[i] {
                    None
                } else {
                    self.index.get(rows.row(i).data()).copied()
                }
            })
            .collect())
    }

    /// The columns an enriched row has: the batch's, then the lookup's (nullable). A lookup
    /// column named like a batch column is an error, not a silent shadow.
    pub fn enriched_schema(&self, batch: &Schema) -> Result<SchemaRef> {
        let mut fields: Vec<Arc<Field>> = batch.fields().iter().cloned().collect();
        for field in self.payload.schema().fields() {
            if batch.column_with_name(field.name()).is_some() {
                return Err(CdcError::Config(format!(
                    "lookup column {:?} clashes with a batch column of the same name; rename one of them",
                    field.name()
                )));
            }
            fields.push(Arc::new(field.as_ref().clone().with_nullable(true)));
        }
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The lookup's column `name` at the matched rows (null where there is no match), or None
    /// when the lookup has no such column.
    pub fn column_at(&self, name: &str, matches: &[Option<u32>]) -> Result<Option<ArrayRef>> {
        let Some(values) = self.payload.column_by_name(name) else {
            return Ok(None);
        };
        let indices = UInt32Array::from(matches.to_vec());
        Ok(Some(take(values.as_ref(), &indices, None)?))
    }
}

fn column(batch: &RecordBatch, name: &str, side: &str) -> Result<ArrayRef> {
    batch.column_by_name(name).cloned().ok_or_else(|| {
        let names: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        CdcError::Config(format!(
            "{side} has no column {name:?} (columns: {names:?})"
        ))
    })
}

fn display_row(columns: &[ArrayRef], row: usize) -> String {
    let options = FormatOptions::default();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match ArrayFormatter::try_new(c.as_ref(), &options) {
            Ok(f) => format!("{:?}", f.value(row).to_string()),
            Err(_) => "?".into(),
        })
        .collect();
    values.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{Array, StringArray};

    fn countries() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "code",
                Arc::new(StringArray::from(vec![Some("FR"), Some("CN"), None])) as ArrayRef,
            ),
            (
                "country",
                Arc::new(StringArray::from(vec!["France", "China", "Nowhere"])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn lookup_probes_match_and_miss_as_an_inner_or_left_join() {
        let lookup =
            Lookup::new(countries(), &[("cc".into(), "code".into())], JoinHow::Inner).unwrap();
        let batch = RecordBatch::try_from_iter(vec![(
            "cc",
            Arc::new(StringArray::from(vec![Some("CN"), Some("XX"), None])) as ArrayRef,
        )])
        .unwrap();
        let m = lookup.probe(&batch).unwrap();
        assert_eq!(m, vec![Some(1), None, None]);
        assert_eq!(
            lookup
                .enriched_schema(&batch.schema())
                .unwrap()
                .fields()
                .len(),
            3
        );
        let country = lookup.column_at("country", &m).unwrap().unwrap();
        assert_eq!(country.null_count(), 2);
        assert!(lookup.column_at("cc", &m).unwrap().is_none());
    }

    #[test]
    fn duplicate_keys_are_rejected_by_name() {
        let t = RecordBatch::try_from_iter(vec![(
            "code",
            Arc::new(StringArray::from(vec!["FR", "FR"])) as ArrayRef,
        )])
        .unwrap();
        let err = Lookup::new(t, &[("cc".into(), "code".into())], JoinHow::Inner).unwrap_err();
        assert!(err.to_string().contains("\"FR\""), "{err}");
    }
}
