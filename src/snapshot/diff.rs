//! A snapshot's difference from the previous one, as a micro-batch for the pipeline.
use std::sync::Arc;

use crate::arrow::array::{
    new_null_array, Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use crate::arrow::compute::{concat_batches, take};
use crate::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use crate::arrow::util::display::{ArrayFormatter, FormatOptions};
use crate::error::{CdcError, Result};
use crate::interrupt::Interrupt;
use crate::keys::{any_null, exact_cast};
use crate::pipeline::canonical_type;

use rayon::prelude::*;

use super::compare::{compare, Chunk};
use super::{SnapshotSpec, SnapshotState};
use crate::short_bytes::ShortBytes;

/// What a snapshot held against the previous one. `rows_in` = inserted + updated +
/// unchanged + null_keys; `deleted` counts keys of the previous snapshot it lacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffCounts {
    pub rows_in: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub null_keys: u64,
}

pub struct SnapshotDiff {
    /// The target columns plus the operation (`"upsert"` / `"delete"`) and version columns:
    /// new and changed rows, and rows with a null key (for the pipeline to reject), in the
    /// snapshot's order; then the vanished keys (their other columns null).
    pub changes: RecordBatch,
    pub counts: DiffCounts,
    /// The state after this snapshot.
    pub next: SnapshotState,
}

/// The difference of the snapshot read from `parts` (of schema `schema`) from `previous`
/// (None: the first snapshot), with `version` in the change batch's version column.
///
/// Parts are compared a group of about [`GROUP_ROWS`] rows at a time (so that each shard of
/// the state stays in the CPU cache while the group's keys probe it), and only their changed
/// rows are kept: a snapshot streamed from files is never in memory whole. A key found
/// twice is an error naming it. The interrupt is checked between parts.
pub fn diff(
    previous: Option<&SnapshotState>,
    spec: &SnapshotSpec,
    schema: &Schema,
    parts: impl Iterator<Item = Result<RecordBatch>>,
    version: i64,
    interrupt: &Interrupt,
) -> Result<SnapshotDiff> {
    let (columns, at) = spec.layout(schema, previous)?;
    let mut next = match previous {
        Some(previous) => previous.successor(),
        None => SnapshotState::empty(columns.clone(), &spec.keys)?,
    };
    let mut out = Outcome::default();
    let mut group: Vec<Vec<ArrayRef>> = Vec::new();
    let mut group_rows = 0;
    for part in parts {
        interrupt.check()?;
        let part = part?;
        group_rows += part.num_rows();
        group.push(aligned(&part, &at, &columns)?);
        if group_rows >= GROUP_ROWS {
            let full = std::mem::take(&mut group);
            compare_group(&mut next, &columns, &full, &mut out)?;
            group_rows = 0;
        }
    }
    compare_group(&mut next, &columns, &group, &mut out)?;
    let (mut counts, mut kept) = (out.counts, out.kept);
    interrupt.check()?;
    // The keys of the previous snapshot this one lacks leave the state, as deletes.
    let mark = next.generation();
    let vanished: Vec<_> = next
        .shards_mut()
        .par_iter_mut()
        .flat_map_iter(|shard| shard.remove_unmarked(mark))
        .collect();
    counts.deleted = vanished.len() as u64;
    if !vanished.is_empty() {
        kept.push(deletes(&next, &columns, &vanished)?);
    }
    let upserts = counts.inserted + counts.updated + counts.null_keys;
    let changes = with_operation(&columns, spec, &kept, upserts as usize, version)?;
    Ok(SnapshotDiff {
        changes,
        counts,
        next,
    })
}

/// Rows compared together: enough for each shard to take a few thousand keys at once.
const GROUP_ROWS: usize = 1 << 20;

/// The counts so far and the change batch's rows kept so far.
#[derive(Default)]
struct Outcome {
    counts: DiffCounts,
    kept: Vec<RecordBatch>,
}

/// Rows encoded per task.
const CHUNK_ROWS: usize = 8192;

