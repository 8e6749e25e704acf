//! How the S3 machine moves: what it does next in each phase, and how it takes what comes back.

use std::time::Duration;

use super::machine::{Auth, PHASE, Phase, S3Machine, Step, md5_of_etag};
use super::{CompletedPart, Entry, ListedPart, MAX_PARTS, error_of, list_parts, routes, upload_id};
use crate::engine::{
    Action, Answer, DigestOf, Event, Failure, LastWords, Machine, Memo, Outcome, RequestId,
    Response, Retry, Stop, Why,
};

impl<E: std::fmt::Display> Machine for S3Machine<E> {
    type Error = E;

    fn poll(&mut self, now: Duration) -> Action<E> {
        self.now = now;
        loop {
            if let Some(action) = self.out.pop() {
                return action;
            }
            if self.out.ended() {
                return Action::Wait { until: None };
            }
            match &self.phase {
                Phase::Single | Phase::Parts => {
                    if matches!(self.phase, Phase::Parts)
                        && self.slots.iter().all(|s| s.done.is_some())
                    {
                        self.completion();
                        continue;
                    }
                    return self.next_slot(now);
                }
                Phase::Verifying { .. } => {
                    if let Some(action) = self.verify_next() {
                        return action;
                    }
                }
                _ => match self.step.timer(now) {
                    Some(until) => return Action::Wait { until },
                    None => {
                        if let Some(action) = self.phase_request() {
                            return action;
                        }
                    }
                },
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
        if owner == PHASE {
            if self.step.is(id) {
                self.step = Step::Ready;
                let result = self.on_phase(answer);
                if result.is_ok() {
                    // A request that went through starts its successor's count afresh.
                    self.retry = Retry::default();
                }
                if let Err(stop) = result {
                    let mut retry = std::mem::take(&mut self.retry);
                    self.step = self.recover(stop, &mut retry);
                    self.retry = retry;
                }
            }
        } else if self.slots.get(owner).is_some_and(|s| s.step.is(id)) {
            self.slots[owner].step = Step::Ready;
            if let Err(stop) = self.on_slot(owner, answer) {
                let mut retry = std::mem::take(&mut self.slots[owner].retry);
                self.slots[owner].step = self.recover(stop, &mut retry);
                self.slots[owner].retry = retry;
            }
        }
    }

    fn sent(&mut self, id: RequestId, n: u64) {
        let Some(&owner) = self.owners.get(&id) else {
            return;
        };
        if owner != PHASE
            && let Some(total) = self.meter.raise(owner, n)
        {
            self.event(Event::Progress {
                sent: total,
                rewind: false,
            });
        }
    }

    fn dropped(&mut self, id: RequestId) {
        if let Some(owner) = self.owners.remove(&id) {
            let step = if owner == PHASE {
                &mut self.step
            } else {
                &mut self.slots[owner].step
            };
            if step.is(id) {
                *step = Step::Ready;
            }
        }
    }

    fn pausable(&self) -> bool {
        false
    }

    fn last_words(&mut self, why: Why) -> LastWords {
        let kept = self.config.keep && matches!(why, Why::Failed | Why::TimedOut);
        match self.upload_id.clone() {
            Some(id) if !kept => LastWords {
                requests: vec![self.abort_request(id, self.key.as_deref().unwrap_or_default())],
                forget: true,
            },
            _ => LastWords::default(),
        }
    }
}

impl<E: std::fmt::Display> S3Machine<E> {
    /// After a failed request: a retry after a delay (its notice queued), or the end.
    fn recover(&mut self, stop: Stop<E>, retry: &mut Retry) -> Step {
        let progress = self.acknowledged();
        self.out.recover(stop, retry, &mut self.policy, progress)
    }

    /// The next part to start or continue, up to `concurrency` at once.
    fn next_slot(&mut self, now: Duration) -> Action<E> {
        let limit = if matches!(self.phase, Phase::Single) {
            1
        } else {
            self.config.concurrency.max(1)
        };
        let mut active = self
            .slots
            .iter()
            .filter(|s| s.started && s.done.is_none())
            .count();
        let mut earliest: Option<Duration> = None;
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            if slot.done.is_some() {
                continue;
            }
            if !slot.started {
                if active >= limit {
                    break;
                }
                slot.started = true;
                active += 1;
            }
            match slot.step.timer(now) {
                None => return self.slot_request(i),
                Some(Some(t)) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
                Some(None) => {}
            }
        }
        Action::Wait { until: earliest }
    }

    fn on_slot(&mut self, i: usize, answer: Answer<E>) -> Result<(), Stop<E>> {
        let response = match answer {
            Answer::Digest(d) => {
                self.slots[i].checksum = Some(self.checksum_header(&d));
                return Ok(());
            }
            Answer::Response(r) if self.slots[i].signing => {
                self.slots[i].signing = false;
                let r = checked(r, "signer")?;
                if let Some(url) = routes::presigned(&r.data) {
                    self.slots[i].presigned = Some(url);
                    return Ok(());
                }
                if self.slots[i].number == 0 && routes::is_form(&r.data) {
                    self.as_one_part();
                    return Ok(());
                }
                return Err(protocol("the signer's answer has no presigned PUT URL"));
            }
            Answer::Response(r) => checked(r, "store")?,
            Answer::Failed { error, retryable } => return Err(Stop::transport(error, retryable)),
            _ => return Err(protocol("an answer of the wrong kind")),
        };
        let slot = &self.slots[i];
        if slot.number == 0 {
            self.end(Action::Done(Outcome {
                response,
                upload_url: self.located.clone(),
                complete: true,
            }));
            return Ok(());
        }
        let etag = response.get("etag").map(str::to_owned).ok_or_else(|| {
            protocol(format!(
                "the store accepted part {} without an ETag",
                slot.number
            ))
        })?;
        let crc32c = self
            .crc32c
            .then(|| slot.checksum.clone().map(|(_, v)| v))
            .flatten();
        self.slots[i].done = Some(CompletedPart { etag, crc32c });
        Ok(())
    }

    fn on_phase(&mut self, answer: Answer<E>) -> Result<(), Stop<E>> {
        if matches!(self.phase, Phase::Verifying { .. }) {
            return match answer {
                Answer::Digest(d) => {
                    self.on_verify(&d);
                    Ok(())
                }
                Answer::Failed { error, .. } => Err(Stop::Fatal(Failure::Transport(error))),
                _ => Err(protocol("an answer of the wrong kind")),
            };
        }
        let response = match answer {
            Answer::Response(r) => r,
            Answer::Failed { error, retryable } => {
                // The old upload is abandoned either way.
                if matches!(self.phase, Phase::Discard) {
                    self.phase = Phase::Creating;
                    return Ok(());
                }
                return Err(Stop::transport(error, retryable));
            }
            _ => return Err(protocol("an answer of the wrong kind")),
        };
        let direct = matches!(self.config.auth, Auth::Routes(_));
        let who = if direct { "signer" } else { "store" };
        match &mut self.phase {
            Phase::Discard => self.phase = Phase::Creating,
            Phase::Listing { marker, listed } => {
                if response.status == 404 {
                    // The store no longer has the upload: start anew.
                    self.event(Event::Forget);
                    self.phase = Phase::Creating;
                    return Ok(());
                }
                let response = checked(response, who)?;
                let Some((parts, next_marker)) = parts_of(&response.data, direct) else {
                    return Err(protocol(format!(
                        "the {who}'s answer to the part listing is not a part list"
                    )));
                };
                listed.extend(parts);
                // A marker that does not move on would list forever.
                match next_marker {
                    Some(m) if m < MAX_PARTS && marker.is_none_or(|old| m > old) => {
                        *marker = Some(m);
                    }
                    _ => {
                        let queue = std::mem::take(listed).into();
                        self.upload_id = Some(self.stored_id());
                        self.key = direct.then(|| self.stored_key());
                        self.phase = Phase::Verifying {
                            queue,
                            md5_ok: false,
                        };
                    }
                }
            }
            Phase::Creating => {
                let created = checked(response, who)?;
                let (id, key) = match &self.config.auth {
                    Auth::Keys(_) => (upload_id(&created.data), None),
                    Auth::Routes(_) => match routes::created(&created.data) {
                        Some(c) => {
                            self.take_checksum(self.config.crc32c && c.crc32c);
                            (Some(c.upload_id), Some(c.key))
                        }
                        None => (None, None),
                    },
                };
                let Some(id) = id else {
                    return Err(protocol(if direct {
                        "the signer created the multipart upload without a key and uploadId"
                    } else {
                        "the store created the multipart upload without an UploadId"
                    }));
                };
                let mut entry = Entry::new(id.clone(), self.plan.size, self.crc32c);
                entry.key.clone_from(&key);
                self.event(Event::Remember(Memo::S3(entry)));
                let url = match (&self.config.auth, &key) {
                    (Auth::Routes(routes), Some(key)) => routes.upload_url(&id, key),
                    _ => {
                        let mut url = self.config.object.clone();
                        url.query_pairs_mut().append_pair("uploadId", &id);
                        url
                    }
                };
                self.event(Event::Created {
                    url: url.to_string(),
                });
                self.upload_id = Some(id);
                self.key = key;
                self.phase = Phase::Parts;
            }
            Phase::Completing { .. } => {
                let response = checked(response, who)?;
                // The store may fail a completion after its 200 status line went out.
                if let Some((code, message)) = error_of(&response.data) {
                    return Err(protocol(format!(
                        "CompleteMultipartUpload failed: {code}: {message}"
                    )));
                }
                self.event(Event::Forget);
                let upload_url = routes::location(&response.data).filter(|_| direct);
                self.end(Action::Done(Outcome {
                    response,
                    upload_url,
                    complete: true,
                }));
            }
            Phase::Single | Phase::Parts | Phase::Verifying { .. } => {}
        }
        Ok(())
    }

    /// The next check of a listed part; `None` when the phase moved on (look again).
    fn verify_next(&mut self) -> Option<Action<E>> {
        if matches!(self.step, Step::InFlight(..)) {
            return Some(Action::Wait { until: None });
        }
        let Phase::Verifying { queue, md5_ok } = &mut self.phase else {
            return None;
        };
        let Some(part) = queue.front().cloned() else {
            self.verified();
            return None;
        };
        let index = usize::try_from(part.number.wrapping_sub(1)).unwrap_or(usize::MAX);
        let fits = self
            .plan
            .part(part.number)
            .is_some_and(|(_, len)| len == part.size)
            && self.slots.get(index).is_some_and(|s| s.done.is_none());
        if !fits {
            queue.pop_front();
            *md5_ok = false;
            return None;
        }
        let (offset, len) = (self.slots[index].offset, self.slots[index].len);
        let algorithm = if !*md5_ok && md5_of_etag(&part.etag).is_some() {
            crate::engine::DigestAlgorithm::Md5
        } else if self.crc32c && self.slots[index].checksum.is_none() {
            crate::engine::DigestAlgorithm::Crc32c
        } else {
            queue.pop_front();
            *md5_ok = false;
            let crc32c = self
                .crc32c
                .then(|| self.slots[index].checksum.clone().map(|(_, v)| v))
                .flatten();
            self.slots[index].done = Some(CompletedPart {
                etag: part.etag,
                crc32c,
            });
            return None;
        };
        let id = self.id(PHASE);
        self.step = Step::InFlight(id, ());
        Some(Action::Digest {
            id,
            algorithm,
            of: DigestOf::Range { offset, len },
        })
    }

    /// A digest of a listed part came back.
    fn on_verify(&mut self, digest: &[u8]) {
        let Phase::Verifying { queue, md5_ok } = &mut self.phase else {
            return;
        };
        let Some(part) = queue.front() else {
            return;
        };
        let index = usize::try_from(part.number.wrapping_sub(1)).unwrap_or(usize::MAX);
        if !*md5_ok && let Some(expected) = md5_of_etag(&part.etag) {
            if expected == digest {
                *md5_ok = true;
            } else {
                // The stored part differs from the file: it is sent again.
                queue.pop_front();
            }
            return;
        }
        let header = self.checksum_header(digest);
        if let Some(slot) = self.slots.get_mut(index) {
            slot.checksum = Some(header);
        }
    }

    /// Every listed part checked: the upload goes on from what the store has.
    fn verified(&mut self) {
        let offset = self.acknowledged();
        self.event(Event::Resumed { offset });
        for i in 0..self.slots.len() {
            if self.slots[i].done.is_some()
                && let Some(total) = self.meter.raise(i, self.slots[i].len)
            {
                self.event(Event::Progress {
                    sent: total,
                    rewind: false,
                });
            }
        }
        self.phase = Phase::Parts;
    }
}

/// One page of a part listing: the store's XML, or the signer's JSON (one page, all parts).
fn parts_of(data: &str, direct: bool) -> Option<(Vec<ListedPart>, Option<u64>)> {
    if direct {
        return routes::listed(data).map(|parts| (parts, None));
    }
    list_parts(data).map(|page| (page.parts, page.next_marker))
}

/// A 2xx response, or the stop it means: network-like answers (5xx, 429) are retried. `who`
/// answered: the store (XML errors) or the signer (JSON errors).
fn checked<E>(response: Response, who: &str) -> Result<Response, Stop<E>> {
    if response.is_success() {
        return Ok(response);
    }
    if response.status >= 500 || response.status == 429 {
        let status = response.status;
        let what = match error_of(&response.data) {
            Some((code, message)) => format!("the {who} answered {status}: {code}: {message}"),
            None => match routes::error_message(&response.data) {
                Some(message) => format!("the {who} answered {status}: {message}"),
                None => format!("the {who} answered {status}"),
            },
        };
        return Err(Stop::Retry(Failure::Protocol(what)));
    }
    Err(Stop::Answered(response))
}

fn protocol<E>(message: impl Into<String>) -> Stop<E> {
    Stop::Fatal(Failure::Protocol(message.into()))
}
