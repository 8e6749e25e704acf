//! The seam between tus and where uploads live: the local directory ([`super::local`]) or an
//! S3 bucket ([`super::bucket`]). The protocol (headers, offsets, checksums, answers) is
//! written once, above it.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::info::Info;
use crate::error::ApiError;

/// Where tus uploads live, and the lock that keeps one writer per upload.
pub(crate) trait TusStore: Send + Sync + 'static {
    /// Held while a request writes or removes an upload.
    type Guard: Send + Sync;
    /// The bytes of one request, being appended.
    type Append: Append;

    /// Takes the upload's lock; `None` when another request (through any instance sharing
    /// the store) holds it.
    fn lock(&self, id: &str) -> impl Future<Output = Result<Option<Self::Guard>, ApiError>> + Send;

    /// Gives the lock back.
    fn unlock(&self, guard: Self::Guard) -> impl Future<Output = ()> + Send;

    /// Makes room for a new upload and keeps `info` (the store may add to it).
    fn create(
        &self,
        id: &str,
        info: &mut Info,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// An upload's info; `None` when there is no such upload.
    fn load(&self, id: &str) -> impl Future<Output = Result<Option<Info>, ApiError>> + Send;

    /// Replaces an upload's info.
    fn save(&self, id: &str, info: &Info) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The bytes the store holds of an upload, as they are now.
    fn offset(&self, id: &str, info: &Info) -> impl Future<Output = Result<u64, ApiError>> + Send;

    /// Starts appending at `offset` (the upload's own offset). With `hold`, nothing written may
    /// count before [`Append::finish`] says keep (a checksum is still to be verified).
    fn append(
        &self,
        id: &str,
        info: &Info,
        offset: u64,
        guard: &Self::Guard,
        hold: bool,
    ) -> impl Future<Output = Result<Self::Append, ApiError>> + Send;

    /// Turns a complete upload into its file (a part of a concatenation is kept where
    /// [`concatenate`](Self::concatenate) can read it) and records where in `info.stored`.
    fn publish(
        &self,
        id: &str,
        info: &mut Info,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Writes the bytes of complete `parts`, in order, as the data of the new upload `id`
    /// (its info already says its length and parts); publishing is the caller's next step.
    fn concatenate(
        &self,
        id: &str,
        info: &mut Info,
        parts: &[(String, Info)],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Removes everything of an upload, its published file too.
    fn remove(&self, id: &str, info: &Info) -> impl Future<Output = ()> + Send;

    /// Where an upload is, as hooks are told.
    fn storage(&self, info: &Info) -> crate::hooks::StorageFacts;

    /// The ids of uploads that may have expired, for the expiry sweep (which reads and judges
    /// each); a store may tidy its leftovers on the way. With sweeps from every instance on a
    /// shared store, it may answer none when another swept within `every`.
    fn sweep_ids(
        &self,
        expiry: Duration,
        every: Duration,
    ) -> impl Future<Output = Result<Vec<String>, ApiError>> + Send;

    /// Puts a published upload's info where sweeps no longer read it (the sweep calls it for
    /// every published upload it meets).
    fn settle(&self, id: &str, info: &Info) -> impl Future<Output = ()> + Send {
        let _ = (id, info);
        async {}
    }
}

/// One request's bytes on their way into the store.
pub(crate) trait Append: Send {
    /// Takes the next chunk.
    fn write(&mut self, chunk: Bytes) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Ends the request: `keep` keeps every byte written; otherwise the store keeps as few as
    /// it can (none when appending with `hold`). The upload's offset after it.
    fn finish(self, keep: bool) -> impl Future<Output = Result<u64, ApiError>> + Send;
}
