//! How the tus machine takes what comes back: responses, transport failures, digests, bytes
//! accepted by the socket, and requests dropped by a pause.

use url::Url;

use super::Entry;
use super::checks::{acknowledged, checked_offset, is_gone, location_of, protocol, status_stop};
use super::machine::{Next, Part, Pending, Phase, Step, TusMachine};
use super::stream::Stream;
use super::{CHECKSUM_MISMATCH, Capabilities, parse_offset, should_retry, split_ranges};
use crate::engine::{
    Action, Answer, Event, Failure, LastWords, Machine, Memo, Meter, Outcome, RequestId, Response,
    Stop, Why,
};

/// Parts smaller than this are not worth a request of their own.
const MIN_PART: u64 = 1 << 20;

impl<E: std::fmt::Display> Machine for TusMachine<E> {
    type Error = E;

    fn poll(&mut self, now: std::time::Duration) -> Action<E> {
        loop {
            if let Some(action) = self.out.pop() {
                return action;
            }
            if self.out.ended() {
                return Action::Wait { until: None };
            }
            match self.advance(now) {
                Next::Act(action) => return action,
                Next::Again => {}
                Next::Wait(until) if self.out.is_empty() => return Action::Wait { until },
                Next::Wait(_) => {}
            }
        }
    }

    fn answer(&mut self, id: RequestId, answer: Answer<E>) {
        let Some(owner) = self.owners.remove(&id) else {
            return;
        };
        if self.out.ended() {
            return;
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Parts(Vec::new()));
        self.phase = match phase {
            Phase::Discover(mut flow) => {
                if flow.step == Step::InFlight(id, Pending::Options) {
                    match self.on_options(answer) {
                        Ok(next) => next,
                        Err(stop) => {
                            flow.step = self.recover(stop, &mut flow.retry, 0);
                            Phase::Discover(flow)
                        }
                    }
                } else {
                    Phase::Discover(flow)
                }
            }
            Phase::Parts(mut parts) => {
                if let Some(part) = parts.get_mut(owner) {
                    self.on_part(part, id, answer);
                }
                Phase::Parts(parts)
            }
            Phase::Concat(mut flow, urls) => {
                if flow.step == Step::InFlight(id, Pending::Concat) {
                    flow.step = Step::Ready;
                    let stop = match answer {
                        Answer::Response(r) if r.is_success() => {
                            let upload_url = location_of::<E>(&self.config.endpoint, &r).ok();
                            let upload_url = upload_url.map(String::from);
                            self.end(Action::Done(Outcome {
                                response: r,
                                upload_url,
                                complete: true,
                            }));
                            None
                        }
                        Answer::Response(r) => Some(status_stop(r)),
                        Answer::Failed { error, retryable } => {
                            Some(Stop::transport(error, retryable))
                        }
                        Answer::Digest(_) | Answer::Read(_) => None,
                    };
                    if let Some(stop) = stop {
                        flow.step = self.recover(stop, &mut flow.retry, 0);
                    }
                }
                Phase::Concat(flow, urls)
            }
            Phase::Stream(mut stream) => {
                self.on_stream(&mut stream, id, answer);
                Phase::Stream(stream)
            }
        };
    }

    fn sent(&mut self, id: RequestId, n: u64) {
        let sent = match &self.phase {
            Phase::Parts(parts) => parts.iter().find_map(|p| match p.step {
                Step::InFlight(at, Pending::Create { counts: true, .. }) if at == id => {
                    Some((p.index, n))
                }
                Step::InFlight(at, Pending::Patch { offset, .. }) if at == id => {
                    Some((p.index, offset + n))
                }
                _ => None,
            }),
            Phase::Stream(stream) => stream.sent(id, n).map(|s| (0, s)),
            Phase::Discover(_) | Phase::Concat(..) => None,
        };
        if let Some((index, at)) = sent {
            let total = self.meter.set(index, at);
            self.progress(total, false);
        }
    }

