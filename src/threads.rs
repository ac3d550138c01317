//! The engine's worker threads: a rayon pool that belongs to the process that made it.
//!
//! A forked child (`multiprocessing`'s default start on Linux, a Spark worker daemon)
//! inherits rayon's global pool but none of its threads, so parallel work handed to it
//! waits forever. Work run through [`install`] goes to a pool made by this very process: a
//! child makes its own on first use. No lock guards the pool, since a lock held by another
//! thread at the fork would stay locked in the child.
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use rayon::{ThreadPool, ThreadPoolBuilder};

struct Owned {
    pid: u32,
    pool: ThreadPool,
}

static POOL: AtomicPtr<Owned> = AtomicPtr::new(ptr::null_mut());

/// Runs `work` (and the parallel iterators in it) on this process's pool.
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(work),
        // No threads to be had: rayon's global pool, as without this module.
        None => work(),
    }
}

fn pool() -> Option<&'static ThreadPool> {
    let pid = std::process::id();
    let current = POOL.load(Ordering::Acquire);
    // SAFETY: a published pool is leaked, never freed, so the pointer stays valid.
    if let Some(owned) = unsafe { current.as_ref() } {
        if owned.pid == pid {
            return Some(&owned.pool);
        }
    }
    let threads = ThreadPoolBuilder::new()
        .thread_name(|i| format!("cdc_rs-{i}"))
        .build()
        .ok()?;
    let made = Box::into_raw(Box::new(Owned { pid, pool: threads }));
    match POOL.compare_exchange(current, made, Ordering::AcqRel, Ordering::Acquire) {
        // The parent's pool (if any) is left leaked: its threads are not in this process.
        Ok(_) => Some(unsafe { &(*made).pool }),
        Err(_) => {
            // Another thread of this process published one first: use that one.
            // SAFETY: `made` was never published, so this is its only owner.
            drop(unsafe { Box::from_raw(made) });
            pool()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn parallel_work_runs_on_one_pool_per_process() {
        let sum: u64 = install(|| (0..100_000u64).into_par_iter().sum());
        assert_eq!(sum, 4_999_950_000);
        let first = pool().map(|p| p as *const ThreadPool);
        assert_eq!(first, pool().map(|p| p as *const ThreadPool));
        let names = install(|| rayon::current_thread_index().is_some());
        assert!(names, "install runs the work on a worker of the pool");
    }
}
