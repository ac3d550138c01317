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

// jemalloc for the extension's own allocations (Python keeps its allocator): it reuses freed
// Parquet page buffers instead of faulting fresh zeroed pages in for every batch, as glibc
// does once it trims them (bench/RESULTS.md: -20% CPU at 1M events in 10 batches).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One arena: fewer pages held by idle threads' arenas (peak RSS), no slower on two cores.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &b"narenas:1\0"[0];

/// Runs engine work without the GIL, on the engine's own threads (see `crate::threads`).
fn detached<R: Send>(py: Python<'_>, work: impl FnOnce() -> R + Send) -> R {
    py.detach(|| crate::threads::install(work))
}

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
