//! Opening the connection: resolve, connect (to the origin, or to its proxy and through a
//! `CONNECT` tunnel for https), and TLS when the URL asks for it.

use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use uptask_proto::proxy::{ProxyUrl, Route};

use super::head::Origin;
use super::timing::Timings;
use crate::{ErrorKind, UploadError};

/// A byte stream to the server, plain or TLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// An open connection. Plain TCP stays concrete so the body can be sent with `sendfile`.
pub(super) enum Connected {
    Plain(TcpStream),
    /// TLS, and whether the server chose HTTP/2 (ALPN `h2`).
    Tls {
        io: Box<dyn Io>,
        h2: bool,
    },
}

/// Opens the connection along `route`, noting in `timings` when each stage began and ended;
/// over TLS, offers HTTP/2 first when `http2`.
pub(super) async fn connect(
    origin: &Origin,
    route: &Route,
    roots: &[CertificateDer<'static>],
    http2: bool,
    timings: &mut Timings,
) -> Result<Connected, UploadError> {
    let target = format!("{}:{}", origin.host, origin.port);
    let tcp = match route {
        Route::Forward(proxy) | Route::Tunnel(proxy) => {
            let named = format!("proxy {proxy}");
            open_tcp(&proxy.host, proxy.port, &named, timings).await?
        }
        _ => open_tcp(&origin.host, origin.port, &target, timings).await?,
    };
    let tcp = match route {
        Route::Tunnel(proxy) => tunnel(tcp, proxy, &target).await?,
        _ => tcp,
    };
    timings.connect.1 = crate::backend::now();
    if !origin.tls {
        return Ok(Connected::Plain(tcp));
    }
    tls(tcp, origin, &target, roots, http2, timings).await
}

/// Resolves `host` and connects to the first of its addresses that answers; `named` is how
/// errors call it.
async fn open_tcp(
    host: &str,
    port: u16,
    named: &str,
    timings: &mut Timings,
) -> Result<TcpStream, UploadError> {
    let target = named;
    let now = crate::backend::now;
    timings.lookup.0 = now();
    let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        UploadError::new(
            ErrorKind::Connect,
            format!("cannot resolve host {host:?} of {named}"),
        )
        .with_source(e)
    })?;
    timings.lookup.1 = now();
    timings.connect.0 = timings.lookup.1;
    let mut last_err = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                timings.peer = Some(addr);
                tcp = Some(stream);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let tcp = match (tcp, last_err) {
        (Some(tcp), _) => tcp,
        (None, Some(e)) => {
            return Err(UploadError::new(
                ErrorKind::Connect,
                format!("cannot connect to {target}"),
            )
            .with_source(e));
        }
        (None, None) => {
            return Err(UploadError::new(
                ErrorKind::Connect,
                format!("host {host:?} of {named} resolved to no address"),
            ));
        }
    };
    // Small writes (the request head) must not wait for an ACK.
    tcp.set_nodelay(true).map_err(|e| {
        UploadError::new(
            ErrorKind::Connect,
            format!("cannot configure the socket to {target}"),
        )
        .with_source(e)
    })?;
    Ok(tcp)
}

/// Asks `proxy` for a tunnel to `target` and reads its answer; the stream then reaches the
/// origin.
async fn tunnel(
    mut tcp: TcpStream,
    proxy: &ProxyUrl,
    target: &str,
) -> Result<TcpStream, UploadError> {
    let (host, port) = target.rsplit_once(':').unwrap_or((target, ""));
    let port = port.parse().unwrap_or(443);
    let lost = |e: std::io::Error| {
        UploadError::new(
            ErrorKind::Connect,
            format!("the proxy {proxy} closed the connection before opening a tunnel to {target}"),
        )
        .with_source(e)
    };
    let request = proxy.connect_request(host, port, super::head::USER_AGENT);
    tcp.write_all(&request).await.map_err(lost)?;
    // Byte by byte up to the blank line: what follows it is the origin's, for TLS to read.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(UploadError::new(
                ErrorKind::Protocol,
                format!("the proxy {proxy} answered CONNECT with an endless head"),
            ));
        }
        let byte = tcp.read_u8().await.map_err(lost)?;
        head.push(byte);
    }
    let parsed = uptask_proto::http1::parse_response_head(&head)
        .ok()
        .flatten()
        .map(|(head, _)| head)
        .ok_or_else(|| {
            UploadError::new(
                ErrorKind::Protocol,
                format!("the proxy {proxy} answered CONNECT with something that is not HTTP"),
            )
        })?;
    uptask_proto::proxy::tunnel_answer(proxy, target, parsed.status, &parsed.reason)
        .map_err(|why| UploadError::new(ErrorKind::Protocol, why))?;
    Ok(tcp)
}

/// TLS with the origin over `tcp` (straight to it, or inside a tunnel).
async fn tls(
    tcp: TcpStream,
    origin: &Origin,
    target: &str,
    roots: &[CertificateDer<'static>],
    http2: bool,
    timings: &mut Timings,
) -> Result<Connected, UploadError> {
    let now = crate::backend::now;
    let handshake = now();
    let config = tls_config(roots, http2)?;
    let name = ServerName::try_from(origin.host.clone()).map_err(|e| {
        UploadError::invalid(format!("{:?} is not a valid TLS server name", origin.host))
            .with_source(e)
    })?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            UploadError::new(
                ErrorKind::Tls,
                format!("TLS handshake with {target} failed"),
            )
            .with_source(e)
        })?;
    timings.connect.1 = now();
    timings.tls = Some((handshake, timings.connect.1));
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    Ok(Connected::Tls {
        io: Box::new(tls),
        h2,
    })
}

/// The client TLS configuration: the public web roots plus any roots the caller added.
/// Verification is always on.
fn tls_config(
    extra: &[CertificateDer<'static>],
    http2: bool,
) -> Result<Arc<ClientConfig>, UploadError> {
    static DEFAULT: [OnceLock<Result<Arc<ClientConfig>, String>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    if extra.is_empty() {
        return DEFAULT[usize::from(http2)]
            .get_or_init(|| build_tls_config(&[], http2).map(Arc::new))
            .clone()
            .map_err(|e| tls_setup_error(&e));
    }
    build_tls_config(extra, http2)
        .map(Arc::new)
        .map_err(|e| tls_setup_error(&e))
}

fn tls_setup_error(e: &str) -> UploadError {
    UploadError::new(ErrorKind::Tls, format!("cannot set up TLS: {e}"))
}

fn build_tls_config(
    extra: &[CertificateDer<'static>],
    http2: bool,
) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| format!("unusable root certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}
