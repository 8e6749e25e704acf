//! The `multipart/form-data` POST as a sans-IO machine: one request carrying the planned body;
//! a 307 or 308 to the same origin sends it again there (at most [`MAX_REDIRECTS`] times),
//! anything else is the outcome. Progress never steps back when the body is sent again, and
//! the headers event is the final response's, as soon as its head arrives.
//!
//! ```text
//!  POST (the body) ─► 307/308, same origin, < 5 times ─► POST there ─► …
//!        │                 (another origin, other 3xx: the outcome, nothing sent there)
//!        └─► any other answer ─► Done          a transport error ─► Fail
//! ```
//!
//! ```
//! use std::time::Duration;
//! use uptask_proto::engine::{Action, Body, Machine, Response};
//! use uptask_proto::multipart::machine::MultipartMachine;
//!
//! let mut m: MultipartMachine<String> =
//!     MultipartMachine::new("http://h/upload".parse().unwrap(), 42, "multipart/form-data; boundary=x".into());
//! let Action::Send { id, request } = m.poll(Duration::ZERO) else { panic!() };
//! assert_eq!((request.method, request.body), ("POST", Body::Multipart { len: 42 }));
//! m.answer(id, uptask_proto::engine::Answer::Response(Response::new(200)));
//! assert!(matches!(m.poll(Duration::ZERO), Action::Event(_))); // the headers
//! ```

use std::time::Duration;

use url::Url;

use crate::engine::{
    Action, Answer, Body, Event, Failure, Header, LastWords, Machine, Meter, Outbox, Outcome,
    Request, RequestId, Response, Why,
};

/// Redirects followed at most, per upload.
pub const MAX_REDIRECTS: usize = 5;

/// A multipart upload as a state machine: see the [module documentation](self).
#[derive(Debug)]
pub struct MultipartMachine<E> {
    /// Where the upload goes first; redirects are followed only within its origin.
    first: Url,
    url: Url,
    len: u64,
    content_type: String,
    hops: usize,
    /// The request under way.
    inflight: Option<RequestId>,
    next_id: u64,
    meter: Meter,
    out: Outbox<E>,
}

impl<E> MultipartMachine<E> {
    /// A POST of a `len`-byte body of `content_type` to `url`.
    pub fn new(url: Url, len: u64, content_type: String) -> Self {
        Self {
            first: url.clone(),
            url,
            len,
            content_type,
            hops: 0,
            inflight: None,
            next_id: 0,
            meter: Meter::new(1),
            out: Outbox::default(),
        }
    }

    /// Where a 307/308 points, if it is followed: only within the origin of the upload.
    fn redirect_target(&self, status: u16, header: &Header) -> Option<Url> {
        if status != 307 && status != 308 {
            return None;
        }
        let next = self.url.join(header.get("location")?.trim()).ok()?;
        (next.origin() == self.first.origin()).then_some(next)
    }

    fn end(&mut self, action: Action<E>) {
        self.out.end(action);
    }
}

impl<E> Machine for MultipartMachine<E> {
    type Error = E;

    fn poll(&mut self, _now: Duration) -> Action<E> {
        if let Some(action) = self.out.pop() {
            return action;
        }
        if self.out.ended() || self.inflight.is_some() {
            return Action::Wait { until: None };
        }
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.inflight = Some(id);
        let mut request = Request::new("POST", self.url.clone());
        request
            .headers
            .push(("Content-Type", self.content_type.clone()));
        request.body = Body::Multipart { len: self.len };
        Action::Send { id, request }
    }

    fn answer(&mut self, id: RequestId, answer: Answer<E>) {
        if self.inflight != Some(id) || self.out.ended() {
            return;
        }
        self.inflight = None;
        let response: Response = match answer {
            Answer::Response(r) => r,
            Answer::Failed { error, .. } => {
                return self.end(Action::Fail(Failure::Transport(error)));
            }
            _ => {
                return self.end(Action::Fail(Failure::Protocol(
                    "an answer of the wrong kind".into(),
                )));
            }
        };
        match self.redirect_target(response.status, &response.header) {
            Some(_) if self.hops == MAX_REDIRECTS => {
                self.end(Action::Fail(Failure::Protocol(format!(
                    "too many redirects (more than {MAX_REDIRECTS}), last at {}",
                    self.url
                ))));
            }
            Some(next) => {
                self.hops += 1;
                self.url = next;
            }
            None => {
                self.out.event(Event::Headers(response.header.clone()));
                self.end(Action::Done(Outcome {
                    response,
                    upload_url: None,
                    complete: true,
                }));
            }
        }
    }

    fn sent(&mut self, id: RequestId, n: u64) {
        if self.inflight == Some(id)
            && let Some(total) = self.meter.raise(0, n)
        {
            self.out.event(Event::Progress {
                sent: total,
                rewind: false,
            });
        }
    }

    fn head(&mut self, id: RequestId, status: u16, header: &Header) {
        if self.inflight == Some(id) && self.redirect_target(status, header).is_none() {
            self.out.event(Event::Headers(header.clone()));
        }
    }

    fn dropped(&mut self, id: RequestId) {
        if self.inflight == Some(id) {
            self.inflight = None;
        }
    }

    fn pausable(&self) -> bool {
        false
    }

    fn last_words(&mut self, _why: Why) -> LastWords {
        LastWords::default()
    }
}
