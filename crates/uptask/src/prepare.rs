//! Turns [`UploadOptions`] into a checked plan, or the first reason it cannot be sent.
//!
//! Everything a user can get wrong is caught here, before a connection is opened: a request
//! that starts is a request whose every byte is known to be valid.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use uptask_proto::http1::RequestHead;
use uptask_proto::multipart::{Boundary, FilePart, MultipartBody};
use url::Url;

use crate::{Source, UploadError, UploadOptions};

/// Headers that uptask owns: setting them would contradict the body it sends.
const RESERVED: &[&str] = &["content-type", "content-length", "transfer-encoding"];

/// A checked upload: where to connect, the head and the planned body.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Where the request goes first; redirects are followed only within its origin.
    pub(crate) url: Url,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    pub(crate) head: Vec<u8>,
    pub(crate) body: MultipartBody,
    pub(crate) source: PlannedSource,
    pub(crate) timeout: Option<Duration>,
    pub(crate) stall: Option<Duration>,
    pub(crate) roots: Vec<CertificateDer<'static>>,
}

impl Plan {
    /// The request head for another URL of the same origin: only the request target changes
    /// (`Host`, the headers and the body stay the same).
    pub(crate) fn head_for(&self, url: &Url) -> Vec<u8> {
        let fields = self
            .head
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(&self.head[..], |i| &self.head[i..]);
        let mut head = format!("POST {} HTTP/1.1", request_target(url)).into_bytes();
        head.extend_from_slice(fields);
        head
    }
}

/// Path and query, the origin-form request target. `url` serializes both percent-encoded, so
/// neither can hold a space or a line break.
fn request_target(url: &Url) -> String {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    target
}

/// The file's bytes, with the length fixed at planning time.
#[derive(Debug, Clone)]
pub(crate) enum PlannedSource {
    Path {
        path: PathBuf,
        fingerprint: Fingerprint,
    },
    Bytes(Bytes),
}

impl PlannedSource {
    pub(crate) fn len(&self) -> u64 {
        match self {
            PlannedSource::Path { fingerprint, .. } => fingerprint.len,
            PlannedSource::Bytes(b) => b.len() as u64,
        }
    }
}

/// What a file looked like when the upload was planned. A file whose length or modification
/// time differs by the end of the upload changed under it: the bytes sent may mix two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Fingerprint {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// Checks both the open file and whatever the path names now (a file renamed over it).
    pub(crate) fn unchanged(&self, path: &Path, open: &std::fs::File) -> bool {
        let same =
            |m: std::io::Result<std::fs::Metadata>| m.is_ok_and(|m| Fingerprint::of(&m) == *self);
        same(open.metadata()) && same(std::fs::metadata(path))
    }
}

pub(crate) fn prepare(opts: UploadOptions) -> Result<Plan, UploadError> {
    let url = parse_url(&opts.url)?;
    if opts.name.is_empty() {
        return Err(UploadError::invalid(
            "the form field name (`name`) is empty",
        ));
    }
    let (source, default_name) = plan_source(&opts.source)?;
    let file_name = opts.file_name.unwrap_or(default_name);
    let roots = parse_roots(&opts.root_certificates)?;

    let file = FilePart::new(&opts.name, &file_name, source.len());
    let body = MultipartBody::new(
        Boundary::from_random(random_bytes()?),
        &opts.form_data,
        &file,
    );
    let head = build_head(&url, &opts.header, &body)?;

    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => {
            return Err(UploadError::invalid(format!(
                "URL has no host: {}",
                opts.url
            )));
        }
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| UploadError::invalid(format!("URL has no port: {}", opts.url)))?;
    let tls = url.scheme() == "https";
    Ok(Plan {
        url,
        host,
        port,
        tls,
        head,
        body,
        source,
        timeout: opts.timeout,
        stall: opts.stall_timeout,
        roots,
    })
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

fn plan_source(source: &Source) -> Result<(PlannedSource, String), UploadError> {
    match source {
        Source::Bytes(b) => Ok((PlannedSource::Bytes(b.clone()), "blob".to_owned())),
        Source::Path(path) => {
            let fingerprint = check_file(path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".to_owned());
            Ok((
                PlannedSource::Path {
                    path: path.clone(),
                    fingerprint,
                },
                name,
            ))
        }
    }
}

/// The file's fingerprint, after making sure it is a readable regular file.
fn check_file(path: &Path) -> Result<Fingerprint, UploadError> {
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
        return Err(UploadError::invalid(format!(
            "not a regular file (a FIFO, socket or device has no length to announce): {shown}"
        )));
    }
    std::fs::File::open(path)
        .map_err(|e| UploadError::invalid(format!("cannot read file: {shown}")).with_source(e))?;
    Ok(Fingerprint::of(&meta))
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

fn build_head(
    url: &Url,
    user: &[(String, String)],
    body: &MultipartBody,
) -> Result<Vec<u8>, UploadError> {
    let mut head = RequestHead::new("POST", &request_target(url));
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let proto = |e: uptask_proto::ProtoError| UploadError::invalid(e.to_string()).with_source(e);
    for (name, value) in user {
        if let Some(reserved) = RESERVED.iter().find(|r| name.eq_ignore_ascii_case(r)) {
            return Err(UploadError::invalid(format!(
                "header {name:?} cannot be set: uptask sets {reserved} itself for a multipart upload"
            )));
        }
        uptask_proto::header::validate_name(name).map_err(proto)?;
        uptask_proto::header::validate_value(name, value).map_err(proto)?;
    }
    let user_has = |n: &str| user.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !user_has("host") {
        head.header("Host", &host).map_err(proto)?;
    }
    for (name, value) in user {
        head.header(name, value).map_err(proto)?;
    }
    if !user_has("user-agent") {
        head.header("User-Agent", concat!("uptask/", env!("CARGO_PKG_VERSION")))
            .map_err(proto)?;
    }
    if !user_has("accept") {
        head.header("Accept", "*/*").map_err(proto)?;
    }
    head.header("Content-Type", &body.content_type())
        .map_err(proto)?;
    head.header("Content-Length", &body.len().to_string())
        .map_err(proto)?;
    Ok(head.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str) -> UploadOptions {
        UploadOptions::from_bytes(url, b"x".to_vec(), "file")
    }

    fn err(o: UploadOptions) -> String {
        let e = prepare(o).unwrap_err();
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
    fn fragments_are_not_sent_and_ipv6_hosts_keep_brackets() {
        let plan = prepare(opts("http://[::1]:8080/up?a=1#frag")).unwrap();
        let head = String::from_utf8(plan.head).unwrap();
        assert!(
            head.starts_with("POST /up?a=1 HTTP/1.1\r\nHost: [::1]:8080\r\n"),
            "{head}"
        );
        assert_eq!(plan.host, "::1");
        assert_eq!(plan.port, 8080);
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
    fn content_length_is_in_the_head() {
        let plan = prepare(opts("http://h/")).unwrap();
        let head = String::from_utf8(plan.head).unwrap();
        assert!(head.contains(&format!("Content-Length: {}\r\n", plan.body.len())));
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding"));
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
