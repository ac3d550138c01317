//! The binding layer: the only code that knows Python. It converts types and errors and
//! releases the GIL around every kernel.
mod bucket;
mod deletion_vector;
mod errors;
mod import;
mod json;
mod pipeline;
mod places;
mod plan;
mod read;
mod snapshot;
mod table;

use pyo3::prelude::*;

use crate::error::CdcError;
use crate::interrupt::Interrupt;
use errors::IntoPyResult;

// jemalloc for the extension's own allocations (Python keeps its allocator): it reuses freed
// Parquet page buffers instead of faulting fresh zeroed pages in for every batch, as glibc
// does once it trims them (bench/RESULTS.md, "Speed work log": jemalloc).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One arena: fewer pages held by idle threads' arenas (peak RSS), no slower on two cores.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &b"narenas:1\0"[0];

/// Runs engine work without the GIL, on the engine's own threads (see `crate::threads`).
fn detached<R: Send>(py: Python<'_>, work: impl FnOnce() -> R + Send) -> R {
    py.detach(|| crate::threads::install(work))
}

/// [`detached`] for work that may take seconds: this thread watches for Ctrl-C meanwhile
/// (Python runs signal handlers only when it gets the GIL back) and raises the work's
/// `interrupt` (which others may raise too), which stops it at its next safe point. An interrupted batch raises
/// `KeyboardInterrupt` with nothing applied; one that finished first is returned whole and
/// the interrupt is raised again, for Python to deliver right after.
fn interruptible<R: Send>(
    py: Python<'_>,
    interrupt: Interrupt,
    work: impl FnOnce(&Interrupt) -> Result<R, CdcError> + Send,
) -> PyResult<R> {
    use std::sync::mpsc::{channel, RecvTimeoutError};
    use std::time::Duration;

    let mut signal: Option<PyErr> = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = channel();
            let flag = interrupt.clone();
            scope.spawn(move || {
                let _ = done.send(crate::threads::install(|| work(&flag)));
            });
            loop {
                match finished.recv_timeout(Duration::from_millis(50)) {
                    Ok(outcome) => return Some(outcome),
                    Err(RecvTimeoutError::Disconnected) => return None, // it panicked
                    Err(RecvTimeoutError::Timeout) if signal.is_none() => {
                        if let Err(err) = Python::attach(|py| py.check_signals()) {
                            signal = Some(err);
                            interrupt.raise();
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
        })
    });
    let outcome = outcome.ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err("the engine's worker thread failed")
    })?;
    match (outcome, signal) {
        (Err(CdcError::Interrupted), Some(signal)) => Err(signal),
        (outcome, Some(signal)) => {
            // The batch finished before it saw the flag: it is whole. Ctrl-C is delivered
            // again right after we return; another handler's error is raised now.
            if signal.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                // SAFETY: it only marks SIGINT as pending, for the interpreter to handle.
                unsafe { pyo3::ffi::PyErr_SetInterrupt() };
                outcome.py()
            } else {
                Err(signal)
            }
        }
        (outcome, None) => outcome.py(),
    }
}

// Free-threading safe: every class but `PlanCore` is frozen, with its mutable state behind
// a `Mutex` (`TableCore`) or atomics (`Stop`, the pipeline ids); `PlanCore` relies on PyO3's
// thread-safe borrow flag; the import guard is thread-local. (Wheels are abi3 today, which
// free-threaded CPython does not load; this keeps a free-threaded build from re-enabling the GIL.)
#[pymodule(gil_used = false)]
fn _cdc_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add_class::<pipeline::ScreenedBatch>()?;
    m.add_class::<pipeline::Stop>()?;
    m.add_class::<table::TableCore>()?;
    m.add_class::<plan::PlanCore>()?;
    m.add_class::<snapshot::SnapshotState>()?;
    m.add_class::<snapshot::SnapshotDiff>()?;
    m.add_function(wrap_pyfunction!(snapshot::snapshot_diff, m)?)?;
    m.add_function(wrap_pyfunction!(json::from_json, m)?)?;
    m.add_function(wrap_pyfunction!(bucket::key_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(json::parse_schema, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(read::scan_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(deletion_vector::deletion_vector_file, m)?)?;
    m.add_function(wrap_pyfunction!(deletion_vector::read_deletion_vector, m)?)?;
    m.add_function(wrap_pyfunction!(deletion_vector::z85_encode, m)?)?;
    m.add_function(wrap_pyfunction!(deletion_vector::z85_decode, m)?)?;
    m.add_function(wrap_pyfunction!(places::place_positions, m)?)?;
    Ok(())
}
