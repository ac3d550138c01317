//! Batches for the unit tests of the orchestration (pipeline, plan).
use std::sync::Arc;

use crate::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};

/// Parsed events with columns `id`, `ts` (both BIGINT), `op` and `v` (strings).
pub(crate) fn events(rows: &[(i64, i64, &str, &str)]) -> RecordBatch {
    let ids: Int64Array = rows.iter().map(|r| r.0).collect();
    let sequences: Int64Array = rows.iter().map(|r| r.1).collect();
    let ops: StringArray = rows.iter().map(|r| Some(r.2)).collect();
    let values: StringArray = rows.iter().map(|r| Some(r.3)).collect();
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(ids) as ArrayRef),
        ("ts", Arc::new(sequences) as ArrayRef),
        ("op", Arc::new(ops) as ArrayRef),
        ("v", Arc::new(values) as ArrayRef),
    ])
    .unwrap()
}
