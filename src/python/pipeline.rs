//! `Pipeline`: a configured `batch_upsert`, run against a `TableCore`.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use super::detached;
use super::errors::IntoPyResult;
use super::import::{read_batches, stream_batches};
use super::plan::{outcome_to_py, PlanCore, PyOutcome};
use super::table::TableCore;
use crate::decode::{DecodeOptions, Mode};
use crate::enrich::{JoinHow, Lookup};
use crate::error::CdcError;
use crate::pipeline::{self, Config, Screening};
use crate::schema::parse_ddl;

#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
pub struct Pipeline {
    inner: pipeline::Pipeline,
    /// Which pipeline screened a `ScreenedBatch`: only that one may plan it.
    id: u64,
}

static PIPELINES: AtomicU64 = AtomicU64::new(0);

/// A micro-batch screened ahead by `Pipeline.screen` (decoded, filtered, probed), for `run`
/// or `plan` of the same pipeline in place of the Arrow data.
#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
pub struct ScreenedBatch {
    inner: Screening,
    by: u64,
}

#[pymethods]
impl ScreenedBatch {
    /// Input rows of the batch.
    #[getter]
    fn rows_in(&self) -> u64 {
        self.inner.rows_in()
    }
}

/// What `run` and `plan` take: Arrow data, or a batch this pipeline screened ahead.
#[derive(FromPyObject)]
pub enum BatchInput<'py> {
    Screened(Bound<'py, ScreenedBatch>),
    Arrow(AnyRecordBatch),
}

#[pymethods]
impl Pipeline {
    #[new]
    #[pyo3(signature = (
        *, keys, sequence_by, value_schema=None, value_column="value".to_string(), topic=None,
        topic_column="topic".to_string(), operation_column=None, upsert_operations=vec![],
        delete_operations=vec![], lookup=None, lookup_on=vec![], lookup_how="inner",
        columns=None, except_columns=vec![], time_zone="UTC"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        keys: Vec<String>,
        sequence_by: Vec<String>,
        value_schema: Option<&str>,
        value_column: String,
        topic: Option<String>,
        topic_column: String,
        operation_column: Option<String>,
        upsert_operations: Vec<String>,
        delete_operations: Vec<String>,
        lookup: Option<AnyRecordBatch>,
        lookup_on: Vec<(String, String)>,
        lookup_how: &str,
        columns: Option<Vec<String>>,
        except_columns: Vec<String>,
        time_zone: &str,
    ) -> PyResult<Self> {
        let value_schema = value_schema.map(parse_ddl).transpose().py()?;
        let how: JoinHow = lookup_how.parse().py()?;
        let lookup = match lookup {
            None => None,
            Some(table) => {
                // The stream's schema, not the first batch's: an empty lookup has no batch.
                let (batches, schema) = read_batches(table)?;
                Some(
                    detached(py, || -> Result<_, CdcError> {
                        Lookup::new(
                            arrow::compute::concat_batches(&schema, &batches)?,
                            &lookup_on,
                            how,
                        )
                    })
                    .py()?,
                )
            }
        };
        let config = Config {
            keys,
            sequence_by,
            value_schema,
            value_column,
            topic,
            topic_column,
            operation_column,
            upsert_operations,
            delete_operations,
            lookup,
            columns,
            except_columns,
            decode: DecodeOptions::new(Mode::Permissive, time_zone).py()?,
        };
        Ok(Self {
            inner: pipeline::Pipeline::new(config).py()?,
            id: PIPELINES.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The key columns, in order.
    #[getter]
    fn keys(&self) -> Vec<String> {
        self.inner.config().keys.clone()
    }

    /// Screens one micro-batch ahead of `run`/`plan`: it needs no table, so it can run on
    /// another thread while the previous batch merges.
    fn screen(&self, py: Python<'_>, batch: AnyRecordBatch) -> PyResult<ScreenedBatch> {
        let (chunks, _) = stream_batches(batch)?;
        let inner = detached(py, || self.inner.screen_stream(chunks)).py()?;
        Ok(ScreenedBatch { inner, by: self.id })
    }

    /// Decides one micro-batch against `table` without changing it (commit with `TableCore.commit`).
    fn plan(
        &self,
        py: Python<'_>,
        batch: BatchInput<'_>,
        batch_id: i64,
        table: &Bound<'_, TableCore>,
    ) -> PyResult<PlanCore> {
        let table = table.get();
        let plan = match batch {
            BatchInput::Screened(screened) => {
                let screening = self.screened_here(&screened)?;
                table.with(py, |target| {
                    self.inner.plan_screened(screening, batch_id, target)
                })
            }
            BatchInput::Arrow(batch) => {
                let (chunks, _) = stream_batches(batch)?;
                table.with(py, |target| {
                    self.inner.plan_stream(chunks, batch_id, target)
                })
            }
        };
        Ok(PlanCore {
            inner: Some(plan.py()?),
        })
    }

    /// Applies one micro-batch; returns (counters, skipped_replay, rejected pyarrow Table or None).
    fn run(
        &self,
        py: Python<'_>,
        batch: BatchInput<'_>,
        batch_id: i64,
        table: &Bound<'_, TableCore>,
    ) -> PyResult<PyOutcome> {
        let table = table.get();
        let outcome = match batch {
            BatchInput::Screened(screened) => {
                let screening = self.screened_here(&screened)?;
                table.with(py, |target| {
                    self.inner.run_screened(screening, batch_id, target)
                })
            }
            BatchInput::Arrow(batch) => {
                let (chunks, _) = stream_batches(batch)?;
                table.with(py, |target| self.inner.run_stream(chunks, batch_id, target))
            }
        };
        outcome_to_py(py, outcome.py()?)
    }
}

impl Pipeline {
    fn screened_here<'a>(&self, screened: &'a Bound<'_, ScreenedBatch>) -> PyResult<&'a Screening> {
        let screened = screened.get();
        if screened.by != self.id {
            return Err(CdcError::Config(
                "this batch was screened by another upsert; screen it with this one".into(),
            ))
            .py();
        }
        Ok(&screened.inner)
    }
}