    fn dropped(&mut self, id: RequestId) {
        self.owners.remove(&id);
        match &mut self.phase {
            Phase::Discover(flow) | Phase::Concat(flow, _) => {
                if matches!(flow.step, Step::InFlight(at, _) if at == id) {
                    flow.step = Step::Ready;
                }
            }
            Phase::Parts(parts) => {
                for part in parts {
                    if part.lookahead.is_some_and(|(_, at)| at == id) {
                        part.lookahead = None;
                    }
                    if matches!(part.step, Step::InFlight(at, _) if at == id) {
                        part.step = Step::Ready;
                        part.sync = part.url.is_some();
                    }
                }
            }
            Phase::Stream(stream) => stream.dropped(id),
        }
    }

    fn pausable(&self) -> bool {
        true
    }

    fn last_words(&mut self, why: Why) -> LastWords {
        if why != Why::Aborted || !self.config.terminate_on_abort {
            return LastWords::default();
        }
        let urls: Vec<Url> = match &self.phase {
            Phase::Discover(_) => Vec::new(),
            Phase::Parts(parts) => parts.iter().filter_map(|p| p.url.clone()).collect(),
            Phase::Concat(_, urls) => urls.clone(),
            Phase::Stream(stream) => stream.url.iter().cloned().collect(),
        };
        LastWords {
            requests: urls
                .into_iter()
                .map(|url| Self::request("DELETE", url, Vec::new(), crate::engine::Body::Empty))
                .collect(),
            forget: true,
        }
    }
}

impl<E: std::fmt::Display> TusMachine<E> {
    /// OPTIONS answered: what the server supports, and the phase that follows. A server without
    /// OPTIONS is taken to support the core protocol and creation, as tus clients commonly do.
    fn on_options(&mut self, answer: Answer<E>) -> Result<Phase, Stop<E>> {
        let response = match answer {
            Answer::Response(r) => r,
            Answer::Failed { error, retryable } => return Err(Stop::transport(error, retryable)),
            Answer::Digest(_) | Answer::Read(_) => {
                return Err(protocol("a digest answered OPTIONS"));
            }
        };
        self.caps = if response.is_success() {
            Capabilities::from_headers(|n| response.get(n))
        } else if should_retry(response.status) && response.status != CHECKSUM_MISMATCH {
            return Err(status_stop(response));
        } else {
            Capabilities::default()
        };
        let len = self.config.len;
        if let Some(max) = self.caps.max_size
            && len > max
        {
            return Err(Stop::Fatal(Failure::InvalidInput(format!(
                "the file is {len} bytes, more than the server's Tus-Max-Size of {max}"
            ))));
        }
        if self.config.stream {
            if !self.caps.has("creation-defer-length") {
                return Err(Stop::Fatal(Failure::InvalidInput(
                    "the source has no length known in advance (a pipe or FIFO), and the server does not offer creation-defer-length".to_owned(),
                )));
            }
            return Ok(Phase::Stream(Box::new(Stream::new(self.config.chunk_size))));
        }
        let whole = |url: Option<Url>| Part {
            index: 0,
            start: 0,
            len,
            sync: url.is_some(),
            url,
            offset: 0,
            partial: false,
            digest: None,
            lookahead: None,
            step: Step::Ready,
            retry: Default::default(),
            done: None,
        };
        if let Some(url) = self.config.upload_url.clone() {
            return Ok(Phase::Parts(vec![whole(Some(url))]));
        }
        let parallel = self.parallel_parts();
        if parallel <= 1 {
            return Ok(Phase::Parts(vec![whole(None)]));
        }
        let parts: Vec<Part> = split_ranges(len, parallel)
            .into_iter()
            .enumerate()
            .map(|(index, (start, len))| Part {
                index,
                start,
                len,
                partial: true,
                ..whole(None)
            })
            .collect();
        self.meter = Meter::new(parts.len());
        Ok(Phase::Parts(parts))
    }

    /// The number of parts to upload at once.
    fn parallel_parts(&self) -> usize {
        let wanted = self.config.parallel;
        if wanted <= 1 || !self.caps.has("concatenation") {
            return 1;
        }
        let by_size = usize::try_from(self.config.len / MIN_PART).unwrap_or(usize::MAX);
        wanted.min(by_size).max(1)
    }