/// Compares the parts of `group` (target-aligned columns) with the state `next` (the
/// previous snapshot's, becoming this one's), adding their counts and changed rows to `out`.
fn compare_group(
    next: &mut SnapshotState,
    columns: &SchemaRef,
    group: &[Vec<ArrayRef>],
    out: &mut Outcome,
) -> Result<()> {
    let lengths: Vec<usize> = group.iter().map(|part| part[0].len()).collect();
    let rows: usize = lengths.iter().sum();
    // (part, first row in it, rows, first row in the group) of each chunk
    let mut slices: Vec<(usize, usize, usize, u32)> = Vec::new();
    let mut first = 0u32;
    for (p, &len) in lengths.iter().enumerate() {
        for at in (0..len).step_by(CHUNK_ROWS) {
            let n = CHUNK_ROWS.min(len - at);
            slices.push((p, at, n, first));
            first += n as u32;
        }
    }
    let state = &*next;
    let chunks = slices
        .into_par_iter()
        .map(|(p, at, len, first)| {
            let part: Vec<ArrayRef> = group[p].iter().map(|c| c.slice(at, len)).collect();
            let keys = state.keys_of(&part);
            let nulls = any_null(&keys);
            let keys = state.key_encoder().encode(&keys)?;
            let prints = state.fingerprints_of(&state.content_of(&part), len)?;
            Ok(Chunk::new(state, first, &keys, &nulls, &prints))
        })
        .collect::<Result<Vec<_>>>()?;
    let compared = compare(next, &chunks);
    drop(chunks);
    let mut take = compared.take.as_slice();
    let mut offset = 0;
    for (part, &len) in group.iter().zip(&lengths) {
        let end = offset + len;
        if let Some(row) = compared.duplicate.filter(|&r| (r as usize) < end) {
            let at = row as usize - offset;
            return Err(duplicate(&next.keys_of(part), at, next.key_names()));
        }
        let split = take.partition_point(|&r| (r as usize) < end);
        let (mine, rest) = take.split_at(split);
        if !mine.is_empty() {
            let local: Vec<u32> = mine.iter().map(|&r| r - offset as u32).collect();
            out.kept.push(taken(part, columns, &local)?);
        }
        take = rest;
        offset = end;
    }
    let c = &mut out.counts;
    c.rows_in += rows as u64;
    c.inserted += compared.inserted;
    c.updated += compared.updated;
    c.unchanged += compared.unchanged;
    c.null_keys += compared.null_keys;
    Ok(())
}

/// The target columns of `part` (at `at`), in their target types: a cast that would change a
/// value is a schema change.
fn aligned(part: &RecordBatch, at: &[usize], columns: &SchemaRef) -> Result<Vec<ArrayRef>> {
    at.iter()
        .zip(columns.fields())
        .map(|(&i, field)| {
            let column = part.column(i);
            if column.data_type() == field.data_type() {
                return Ok(column.clone());
            }
            let refused = |why: String| {
                CdcError::SchemaChange(format!(
                    "column {:?} of the snapshot is {}, where earlier snapshots had {}: {why}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))
            };
            if !same_kind(column.data_type(), field.data_type()) {
                return Err(refused("another kind of value".into()));
            }
            exact_cast(column, field.data_type()).map_err(|e| refused(e.to_string()))
        })
        .collect()
}

/// Types of one kind of value: a snapshot may carry any of them where the first had
/// another (its values are then cast, which must change none: an int64 of 2^40 is no int32).
fn same_kind(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let kind = |t: &DataType| match canonical_type(t) {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Some(0),
        Float16 | Float32 | Float64 => Some(1),
        Timestamp(_, zone) => Some(if zone.is_some() { 2 } else { 3 }),
        Date32 | Date64 => Some(4),
        Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => Some(5),
        _ => None,
    };
    from == &Null || canonical_type(from) == *to || kind(from).is_some_and(|k| kind(to) == Some(k))
}

/// The rows at `rows` of `aligned`.
fn taken(aligned: &[ArrayRef], columns: &SchemaRef, rows: &[u32]) -> Result<RecordBatch> {
    let indices = UInt32Array::from(rows.to_vec());
    let picked = aligned
        .iter()
        .map(|column| Ok(take(column.as_ref(), &indices, None)?))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(columns.clone(), picked)?)
}

/// The rows deleting the `vanished` keys (encoded): their keys, every other column null.
fn deletes(
    state: &SnapshotState,
    columns: &SchemaRef,
    vanished: &[ShortBytes],
) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = columns
        .fields()
        .iter()
        .map(|field| new_null_array(field.data_type(), vanished.len()))
        .collect();
    // Keys decode in key order; each goes back to its column.
    let decoded = state.decode_keys(vanished.iter().map(|k| &**k))?;
    for (&at, key) in state.key_at().iter().zip(decoded) {
        arrays[at] = key;
    }
    Ok(RecordBatch::try_new(columns.clone(), arrays)?)
}

