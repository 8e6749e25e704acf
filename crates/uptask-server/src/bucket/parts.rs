//! Arriving bytes cut into the parts of a multipart upload: each part is gathered in a
//! [`Spool`] (not in memory, so many uploads at once stay small) and sent when full, at most
//! [`IN_FLIGHT`] at a time per upload while the next one fills.

use std::sync::Arc;

use axum::http::StatusCode;
use bytes::{Buf, Bytes};
use tokio::task::JoinSet;

use super::spool::Spool;
use super::{Bucket, Payload};
use crate::error::ApiError;

/// Parts sent at once per upload.
const IN_FLIGHT: usize = 2;

/// One part sent: its number and the ETag the store gave it.
pub(crate) type SentPart = (u64, String);

/// Writes a stream of bytes into parts `first..` of a multipart upload.
#[derive(Debug)]
pub(crate) struct PartWriter {
    bucket: Arc<Bucket>,
    key: String,
    /// Created with the first full part, when not given.
    upload_id: Option<String>,
    part_size: u64,
    first: u64,
    next: u64,
    spool: Spool,
    sending: JoinSet<Result<SentPart, ApiError>>,
    /// Taken by the store, by number.
    sent: Vec<SentPart>,
    /// A part the store refused, seen before anyone asked.
    failed: Option<ApiError>,
    /// Told of each part as the store takes it.
    tell: Option<Stored>,
}

/// Where a [`PartWriter`] tells of each part the moment the store took it.
pub(crate) type Stored = tokio::sync::mpsc::UnboundedSender<SentPart>;

impl PartWriter {
    /// Parts of `part_size` from number `first`, the first one beginning with what `spool`
    /// holds already.
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        key: String,
        upload_id: Option<String>,
        part_size: u64,
        first: u64,
        spool: Spool,
    ) -> Self {
        Self {
            bucket,
            key,
            upload_id,
            part_size,
            first,
            next: first,
            spool,
            sending: JoinSet::new(),
            sent: Vec::new(),
            failed: None,
            tell: None,
        }
    }

    /// Tells `to` of each part the moment the store took it; the channel closes once the
    /// writer has stopped telling and no part is on its way.
    pub(crate) fn telling(mut self, to: Stored) -> Self {
        self.tell = Some(to);
        self
    }

    pub(crate) fn stop_telling(&mut self) {
        self.tell = None;
    }

    pub(crate) fn upload_id(&self) -> Option<&str> {
        self.upload_id.as_deref()
    }

    /// The parts the store took in a run from the first, by number, with their ETags, as
    /// [`drain`](Self::drain) left them.
    pub(crate) fn stored_run(&self) -> &[SentPart] {
        let run = self
            .sent
            .iter()
            .zip(self.first..)
            .take_while(|((number, _), wanted)| number == wanted)
            .count();
        &self.sent[..run]
    }

    fn absorb(&mut self, joined: Result<Result<SentPart, ApiError>, tokio::task::JoinError>) {
        match flatten(joined) {
            Ok(part) => self.sent.push(part),
            Err(e) => {
                self.failed.get_or_insert(e);
            }
        }
    }

    pub(crate) async fn write(&mut self, mut chunk: Bytes) -> Result<(), ApiError> {
        while !chunk.is_empty() {
            let room = self.part_size - self.spool.len();
            let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
            self.spool.write(&chunk[..take]).await?;
            chunk.advance(take);
            if self.spool.len() == self.part_size {
                let full = std::mem::replace(&mut self.spool, Spool::new().await?);
                let number = self.next;
                self.next += 1;
                self.send(number, full).await?;
            }
        }
        Ok(())
    }

    /// Sends what is gathered as a last, short part (nothing when empty).
    pub(crate) async fn send_tail(&mut self) -> Result<(), ApiError> {
        if self.spool.len() == 0 {
            return Ok(());
        }
        let tail = std::mem::replace(&mut self.spool, Spool::new().await?);
        let number = self.next;
        self.next += 1;
        self.send(number, tail).await
    }

    /// Waits for every part being sent; the first failure is the answer.
    pub(crate) async fn drain(&mut self) -> Result<(), ApiError> {
        while let Some(joined) = self.sending.join_next().await {
            self.absorb(joined);
        }
        self.sent.sort_unstable_by_key(|(n, _)| *n);
        self.failed.take().map_or(Ok(()), Err)
    }

    /// The parts sent, by number, and what is gathered after them.
    pub(crate) fn finish(mut self) -> (Vec<SentPart>, Spool) {
        self.sent.sort_unstable_by_key(|(n, _)| *n);
        (self.sent, self.spool)
    }

    /// What is gathered after the last full part.
    pub(crate) fn into_tail(self) -> Spool {
        self.spool
    }

    async fn send(&mut self, number: u64, spool: Spool) -> Result<(), ApiError> {
        while self.sending.len() >= IN_FLIGHT {
            if let Some(joined) = self.sending.join_next().await {
                self.absorb(joined);
            }
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let id = self.bucket.create_multipart(&self.key).await?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let bucket = Arc::clone(&self.bucket);
        let key = self.key.clone();
        let tell = self.tell.clone();
        let reusable = spool.reusable().await;
        self.sending.spawn(async move {
            let part = put_part(&bucket, &key, &upload_id, number, Payload::Spool(spool)).await?;
            // The store took it whole: its file was read to the end and can be written again.
            if let Some(file) = reusable {
                file.recycle();
            }
            if let Some(tell) = tell {
                let _ = tell.send(part.clone());
            }
            Ok(part)
        });
        Ok(())
    }
}

/// Stores part `number` of a multipart upload; its ETag.
async fn put_part(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    number: u64,
    payload: Payload,
) -> Result<SentPart, ApiError> {
    let query = [
        ("partNumber", number.to_string()),
        ("uploadId", upload_id.to_owned()),
    ];
    let reply = bucket.call("PUT", key, &query, Vec::new(), payload).await?;
    match reply.header("etag") {
        Some(etag) if reply.status.is_success() => Ok((number, etag.to_owned())),
        _ => Err(reply.refused("store a part")),
    }
}

fn flatten(
    joined: Result<Result<SentPart, ApiError>, tokio::task::JoinError>,
) -> Result<SentPart, ApiError> {
    joined.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}
