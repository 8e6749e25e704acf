//! The one seam between the protocol machines and the platforms: a transport sends a request
//! the machine described and returns the whole response; it also reads and hashes the source,
//! since only it can reach the bytes (a file natively, a `Blob` in the browser).
//!
//! Bodies are ranges of the planned source, so no machine ever holds file bytes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use uptask_proto::multipart::MultipartBody;

pub(crate) use uptask_proto::engine::{Body, Request, Response};

use super::planned::PlannedSource;
use super::rate::Limits;
use crate::digest::Algorithm;
use crate::profile::{Invoked, Span};
use crate::{ErrorKind, Header, Profile, UploadError};

/// What a transport needs of a planned upload; the protocol machines have the rest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup<'a> {
    /// The user's headers, sent with every request.
    pub(crate) header: &'a [(String, String)],
    /// The file's bytes.
    pub(crate) source: &'a PlannedSource,
    /// A multipart body's other files, in order (file `i + 1` of the body).
    pub(crate) more_sources: &'a [PlannedSource],
    /// The multipart body, for a multipart upload.
    pub(crate) multipart: Option<&'a MultipartBody>,
    /// How long a request may move no byte.
    pub(crate) stall: Option<Duration>,
    /// Browser only: send cookies and HTTP auth to another origin.
    pub(crate) with_credentials: bool,
    /// Bandwidth limits, applied at the socket.
    pub(crate) limits: &'a Limits,
    /// Offer HTTP/2 for a multipart upload.
    pub(crate) http2: bool,
    /// The proxies in force (not used in the browser, which applies its own).
    pub(crate) proxy: &'a uptask_proto::proxy::ProxyRules,
    /// Extra root certificates to trust.
    pub(crate) roots: &'a Arc<Vec<CertificateDer<'static>>>,
}

impl<'a> Setup<'a> {
    /// File `index` of a multipart body: the main source, then the added files.
    pub(crate) fn source_at(self, index: usize) -> Result<&'a PlannedSource, UploadError> {
        match index.checked_sub(1) {
            None => Ok(self.source),
            Some(i) => self.more_sources.get(i).ok_or_else(|| {
                UploadError::new(
                    ErrorKind::Internal,
                    "the body names a file the plan does not have",
                )
            }),
        }
    }

    /// The multipart body, which only a multipart upload has.
    pub(crate) fn multipart(self) -> Result<&'a MultipartBody, UploadError> {
        self.multipart.ok_or_else(|| {
            UploadError::new(
                ErrorKind::Internal,
                "a multipart body was asked of another protocol's upload",
            )
        })
    }
}

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
