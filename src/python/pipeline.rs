//! `Pipeline`: a configured `batch_upsert`, run against a `TableCore`.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PySchema;

use super::errors::IntoPyResult;
use super::import::{read_batches, stream_batches};
use super::plan::{outcome_to_py, PlanCore, PyOutcome};
use super::table::TableCore;
use super::{detached, interruptible};
use crate::config::Config;
use crate::decode::{DecodeOptions, Mode};
use crate::enrich::{JoinHow, Lookup};
use crate::error::CdcError;
use crate::interrupt::Interrupt;
use crate::pipeline;
use crate::predicate::Predicate;
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
    inner: pipeline::ScreenedBatch,
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

/// A flag another thread sets to stop a `Pipeline.screen` at its next record batch.
#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
#[derive(Default)]
pub struct Stop(Interrupt);

#[pymethods]
impl Stop {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Asks the screening that holds this flag to stop (it raises KeyboardInterrupt).
    fn set(&self) {
        self.0.raise();
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
        delete_operations=vec![], apply_as_deletes=None, r#where=None, lookup=None,
        lookup_on=vec![], lookup_how="inner",
        columns=None, except_column_list=vec![], time_zone="UTC", memory_limit=None
    ))]
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
        apply_as_deletes: Option<&str>,
        r#where: Option<&str>,
        lookup: Option<AnyRecordBatch>,
        lookup_on: Vec<(String, String)>,
        lookup_how: &str,
        columns: Option<Vec<String>>,
        except_column_list: Vec<String>,
        time_zone: &str,
        memory_limit: Option<usize>,
    ) -> PyResult<Self> {
        let value_schema = value_schema.map(parse_ddl).transpose().py()?;
        let predicate =
            |option, text: Option<&str>| text.map(|t| Predicate::parse(option, t)).transpose().py();
        let apply_as_deletes = predicate("apply_as_deletes=", apply_as_deletes)?;
        let filter = predicate("where=", r#where)?;
        let how: JoinHow = lookup_how.parse().py()?;
        let lookup = match lookup {
            None => None,
            Some(table) => {
                // The stream's schema, not the first batch's: an empty lookup has no batch.
                let (batches, schema) = read_batches(table)?;
                Some(
                    detached(py, || -> Result<_, CdcError> {
                        Lookup::new(
                            crate::arrow::compute::concat_batches(&schema, &batches)?,
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
            apply_as_deletes,
            filter,
            lookup,
            columns,
            except_column_list,
            decode: DecodeOptions::new(Mode::Permissive, time_zone).py()?,
            memory_limit,
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

    /// The target columns this pipeline writes for batches of `schema` (even with no rows).
    fn output_schema(&self, py: Python<'_>, schema: PySchema) -> PyResult<Py<PyAny>> {
        let schema = self.inner.output_schema(schema.into_inner()).py()?;
        Ok(PySchema::new(schema).into_pyarrow(py)?.unbind())
    }

    /// Screens one micro-batch ahead of `run`/`plan`: it needs no table, so it can run on
    /// another thread while the previous batch merges.
    #[pyo3(signature = (batch, stop=None))]
    fn screen(
        &self,
        py: Python<'_>,
        batch: AnyRecordBatch,
        stop: Option<&Bound<'_, Stop>>,
    ) -> PyResult<ScreenedBatch> {
        let (chunks, _) = stream_batches(batch)?;
        // Ctrl-C on this thread, or `stop.set()` from another (apply_all's screener).
        let flag = stop.map(|s| s.get().0.clone()).unwrap_or_default();
        let inner = interruptible(py, flag, |interrupt| {
            self.inner
                .screen_stream(interrupt.guard(pipeline::in_parts(chunks)))
        })?;
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
                table.write(py, |target, interrupt| {
                    self.inner
                        .plan_screened(screening, batch_id, target, interrupt)
                })
            }
            BatchInput::Arrow(batch) => {
                let (chunks, _) = stream_batches(batch)?;
                table.write(py, |target, interrupt| {
                    self.inner.plan_stream(
                        interrupt.guard(pipeline::in_parts(chunks)),
                        batch_id,
                        target,
                        interrupt,
                    )
                })
            }
        }?;
        Ok(PlanCore { inner: Some(plan) })
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
        // Checked once more before the commit: an interrupted batch changes nothing.
        let outcome = match batch {
            BatchInput::Screened(screened) => {
                let screening = self.screened_here(&screened)?;
                table.write(py, |target, interrupt| {
                    let plan = self
                        .inner
                        .plan_screened(screening, batch_id, target, interrupt)?;
                    interrupt.check()?;
                    target.commit(plan)
                })
            }
            BatchInput::Arrow(batch) => {
                let (chunks, _) = stream_batches(batch)?;
                table.write(py, |target, interrupt| {
                    let plan = self.inner.plan_stream(
                        interrupt.guard(pipeline::in_parts(chunks)),
                        batch_id,
                        target,
                        interrupt,
                    )?;
                    interrupt.check()?;
                    target.commit(plan)
                })
            }
        }?;
        outcome_to_py(py, outcome)
    }
}

impl Pipeline {
    fn screened_here<'a>(
        &self,
        screened: &'a Bound<'_, ScreenedBatch>,
    ) -> PyResult<&'a pipeline::ScreenedBatch> {
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
