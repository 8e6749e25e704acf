//! Turns [`UploadOptions`] into a checked plan, or the first reason it cannot be sent.
//!
//! Everything a user can get wrong is caught here, before a connection is opened: a request
//! that starts is a request whose every byte is known to be valid.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use uptask_proto::multipart::{Boundary, FilePart, MultipartBody};
use url::Url;

use crate::backend::{Fingerprint, PlannedSource, Setup};
use crate::{Protocol, Source, UploadError, UploadOptions};

/// Headers that uptask owns: setting them would contradict the body it sends.
const MULTIPART_OWNED: &[&str] = &["content-type", "content-length", "transfer-encoding"];

/// The same for S3, plus the headers the signature and the parts carry.
const S3_OWNED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "authorization",
    "content-md5",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-algorithm",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "host",
];

/// The same for tus, plus the protocol's own headers.
const TUS_OWNED: &[&str] = &[
    "content-type",
    "content-length",
    "transfer-encoding",
    "tus-resumable",
    "upload-offset",
    "upload-length",
    "upload-defer-length",
    "upload-metadata",
    "upload-checksum",
    "upload-concat",
];

/// A checked upload: where to connect, what to send and how.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Where the request goes first; multipart redirects are followed only within its origin.
    pub(crate) url: Url,
    /// The user's headers, checked for the protocol.
    pub(crate) header: Vec<(String, String)>,
    pub(crate) source: PlannedSource,
    /// The multipart body's other files, in order (file `i + 1` of the body).
    pub(crate) more_sources: Vec<PlannedSource>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) stall: Option<Duration>,
    /// Browser only: send cookies and HTTP auth to another origin.
    pub(crate) with_credentials: bool,
    /// When `upload_file` was called, for the result's profile.
    pub(crate) invoked: crate::profile::Invoked,
    /// Bandwidth limits, applied at the socket.
    pub(crate) limits: crate::backend::Limits,
    /// The client's queue to wait in first, if any.
    pub(crate) queue: Option<crate::queue::Queue>,
    /// Offer HTTP/2 for a multipart upload.
    pub(crate) http2: bool,
    /// The proxies in force (the environment's, read when the upload was planned).
    pub(crate) proxy: uptask_proto::proxy::ProxyRules,
    pub(crate) roots: Arc<Vec<CertificateDer<'static>>>,
    pub(crate) kind: Kind,
}

/// The protocol-specific part of a plan.
#[derive(Debug)]
pub(crate) enum Kind {
    Multipart { body: MultipartBody },
    Tus(TusPlan),
    S3(S3Plan),
}

/// An S3 upload: the options; the plan's URL is the object's (or, through a signer, the
/// signer's).
#[derive(Debug)]
pub(crate) struct S3Plan {
    pub(crate) options: crate::S3Options,
    pub(crate) content_type: String,
    /// The file's name, which a signer may choose the key by.
    pub(crate) file_name: String,
    /// The form fields, which go to a signer as the upload's metadata.
    pub(crate) metadata: Vec<(String, String)>,
    /// This file's entry in the resume store, when the source is a file and a store is set.
    pub(crate) resume: Option<crate::resume::Entry>,
}

/// A tus upload: the encoded metadata and the options.
#[derive(Debug)]
pub(crate) struct TusPlan {
    pub(crate) metadata: String,
    pub(crate) options: crate::TusOptions,
    /// This file's entry in the resume store, when the source is a file and a store is set.
    pub(crate) resume: Option<crate::resume::Entry>,
}

impl Plan {
    /// The number of bytes the progress events count to.
    pub(crate) fn expected(&self) -> u64 {
        match &self.kind {
            Kind::Multipart { body } => body.len(),
            Kind::Tus(_) | Kind::S3(_) => self.source.len(),
        }
    }

    /// What the transport needs of the plan.
    pub(crate) fn setup(&self) -> Setup<'_> {
        Setup {
            header: &self.header,
            source: &self.source,
            more_sources: &self.more_sources,
            multipart: match &self.kind {
                Kind::Multipart { body } => Some(body),
                _ => None,
            },
            stall: self.stall,
            with_credentials: self.with_credentials,
            limits: &self.limits,
            http2: self.http2,
            proxy: &self.proxy,
            roots: &self.roots,
        }
    }
}

