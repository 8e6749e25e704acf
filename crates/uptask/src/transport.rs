//! The one seam between the protocol machines and the platforms: a transport sends a request
//! the machine described and returns the whole response; it also reads and hashes the source,
//! since only it can reach the bytes (a file natively, a `Blob` in the browser).
//!
//! Bodies are ranges of the planned source, so no machine ever holds file bytes.

use std::future::Future;

pub(crate) use uptask_proto::engine::{Body, Request, Response};

use crate::digest::Algorithm;
use crate::profile::{Invoked, Span};
use crate::{Header, Profile, UploadError};

/// What a transport hears while a request runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Heard<'a> {
    /// This many body bytes of the request have been accepted so far.
    Sent(u64),
    /// The final response's head arrived (its body is still to come).
    Head { status: u16, header: &'a Header },
}

/// Sends the requests of one upload, telling `hear` how the request goes.
pub(crate) trait Transport: Send + Sync {
    fn send(
        &self,
        request: &Request,
        hear: &mut (dyn FnMut(Heard<'_>) + Send),
    ) -> impl Future<Output = Result<Response, UploadError>> + Send;

    /// When the last request's stages happened, as the result's profile (a multipart upload is
    /// one request; tus and S3 make many and have none).
    fn profile(&self, invoked: Invoked, queued: Option<Span>) -> Option<Profile> {
        let _ = (invoked, queued);
        None
    }

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
