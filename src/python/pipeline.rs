//! `Pipeline`: a configured `batch_upsert`, run against a `TableCore`.

use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use super::errors::IntoPyResult;
use super::import::{read_batches, stream_batches};
use super::plan::{outcome_to_py, PlanCore, PyOutcome};
use super::table::TableCore;
use crate::decode::{DecodeOptions, Mode};
use crate::enrich::{JoinHow, Lookup};
use crate::error::CdcError;
use crate::pipeline::{self, Config};
use crate::schema::parse_ddl;

#[pyclass(module = "cdc_rs._cdc_rs", frozen)]
pub struct Pipeline {
    inner: pipeline::Pipeline,
}

fn collect(input: AnyRecordBatch) -> PyResult<Vec<RecordBatch>> {
    Ok(read_batches(input)?.0)
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
                let batches = collect(table)?;
                Some(
                    py.detach(|| -> Result<_, CdcError> {
                        let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| {
                            std::sync::Arc::new(arrow::datatypes::Schema::empty())
                        });
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
        })
    }

    /// The key columns, in order.
    #[getter]
    fn keys(&self) -> Vec<String> {
        self.inner.config().keys.clone()
    }

    /// Decides one micro-batch against `table` without changing it (commit with `TableCore.commit`).
    fn plan(
        &self,
        py: Python<'_>,
        batch: AnyRecordBatch,
        batch_id: i64,
        table: &Bound<'_, TableCore>,
    ) -> PyResult<PlanCore> {
        let (chunks, _) = stream_batches(batch)?;
        let table = table.borrow();
        let target = &table.inner;
        let plan = py
            .detach(|| self.inner.plan_stream(chunks, batch_id, target))
            .py()?;
        Ok(PlanCore { inner: Some(plan) })
    }

    /// Applies one micro-batch; returns (counters, skipped_replay, rejected pyarrow Table or None).
    fn run(
        &self,
        py: Python<'_>,
        batch: AnyRecordBatch,
        batch_id: i64,
        table: &Bound<'_, TableCore>,
    ) -> PyResult<PyOutcome> {
        let (chunks, _) = stream_batches(batch)?;
        let mut table = table.borrow_mut();
        let target = &mut table.inner;
        let outcome = py
            .detach(|| {
                let plan = self.inner.plan_stream(chunks, batch_id, target)?;
                target.commit(plan)
            })
            .py()?;
        outcome_to_py(py, outcome)
    }
}
