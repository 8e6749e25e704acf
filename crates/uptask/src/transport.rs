//! The one seam between the protocol machines and the platforms: a transport sends a request
//! the machine described and returns the whole response; it also reads and hashes the source,
//! since only it can reach the bytes (a file natively, a `Blob` in the browser).
//!
//! Bodies are ranges of the planned source, so no machine ever holds file bytes.

use std::future::Future;

pub(crate) use uptask_proto::engine::{Body, Request, Response};

use crate::UploadError;
use crate::digest::Algorithm;

/// Sends the requests of one upload. `progress` is told how many body bytes of *this* request
/// the transport has accepted so far.
pub(crate) trait Transport: Send + Sync {
    fn send(
        &self,
        request: &Request,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> impl Future<Output = Result<Response, UploadError>> + Send;

    /// The next bytes of a stream source, up to `max`; fewer only at its end.
    fn read_stream(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<bytes::Bytes, UploadError>> + Send;

    /// The digest of `len` bytes of the source from `offset`.
    fn digest(
        &self,
        algorithm: Algorithm,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, UploadError>> + Send;
}
