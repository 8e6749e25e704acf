//! The tus 1.0 client: discovery, creation, PATCH at the server's offset, retries that always
//! ask the server where to continue, pause and resume, termination on abort, and parallel parts
//! joined by concatenation.
//!
//! It runs over any [`Client`], so it holds no socket and no file: bodies are ranges of the
//! planned source, and the backend sends them.

use std::time::Duration;

use uptask_proto::tus::{
    CHECKSUM_MISMATCH, Capabilities, ChecksumAlgorithm, Concat, OFFSET_OCTET_STREAM, TUS_RESUMABLE,
    parse_offset, should_retry, split_ranges,
};
use url::Url;

use super::entry::Entry;
use crate::http::{Body, Client, Request, Response};
use crate::meter::Meter;
use crate::prepare::{Plan, TusPlan};
use crate::resume::Store;
use crate::task::{Control, EventSink, Interrupt};
use crate::{ErrorKind, Notice, UploadError, UploadSuccess};

/// Bodies up to this size go with the creation request when the server allows it; larger ones
/// go in a PATCH, so a cut connection never loses more than this before the upload has a URL.
const CREATION_BODY_MAX: u64 = 4 << 20;

/// The chunk read from a stream of unknown length and held until the server has it.
const STREAM_CHUNK: u64 = 8 << 20;

/// The most a stream chunk may hold, whatever `chunk_size` says: it sits in memory.
const MAX_STREAM_CHUNK: u64 = 256 << 20;

/// Parts smaller than this are not worth a request of their own.
const MIN_PART: u64 = 1 << 20;

/// How long a `DELETE` after an abort may take.
const TERMINATE_WITHIN: Duration = Duration::from_secs(5);

/// Why a request did not complete.
enum Stop {
    Aborted,
    Paused,
    TimedOut,
    /// Worth another try after asking the server for its offset.
    Retry(UploadError),
    /// The server answered with a final status: the outcome, as with a multipart upload.
    Answered(Response),
    Fatal(UploadError),
}

impl From<Interrupt> for Stop {
    fn from(i: Interrupt) -> Self {
        match i {
            Interrupt::Aborted => Stop::Aborted,
            Interrupt::Paused => Stop::Paused,
            Interrupt::TimedOut => Stop::TimedOut,
        }
    }
}

impl From<UploadError> for Stop {
    fn from(e: UploadError) -> Self {
        match e.kind() {
            ErrorKind::Io | ErrorKind::Connect | ErrorKind::Timeout => Stop::Retry(e),
            _ => Stop::Fatal(e),
        }
    }
}

/// The retry count, and the progress at the last failure (progress since resets the count).
#[derive(Debug, Default)]
struct Retry {
    attempt: usize,
    offset_at_failure: Option<u64>,
}

/// Runs a tus upload to its outcome.
pub(crate) async fn run<C: Client>(
    plan: &Plan,
    tus: &TusPlan,
    client: &C,
    sink: &mut EventSink,
    control: Control,
) -> Result<UploadSuccess, UploadError> {
    let mut driver = Driver {
        plan,
        tus,
        client,
        control,
        deadline: plan.timeout.map(|t| crate::backend::now() + t),
        caps: None,
        store: tus.resume.as_ref(),
    };
    let meter = Meter::new(sink, 1);
    let result = driver.upload(&meter).await;
    match result {
        Ok(done) => {
            let response = done.response;
            meter.with_sink(|s| s.headers(&response.header));
            let mut success = UploadSuccess::new(response.status, response.header, response.data);
            success.upload_url = done.url.map(String::from);
            Ok(success)
        }
        Err((stop, urls)) => driver.finish_stopped(stop, &urls, &meter).await,
    }
}

struct Driver<'a, C> {
    plan: &'a Plan,
    tus: &'a TusPlan,
    client: &'a C,
    control: Control,
    /// When the whole upload must be done, on the backend clock; moved on while paused.
    deadline: Option<Duration>,
    caps: Option<Capabilities>,
    store: Option<&'a Store>,
}

