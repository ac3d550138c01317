//! Snapshots: `snapshot_diff` and the state it carries from one snapshot to the next.
use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PySchema;

use super::errors::IntoPyResult;
use super::import::{read_one_batch, stream_batches};
use super::plan::table_or_none;
use super::{detached, interruptible};
use crate::arrow::record_batch::RecordBatch;
use crate::interrupt::Interrupt;
use crate::pipeline::in_parts;
use crate::snapshot::{self, DiffCounts, SnapshotSpec};

/// The last applied snapshot: each key with a fingerprint of its row (immutable).
#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
pub struct SnapshotState {
    inner: Arc<snapshot::SnapshotState>,
}

#[pymethods]
impl SnapshotState {
    /// A state saved with `to_arrow`, for the target `columns` keyed by `keys`.
    #[staticmethod]
    fn restore(
        py: Python<'_>,
        columns: PySchema,
        keys: Vec<String>,
        saved: AnyRecordBatch,
    ) -> PyResult<Self> {
        let saved = read_one_batch(saved)?;
        let columns = columns.into_inner();
        let inner = detached(py, || {
            snapshot::SnapshotState::restore(columns, &keys, &saved)
        })
        .py()?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The key columns (`key.<name>`) and `fingerprint` (uint64), one row per key.
    fn to_arrow(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let batch = detached(py, || self.inner.to_batch()).py()?;
        Ok(table_or_none(py, Some(batch))?.expect("a batch was given"))
    }

    /// The target columns, in the target's order and types.
    #[getter]
    fn columns(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PySchema::new(self.inner.columns().clone())
            .into_pyarrow(py)?
            .unbind())
    }

    /// The key columns' names.
    #[getter]
    fn keys(&self) -> Vec<String> {
        self.inner.key_names()
    }

    /// The fingerprint scheme (a saved state is only reused under the same one).
    #[classattr]
    fn fingerprint() -> &'static str {
        snapshot::FINGERPRINT
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// A snapshot's difference from the previous one (see `snapshot_diff`).
#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
pub struct SnapshotDiff {
    changes: RecordBatch,
    counts: DiffCounts,
    state: Py<SnapshotState>,
}

#[pymethods]
impl SnapshotDiff {
    /// The change batch: target columns, the operation and the version columns.
    fn changes(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(table_or_none(py, Some(self.changes.clone()))?.expect("a batch was given"))
    }

    /// rows_in, inserted, updated, unchanged, deleted, null_keys.
    #[getter]
    fn counts(&self) -> HashMap<&'static str, u64> {
        let c = self.counts;
        HashMap::from([
            ("rows_in", c.rows_in),
            ("inserted", c.inserted),
            ("updated", c.updated),
            ("unchanged", c.unchanged),
            ("deleted", c.deleted),
            ("null_keys", c.null_keys),
        ])
    }

    /// The state after this snapshot.
    #[getter]
    fn state(&self, py: Python<'_>) -> Py<SnapshotState> {
        self.state.clone_ref(py)
    }
}

/// The difference of `snapshot` from `previous` (None: the first snapshot).
#[pyfunction]
#[pyo3(signature = (
    snapshot, previous, *, keys, version, operation_column, version_column, columns=None,
    except_column_list=vec![]
))]
pub fn snapshot_diff(
    py: Python<'_>,
    snapshot: AnyRecordBatch,
    previous: Option<&Bound<'_, SnapshotState>>,
    keys: Vec<String>,
    version: i64,
    operation_column: String,
    version_column: String,
    columns: Option<Vec<String>>,
    except_column_list: Vec<String>,
) -> PyResult<SnapshotDiff> {
    let spec = SnapshotSpec {
        keys,
        columns,
        except_column_list,
        operation_column,
        version_column,
    };
    let previous = previous.map(|p| p.get().inner.clone());
    let (chunks, schema) = stream_batches(snapshot)?;
    let diff = interruptible(py, Interrupt::default(), |interrupt| {
        snapshot::diff(
            previous.as_deref(),
            &spec,
            &schema,
            interrupt.guard(in_parts(chunks)),
            version,
            interrupt,
        )
    })?;
    let state = Py::new(
        py,
        SnapshotState {
            inner: Arc::new(diff.next),
        },
    )?;
    Ok(SnapshotDiff {
        changes: diff.changes,
        counts: diff.counts,
        state,
    })
}
