//! Progress of an upload sent in parts: each part's count, summed for the event sink.

use std::sync::{Mutex, PoisonError};

use crate::task::EventSink;

/// Progress shared by the parts of a parallel upload: each part's count, summed for the sink.
pub(crate) struct Meter<'s> {
    sink: Mutex<&'s mut EventSink>,
    parts: Mutex<Vec<u64>>,
}

impl<'s> Meter<'s> {
    pub(crate) fn new(sink: &'s mut EventSink, parts: usize) -> Self {
        Self {
            sink: Mutex::new(sink),
            parts: Mutex::new(vec![0; parts]),
        }
    }

    /// Part `i` has `sent` bytes on the server or in flight. `rewind` when it stepped back.
    pub(crate) fn set(&self, i: usize, sent: u64, rewind: bool) {
        self.update(i, sent, rewind, |_| true);
    }

    /// Part `i` has `sent` bytes out in its current attempt; counts only what goes past its
    /// best attempt so far, so a part sent again is not counted twice and the sum never falls.
    pub(crate) fn raise(&self, i: usize, sent: u64) {
        self.update(i, sent, false, |best| sent >= best);
    }

    /// Sets part `i` to `sent` when `accept(current)` allows, and reports the new sum.
    fn update(&self, i: usize, sent: u64, rewind: bool, accept: impl FnOnce(u64) -> bool) {
        let total: u64 = {
            let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
            match parts.get_mut(i) {
                Some(p) if accept(*p) => *p = sent,
                Some(_) => return,
                None => {}
            }
            parts.iter().sum()
        };
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if rewind {
            sink.rewind();
        }
        sink.progress(total);
    }

    /// Starts over with `parts` parts at zero.
    pub(crate) fn reset(&self, parts: usize) {
        *self.parts.lock().unwrap_or_else(PoisonError::into_inner) = vec![0; parts];
    }

    pub(crate) fn with_sink<T>(&self, f: impl FnOnce(&mut EventSink) -> T) -> T {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut sink)
    }
}
