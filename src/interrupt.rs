//! A flag that asks long engine work to stop at its next safe point (Ctrl-C in a notebook).
//!
//! The engine checks it between the record batches of a micro-batch and once more before a
//! batch is committed, so an interrupted batch is never half-applied: either the flag is
//! seen first and nothing changes, or the batch is whole.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{CdcError, Result};

#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Asks the work holding a clone of this flag to stop.
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once the flag is raised.
    pub fn check(&self) -> Result<()> {
        if self.is_raised() {
            Err(CdcError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// `items`, with the flag checked before each one is taken.
    pub fn guard<T>(
        &self,
        items: impl Iterator<Item = Result<T>>,
    ) -> impl Iterator<Item = Result<T>> {
        let flag = self.clone();
        let mut items = items.fuse();
        let mut stopped = false;
        std::iter::from_fn(move || {
            if stopped {
                return None;
            }
            if let Err(e) = flag.check() {
                stopped = true;
                return Some(Err(e));
            }
            items.next()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_stream_stops_with_interrupted_once_the_flag_is_raised() {
        let flag = Interrupt::default();
        let mut items = flag.guard((0..5).map(Ok));
        assert_eq!(items.next().unwrap().unwrap(), 0);
        flag.raise();
        assert!(matches!(items.next(), Some(Err(CdcError::Interrupted))));
        assert!(items.next().is_none());
        assert!(flag.check().is_err());
    }
}
