//! The tus 1.0 client as a sans-IO machine: discovery, creation (with the first bytes when the
//! server allows), `PATCH` from the server's offset with checksums, retries that always ask the
//! server where to continue, parallel parts joined by concatenation, and sources of unknown
//! length sent with a deferred length.
//!
//! ```text
//!  OPTIONS ──► (pipe?) ──────────────────────────────► stream: POST defer ─► PATCH… (Upload-Length last)
//!     │
//!     ├─ one part (or a known upload URL) ─► part ────────────────────────► Done
//!     └─ n parts (concatenation) ──────────► part × n ─► POST final ──────► Done
//!
//!  part:  no URL ─► POST (create) ─┐
//!         sync   ─► HEAD ──────────┼─► offset = length? ─► done
//!         else   ─► [digest] PATCH ┘        (gone: forget the URL, create anew)
//!
//!  any failure worth a retry: Retrying ─► wait (jittered) ─► HEAD (sync) ─► …
//!  a final status: Done (complete: false); anything else: Fail
//! ```
//!
//! ```
//! use std::time::Duration;
//! use uptask_proto::engine::{Action, Answer, Machine, Response};
//! use uptask_proto::tus::machine::{TusConfig, TusMachine};
//!
//! let mut m: TusMachine<String> = TusMachine::new(TusConfig::new("http://h/files/".parse().unwrap(), 0));
//! let Action::Send { id, .. } = m.poll(Duration::ZERO) else { panic!() };
//! m.answer(id, Answer::Response(Response::new(204).with_header("tus-extension", "creation")));
//! let Action::Send { request, .. } = m.poll(Duration::ZERO) else { panic!() };
//! assert_eq!((request.method, request.header("upload-length")), ("POST", Some("0")));
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use super::stream::Stream;
use super::{Capabilities, ChecksumAlgorithm, Concat, OFFSET_OCTET_STREAM, TUS_RESUMABLE};
use crate::engine::{
    Action, Body, DigestAlgorithm, DigestOf, Event, Meter, Outbox, Outcome, Request, RequestId,
    Response, Retry, RetryPolicy, Stop,
};

/// Bodies up to this size go with the creation request when the server allows it; larger ones
/// go in a PATCH, so a cut connection never loses more than this before the upload has a URL.
pub const CREATION_BODY_MAX: u64 = 4 << 20;

/// The chunk of a checksummed upload when no chunk size is set: each chunk is hashed before it
/// is sent.
pub const CHECKSUM_CHUNK: u64 = 32 << 20;

/// How a tus upload is to be made.
///
/// ```
/// let c = uptask_proto::tus::machine::TusConfig::new("http://h/files/".parse().unwrap(), 10);
/// assert_eq!((c.len, c.parallel, c.terminate_on_abort), (10, 1, true));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TusConfig {
    /// The creation endpoint.
    pub endpoint: Url,
    /// The source's length (0 for a stream).
    pub len: u64,
    /// A source of unknown length, read once (sent with a deferred length).
    pub stream: bool,
    /// `Upload-Metadata`, encoded.
    pub metadata: String,
    /// The most bytes per request.
    pub chunk_size: Option<u64>,
    /// Send `Upload-Checksum` when the server offers an algorithm.
    pub checksum: bool,
    /// Parts to upload at once (with the concatenation extension).
    pub parallel: usize,
    /// Delays before each retry.
    pub retry_delays: Vec<Duration>,
    /// Seeds the retry jitter.
    pub seed: u64,
    /// An upload to continue (given, or remembered from an earlier run).
    pub upload_url: Option<Url>,
    /// `DELETE` the upload when the caller aborts it.
    pub terminate_on_abort: bool,
}

impl TusConfig {
    /// `len` bytes to `endpoint`, with tus-js-client's defaults: retries after 0, 1, 3, 5 s,
    /// one part, no checksum, termination on abort.
    pub fn new(endpoint: Url, len: u64) -> Self {
        Self {
            endpoint,
            len,
            stream: false,
            metadata: String::new(),
            chunk_size: None,
            checksum: false,
            parallel: 1,
            retry_delays: [0, 1, 3, 5].map(Duration::from_secs).to_vec(),
            seed: 1,
            upload_url: None,
            terminate_on_abort: true,
        }
    }
}

