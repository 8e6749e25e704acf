//! A tus upload of a source with no length known in advance (a pipe, a FIFO): created with
//! `Upload-Defer-Length: 1`, sent in chunks that are read once and held until the server has
//! them (so a retry can send them again), the length going with the last chunk.
//!
//! ```text
//!  POST (defer) ─► [HEAD if a request failed] ─► Read (when nothing is held) ─► [digest] ─► PATCH
//!                     ▲                                                                 │
//!                     └──────────────── until the end of the stream is acknowledged ◄───┘
//! ```

use bytes::Bytes;
use url::Url;

use super::OFFSET_OCTET_STREAM;
use super::checks::{acknowledged, checked_offset, location_of, protocol, status_stop};
use super::machine::{Next, TusMachine};
use crate::engine::{
    Action, Answer, Body, DigestOf, Event, Outcome, RequestId, Response, Retry, Step, Stop,
};

/// The chunk read from a stream and held until the server has it.
const STREAM_CHUNK: u64 = 8 << 20;

/// The most a stream chunk may hold, whatever the chunk size says: it sits in memory.
const MAX_STREAM_CHUNK: u64 = 256 << 20;

/// What a step of the stream upload has under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Create,
    Head,
    Read,
    Digest,
    Patch { len: u64, last: bool },
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) url: Option<Url>,
    /// The bytes from `start` that the server has not acknowledged yet.
    start: u64,
    pending: Bytes,
    eof: bool,
    sync: bool,
    chunk: usize,
    /// The checksum of `pending` as it stands.
    digest: Option<(u64, usize, Vec<u8>)>,
    step: Step<Wanted>,
    retry: Retry,
}

impl Stream {
    pub(super) fn new(chunk_size: Option<u64>) -> Self {
        let chunk = chunk_size.unwrap_or(STREAM_CHUNK).min(MAX_STREAM_CHUNK);
        Self {
            url: None,
            start: 0,
            pending: Bytes::new(),
            eof: false,
            sync: false,
            chunk: usize::try_from(chunk).unwrap_or(usize::MAX),
            digest: None,
            step: Step::Ready,
            retry: Retry::default(),
        }
    }

    /// The count a PATCH in flight has reached.
    pub(super) fn sent(&self, id: RequestId, n: u64) -> Option<u64> {
        match self.step {
            Step::InFlight(at, Wanted::Patch { .. }) if at == id => Some(self.start + n),
            _ => None,
        }
    }

    pub(super) fn dropped(&mut self, id: RequestId) {
        if self.step.is(id) {
            self.step = Step::Ready;
            self.sync = self.url.is_some();
        }
    }
}

impl<E: std::fmt::Display> TusMachine<E> {
    pub(super) fn advance_stream(&mut self, s: &mut Stream, now: std::time::Duration) -> Next<E> {
        if let Some(wait) = s.step.timer(now) {
            return Next::Wait(wait);
        }
        let id = self.id(0);
        let Some(url) = s.url.clone() else {
            let mut headers = vec![("Upload-Defer-Length", "1".to_owned())];
            if !self.config.metadata.is_empty() {
                headers.push(("Upload-Metadata", self.config.metadata.clone()));
            }
            let request = Self::request("POST", self.config.endpoint.clone(), headers, Body::Empty);
            s.step = Step::InFlight(id, Wanted::Create);
            return Next::Act(Action::Send { id, request });
        };
        if s.sync {
            s.step = Step::InFlight(id, Wanted::Head);
            let request = Self::request("HEAD", url, Vec::new(), Body::Empty);
            return Next::Act(Action::Send { id, request });
        }
        if s.pending.is_empty() && !s.eof {
            s.step = Step::InFlight(id, Wanted::Read);
            return Next::Act(Action::Read { id, max: s.chunk });
        }
        let len = s.pending.len() as u64;
        let mut headers = vec![
            ("Upload-Offset", s.start.to_string()),
            ("Content-Type", OFFSET_OCTET_STREAM.to_owned()),
        ];
        if s.eof {
            headers.push(("Upload-Length", (s.start + len).to_string()));
        }
        if let Some(algorithm) = self.checksum() {
            match &s.digest {
                Some((at, n, digest)) if *at == s.start && *n == s.pending.len() => {
                    headers.push(("Upload-Checksum", algorithm.header_value(digest)));
                }
                _ => {
                    s.step = Step::InFlight(id, Wanted::Digest);
                    let of = DigestOf::Bytes(s.pending.clone());
                    return Next::Act(Action::Digest {
                        id,
                        algorithm: Self::digest_algorithm(algorithm),
                        of,
                    });
                }
            }
        }
        s.step = Step::InFlight(id, Wanted::Patch { len, last: s.eof });
        let request = Self::request("PATCH", url, headers, Body::Bytes(s.pending.clone()));
        Next::Act(Action::Send { id, request })
    }

