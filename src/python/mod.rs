//! The binding layer: the only code that knows Python. It converts types and errors and
//! releases the GIL around every kernel.
mod bucket;
mod errors;
mod import;
mod json;
mod pipeline;
mod plan;
mod read;
mod table;

use pyo3::prelude::*;

#[pymodule]
fn _cdc_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add_class::<pipeline::ScreenedBatch>()?;
    m.add_class::<table::TableCore>()?;
    m.add_class::<plan::PlanCore>()?;
    m.add_function(wrap_pyfunction!(json::from_json, m)?)?;
    m.add_function(wrap_pyfunction!(bucket::key_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(json::parse_schema, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(read::scan_parquet, m)?)?;
    Ok(())
}
