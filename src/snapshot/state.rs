//! The last applied snapshot, as remembered: each key with a fingerprint of its row.
//!
//! Keys are stored encoded, in shards by key hash (`shard.rs`); the fingerprint is XXH3-64
//! of the row format of the row's other target columns, so two rows compare equal when
//! every value does (nulls equal nulls; floats as Spark compares them:
//! `-0.0` equals `0.0`, every NaN equals every NaN). A 64-bit fingerprint misses a change
//! once in 2^64 comparisons; it is the price of not keeping the whole table.
use std::hash::BuildHasher;
use std::sync::Arc;

use rayon::prelude::*;

use crate::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt64Array};
use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use crate::error::{CdcError, Result};
use crate::keys::RowEncoder;

use super::shard::{shard_of, Found, Shard, SHARDS};

/// What the fingerprints are: stored with a persisted state, whose fingerprints are only
/// reused under the same scheme (another one rebuilds the state from the target's rows).
pub const FINGERPRINT: &str = "xxh3-64(arrow-row-59)";

pub struct SnapshotState {
    /// The target columns (keys among them), in plain types.
    columns: SchemaRef,
    key_at: Vec<usize>,
    content_at: Vec<usize>,
    key_encoder: RowEncoder,
    content_encoder: Option<RowEncoder>,
    shards: Vec<Shard>,
    hasher: foldhash::fast::RandomState,
    /// The mark of the snapshot this state holds: every key carries it.
    generation: u32,
}

impl SnapshotState {
    /// A state without rows for the target `columns` keyed by `keys`.
    pub(crate) fn empty(columns: SchemaRef, keys: &[String]) -> Result<Self> {
        let key_at: Vec<usize> = keys
            .iter()
            .map(|k| columns.index_of(k))
            .collect::<Result<_, _>>()?;
        let content_at: Vec<usize> = (0..columns.fields().len())
            .filter(|i| !key_at.contains(i))
            .collect();
        let types = |at: &[usize]| -> Vec<DataType> {
            at.iter()
                .map(|&i| columns.field(i).data_type().clone())
                .collect()
        };
        let key_encoder = RowEncoder::new(types(&key_at))?;
        let content_encoder = if content_at.is_empty() {
            None // a table of keys only: every row's fingerprint is 0
        } else {
            Some(RowEncoder::new(types(&content_at))?)
        };
        Ok(Self {
            key_encoder,
            content_encoder,
            key_at,
            content_at,
            columns,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: Default::default(),
            generation: 0,
        })
    }

    /// A copy to turn into the next snapshot's state (this one stays as it is): its keys
    /// are those this snapshot marks with [`SnapshotState::generation`].
    pub(crate) fn successor(&self) -> Self {
        Self {
            columns: self.columns.clone(),
            key_at: self.key_at.clone(),
            content_at: self.content_at.clone(),
            key_encoder: self.key_encoder.clone(),
            content_encoder: self.content_encoder.clone(),
            shards: self.shards.par_iter().map(Shard::clone).collect(),
            hasher: self.hasher,
            generation: self.generation.wrapping_add(1),
        }
    }

    /// The mark of this state's snapshot.
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    /// The target columns, in the order and types the target has them.
    pub fn columns(&self) -> &SchemaRef {
        &self.columns
    }