    fn on_part(&mut self, part: &mut Part, id: RequestId, answer: Answer<E>) {
        if part.lookahead.is_some_and(|(_, at)| at == id) {
            if let (Some((range, _)), Answer::Digest(digest)) = (part.lookahead.take(), &answer) {
                part.digest = Some((range, digest.clone()));
            }
            if part.step != Step::InFlight(id, Pending::Digest) {
                // A digest computed ahead: its failure only means it is computed again later.
                return;
            }
        }
        let Step::InFlight(at, pending) = part.step else {
            return;
        };
        if at != id {
            return;
        }
        part.step = Step::Ready;
        let result = match (pending, answer) {
            (Pending::Digest, Answer::Digest(_)) => Ok(()),
            (_, Answer::Failed { error, retryable }) => Err(Stop::transport(error, retryable)),
            (Pending::Create { first, .. }, Answer::Response(r)) => self.created(part, first, r),
            (Pending::Head, Answer::Response(r)) => self.synced(part, r),
            (Pending::Patch { offset, len }, Answer::Response(r)) => {
                self.patched(part, offset, len, r)
            }
            _ => Err(protocol("an answer of the wrong kind")),
        };
        if let Err(stop) = result {
            part.step = self.recover(stop, &mut part.retry, part.offset);
            // Whatever happened, the server's offset is the truth from here on.
            part.sync = part.url.is_some();
        }
    }

    fn created(&mut self, part: &mut Part, first: u64, response: Response) -> Result<(), Stop<E>> {
        let url = location_of(&self.config.endpoint, &response)?;
        if !part.partial {
            let expires = response.get("upload-expires").map(str::to_owned);
            self.event(Event::Remember(Memo::Tus(Entry::new(
                url.as_str(),
                expires,
            ))));
            self.event(Event::Created {
                url: url.to_string(),
            });
        }
        part.url = Some(url);
        if first > 0 {
            match response.get("upload-offset") {
                Some(v) => {
                    let offset = checked_offset(Some(v), 0, first)?;
                    part.offset = offset;
                    let total = self.meter.set(part.index, offset);
                    self.progress(total, offset < first);
                }
                // Some servers do not say how much of the body they kept: ask.
                None => part.sync = true,
            }
        }
        if part.offset == part.len && !part.sync {
            part.done = Some(response);
        }
        Ok(())
    }

    /// HEAD answered: the server's offset for the part (or the upload is gone: start anew).
    fn synced(&mut self, part: &mut Part, response: Response) -> Result<(), Stop<E>> {
        if !response.is_success() {
            return match status_stop(response) {
                Stop::Answered(r) if is_gone(r.status) => {
                    self.event(Event::Forget);
                    part.url = None;
                    part.offset = 0;
                    part.sync = false;
                    let total = self.meter.set(part.index, 0);
                    self.progress(total, true);
                    Ok(())
                }
                stop => Err(stop),
            };
        }
        if let Some(length) = response.get("upload-length") {
            let length =
                parse_offset("upload-length", Some(length)).map_err(|e| protocol(e.to_string()))?;
            if length != part.len {
                let url = part.url.as_ref().map(Url::as_str).unwrap_or_default();
                return Err(protocol(format!(
                    "the upload at {url} is {length} bytes long, but the file is {}: not the same upload",
                    part.len
                )));
            }
        }
        part.offset = checked_offset(response.get("upload-offset"), 0, part.len)?;
        part.sync = false;
        if !part.partial {
            self.event(Event::Resumed {
                offset: part.offset,
            });
        }
        let total = self.meter.set(part.index, part.offset);
        self.progress(total, true);
        if part.offset == part.len {
            part.done = Some(response);
        }
        Ok(())
    }

    fn patched(
        &mut self,
        part: &mut Part,
        offset: u64,
        len: u64,
        response: Response,
    ) -> Result<(), Stop<E>> {
        let new = acknowledged(&response, offset, len)?;
        part.offset = new;
        let total = self.meter.set(part.index, new);
        self.progress(total, new < offset + len);
        if part.offset == part.len {
            part.done = Some(response);
        }
        Ok(())
    }
}