impl UploadOptions {
    /// Checks the options as [`upload_file`](crate::upload_file) would, without sending anything:
    /// the URL, headers, field name and that the file is a readable regular file.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "no-such-file.txt", "file");
    /// let err = opts.validate().unwrap_err();
    /// assert!(err.err_msg().starts_with("uploadFile:fail file not found: no-such-file.txt"));
    /// ```
    ///
    /// # Errors
    /// The first problem found, as an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error.
    pub fn validate(&self) -> Result<(), crate::UploadError> {
        crate::prepare::prepare(self).map(|_| ())
    }
}

pub(crate) fn prepare(opts: &UploadOptions) -> Result<Plan, UploadError> {
    let invoked = crate::profile::Invoked::at(crate::backend::now(), crate::backend::unix_time());
    let url = match &opts.protocol {
        Protocol::S3(s3) => match &s3.signer {
            Some(signer) => signer_url(&opts.url, signer)?,
            None => s3_object_url(&opts.url, s3)?,
        },
        _ => parse_url(&opts.url)?,
    };
    let streams = matches!(opts.protocol, Protocol::Tus(_));
    let (source, default_name) = plan_source(&opts.source, streams)?;
    let file_name = opts.file_name.clone().unwrap_or(default_name);
    let roots = Arc::new(parse_roots(&opts.root_certificates)?);
    let proxy = opts.proxy.rules(&url)?;
    if !opts.more_files.is_empty() && !matches!(opts.protocol, Protocol::Multipart) {
        return Err(UploadError::invalid(
            "several files go in one multipart request; a tus or S3 upload sends one file",
        ));
    }
    let mut parts = vec![FilePart::new(&opts.name, &file_name, source.len())];
    let mut more_sources = Vec::with_capacity(opts.more_files.len());
    for file in &opts.more_files {
        let (planned, default_name) = plan_source(&file.source, false)?;
        let name = file.file_name.as_deref().unwrap_or(&default_name);
        if file.name.is_empty() {
            return Err(UploadError::invalid(format!(
                "the form field name of {name:?} is empty"
            )));
        }
        parts.push(FilePart::new(&file.name, name, planned.len()));
        more_sources.push(planned);
    }
    let kind = match &opts.protocol {
        Protocol::Multipart => plan_multipart(opts, &parts)?,
        Protocol::Tus(tus) => Kind::Tus(plan_tus(opts, tus, &url, &file_name, &source)?),
        Protocol::S3(s3) => {
            if s3.signer.is_some() {
                check_user_headers(&opts.header, MULTIPART_OWNED, "a request to a signer")?;
            } else {
                check_user_headers(&opts.header, S3_OWNED, "an S3 upload")?;
            }
            Kind::S3(S3Plan {
                options: s3.clone(),
                content_type: uptask_proto::multipart::content_type_for(&file_name),
                file_name: file_name.clone(),
                metadata: opts.form_data.clone(),
                resume: resume_entry(&source, s3.resume_store.as_ref(), &url),
            })
        }
    };
    Ok(Plan {
        url,
        header: opts.header.clone(),
        source,
        more_sources,
        timeout: opts.timeout,
        stall: opts.stall_timeout,
        with_credentials: opts.with_credentials,
        invoked,
        limits: opts.limits.clone(),
        queue: opts.queue.clone(),
        http2: opts.http2,
        proxy,
        roots,
        kind,
    })
}

fn plan_multipart(opts: &UploadOptions, parts: &[FilePart]) -> Result<Kind, UploadError> {
    if opts.name.is_empty() {
        return Err(UploadError::invalid(
            "the form field name (`name`) is empty",
        ));
    }
    check_user_headers(&opts.header, MULTIPART_OWNED, "a multipart upload")?;
    let body = MultipartBody::with_files(
        Boundary::from_random(random_bytes()?),
        &opts.form_data,
        parts,
    );
    Ok(Kind::Multipart { body })
}