    /// The key columns' names.
    pub fn key_names(&self) -> Vec<String> {
        self.key_at
            .iter()
            .map(|&i| self.columns.field(i).name().clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn key_at(&self) -> &[usize] {
        &self.key_at
    }

    pub(crate) fn key_encoder(&self) -> &RowEncoder {
        &self.key_encoder
    }

    pub(crate) fn shards_mut(&mut self) -> &mut [Shard] {
        &mut self.shards
    }

    pub(crate) fn hasher(&self) -> &foldhash::fast::RandomState {
        &self.hasher
    }

    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The fingerprint of each of the `rows` rows of `content` (this state's content
    /// columns, in order).
    pub(crate) fn fingerprints_of(&self, content: &[ArrayRef], rows: usize) -> Result<Vec<u64>> {
        let Some(encoder) = &self.content_encoder else {
            return Ok(vec![0; rows]);
        };
        Ok(encoder
            .encode(content)?
            .iter()
            .map(|row| twox_hash::XxHash3_64::oneshot(row.data()))
            .collect())
    }

    /// The content columns of target-aligned `columns`.
    pub(crate) fn content_of(&self, columns: &[ArrayRef]) -> Vec<ArrayRef> {
        self.content_at
            .iter()
            .map(|&i| columns[i].clone())
            .collect()
    }

    /// The key columns of target-aligned `columns`.
    pub(crate) fn keys_of(&self, columns: &[ArrayRef]) -> Vec<ArrayRef> {
        self.key_at.iter().map(|&i| columns[i].clone()).collect()
    }

    /// Encoded keys, decoded into the key columns.
    pub(crate) fn decode_keys<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<ArrayRef>> {
        self.key_encoder.decode(keys)
    }

    /// The state as one record batch: the key columns (`key.<name>`) and `fingerprint`
    /// (uint64), to be kept beside a durable target with [`SnapshotState::columns`].
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let entries = || self.shards.iter().flat_map(Shard::entries);
        let mut columns = self.decode_keys(entries().map(|(key, _)| key))?;
        let mut fields: Vec<Field> = self
            .key_at
            .iter()
            .map(|&i| {
                let field = self.columns.field(i);
                Field::new(
                    format!("key.{}", field.name()),
                    field.data_type().clone(),
                    false,
                )
            })
            .collect();
        let prints: UInt64Array = entries().map(|(_, print)| print).collect();
        columns.push(Arc::new(prints));
        fields.push(Field::new("fingerprint", DataType::UInt64, false));
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }

    /// A state kept by [`SnapshotState::to_batch`], for the target `columns`.
    pub fn restore(columns: SchemaRef, keys: &[String], saved: &RecordBatch) -> Result<Self> {
        let broken = |why: String| CdcError::State(format!("the saved snapshot state {why}"));
        let mut state = Self::empty(columns, keys)?;
        let column = |name: &str| {
            saved
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| broken(format!("has no column {name:?}")))
        };
        let key_columns: Vec<ArrayRef> = keys
            .iter()
            .map(|k| column(&format!("key.{k}")))
            .collect::<Result<_>>()?;
        let fingerprints = column("fingerprint")?;
        let fingerprints = fingerprints
            .as_primitive_opt::<UInt64Type>()
            .filter(|f| f.null_count() == 0)
            .ok_or_else(|| broken("has fingerprints that are not uint64 values".into()))?;
        if crate::keys::any_null(&key_columns).contains(&true) {
            return Err(broken("has a null key".into()));
        }
        let encoded = state.key_encoder.encode(&key_columns)?;
        for (key, &fingerprint) in encoded.iter().zip(fingerprints.values()) {
            let hash = state.hash(key.data());
            let shard = &mut state.shards[shard_of(hash)];
            if shard.take(hash, key.data(), fingerprint, 0, &state.hasher) == Found::Twice {
                return Err(broken("has a key twice".into()));
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{Float64Array, Int64Array, StringArray};

    fn state() -> SnapshotState {
        let columns = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("v", DataType::Utf8, true),
            Field::new("f", DataType::Float64, true),
        ]));
        SnapshotState::empty(columns, &["id".into()]).unwrap()
    }

    #[test]
    fn equal_rows_have_equal_fingerprints_nulls_and_spark_float_equality_included() {
        let s = state();
        let v: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("a"),
            None,
            None,
            Some("b"),
        ]));
        let f: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(-0.0),
            Some(f64::NAN),
            Some(-f64::NAN),
            Some(0.0),
        ]));
        let prints = s.fingerprints_of(&[v, f], 5).unwrap();
        assert_eq!(prints[0], prints[1], "-0.0 equals 0.0");
        assert_eq!(prints[2], prints[3], "a NaN equals a NaN, null equals null");
        assert_ne!(prints[0], prints[4]);
        assert_ne!(prints[0], prints[2]);
    }

    #[test]
    fn a_state_survives_its_batch_form_and_a_saved_key_twice_is_refused() {
        let mut s = state();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![3, 1, 2]));
        let keys = s.key_encoder.encode(&[ids]).unwrap();
        for (i, key) in keys.iter().enumerate() {
            let hash = s.hash(key.data());
            let found =
                s.shards[shard_of(hash)].take(hash, key.data(), 10 + i as u64, 0, &s.hasher);
            assert_eq!(found, Found::New);
        }
        let batch = s.to_batch().unwrap();
        assert_eq!(batch.schema().field(0).name(), "key.id");
        let back = SnapshotState::restore(s.columns().clone(), &["id".into()], &batch).unwrap();
        assert_eq!(back.len(), 3);
        let key = keys.row(2);
        let hash = back.hash(key.data());
        assert_eq!(
            back.shards[shard_of(hash)].fingerprint(hash, key.data()),
            Some(12)
        );
        let twice =
            crate::arrow::compute::concat_batches(&batch.schema(), [&batch, &batch]).unwrap();
        let err = SnapshotState::restore(s.columns().clone(), &["id".into()], &twice);
        assert!(matches!(err, Err(CdcError::State(_))));
    }
}
