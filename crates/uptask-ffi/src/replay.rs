//! What a listener added late has missed. The upload starts at once on uptask's threads, and a
//! binding's first callback can take longer to set up than a small upload takes to finish (a
//! JVM loads classes for it), so a listener added right after `upload_file` could otherwise see
//! nothing. Each kind's events are recorded as they happen (the last progress update; the
//! headers and every notice), and a new listener is given what it missed, then the events that
//! follow: each once, in order.

use std::sync::{Arc, Mutex, PoisonError};

/// What is kept of a kind's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// The last event only (progress: a late listener needs where the upload is).
    Last,
    /// Every event (headers, notices).
    All,
}

/// The events of one kind so far, numbered from 1.
#[derive(Debug)]
pub(crate) struct History<T> {
    keep: Keep,
    inner: Mutex<Recorded<T>>,
}

#[derive(Debug)]
struct Recorded<T> {
    /// The number of the last event.
    seq: u64,
    /// The kept events, each with its number.
    items: Vec<(u64, T)>,
}

impl<T: Clone> History<T> {
    pub(crate) fn new(keep: Keep) -> Arc<Self> {
        Arc::new(Self {
            keep,
            inner: Mutex::new(Recorded {
                seq: 0,
                items: Vec::new(),
            }),
        })
    }

    /// Records one event (on uptask's event thread, before any listener added after this
    /// history sees it).
    pub(crate) fn record(&self, item: T) {
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        r.seq += 1;
        let seq = r.seq;
        if self.keep == Keep::Last {
            r.items.clear();
        }
        r.items.push((seq, item));
    }

    fn since(&self, delivered: u64) -> Vec<(u64, T)> {
        let r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        r.items
            .iter()
            .filter(|(seq, _)| *seq > delivered)
            .cloned()
            .collect()
    }
}

/// One listener with the number of the last event it was given: events come to it one at a
/// time (under its lock), each once, in order, whether live or replayed.
pub(crate) struct Late<T> {
    history: Arc<History<T>>,
    delivered: Mutex<u64>,
    listener: Box<dyn Fn(&T) + Send + Sync>,
}

impl<T: Clone> Late<T> {
    pub(crate) fn new(
        history: &Arc<History<T>>,
        listener: impl Fn(&T) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            history: Arc::clone(history),
            delivered: Mutex::new(0),
            listener: Box::new(listener),
        })
    }

    /// Gives the listener every kept event it has not had yet: called when it is added (what
    /// it missed) and for each live event (already recorded: the history's recorder was added
    /// first, and uptask calls listeners in the order they were added), so that whichever
    /// comes first, nothing is given twice, out of order, or (of what is kept) not at all.
    pub(crate) fn catch_up(&self) {
        let mut delivered = self
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (seq, item) in self.history.since(*delivered) {
            *delivered = seq;
            (self.listener)(&item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting(history: &Arc<History<u32>>) -> (Arc<Late<u32>>, Arc<Mutex<Vec<u32>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&got);
        let late = Late::new(history, move |n| into.lock().unwrap().push(*n));
        (late, got)
    }

    #[test]
    fn a_late_progress_listener_gets_the_last_update_then_the_live_ones_once() {
        let history = History::new(Keep::Last);
        history.record(10);
        history.record(20);
        let (late, got) = collecting(&history);
        late.catch_up();
        history.record(30);
        late.catch_up();
        // The live call and the one at adding may race: nothing is given twice.
        late.catch_up();
        assert_eq!(*got.lock().unwrap(), [20, 30]);
    }

    #[test]
    fn a_late_notice_listener_gets_every_notice_in_order_whichever_call_comes_first() {
        let history = History::new(Keep::All);
        history.record(1);
        history.record(2);
        let (late, got) = collecting(&history);
        history.record(3);
        // The live event's call comes before the one at adding.
        late.catch_up();
        late.catch_up();
        history.record(4);
        late.catch_up();
        assert_eq!(*got.lock().unwrap(), [1, 2, 3, 4]);
    }
}