fn plan_tus(
    opts: &UploadOptions,
    tus: &crate::TusOptions,
    url: &Url,
    file_name: &str,
    source: &PlannedSource,
) -> Result<TusPlan, UploadError> {
    check_user_headers(&opts.header, TUS_OWNED, "a tus upload")?;
    let mut pairs = vec![
        ("filename".to_owned(), file_name.to_owned()),
        (
            "filetype".to_owned(),
            uptask_proto::multipart::content_type_for(file_name),
        ),
    ];
    for (k, v) in &opts.form_data {
        if pairs.iter().any(|(p, _)| p == k) {
            return Err(UploadError::invalid(format!(
                "form_data key {k:?} is given twice (tus metadata keys are unique; filename and filetype come from the file)"
            )));
        }
        pairs.push((k.clone(), v.clone()));
    }
    let metadata = uptask_proto::tus::encode_metadata(&pairs)
        .map_err(|e| UploadError::invalid(e.to_string()).with_source(e))?;
    if let Some(u) = &tus.upload_url {
        parse_url(u)?;
    }
    Ok(TusPlan {
        metadata,
        options: tus.clone(),
        resume: resume_entry(source, tus.resume_store.as_ref(), url),
    })
}

/// The resume-store entry of a file going to `url`, when there is a store to use (its key
/// canonicalizes the path, a syscall).
fn resume_entry(
    source: &PlannedSource,
    dir: Option<&PathBuf>,
    url: &Url,
) -> Option<crate::resume::Entry> {
    match (source, dir) {
        (PlannedSource::Path { path, fingerprint }, Some(dir)) => Some(
            crate::resume::Entry::of_file(dir.clone(), path, fingerprint, url.as_str()),
        ),
        _ => None,
    }
}

/// Refuses headers the protocol sets itself, and unsafe names or values.
fn check_user_headers(
    user: &[(String, String)],
    owned: &[&str],
    what: &str,
) -> Result<(), UploadError> {
    let proto = |e: uptask_proto::ProtoError| UploadError::invalid(e.to_string()).with_source(e);
    for (name, value) in user {
        if let Some(reserved) = owned.iter().find(|r| name.eq_ignore_ascii_case(r)) {
            return Err(UploadError::invalid(format!(
                "header {name:?} cannot be set: uptask sets {reserved} itself for {what}"
            )));
        }
        uptask_proto::header::validate_name(name).map_err(proto)?;
        uptask_proto::header::validate_value(name, value).map_err(proto)?;
    }
    Ok(())
}

/// The object's http(s) URL for an `s3://bucket/key` target.
fn s3_object_url(text: &str, s3: &crate::S3Options) -> Result<Url, UploadError> {
    use uptask_proto::s3::{Addressing, Target};
    let invalid = |e: uptask_proto::s3::S3Error| UploadError::invalid(e.to_string()).with_source(e);
    let target = Target::parse(text).map_err(invalid)?;
    let endpoint = s3
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", s3.region));
    let addressing = s3.addressing.unwrap_or(if s3.endpoint.is_some() {
        Addressing::Path
    } else {
        Addressing::VirtualHost
    });
    let url = target.object_url(&endpoint, addressing).map_err(invalid)?;
    parse_url(&url)
}

/// The signer's URL of a direct upload: the upload's own URL is empty or the same.
fn signer_url(text: &str, signer: &str) -> Result<Url, UploadError> {
    if !text.is_empty() && text != signer {
        return Err(UploadError::invalid(format!(
            "an upload through a signer goes where the signer says: leave its URL empty \
             (it is {text:?}; the signer is {signer:?})"
        )));
    }
    parse_url(signer)
}

