//! Listener registries: add, remove one, remove all, and snapshot for dispatch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Identifies one registered listener, for removing it later.
///
/// ```
/// # #[tokio::main] async fn main() {
/// # let opts = uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![1], "f");
/// let task = uptask::upload_file(opts);
/// let id = task.on_progress_update(|_| {});
/// assert!(task.off_progress_update(id));
/// assert!(!task.off_progress_update(id)); // already gone
/// # task.abort();
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(u64);

pub(crate) type Callback<T> = Arc<dyn Fn(&T) + Send + Sync + 'static>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Listeners<T> {
    list: Mutex<Vec<(ListenerId, Callback<T>)>>,
}

impl<T> Listeners<T> {
    pub(crate) fn new() -> Self {
        Self {
            list: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(ListenerId, Callback<T>)>> {
        // A listener never runs under this lock, so poisoning can only come from a panic in
        // Vec code itself; the data is still consistent.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(&self, cb: Callback<T>) -> ListenerId {
        let id = ListenerId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        self.lock().push((id, cb));
        id
    }

    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|(i, _)| *i != id);
        list.len() != before
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The listeners registered now; dispatch iterates this copy with no lock held, so a
    /// listener may add or remove listeners (effective from the next event).
    pub(crate) fn snapshot(&self) -> Vec<Callback<T>> {
        self.lock().iter().map(|(_, cb)| Arc::clone(cb)).collect()
    }
}

impl<T> std::fmt::Debug for Listeners<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("count", &self.lock().len())
            .finish()
    }
}