/// Where a step of the tus upload is.
pub(super) type Step = crate::engine::Step<Pending>;

/// What a step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    Options,
    Create { first: u64, counts: bool },
    Head,
    Digest,
    Patch { offset: u64, len: u64 },
    Concat,
}

/// One request at a time with its retries: discovery, the final concatenation.
#[derive(Debug)]
pub(super) struct Flow {
    pub(super) step: Step,
    pub(super) retry: Retry,
}

/// One part of the file on the server: its range of the source and its upload URL once known.
#[derive(Debug)]
pub(super) struct Part {
    pub(super) index: usize,
    pub(super) start: u64,
    pub(super) len: u64,
    pub(super) url: Option<Url>,
    /// Bytes of this part the server has acknowledged.
    pub(super) offset: u64,
    /// Whether `offset` must be asked for before sending (after a failure, pause or restart).
    pub(super) sync: bool,
    pub(super) partial: bool,
    /// The digest of a chunk (its source range, then the digest), computed in advance.
    pub(super) digest: Option<((u64, u64), Vec<u8>)>,
    /// The range whose digest is being computed alongside a PATCH.
    pub(super) lookahead: Option<((u64, u64), RequestId)>,
    pub(super) step: Step,
    pub(super) retry: Retry,
    /// The response that completed the part.
    pub(super) done: Option<Response>,
}

#[derive(Debug)]
pub(super) enum Phase {
    Discover(Flow),
    Parts(Vec<Part>),
    Concat(Flow, Vec<Url>),
    Stream(Box<Stream>),
}

/// What advancing the machine gave.
pub(super) enum Next<E> {
    Act(Action<E>),
    /// State changed: look again.
    Again,
    Wait(Option<Duration>),
}

/// A tus upload as a state machine: see the [module documentation](self).
#[derive(Debug)]
pub struct TusMachine<E> {
    pub(super) config: TusConfig,
    pub(super) policy: RetryPolicy,
    pub(super) caps: Capabilities,
    pub(super) phase: Phase,
    pub(super) owners: BTreeMap<RequestId, usize>,
    pub(super) out: Outbox<E>,
    pub(super) meter: Meter,
    next_id: u64,
}

impl<E: std::fmt::Display> TusMachine<E> {
    /// A machine for the upload `config` describes.
    pub fn new(config: TusConfig) -> Self {
        Self {
            policy: RetryPolicy::new(config.retry_delays.clone(), config.seed),
            config,
            caps: Capabilities::default(),
            phase: Phase::Discover(Flow {
                step: Step::Ready,
                retry: Retry::default(),
            }),
            owners: BTreeMap::new(),
            out: Outbox::default(),
            meter: Meter::new(1),
            next_id: 0,
        }
    }

    /// A fresh id, owned by part `owner` (0 for single-step phases).
    pub(super) fn id(&mut self, owner: usize) -> RequestId {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.owners.insert(id, owner);
        id
    }