    pub(super) fn on_stream(&mut self, s: &mut Stream, id: RequestId, answer: Answer<E>) {
        let Step::InFlight(at, wanted) = s.step else {
            return;
        };
        if at != id {
            return;
        }
        s.step = Step::Ready;
        let result = match (wanted, answer) {
            (_, Answer::Failed { error, retryable }) => Err(Stop::transport(error, retryable)),
            (Wanted::Create, Answer::Response(r)) => {
                location_of(&self.config.endpoint, &r).map(|url| {
                    self.event(Event::Created {
                        url: url.to_string(),
                    });
                    s.url = Some(url);
                })
            }
            (Wanted::Head, Answer::Response(r)) => self.stream_synced(s, &r),
            (Wanted::Read, Answer::Read(bytes)) => {
                s.eof = bytes.len() < s.chunk;
                s.pending = bytes;
                self.event(Event::Grow {
                    expected: s.start + s.pending.len() as u64,
                });
                Ok(())
            }
            (Wanted::Digest, Answer::Digest(d)) => {
                s.digest = Some((s.start, s.pending.len(), d));
                Ok(())
            }
            (Wanted::Patch { len, last }, Answer::Response(r)) => {
                match acknowledged(&r, s.start, len) {
                    Ok(offset) => {
                        s.pending = s
                            .pending
                            .slice(usize::try_from(offset - s.start).unwrap_or(0)..);
                        s.start = offset;
                        let total = self.meter.set(0, offset);
                        self.progress(total, !s.pending.is_empty());
                        if last && s.pending.is_empty() {
                            let upload_url = s.url.as_ref().map(Url::to_string);
                            self.end(Action::Done(Outcome {
                                response: r,
                                upload_url,
                                complete: true,
                            }));
                        }
                        Ok(())
                    }
                    Err(stop) => Err(stop),
                }
            }
            _ => Err(protocol("an answer of the wrong kind")),
        };
        if let Err(stop) = result {
            s.step = self
                .out
                .recover(stop, &mut s.retry, &mut self.policy, s.start);
            s.sync = s.url.is_some();
        }
    }

    /// HEAD answered: the server's offset, which may only be within what it was sent.
    fn stream_synced(&mut self, s: &mut Stream, response: &Response) -> Result<(), Stop<E>> {
        if !response.is_success() {
            return Err(status_stop(response.clone()));
        }
        let sent = s.start + s.pending.len() as u64;
        let offset = checked_offset(response.get("upload-offset"), 0, sent)?;
        if offset < s.start {
            return Err(protocol(format!(
                "the server went back to offset {offset} after acknowledging {}: bytes read from a stream cannot be sent again",
                s.start
            )));
        }
        self.event(Event::Resumed { offset });
        s.pending = s
            .pending
            .slice(usize::try_from(offset - s.start).unwrap_or(0)..);
        s.start = offset;
        s.sync = false;
        let total = self.meter.set(0, s.start);
        self.progress(total, true);
        Ok(())
    }
}
