//! When the stages of one request happened, on the monotonic clock, and over what.

use std::net::SocketAddr;

use crate::profile::{Invoked, Profile, Span};

/// The stages of one request; spans not reached stay at zero.
#[derive(Debug, Default, Clone)]
pub(super) struct Timings {
    pub(super) lookup: Span,
    pub(super) connect: Span,
    pub(super) tls: Option<Span>,
    pub(super) request: Span,
    pub(super) response: Span,
    /// Request bytes written, head included.
    pub(super) written: u64,
    pub(super) peer: Option<SocketAddr>,
    /// `h2` when the request went over HTTP/2.
    pub(super) http2: bool,
}

impl Timings {
    pub(super) fn profile(&self, invoked: Invoked, queued: Option<Span>) -> Profile {
        let ms = |t| Some(invoked.ms(t));
        let mut p =
            Profile::of_exchange(invoked, queued, self.request, self.response, self.written);
        p.domain_look_up_start = ms(self.lookup.0);
        p.domain_look_up_end = ms(self.lookup.1);
        p.connect_start = ms(self.connect.0);
        p.connect_end = ms(self.connect.1);
        p.ssl_connection_start = self.tls.map(|t| invoked.ms(t.0));
        p.ssl_connection_end = self.tls.map(|t| invoked.ms(t.1));
        p.protocol = Some(if self.http2 { "h2" } else { "http/1.1" }.to_owned());
        p.socket_reused = Some(false);
        p.peer_ip = self.peer.map(|a| a.ip().to_string());
        p.port = self.peer.map(|a| a.port());
        p
    }
}