    /// A request with the protocol's version header.
    pub(super) fn request(
        method: &'static str,
        url: Url,
        mut headers: Vec<(&'static str, String)>,
        body: Body,
    ) -> Request {
        headers.insert(0, ("Tus-Resumable", TUS_RESUMABLE.to_owned()));
        Request {
            method,
            url,
            headers,
            body,
            user_headers: true,
        }
    }

    pub(super) fn end(&mut self, action: Action<E>) {
        self.out.end(action);
    }

    pub(super) fn progress(&mut self, sent: u64, rewind: bool) {
        self.out.event(Event::Progress { sent, rewind });
    }

    pub(super) fn event(&mut self, event: Event) {
        self.out.event(event);
    }

    /// The checksum to send, when asked for and offered.
    pub(super) fn checksum(&self) -> Option<ChecksumAlgorithm> {
        self.config.checksum.then(|| self.caps.checksum()).flatten()
    }

    pub(super) fn digest_algorithm(a: ChecksumAlgorithm) -> DigestAlgorithm {
        match a {
            ChecksumAlgorithm::Sha1 => DigestAlgorithm::Sha1,
            _ => DigestAlgorithm::Sha256,
        }
    }

    /// After a failed step: a retry after a delay (its notice queued), or the end.
    pub(super) fn recover(&mut self, stop: Stop<E>, retry: &mut Retry, progress: u64) -> Step {
        self.out.recover(stop, retry, &mut self.policy, progress)
    }

    pub(super) fn advance(&mut self, now: Duration) -> Next<E> {
        let phase = std::mem::replace(&mut self.phase, Phase::Parts(Vec::new()));
        let (phase, next) = match phase {
            Phase::Discover(mut flow) => {
                let next = match flow.step.timer(now) {
                    Some(wait) => Next::Wait(wait),
                    None => {
                        let request = Self::request(
                            "OPTIONS",
                            self.config.endpoint.clone(),
                            Vec::new(),
                            Body::Empty,
                        );
                        let id = self.id(0);
                        flow.step = Step::InFlight(id, Pending::Options);
                        Next::Act(Action::Send { id, request })
                    }
                };
                (Phase::Discover(flow), next)
            }
            Phase::Parts(mut parts) => {
                let next = self.advance_parts(&mut parts, now);
                match next {
                    Next::Wait(_) if parts.iter().all(|p| p.done.is_some()) => {
                        self.parts_done(parts)
                    }
                    next => (Phase::Parts(parts), next),
                }
            }
            Phase::Concat(mut flow, urls) => {
                let next = match flow.step.timer(now) {
                    Some(wait) => Next::Wait(wait),
                    None => {
                        let concat = Concat::Final(urls.iter().map(Url::to_string).collect());
                        let mut headers = vec![("Upload-Concat", concat.header_value())];
                        if !self.config.metadata.is_empty() {
                            headers.push(("Upload-Metadata", self.config.metadata.clone()));
                        }
                        let request = Self::request(
                            "POST",
                            self.config.endpoint.clone(),
                            headers,
                            Body::Empty,
                        );
                        let id = self.id(0);
                        flow.step = Step::InFlight(id, Pending::Concat);
                        Next::Act(Action::Send { id, request })
                    }
                };
                (Phase::Concat(flow, urls), next)
            }
            Phase::Stream(mut stream) => {
                let next = self.advance_stream(&mut stream, now);
                (Phase::Stream(stream), next)
            }
        };
        self.phase = phase;
        next
    }

    fn advance_parts(&mut self, parts: &mut [Part], now: Duration) -> Next<E> {
        let mut earliest: Option<Duration> = None;
        for part in parts.iter_mut() {
            if part.done.is_some() {
                continue;
            }
            match part.step.timer(now) {
                Some(Some(t)) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
                // Under way, or waiting for a digest under way: its answer moves it.
                Some(None) => {}
                None => {
                    if let Some(next) = self.part_next(part) {
                        return next;
                    }
                }
            }
        }
        Next::Wait(earliest)
    }

    /// Every part is complete: the upload is done, or the parts are joined.
    fn parts_done(&mut self, parts: Vec<Part>) -> (Phase, Next<E>) {
        let single = parts.len() == 1 && !parts[0].partial;
        if single {
            let mut parts = parts;
            let part = parts.remove(0);
            self.event(Event::Forget);
            let response = part.done.unwrap_or_default();
            self.end(Action::Done(Outcome {
                response,
                upload_url: part.url.map(String::from),
                complete: true,
            }));
            return (Phase::Parts(Vec::new()), Next::Again);
        }
        let urls = parts.into_iter().filter_map(|p| p.url).collect();
        (
            Phase::Concat(
                Flow {
                    step: Step::Ready,
                    retry: Retry::default(),
                },
                urls,
            ),
            Next::Again,
        )
    }

    /// The next request of a ready part; `None` when it waits for a digest in flight.
    fn part_next(&mut self, part: &mut Part) -> Option<Next<E>> {
        let Some(url) = part.url.clone() else {
            return Some(self.create(part));
        };
        if part.sync {
            let request = Self::request("HEAD", url, Vec::new(), Body::Empty);
            let id = self.id(part.index);
            part.step = Step::InFlight(id, Pending::Head);
            return Some(Next::Act(Action::Send { id, request }));
        }
        let len = self.chunk_len(part, part.offset);
        let offset = part.offset;
        let range = (part.start + offset, len);
        let mut headers = vec![
            ("Upload-Offset", offset.to_string()),
            ("Content-Type", OFFSET_OCTET_STREAM.to_owned()),
        ];
        if let Some(algorithm) = self.checksum() {
            match &part.digest {
                Some((at, digest)) if *at == range => {
                    headers.push(("Upload-Checksum", algorithm.header_value(digest)));
                }
                _ if part.lookahead.is_some_and(|(at, _)| at == range) => return None,
                _ => {
                    let id = self.id(part.index);
                    part.step = Step::InFlight(id, Pending::Digest);
                    part.lookahead = Some((range, id));
                    let of = DigestOf::Range {
                        offset: range.0,
                        len: range.1,
                    };
                    return Some(Next::Act(Action::Digest {
                        id,
                        algorithm: Self::digest_algorithm(algorithm),
                        of,
                    }));
                }
            }
            // The next chunk is hashed while this one is sent, so hashing costs no time of its
            // own (when this PATCH does not complete in full, the digest simply goes unused).
            let at = offset + len;
            if at < part.len {
                let next = (part.start + at, self.chunk_len(part, at));
                let id = self.id(part.index);
                part.lookahead = Some((next, id));
                let of = DigestOf::Range {
                    offset: next.0,
                    len: next.1,
                };
                self.out.push(Action::Digest {
                    id,
                    algorithm: Self::digest_algorithm(algorithm),
                    of,
                });
            }
        }
        let request = Self::request(
            "PATCH",
            url,
            headers,
            Body::Range {
                offset: range.0,
                len,
            },
        );
        let id = self.id(part.index);
        part.step = Step::InFlight(id, Pending::Patch { offset, len });
        Some(Next::Act(Action::Send { id, request }))
    }

    /// POST: creates the part's upload (with its first bytes, when the server allows and they
    /// are few).
    fn create(&mut self, part: &mut Part) -> Next<E> {
        let mut headers = vec![("Upload-Length", part.len.to_string())];
        if part.partial {
            headers.push(("Upload-Concat", Concat::Partial.header_value()));
        }
        if !self.config.metadata.is_empty() {
            headers.push(("Upload-Metadata", self.config.metadata.clone()));
        }
        let first = self.chunk_len(part, 0);
        let with_body = self.caps.has("creation-with-upload")
            && first > 0
            && first <= CREATION_BODY_MAX
            && self.checksum().is_none();
        let body = if with_body {
            headers.push(("Content-Type", OFFSET_OCTET_STREAM.to_owned()));
            Body::Range {
                offset: part.start,
                len: first,
            }
        } else {
            Body::Empty
        };
        let request = Self::request("POST", self.config.endpoint.clone(), headers, body);
        let id = self.id(part.index);
        // Only a body (or an empty file, whose one event is 0 of 0) is progress.
        let counts = with_body || part.len == 0;
        part.step = Step::InFlight(
            id,
            Pending::Create {
                first: if with_body { first } else { 0 },
                counts,
            },
        );
        Next::Act(Action::Send { id, request })
    }

    /// Bytes to send in the next request of `part`, from `offset` within it.
    pub(super) fn chunk_len(&self, part: &Part, offset: u64) -> u64 {
        let rest = part.len - offset.min(part.len);
        let limit = match (self.config.chunk_size, self.checksum()) {
            (Some(size), _) => size,
            (None, Some(_)) => CHECKSUM_CHUNK,
            (None, None) => u64::MAX,
        };
        rest.min(limit)
    }
}