/// `kept` (the first `upserts` rows upserts, the rest deletes) as one batch, with the
/// operation and version columns added.
fn with_operation(
    columns: &SchemaRef,
    spec: &SnapshotSpec,
    kept: &[RecordBatch],
    upserts: usize,
    version: i64,
) -> Result<RecordBatch> {
    let rows = concat_batches(columns, kept)?;
    let n = rows.num_rows();
    let operation: StringArray = (0..n)
        .map(|i| Some(if i < upserts { "upsert" } else { "delete" }))
        .collect();
    let mut fields: Vec<Field> = columns
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(&spec.operation_column, DataType::Utf8, false));
    fields.push(Field::new(&spec.version_column, DataType::Int64, false));
    let mut arrays = rows.columns().to_vec();
    arrays.push(Arc::new(operation));
    arrays.push(Arc::new(Int64Array::from(vec![version; n])));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The error for a key found twice in one snapshot, naming it by its values.
fn duplicate(keys: &[ArrayRef], row: usize, names: Vec<String>) -> CdcError {
    let options = FormatOptions::default().with_null("null");
    let shown: Vec<String> = keys
        .iter()
        .zip(&names)
        .map(|(column, name)| {
            let value = ArrayFormatter::try_new(column.as_ref(), &options)
                .map(|f| f.value(row).to_string())
                .unwrap_or_else(|_| "?".into());
            format!("{name}={value}")
        })
        .collect();
    CdcError::Input(format!(
        "the snapshot has more than one row with key ({}); a snapshot holds one row per key. \
         Nothing of it was applied",
        shown.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{AsArray, Int64Array};
    use crate::arrow::datatypes::Int64Type;
    use crate::snapshot::tests::spec;

    fn snapshot(rows: &[(i64, Option<&str>)]) -> RecordBatch {
        let ids: Int64Array = rows.iter().map(|r| Some(r.0)).collect();
        let values: StringArray = rows.iter().map(|r| r.1).collect();
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(ids) as ArrayRef),
            ("v", Arc::new(values) as ArrayRef),
        ])
        .unwrap()
    }

    fn run(
        previous: Option<&SnapshotState>,
        batch: RecordBatch,
        version: i64,
    ) -> Result<SnapshotDiff> {
        let schema = batch.schema();
        diff(
            previous,
            &spec(&["id"]),
            &schema,
            std::iter::once(Ok(batch)),
            version,
            &Interrupt::default(),
        )
    }

    fn ops(changes: &RecordBatch) -> Vec<(i64, String)> {
        let ids = changes.column(0).as_primitive::<Int64Type>();
        let ops = changes.column_by_name("_op").unwrap().as_string::<i32>();
        (0..changes.num_rows())
            .map(|i| (ids.value(i), ops.value(i).to_string()))
            .collect()
    }

    #[test]
    fn new_keys_insert_changed_rows_update_vanished_keys_delete_and_the_rest_stays_out() {
        let first = run(
            None,
            snapshot(&[(1, Some("a")), (2, Some("b")), (3, None)]),
            1,
        )
        .unwrap();
        assert_eq!(first.counts.inserted, 3);
        let second = run(
            Some(&first.next),
            snapshot(&[(3, None), (2, Some("B")), (4, Some("d"))]),
            2,
        )
        .unwrap();
        let c = second.counts;
        assert_eq!(
            (c.rows_in, c.inserted, c.updated, c.unchanged, c.deleted),
            (3, 1, 1, 1, 1)
        );
        assert_eq!(
            ops(&second.changes),
            vec![
                (2, "upsert".into()),
                (4, "upsert".into()),
                (1, "delete".into())
            ]
        );
        let versions = second.changes.column_by_name("_version").unwrap();
        assert_eq!(
            versions.as_primitive::<Int64Type>().values().to_vec(),
            vec![2; 3]
        );
        assert_eq!(second.next.len(), 3);
    }

    #[test]
    fn an_empty_snapshot_deletes_every_key_and_a_key_twice_is_an_error_naming_it() {
        let first = run(None, snapshot(&[(1, Some("a")), (2, Some("b"))]), 1).unwrap();
        let empty = run(Some(&first.next), snapshot(&[]), 2).unwrap();
        assert_eq!(empty.counts.deleted, 2);
        assert_eq!(ops(&empty.changes).len(), 2);
        let err = run(
            None,
            snapshot(&[(7, Some("a")), (8, None), (7, Some("a"))]),
            1,
        )
        .err()
        .unwrap();
        assert!(matches!(err, CdcError::Input(_)));
        assert!(err.to_string().contains("(id=7)"), "{err}");
    }

    #[test]
    fn null_keys_go_to_the_pipeline_to_be_rejected_and_never_into_the_state() {
        let ids = Int64Array::from(vec![Some(1), None]);
        let values = StringArray::from(vec!["a", "b"]);
        let batch = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(ids) as ArrayRef),
            ("v", Arc::new(values) as ArrayRef),
        ])
        .unwrap();
        let d = run(None, batch, 1).unwrap();
        assert_eq!(
            (d.counts.null_keys, d.counts.inserted, d.next.len()),
            (1, 1, 1)
        );
        assert_eq!(d.changes.num_rows(), 2);
    }

    #[test]
    fn another_column_set_or_a_lossy_type_is_a_schema_change() {
        let first = run(None, snapshot(&[(1, Some("a"))]), 1).unwrap();
        let extra = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("w", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ])
        .unwrap();
        let err = run(Some(&first.next), extra, 2).err().unwrap();
        assert!(matches!(err, CdcError::SchemaChange(_)), "{err}");
        let floats = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(crate::arrow::array::Float64Array::from(vec![1.5])) as ArrayRef,
            ),
            ("v", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ])
        .unwrap();
        let err = run(Some(&first.next), floats, 2).err().unwrap();
        assert!(matches!(err, CdcError::SchemaChange(_)), "{err}");
        let views = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            (
                "v",
                Arc::new(crate::arrow::array::StringViewArray::from(vec!["a"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let same = run(Some(&first.next), views, 2).unwrap();
        assert_eq!(
            same.counts.unchanged, 1,
            "a string view of the same text is no change"
        );
    }

    #[test]
    fn composite_keys_delete_with_their_columns_in_place() {
        let batch = |rows: &[(&str, i64, i64)]| {
            RecordBatch::try_from_iter(vec![
                (
                    "v",
                    Arc::new(Int64Array::from(
                        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                    )) as ArrayRef,
                ),
                (
                    "b",
                    Arc::new(Int64Array::from(
                        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                    )) as ArrayRef,
                ),
                (
                    "a",
                    Arc::new(StringArray::from(
                        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                    )) as ArrayRef,
                ),
            ])
            .unwrap()
        };
        let keys = SnapshotSpec {
            keys: vec!["a".into(), "b".into()],
            ..spec(&[])
        };
        let go = |prev: Option<&SnapshotState>, b: RecordBatch, v| {
            let schema = b.schema();
            diff(
                prev,
                &keys,
                &schema,
                std::iter::once(Ok(b)),
                v,
                &Interrupt::default(),
            )
            .unwrap()
        };
        let first = go(None, batch(&[("x", 1, 10), ("x", 2, 20)]), 1);
        let second = go(Some(&first.next), batch(&[("x", 2, 20)]), 2);
        let changes = second.changes;
        assert_eq!(changes.num_rows(), 1);
        assert_eq!(
            changes
                .column_by_name("a")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "x"
        );
        assert_eq!(
            changes
                .column_by_name("b")
                .unwrap()
                .as_primitive::<Int64Type>()
                .value(0),
            1
        );
        assert!(changes.column_by_name("v").unwrap().is_null(0));
    }
}
