//! One request's bytes going into a tus upload on a bucket: parts through a [`PartWriter`],
//! each recorded in the upload's info the moment the store took it (under a checksum: all at
//! once, when it holds), and what is left after the last full part kept in `ID.part`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::bucket::{START, write_info};
use super::info::Info;
use super::store::Append;
use crate::bucket::{Bucket, LeaseWatch, PartWriter, Payload, SentPart};
use crate::error::ApiError;

/// The objects of the upload a request writes besides its parts.
#[derive(Debug)]
pub(crate) struct Places {
    /// `ID.info`.
    pub(crate) info: String,
    /// `ID.part`.
    pub(crate) tail: String,
    /// `ID.part` holds bytes that count (they begin this request's first part).
    pub(crate) tail_counts: bool,
}

/// Appends one request's bytes.
#[derive(Debug)]
pub(crate) struct BucketAppend {
    bucket: Arc<Bucket>,
    writer: PartWriter,
    watch: LeaseWatch,
    places: Places,
    /// The info as loaded, to be recorded with the parts this request adds.
    info: Info,
    /// Records parts as the store takes them; `None` under a checksum.
    recorder: Option<JoinHandle<Result<u64, ApiError>>>,
    first_part: u64,
    start: u64,
    written: u64,
    /// A checksum is to be verified: parts are recorded only once it holds.
    verify: bool,
}

impl BucketAppend {
    /// Appends at `start` through `writer`, whose first part follows the parts `info` records.
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        writer: PartWriter,
        watch: LeaseWatch,
        places: Places,
        info: Info,
        start: u64,
        verify: bool,
    ) -> Self {
        let first_part = info.etags.len() as u64 + 1;
        let (writer, recorder) = if verify {
            (writer, None)
        } else {
            let (tell, told) = tokio::sync::mpsc::unbounded_channel();
            let recorder = Recorder {
                bucket: Arc::clone(&bucket),
                key: places.info.clone(),
                info: info.clone(),
                watch: watch.clone(),
            };
            (writer.telling(tell), Some(tokio::spawn(recorder.run(told))))
        };
        Self {
            bucket,
            writer,
            watch,
            places,
            info,
            recorder,
            first_part,
            start,
            written: 0,
            verify,
        }
    }

    /// Records every part the store took, once the checksum held; their number.
    async fn record_all(&mut self) -> Result<u64, ApiError> {
        let run: Vec<String> = self
            .writer
            .stored_run()
            .iter()
            .map(|(_, etag)| etag.clone())
            .collect();
        let advanced = run.len() as u64;
        if advanced > 0 {
            self.info.etags.extend(run);
            self.watch.check()?;
            write_info(&self.bucket, &self.places.info, &self.info).await?;
        }
        Ok(advanced)
    }
}

impl Append for BucketAppend {
    async fn write(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.watch.check()?;
        self.written += chunk.len() as u64;
        self.writer.write(chunk).await
    }

    async fn finish(mut self, keep: bool) -> Result<u64, ApiError> {
        if !keep && self.verify {
            // Nothing was recorded: the upload is as it was. Parts stored meanwhile count
            // nowhere; the next writer stores their places again, and the file leaves them out.
            let _ = self.writer.drain().await;
            return Ok(self.start);
        }
        let offset = self.start + self.written;
        let complete = keep && self.info.length == Some(offset);
        if complete {
            self.watch.check()?;
            self.writer.send_tail().await?;
        }
        let drained = self.writer.drain().await;
        self.writer.stop_telling();
        let advanced = match self.recorder.take() {
            Some(recorder) => recorder
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
            None => match &drained {
                Ok(()) => self.record_all().await,
                Err(_) => Ok(0),
            },
        };
        drained?;
        let advanced = advanced?;
        if complete {
            return Ok(offset);
        }
        self.watch.check()?;
        let start = (self.first_part - 1 + advanced) * self.info.part_size;
        let tail = self.writer.into_tail();
        if keep && tail.len() > 0 {
            let stored = start + tail.len();
            let reply = self
                .bucket
                .call(
                    "PUT",
                    &self.places.tail,
                    &[],
                    vec![(START, start.to_string())],
                    Payload::Spool(tail),
                )
                .await?;
            if !reply.status.is_success() {
                return Err(reply.refused("keep an upload's last bytes"));
            }
            return Ok(stored);
        }
        if advanced == 0 {
            // No new part, and the old `.part` (if any) still stands where it was.
            return Ok(self.start);
        }
        if self.places.tail_counts {
            // The old `.part` went into a full part and no longer counts: drop it.
            self.bucket.delete(&self.places.tail).await?;
        }
        Ok(start)
    }
}

/// Writes the info again each time the run of stored parts grows, so that a request that
/// dies (or a store that does) keeps every part recorded before.
struct Recorder {
    bucket: Arc<Bucket>,
    key: String,
    info: Info,
    watch: LeaseWatch,
}

impl Recorder {
    /// The number of parts it recorded for good, or the failure of the last recording.
    async fn run(mut self, mut told: UnboundedReceiver<SentPart>) -> Result<u64, ApiError> {
        let base = self.info.etags.len();
        let mut durable = base;
        let mut last = Ok(());
        let mut waiting = BTreeMap::new();
        while let Some((number, etag)) = told.recv().await {
            waiting.insert(number, etag);
            // Whatever else arrived meanwhile goes in the same write.
            while let Ok((number, etag)) = told.try_recv() {
                waiting.insert(number, etag);
            }
            while let Some(etag) = waiting.remove(&(self.info.etags.len() as u64 + 1)) {
                self.info.etags.push(etag);
            }
            if self.info.etags.len() > durable {
                last = match self.watch.check() {
                    Ok(()) => write_info(&self.bucket, &self.key, &self.info).await,
                    Err(e) => Err(e),
                };
                if last.is_ok() {
                    durable = self.info.etags.len();
                }
            }
        }
        last.map(|()| (durable - base) as u64)
    }
}
