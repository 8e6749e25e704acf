//! WeChat's `profile`: when each stage of the request happened, and over what.

/// Timings of the request that produced the result, as WeChat's `res.profile`: each stage's
/// start and end in milliseconds since the Unix epoch (fractional; measured on a monotonic
/// clock from `invoke_start`), plus what the request went over.
///
/// Filled for multipart uploads (for a followed redirect, the last request's); `None` for tus
/// and S3, which make many requests. On native targets every field is there; a page sees only
/// its request and response, so the connection's fields (name resolution, connect, TLS,
/// protocol, peer) are `None` in the browser. Fields that are `None` are left out of JSON.
///
/// ```no_run
/// # async fn demo() -> Result<(), uptask::UploadError> {
/// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "photo.jpg", "file");
/// let done = uptask::upload_file(opts).await?;
/// if let Some(p) = &done.profile {
///     if let (Some(start), Some(end)) = (p.connect_start, p.connect_end) {
///         println!("connected in {:.1} ms", end - start);
///     }
///     println!("waited {:.1} ms for the answer", p.response_start - p.request_end);
///     println!("{} bytes sent to {:?}", p.send_bytes_count, p.peer_ip);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Profile {
    /// When `upload_file` was called.
    pub invoke_start: f64,
    /// The upload entered its [`Client`](crate::Client)'s queue; `None` outside a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_start: Option<f64>,
    /// The upload left the queue and started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_end: Option<f64>,
    /// Name resolution began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_look_up_start: Option<f64>,
    /// Name resolution ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_look_up_end: Option<f64>,
    /// The TCP connection was begun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_start: Option<f64>,
    /// The connection is usable (TLS included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_end: Option<f64>,
    /// The TLS handshake began; `None` over plain HTTP.
    #[serde(
        default,
        rename = "SSLconnectionStart",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_connection_start: Option<f64>,
    /// The TLS handshake ended; `None` over plain HTTP.
    #[serde(
        default,
        rename = "SSLconnectionEnd",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_connection_end: Option<f64>,
    /// The request began to go out.
    pub request_start: f64,
    /// The last byte of the request went out (or the server answered before it).
    pub request_end: f64,
    /// The response head arrived.
    pub response_start: f64,
    /// The response body was read.
    pub response_end: f64,
    /// Bytes sent: the request head and the body (the body only, in the browser).
    pub send_bytes_count: u64,
    /// The protocol, `http/1.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Whether an earlier request's connection was used (never: each upload opens its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_reused: Option<bool>,
    /// The server's address.
    #[serde(default, rename = "peerIP", skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<String>,
    /// The server's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Profile {
    /// A profile that knows only its request and response (what a page can see).
    pub(crate) fn of_exchange(
        invoked: Invoked,
        queued: Option<(std::time::Duration, std::time::Duration)>,
        request: (std::time::Duration, std::time::Duration),
        response: (std::time::Duration, std::time::Duration),
        sent: u64,
    ) -> Self {
        Self {
            invoke_start: invoked.start_ms(),
            queue_start: queued.map(|q| invoked.ms(q.0)),
            queue_end: queued.map(|q| invoked.ms(q.1)),
            domain_look_up_start: None,
            domain_look_up_end: None,
            connect_start: None,
            connect_end: None,
            ssl_connection_start: None,
            ssl_connection_end: None,
            request_start: invoked.ms(request.0),
            request_end: invoked.ms(request.1),
            response_start: invoked.ms(response.0),
            response_end: invoked.ms(response.1),
            send_bytes_count: sent,
            protocol: None,
            socket_reused: None,
            peer_ip: None,
            port: None,
        }
    }
}

/// A span on the monotonic clock: its start and end.
pub(crate) type Span = (std::time::Duration, std::time::Duration);

/// When an upload was invoked, on both clocks: stages measured on the monotonic clock are
/// reported as wall-clock times from here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invoked {
    monotonic: std::time::Duration,
    unix: std::time::Duration,
}

impl Invoked {
    /// The invocation at `monotonic` on the backend clock, `unix` on the wall clock.
    pub(crate) fn at(monotonic: std::time::Duration, unix: std::time::Duration) -> Self {
        Self { monotonic, unix }
    }

    /// A monotonic instant as milliseconds since the Unix epoch.
    pub(crate) fn ms(self, at: std::time::Duration) -> f64 {
        let since = at.saturating_sub(self.monotonic);
        (self.unix + since).as_secs_f64() * 1000.0
    }

    /// The invocation itself, in milliseconds since the Unix epoch.
    pub(crate) fn start_ms(self) -> f64 {
        self.unix.as_secs_f64() * 1000.0
    }
}