fn parse_url(text: &str) -> Result<Url, UploadError> {
    let url = Url::parse(text)
        .map_err(|e| UploadError::invalid(format!("invalid URL {text:?}: {e}")).with_source(e))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(UploadError::invalid(format!(
                "unsupported URL scheme {other:?} in {text:?}: use http or https"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UploadError::invalid(format!(
            "credentials in the URL are not sent (they would leak into logs): remove them from {:?} and pass an Authorization header",
            redact(&url)
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UploadError::invalid(format!("URL has no host: {text:?}")));
    }
    Ok(url)
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    // Setting them to empty always succeeds for http(s) URLs, which have a host.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// Plans the source; `streams` allows a FIFO or device (read once, length unknown: tus only).
fn plan_source(source: &Source, streams: bool) -> Result<(PlannedSource, String), UploadError> {
    match source {
        Source::Bytes(b) => Ok((PlannedSource::Bytes(b.clone()), "blob".to_owned())),
        // Outside the browser `Blob` has no values, so this arm cannot run there.
        #[allow(unreachable_code, reason = "Blob is empty outside the browser")]
        Source::Blob(b) => Ok((
            PlannedSource::Blob(b.clone()),
            b.name().unwrap_or_else(|| "blob".to_owned()),
        )),
        Source::Path(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".to_owned());
            let planned = match check_file(path, streams)? {
                Some(fingerprint) => PlannedSource::Path {
                    path: path.clone(),
                    fingerprint,
                },
                None => PlannedSource::Stream { path: path.clone() },
            };
            Ok((planned, name))
        }
    }
}

/// The file's fingerprint, after making sure it is a readable regular file; `None` for a FIFO,
/// socket or device when `streams` allows one (it is opened only when the upload reads it: a
/// FIFO's open waits for its writer).
fn check_file(path: &Path, streams: bool) -> Result<Option<Fingerprint>, UploadError> {
    if path.as_os_str().is_empty() {
        return Err(UploadError::invalid("the file path is empty"));
    }
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "file not found",
            std::io::ErrorKind::PermissionDenied => "permission denied",
            _ => "cannot access file",
        };
        UploadError::invalid(format!("{what}: {shown}")).with_source(e)
    })?;
    if meta.is_dir() {
        return Err(UploadError::invalid(format!(
            "is a directory, not a file: {shown}"
        )));
    }
    if !meta.is_file() {
        if streams {
            return Ok(None);
        }
        return Err(UploadError::invalid(format!(
            "not a regular file (a FIFO, socket or device has no length to announce; tus can send it with a deferred length): {shown}"
        )));
    }
    std::fs::File::open(path)
        .map_err(|e| UploadError::invalid(format!("cannot read file: {shown}")).with_source(e))?;
    Ok(Some(Fingerprint::of(&meta)))
}

fn parse_roots(pems: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>, UploadError> {
    let mut roots = Vec::new();
    for pem in pems {
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| {
                UploadError::invalid(format!("invalid PEM in a root certificate: {e}"))
            })?;
            roots.push(cert);
        }
        if roots.len() == before {
            return Err(UploadError::invalid(
                "a root certificate was given but holds no PEM CERTIFICATE block",
            ));
        }
    }
    Ok(roots)
}

/// A seed for a machine's retry jitter (a fixed one when the system has no randomness: jitter
/// only spreads retries out).
pub(crate) fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0x9e37_79b9_7f4a_7c15;
    }
    u64::from_le_bytes(bytes)
}

fn random_bytes() -> Result<[u8; 16], UploadError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        UploadError::new(
            crate::ErrorKind::Internal,
            format!("no randomness for the multipart boundary: {e}"),
        )
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str) -> UploadOptions {
        UploadOptions::from_bytes(url, b"x".to_vec(), "file")
    }

    #[expect(
        clippy::needless_pass_by_value,
        reason = "reads better at the call sites"
    )]
    fn err(o: UploadOptions) -> String {
        let e = prepare(&o).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        e.to_string()
    }

    #[test]
    fn bad_urls_are_rejected_with_a_reason() {
        assert!(err(opts("not a url")).contains("invalid URL"));
        assert!(err(opts("ftp://h/x")).contains("unsupported URL scheme \"ftp\""));
        assert!(err(opts("file:///etc/passwd")).contains("unsupported URL scheme"));
        let e = err(opts("http://user:secret@h/x"));
        assert!(e.contains("credentials") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn reserved_and_unsafe_headers_are_rejected() {
        let o = opts("http://h/").header("Content-Type", "text/plain");
        assert!(err(o).contains("Content-Type"));
        let o = opts("http://h/").header("X-A", "1\r\nX-B: 2");
        assert!(err(o).contains("X-A"));
        let o = opts("http://h/").header("X A", "1");
        assert!(err(o).contains("invalid header name"));
    }

    #[test]
    fn files_that_cannot_be_sent_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.bin");
        assert!(err(UploadOptions::new("http://h/", &missing, "f")).contains("file not found"));
        assert!(err(UploadOptions::new("http://h/", dir.path(), "f")).contains("is a directory"));
        assert!(err(UploadOptions::new("http://h/", "", "f")).contains("empty"));
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        assert!(err(UploadOptions::new("http://h/", &file, "")).contains("field name"));
    }

    #[test]
    fn garbage_root_certificates_are_rejected() {
        let o = opts("https://h/").add_root_certificate_pem(b"not pem".to_vec());
        assert!(err(o).contains("PEM"));
    }
}