/// A completed upload: the last response, which is the outcome, and the upload's URL.
struct Done {
    response: Response,
    url: Option<Url>,
}

/// One part of the file on the server: its range of the source and its upload URL once known.
#[derive(Debug, Clone)]
struct Part {
    index: usize,
    start: u64,
    len: u64,
    url: Option<Url>,
    /// Bytes of this part the server has acknowledged.
    offset: u64,
    /// Whether `offset` must be asked for before sending (after a failure, pause or restart).
    sync: bool,
    partial: bool,
    /// The digest of the next chunk (its source range, then the digest), computed in advance.
    digest: Option<((u64, u64), Vec<u8>)>,
}

impl<C: Client> Driver<'_, C> {
    fn endpoint(&self) -> &Url {
        &self.plan.url
    }

    fn len(&self) -> u64 {
        self.plan.source.len()
    }

    /// The upload: one part, or several joined at the end. On a stop, also returns the upload
    /// URLs known so far (to terminate them on abort).
    async fn upload(&mut self, meter: &Meter<'_>) -> Result<Done, (Stop, Vec<Url>)> {
        let mut whole = Part {
            index: 0,
            start: 0,
            len: self.len(),
            url: None,
            offset: 0,
            sync: false,
            partial: false,
            digest: None,
        };
        if let Some(url) = self.inherited_url() {
            whole.url = Some(url);
            whole.sync = true;
        }
        let mut retry = Retry::default();
        loop {
            match self.discover().await {
                Ok(()) => break,
                Err(stop) => {
                    if let Err(stop) = self.recover(stop, &mut retry, 0, meter).await {
                        return Err((stop, Vec::new()));
                    }
                }
            }
        }
        if self.plan.source.is_stream() {
            let mut url = None;
            let result = self.upload_stream(&mut url, meter).await;
            return result.map_err(|stop| (stop, url.into_iter().collect()));
        }
        let parallel = self.parallel_parts();
        if whole.url.is_some() || parallel <= 1 {
            let result = self.run_part(&mut whole, meter).await;
            return result.map_err(|stop| (stop, whole.url.into_iter().collect()));
        }
        self.upload_parallel(parallel, meter).await
    }

    /// A source of unknown length (a pipe, a FIFO): created with a deferred length and sent in
    /// chunks that are read once and kept in memory until the server has them, so a retry can
    /// send them again; the length goes with the last chunk.
    async fn upload_stream(
        &mut self,
        url_out: &mut Option<Url>,
        meter: &Meter<'_>,
    ) -> Result<Done, Stop> {
        if !self
            .caps
            .as_ref()
            .is_some_and(|c| c.has("creation-defer-length"))
        {
            return Err(Stop::Fatal(UploadError::invalid(
                "the source has no length known in advance (a pipe or FIFO), and the server does not offer creation-defer-length",
            )));
        }
        let chunk = usize::try_from(self.tus.options.chunk_size.unwrap_or(STREAM_CHUNK))
            .unwrap_or(usize::MAX)
            .min(usize::try_from(MAX_STREAM_CHUNK).unwrap_or(usize::MAX));
        let mut retry = Retry::default();
        let url = loop {
            match self.create_deferred(meter).await {
                Ok(url) => break url,
                Err(stop) => self.recover(stop, &mut retry, 0, meter).await?,
            }
        };
        *url_out = Some(url.clone());
        // `pending` holds the bytes from `start` that the server has not acknowledged yet.
        let (mut start, mut pending, mut eof) = (0u64, bytes::Bytes::new(), false);
        let mut sync = false;
        loop {
            if sync {
                let offset = match self.stream_offset(&url, start + pending.len() as u64).await {
                    Ok(o) => o,
                    Err(stop) => {
                        self.recover(stop, &mut retry, start, meter).await?;
                        continue;
                    }
                };
                if offset < start {
                    return Err(Stop::Fatal(UploadError::new(
                        ErrorKind::Protocol,
                        format!(
                            "the server went back to offset {offset} after acknowledging {start}: bytes read from a stream cannot be sent again"
                        ),
                    )));
                }
                meter.with_sink(|s| s.notice(Notice::Resumed { offset }));
                pending = pending.slice(usize::try_from(offset - start).unwrap_or(0)..);
                start = offset;
                meter.set(0, start, true);
                sync = false;
            }
            if pending.is_empty() && !eof {
                let read = self.interruptible(self.client.read_stream(chunk)).await?;
                let read = read.map_err(Stop::Fatal)?;
                eof = read.len() < chunk;
                pending = read;
                let known = start + pending.len() as u64;
                meter.with_sink(|s| s.grow(known));
            }
            match self.patch_bytes(&url, start, &pending, eof, meter).await {
                Ok((offset, response)) => {
                    pending = pending.slice(usize::try_from(offset - start).unwrap_or(0)..);
                    start = offset;
                    if eof && pending.is_empty() {
                        return Ok(Done {
                            response,
                            url: Some(url),
                        });
                    }
                }
                Err(stop) => {
                    self.recover(stop, &mut retry, start, meter).await?;
                    sync = true;
                }
            }
        }
    }

    /// POST with `Upload-Defer-Length: 1`.
    async fn create_deferred(&self, meter: &Meter<'_>) -> Result<Url, Stop> {
        let mut headers = vec![("Upload-Defer-Length", "1".to_owned())];
        if !self.tus.metadata.is_empty() {
            headers.push(("Upload-Metadata", self.tus.metadata.clone()));
        }
        let request = self.request("POST", self.endpoint().clone(), headers, Body::Empty);
        let response = self.send(&request, &mut |_| {}).await?;
        let url = self.location_of(&response)?;
        meter.with_sink(|s| {
            s.notice(Notice::UploadCreated {
                url: url.to_string(),
            });
        });
        Ok(url)
    }

    /// HEAD for a stream upload's offset, which is at most `sent`.
    async fn stream_offset(&self, url: &Url, sent: u64) -> Result<u64, Stop> {
        let request = self.request("HEAD", url.clone(), Vec::new(), Body::Empty);
        let response = self.send(&request, &mut |_| {}).await?;
        if !is_success(response.status) {
            return Err(status_stop(response));
        }
        checked_offset(response.get("upload-offset"), 0, sent)
    }

    /// PATCH bytes already read, at `start`; with `last`, the length goes along. Returns the
    /// server's new offset.
    async fn patch_bytes(
        &self,
        url: &Url,
        start: u64,
        bytes: &bytes::Bytes,
        last: bool,
        meter: &Meter<'_>,
    ) -> Result<(u64, Response), Stop> {
        let len = bytes.len() as u64;
        let mut headers = vec![
            ("Upload-Offset", start.to_string()),
            ("Content-Type", OFFSET_OCTET_STREAM.to_owned()),
        ];
        if last {
            headers.push(("Upload-Length", (start + len).to_string()));
        }
        if let Some(algorithm) = self.checksum() {
            let digest = crate::digest::Hasher::of(algorithm.into(), bytes);
            headers.push(("Upload-Checksum", algorithm.header_value(&digest)));
        }
        let request = self.request("PATCH", url.clone(), headers, Body::Bytes(bytes.clone()));
        let response = self
            .send(&request, &mut |n| meter.set(0, start + n, false))
            .await?;
        let offset = acknowledged(&response, start, len)?;
        meter.set(0, offset, offset < start + len);
        Ok((offset, response))
    }

    /// The upload URL a creation answered with, resolved against the endpoint.
    fn location_of(&self, response: &Response) -> Result<Url, Stop> {
        if !is_success(response.status) {
            return Err(status_stop(response.clone()));
        }
        let location = response.get("location").ok_or_else(|| {
            Stop::Fatal(UploadError::new(
                ErrorKind::Protocol,
                format!(
                    "the server created the upload ({}) without a Location header",
                    response.status
                ),
            ))
        })?;
        let url = self.endpoint().join(location.trim()).map_err(|e| {
            Stop::Fatal(
                UploadError::new(
                    ErrorKind::Protocol,
                    format!("the server's Location {location:?} is not a URL"),
                )
                .with_source(e),
            )
        })?;
        check_scheme(&url)?;
        tracing::debug!(%url, "tus upload created");
        Ok(url)
    }

    /// The number of parts to upload at once.
    fn parallel_parts(&self) -> usize {
        let wanted = self.tus.options.parallel;
        let caps_ok = self.caps.as_ref().is_some_and(|c| c.has("concatenation"));
        if wanted <= 1 || !caps_ok {
            if wanted > 1 {
                tracing::debug!("the server has no concatenation extension: one upload");
            }
            return 1;
        }
        let by_size = usize::try_from(self.len() / MIN_PART).unwrap_or(usize::MAX);
        wanted.min(by_size).max(1)
    }

    /// An upload URL to continue: given in the options, or remembered in the store.
    fn inherited_url(&self) -> Option<Url> {
        if let Some(u) = &self.tus.options.upload_url {
            return Url::parse(u).ok();
        }
        if self.tus.options.fresh {
            return None;
        }
        let store = self.store?;
        let entry: Entry = store.get()?;
        if entry.expired() {
            tracing::debug!(url = %entry.upload_url, "stored upload expired; starting anew");
            store.remove();
            return None;
        }
        Url::parse(&entry.upload_url).ok()
    }

    async fn upload_parallel(
        &mut self,
        parts: usize,
        meter: &Meter<'_>,
    ) -> Result<Done, (Stop, Vec<Url>)> {
        let mut parts: Vec<Part> = split_ranges(self.len(), parts)
            .into_iter()
            .enumerate()
            .map(|(index, (start, len))| Part {
                index,
                start,
                len,
                url: None,
                offset: 0,
                sync: false,
                partial: true,
                digest: None,
            })
            .collect();
        meter.reset(parts.len());
        let results = {
            let this = &*self;
            let runs = parts.iter_mut().map(|part| async move {
                let mut worker = this.fork();
                worker.run_part(part, meter).await
            });
            crate::join::join_all(runs).await
        };
        let urls: Vec<Url> = parts.iter().filter_map(|p| p.url.clone()).collect();
        for r in results {
            if let Err(stop) = r {
                return Err((stop, urls));
            }
        }
        let concat = Concat::Final(urls.iter().map(Url::to_string).collect());
        let mut headers = vec![("Upload-Concat", concat.header_value())];
        if !self.tus.metadata.is_empty() {
            headers.push(("Upload-Metadata", self.tus.metadata.clone()));
        }
        let request = self.request("POST", self.endpoint().clone(), headers, Body::Empty);
        let mut retry = Retry::default();
        loop {
            let sent = match self.send(&request, &mut |_| {}).await {
                Ok(r) if is_success(r.status) => Ok(r),
                Ok(r) => Err(status_stop(r)),
                Err(stop) => Err(stop),
            };
            match sent {
                Ok(response) => {
                    let url = self.location_of(&response).ok();
                    return Ok(Done { response, url });
                }
                Err(stop) => {
                    if let Err(stop) = self.recover(stop, &mut retry, 0, meter).await {
                        return Err((stop, urls));
                    }
                }
            }
        }
    }

    /// A driver for one part of a parallel upload: same plan and control, own deadline copy.
    fn fork(&self) -> Driver<'_, C> {
        Driver {
            plan: self.plan,
            tus: self.tus,
            client: self.client,
            control: self.control.clone(),
            deadline: self.deadline,
            caps: self.caps.clone(),
            store: None,
        }
    }

    /// OPTIONS: what the server supports. A server without OPTIONS is taken to support the core
    /// protocol and creation, as tus clients commonly assume.
    async fn discover(&mut self) -> Result<(), Stop> {
        if self.caps.is_some() {
            return Ok(());
        }
        let request = Request {
            method: "OPTIONS",
            url: self.endpoint().clone(),
            headers: vec![("Tus-Resumable", TUS_RESUMABLE.to_owned())],
            body: Body::Empty,
        };
        let response = self.send(&request, &mut |_| {}).await?;
        let caps = if is_success(response.status) {
            Capabilities::from_headers(|n| response.get(n))
        } else if should_retry(response.status) && response.status != CHECKSUM_MISMATCH {
            return Err(status_stop(response));
        } else {
            tracing::debug!(
                status = response.status,
                "no tus discovery; assuming creation"
            );
            Capabilities::default()
        };
        if let Some(max) = caps.max_size
            && self.len() > max
        {
            return Err(Stop::Fatal(UploadError::invalid(format!(
                "the file is {} bytes, more than the server's Tus-Max-Size of {max}",
                self.len()
            ))));
        }
        tracing::debug!(?caps, "tus server capabilities");
        self.caps = Some(caps);
        Ok(())
    }

    /// Uploads one part (or the whole file) to completion, retrying as configured.
    async fn run_part(&mut self, part: &mut Part, meter: &Meter<'_>) -> Result<Done, Stop> {
        let mut last: Option<Response> = None;
        let mut retry = Retry::default();
        loop {
            match self.part_step(part, meter, &mut last).await {
                Ok(true) => {
                    if let Some(response) = last.take() {
                        if !part.partial
                            && let Some(store) = self.store
                        {
                            store.remove();
                        }
                        return Ok(Done {
                            response,
                            url: part.url.clone(),
                        });
                    }
                }
                Ok(false) => {}
                Err(stop) => {
                    self.recover(stop, &mut retry, part.offset, meter).await?;
                    // Whatever happened, the server's offset is the truth from here on.
                    part.sync = part.url.is_some();
                }
            }
        }
    }

    /// After a failed step: waits out a pause, or waits before a retry (`Ok`: try again), or
    /// passes the stop on. `offset` is the acknowledged progress, which resets the retry count
    /// when it moved since the last failure.
    async fn recover(
        &mut self,
        stop: Stop,
        retry: &mut Retry,
        offset: u64,
        meter: &Meter<'_>,
    ) -> Result<(), Stop> {
        match stop {
            Stop::Paused => self.wait_resumed().await,
            Stop::Retry(err) => {
                if retry.offset_at_failure.is_some_and(|o| offset > o) {
                    retry.attempt = 0;
                }
                retry.offset_at_failure = Some(offset);
                let Some(&base) = self.tus.options.retry_delays.get(retry.attempt) else {
                    return Err(Stop::Fatal(err));
                };
                retry.attempt += 1;
                let delay = jitter(base);
                tracing::debug!(attempt = retry.attempt, ?delay, error = %err, "tus request failed; retrying");
                meter.with_sink(|s| {
                    s.notice(Notice::Retrying {
                        attempt: u32::try_from(retry.attempt).unwrap_or(u32::MAX),
                        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error: err.to_string(),
                    });
                });
                self.sleep(delay).await
            }
            other => Err(other),
        }
    }

    /// One request of a part's upload. `Ok(true)` when the part is complete (`last` holds the
    /// response that said so).
    async fn part_step(
        &mut self,
        part: &mut Part,
        meter: &Meter<'_>,
        last: &mut Option<Response>,
    ) -> Result<bool, Stop> {
        let Some(url) = part.url.clone() else {
            let response = self.create(part, meter).await?;
            let done = part.offset == part.len;
            *last = Some(response);
            return Ok(done);
        };
        if part.sync {
            let response = match self.offset_of(&url, part).await {
                Ok(r) => r,
                Err(Stop::Answered(r)) if is_gone(r.status) => {
                    tracing::warn!(%url, status = r.status, "the upload is gone on the server; starting anew");
                    if let Some(store) = self.store {
                        store.remove();
                    }
                    part.url = None;
                    part.offset = 0;
                    part.sync = false;
                    meter.set(part.index, 0, true);
                    return Ok(false);
                }
                Err(stop) => return Err(stop),
            };
            part.sync = false;
            if !part.partial {
                meter.with_sink(|s| {
                    s.notice(Notice::Resumed {
                        offset: part.offset,
                    });
                });
            }
            meter.set(part.index, part.offset, true);
            if part.offset == part.len {
                *last = Some(response);
                return Ok(true);
            }
        }
        let response = self.patch(&url, part, meter).await?;
        let done = part.offset == part.len;
        *last = Some(response);
        Ok(done)
    }

    /// POST: creates the upload (with its first bytes, when the server allows and they are few).
    async fn create(&mut self, part: &mut Part, meter: &Meter<'_>) -> Result<Response, Stop> {
        let caps = self.caps.clone().unwrap_or_default();
        let mut headers = vec![("Upload-Length", part.len.to_string())];
        if part.partial {
            headers.push(("Upload-Concat", Concat::Partial.header_value()));
        }
        if !self.tus.metadata.is_empty() {
            headers.push(("Upload-Metadata", self.tus.metadata.clone()));
        }
        let first = self.chunk_len(part, 0);
        let with_body = caps.has("creation-with-upload")
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
        let request = self.request("POST", self.endpoint().clone(), headers, body);
        let index = part.index;
        // Only a body (or an empty file, whose one event is 0 of 0) is progress.
        let counts = with_body || part.len == 0;
        let response = self
            .send(&request, &mut |n| {
                if counts {
                    meter.set(index, n, false);
                }
            })
            .await?;
        let url = self.location_of(&response)?;
        if !part.partial {
            if let Some(store) = self.store {
                store.put(&Entry {
                    upload_url: url.to_string(),
                    expires: response.get("upload-expires").map(str::to_owned),
                });
            }
            meter.with_sink(|s| {
                s.notice(Notice::UploadCreated {
                    url: url.to_string(),
                });
            });
        }
        part.url = Some(url);
        if with_body {
            match response.get("upload-offset") {
                Some(v) => {
                    let offset = checked_offset(Some(v), 0, first)?;
                    part.offset = offset;
                    meter.set(part.index, offset, offset < first);
                }
                // Some servers do not say how much of the body they kept: ask.
                None => part.sync = true,
            }
        }
        Ok(response)
    }

    /// HEAD: the server's offset for the part.
    async fn offset_of(&mut self, url: &Url, part: &mut Part) -> Result<Response, Stop> {
        let request = self.request("HEAD", url.clone(), Vec::new(), Body::Empty);
        let response = self.send(&request, &mut |_| {}).await?;
        if !is_success(response.status) {
            return Err(status_stop(response));
        }
        if let Some(length) = response.get("upload-length") {
            let length = parse_offset("upload-length", Some(length)).map_err(protocol)?;
            if length != part.len {
                return Err(Stop::Fatal(UploadError::new(
                    ErrorKind::Protocol,
                    format!(
                        "the upload at {url} is {length} bytes long, but the file is {}: not the same upload",
                        part.len
                    ),
                )));
            }
        }
        part.offset = checked_offset(response.get("upload-offset"), 0, part.len)?;
        tracing::debug!(%url, offset = part.offset, "server offset");
        Ok(response)
    }

    /// PATCH: the next chunk from the part's offset.
    async fn patch(
        &mut self,
        url: &Url,
        part: &mut Part,
        meter: &Meter<'_>,
    ) -> Result<Response, Stop> {
        let len = self.chunk_len(part, part.offset);
        let offset = part.offset;
        let mut headers = vec![
            ("Upload-Offset", offset.to_string()),
            ("Content-Type", OFFSET_OCTET_STREAM.to_owned()),
        ];
        let algorithm = self.checksum();
        if let Some(algorithm) = algorithm {
            let range = (part.start + offset, len);
            let digest = match part.digest.take() {
                Some((at, d)) if at == range => d,
                _ => {
                    self.interruptible(self.client.digest(algorithm.into(), range.0, range.1))
                        .await??
                }
            };
            headers.push(("Upload-Checksum", algorithm.header_value(&digest)));
        }
        let request = self.request(
            "PATCH",
            url.clone(),
            headers,
            Body::Range {
                offset: part.start + offset,
                len,
            },
        );
        let index = part.index;
        // The next chunk is hashed while this one is sent, so hashing costs no time of its own
        // (when this PATCH does not complete in full, the digest simply goes unused).
        let next = (offset + len < part.len).then(|| {
            let at = offset + len;
            (part.start + at, self.chunk_len(part, at))
        });
        let mut progress = |n| meter.set(index, offset + n, false);
        let (response, next_digest) = match (algorithm, next) {
            (Some(algorithm), Some(range)) => {
                let both = async {
                    tokio::join!(
                        self.client.send(&request, &mut progress),
                        self.client.digest(algorithm.into(), range.0, range.1)
                    )
                };
                let (response, digest) = self.interruptible(both).await?;
                (response?, digest.ok().map(|d| (range, d)))
            }
            _ => (self.send(&request, &mut progress).await?, None),
        };
        part.digest = next_digest;
        let new = acknowledged(&response, offset, len)?;
        part.offset = new;
        meter.set(index, new, new < offset + len);
        Ok(response)
    }

    fn checksum(&self) -> Option<ChecksumAlgorithm> {
        if !self.tus.options.checksum {
            return None;
        }
        self.caps.as_ref()?.checksum()
    }

    /// Bytes to send in the next request of `part`, from `offset` within it.
    fn chunk_len(&self, part: &Part, offset: u64) -> u64 {
        let rest = part.len - offset.min(part.len);
        let limit = match (self.tus.options.chunk_size, self.checksum()) {
            (Some(size), _) => size,
            (None, Some(_)) => crate::TusOptions::CHECKSUM_CHUNK,
            (None, None) => u64::MAX,
        };
        rest.min(limit)
    }

    /// A request with the protocol's version header.
    fn request(
        &self,
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
        }
    }

    /// Sends one request, unless the upload is aborted, paused or out of time first.
    async fn send(
        &self,
        request: &Request,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<Response, Stop> {
        Ok(self
            .interruptible(self.client.send(request, progress))
            .await??)
    }

    /// Runs `fut` unless an abort, a pause or the deadline comes first.
    async fn interruptible<T>(&self, fut: impl Future<Output = T>) -> Result<T, Stop> {
        Ok(self.control.guard(fut, self.deadline, true).await?)
    }

    /// Waits, unless aborted or paused first (a pause during a wait is waited out after it).
    async fn sleep(&self, delay: Duration) -> Result<(), Stop> {
        match self.interruptible(crate::backend::sleep(delay)).await {
            Ok(()) | Err(Stop::Paused) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Waits while paused; the deadline moves on by the time spent paused.
    async fn wait_resumed(&mut self) -> Result<(), Stop> {
        let since = crate::backend::now();
        tracing::debug!("tus upload paused");
        let mut paused = self.control.paused.clone();
        tokio::select! {
            biased;
            () = self.control.cancel.cancelled() => return Err(Stop::Aborted),
            _ = paused.wait_for(|p| !*p) => {}
        }
        if let Some(d) = &mut self.deadline {
            *d += crate::backend::now().saturating_sub(since);
        }
        tracing::debug!("tus upload resumed");
        Ok(())
    }

    /// The outcome of a stopped upload; on abort, the server is told first.
    async fn finish_stopped(
        &self,
        stop: Stop,
        urls: &[Url],
        meter: &Meter<'_>,
    ) -> Result<UploadSuccess, UploadError> {
        match stop {
            Stop::Aborted => {
                if self.tus.options.terminate_on_abort {
                    for url in urls {
                        self.terminate(url).await;
                    }
                    if let Some(store) = self.store {
                        store.remove();
                    }
                }
                Err(UploadError::aborted())
            }
            Stop::TimedOut => Err(UploadError::new(
                ErrorKind::Timeout,
                format!(
                    "the upload did not complete within {:?}",
                    self.plan.timeout.unwrap_or_default()
                ),
            )),
            Stop::Answered(response) => {
                meter.with_sink(|s| s.headers(&response.header));
                Ok(UploadSuccess::new(
                    response.status,
                    response.header,
                    response.data,
                ))
            }
            Stop::Retry(err) | Stop::Fatal(err) => Err(err),
            Stop::Paused => Err(UploadError::new(
                ErrorKind::Internal,
                "the upload stopped while paused",
            )),
        }
    }

    /// DELETE, bounded in time; failures are logged (the outcome is the abort either way).
    async fn terminate(&self, url: &Url) {
        let request = self.request("DELETE", url.clone(), Vec::new(), Body::Empty);
        match crate::http::send_within(self.client, &request, TERMINATE_WITHIN).await {
            Some(Ok(r)) if is_success(r.status) || is_gone(r.status) => {
                tracing::debug!(%url, status = r.status, "tus upload terminated");
            }
            Some(Ok(r)) => tracing::warn!(%url, status = r.status, "tus termination refused"),
            Some(Err(e)) => tracing::warn!(%url, error = %e, "tus termination failed"),
            None => tracing::warn!(%url, "tus termination timed out"),
        }
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Statuses meaning the upload does not exist (any more) on the server.
fn is_gone(status: u16) -> bool {
    matches!(status, 403 | 404 | 410)
}

fn status_stop(response: Response) -> Stop {
    if should_retry(response.status) {
        Stop::Retry(UploadError::new(
            ErrorKind::Protocol,
            format!("the server answered {}", response.status),
        ))
    } else {
        Stop::Answered(response)
    }
}

fn protocol(e: uptask_proto::ProtoError) -> Stop {
    Stop::Fatal(UploadError::new(ErrorKind::Protocol, e.to_string()).with_source(e))
}

/// The offset a PATCH of `len` bytes at `start` brought the upload to, from its answer. An
/// answer that took none of a non-empty body is worth a retry; one outside the range, never.
fn acknowledged(response: &Response, start: u64, len: u64) -> Result<u64, Stop> {
    if !is_success(response.status) {
        return Err(status_stop(response.clone()));
    }
    let offset = checked_offset(response.get("upload-offset"), start, start + len)?;
    if offset == start && len > 0 {
        return Err(Stop::Retry(UploadError::new(
            ErrorKind::Protocol,
            format!("the server accepted none of the {len} bytes sent at offset {start}"),
        )));
    }
    Ok(offset)
}

/// An `Upload-Offset` the server may truthfully send: between what it had and what was sent.
fn checked_offset(value: Option<&str>, low: u64, high: u64) -> Result<u64, Stop> {
    let offset = parse_offset("upload-offset", value).map_err(protocol)?;
    if offset < low || offset > high {
        return Err(Stop::Fatal(UploadError::new(
            ErrorKind::Protocol,
            format!(
                "the server's Upload-Offset {offset} is outside {low}..={high}: it cannot be trusted"
            ),
        )));
    }
    Ok(offset)
}

fn check_scheme(url: &Url) -> Result<(), Stop> {
    if matches!(url.scheme(), "http" | "https") {
        Ok(())
    } else {
        Err(Stop::Fatal(UploadError::new(
            ErrorKind::Protocol,
            format!("the server's upload URL {url} is not http or https"),
        )))
    }
}

/// `base` varied by up to ±25 %, so clients that failed together do not retry together.
fn jitter(base: Duration) -> Duration {
    if base.is_zero() {
        return base;
    }
    let mut r = [0u8; 2];
    if getrandom::fill(&mut r).is_err() {
        return base;
    }
    let unit = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX);
    base.mul_f64(0.75 + unit * 0.5)
}
