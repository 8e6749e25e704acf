//! The S3 client: one signed `PUT` for a small file; otherwise `CreateMultipartUpload`, parts
//! in parallel, each with a checksum (CRC32C or `Content-MD5`) and its own retries, then
//! `CompleteMultipartUpload`. An
//! abort, a refusal or (without a resume store) any failure after creation aborts the multipart
//! upload, so no parts linger; with a resume store a failed upload is kept, and the next run
//! lists its parts, checks them against the file and sends only the rest.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uptask_proto::s3::{
    CompletedPart, ListedPart, MAX_PARTS, PartPlan, complete_body, error_of, list_parts,
    plan_parts, upload_id,
};
use uptask_proto::sigv4::{self, Scope, UNSIGNED_PAYLOAD};
use url::Url;

use super::entry::Entry;
use crate::digest::{Algorithm, Hasher};
use crate::http::{Body, Client, Request, Response};
use crate::meter::Meter;
use crate::prepare::{Plan, S3Plan};
use crate::resume::Store;
use crate::task::{Control, EventSink, Interrupt};
use crate::{ErrorKind, Notice, UploadError, UploadSuccess};

/// How long an `AbortMultipartUpload` after a failure or an abort may take.
const ABORT_WITHIN: Duration = Duration::from_secs(5);

/// Why a request did not complete.
enum Stop {
    Aborted,
    TimedOut,
    /// A final HTTP error: the outcome, as with a multipart POST.
    Answered(Response),
    Failed(UploadError),
}

impl From<UploadError> for Stop {
    fn from(e: UploadError) -> Self {
        Stop::Failed(e)
    }
}

/// Runs an S3 upload to its outcome.
pub(crate) async fn run<C: Client>(
    plan: &Plan,
    s3: &S3Plan,
    client: &C,
    sink: &mut EventSink,
    control: Control,
) -> Result<UploadSuccess, UploadError> {
    let stored: Option<Entry> = s3.resume.as_ref().and_then(Store::get);
    // A resumed upload keeps the part size it was cut with, so its parts still line up, and
    // the checksum it was created for.
    let (part_size, crc32c) = match &stored {
        Some(entry) if !s3.options.fresh => (entry.part_size, entry.crc32c),
        _ => (
            s3.options.part_size,
            s3.options.checksum == crate::s3::PartChecksum::Crc32c,
        ),
    };
    let parts = plan_parts(plan.source.len(), part_size);
    let meter = Meter::new(sink, usize::try_from(parts.count).unwrap_or(1));
    let driver = Driver {
        plan,
        s3,
        client,
        control,
        deadline: plan.timeout.map(|t| crate::backend::now() + t),
        meter: &meter,
        store: s3.resume.as_ref(),
        crc32c,
    };
    let result = if parts.count <= 1 {
        driver.put_whole().await
    } else {
        driver.multipart(&parts, stored).await
    };
    match result {
        Ok(response) | Err(Stop::Answered(response)) => {
            meter.with_sink(|s| s.headers(&response.header));
            Ok(UploadSuccess::new(
                response.status,
                response.header,
                response.data,
            ))
        }
        Err(Stop::Aborted) => Err(UploadError::aborted()),
        Err(Stop::TimedOut) => Err(UploadError::new(
            ErrorKind::Timeout,
            format!(
                "the upload did not complete within {:?}",
                plan.timeout.unwrap_or_default()
            ),
        )),
        Err(Stop::Failed(e)) => Err(e),
    }
}

struct Driver<'a, C> {
    plan: &'a Plan,
    s3: &'a S3Plan,
    client: &'a C,
    control: Control,
    deadline: Option<Duration>,
    meter: &'a Meter<'a>,
    /// Where this upload's id is kept between runs.
    store: Option<&'a Store>,
    /// CRC32C checksums rather than `Content-MD5`.
    crc32c: bool,
}

impl<C: Client> Driver<'_, C> {
    /// One `PUT` of the whole file.
    async fn put_whole(&self) -> Result<Response, Stop> {
        let len = self.plan.source.len();
        self.with_retries(|| async {
            let request = self.signed(
                "PUT",
                &[],
                vec![
                    self.checksum(0, len).await?,
                    ("Content-Type", self.s3.content_type.clone()),
                ],
                Body::Range { offset: 0, len },
                UNSIGNED_PAYLOAD,
            )?;
            let response = self.send(&request, &mut |n| self.meter.raise(0, n)).await?;
            checked(response)
        })
        .await
    }

    /// Continues the stored upload or creates one, sends the missing parts, completes. Any
    /// stop after creation aborts the upload, except a failure that a resume store keeps it
    /// for.
    async fn multipart(&self, parts: &PartPlan, stored: Option<Entry>) -> Result<Response, Stop> {
        let resumed = match stored {
            Some(entry) if self.s3.options.fresh => {
                self.abort_upload(&entry.upload_id).await;
                None
            }
            Some(entry) => self.resume(entry, parts).await?,
            None => None,
        };
        let (id, etags) = match resumed {
            Some(found) => found,
            None => {
                let id = self.create().await?;
                self.remember(&Entry {
                    upload_id: id.clone(),
                    part_size: parts.size,
                    crc32c: self.crc32c,
                });
                (id, vec![None; usize::try_from(parts.count).unwrap_or(0)])
            }
        };
        let result = self.parts_then_complete(&id, parts, etags).await;
        match &result {
            Ok(_) => self.forget(),
            Err(Stop::Failed(e)) if self.store.is_some() => {
                tracing::info!(upload_id = %id, error = %e, "multipart upload kept to resume");
            }
            Err(Stop::TimedOut) if self.store.is_some() => {
                tracing::info!(upload_id = %id, "multipart upload kept to resume");
            }
            Err(_) => {
                self.abort_upload(&id).await;
                self.forget();
            }
        }
        result
    }

    /// `CreateMultipartUpload`: the new upload's id.
    async fn create(&self) -> Result<String, Stop> {
        let created = self
            .with_retries(|| async {
                let mut headers = vec![("Content-Type", self.s3.content_type.clone())];
                if self.crc32c {
                    headers.push(("x-amz-checksum-algorithm", "CRC32C".to_owned()));
                }
                let request = self.signed(
                    "POST",
                    &[("uploads", String::new())],
                    headers,
                    Body::Empty,
                    sigv4::EMPTY_SHA256,
                )?;
                checked(self.send(&request, &mut |_| {}).await?)
            })
            .await?;
        let id = upload_id(&created.data).ok_or_else(|| {
            Stop::Failed(UploadError::new(
                ErrorKind::Protocol,
                "the store created the multipart upload without an UploadId",
            ))
        })?;
        tracing::debug!(upload_id = %id, "multipart upload created");
        let mut url = self.plan.url.clone();
        url.query_pairs_mut().append_pair("uploadId", &id);
        self.meter.with_sink(|s| {
            s.notice(Notice::UploadCreated {
                url: url.to_string(),
            });
        });
        Ok(id)
    }

    /// The stored upload's id and the ETags of the parts the store holds that match the file
    /// (size, and MD5 where the ETag is one); `None` when the store no longer has the upload.
    async fn resume(
        &self,
        entry: Entry,
        parts: &PartPlan,
    ) -> Result<Option<(String, Vec<Option<CompletedPart>>)>, Stop> {
        let listed = match self.list_parts(&entry.upload_id).await {
            Ok(listed) => listed,
            Err(Stop::Answered(r)) if r.status == 404 => {
                tracing::debug!(upload_id = %entry.upload_id, "stored upload is gone; starting anew");
                self.forget();
                return Ok(None);
            }
            Err(other) => return Err(other),
        };
        let mut etags = vec![None; usize::try_from(parts.count).unwrap_or(0)];
        let mut have = Vec::new();
        for part in listed {
            let Some((offset, len)) = parts.part(part.number) else {
                continue;
            };
            let index = usize::try_from(part.number - 1).unwrap_or(usize::MAX);
            if part.size != len || etags.get(index).is_none_or(Option::is_some) {
                continue;
            }
            if let Some(expected) = md5_of_etag(&part.etag)
                && self.digest(Algorithm::Md5, offset, len).await? != expected
            {
                tracing::debug!(
                    number = part.number,
                    "stored part differs from the file; sending it again"
                );
                continue;
            }
            let crc32c = if self.crc32c {
                Some(self.checksum(offset, len).await?.1)
            } else {
                None
            };
            etags[index] = Some(CompletedPart {
                etag: part.etag,
                crc32c,
            });
            have.push((index, len));
        }
        let offset = have.iter().map(|(_, len)| len).sum();
        tracing::debug!(upload_id = %entry.upload_id, offset, "resuming multipart upload");
        self.meter
            .with_sink(|s| s.notice(Notice::Resumed { offset }));
        for (index, len) in have {
            self.meter.raise(index, len);
        }
        Ok(Some((entry.upload_id, etags)))
    }

    /// Every part the store holds of upload `id` (`ListParts`, page by page).
    async fn list_parts(&self, id: &str) -> Result<Vec<ListedPart>, Stop> {
        let mut all = Vec::new();
        let mut marker: Option<u64> = None;
        loop {
            let mut query = vec![("uploadId", id.to_owned())];
            if let Some(m) = marker {
                query.push(("part-number-marker", m.to_string()));
            }
            let response = self
                .with_retries(|| async {
                    let request =
                        self.signed("GET", &query, Vec::new(), Body::Empty, sigv4::EMPTY_SHA256)?;
                    checked(self.send(&request, &mut |_| {}).await?)
                })
                .await?;
            let page = list_parts(&response.data).ok_or_else(|| {
                Stop::Failed(UploadError::new(
                    ErrorKind::Protocol,
                    "the store's answer to ListParts is not a part list",
                ))
            })?;
            all.extend(page.parts);
            // A marker that does not move on would list forever.
            match page.next_marker {
                Some(m) if m < MAX_PARTS && marker.is_none_or(|old| m > old) => marker = Some(m),
                _ => return Ok(all),
            }
        }
    }

    /// Sends the parts without an ETag yet, `concurrency` at a time, then completes.
    async fn parts_then_complete(
        &self,
        id: &str,
        parts: &PartPlan,
        etags: Vec<Option<CompletedPart>>,
    ) -> Result<Response, Stop> {
        let next = Mutex::new(1u64);
        let etags = Mutex::new(etags);
        let worker = || async {
            loop {
                let number = {
                    let mut n = next.lock().unwrap_or_else(PoisonError::into_inner);
                    let this = *n;
                    *n += 1;
                    this
                };
                let Some((offset, len)) = parts.part(number) else {
                    return Ok::<(), Stop>(());
                };
                let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
                let done = etags
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(index)
                    .is_some_and(Option::is_some);
                if done {
                    continue;
                }
                let etag = self.put_part(id, number, offset, len).await?;
                if let Some(slot) = etags
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_mut(index)
                {
                    *slot = Some(etag);
                }
            }
        };
        let workers = (0..self.s3.options.concurrency).map(|_| worker());
        for result in crate::join::join_all(workers).await {
            result?;
        }
        let etags: Vec<CompletedPart> = etags
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Stop::Failed(UploadError::new(ErrorKind::Internal, "a part has no ETag"))
            })?;
        let body = complete_body(&etags);
        let hash = sigv4::hex(&Hasher::of(Algorithm::Sha256, body.as_bytes()));
        self.with_retries(|| async {
            let request = self.signed(
                "POST",
                &[("uploadId", id.to_owned())],
                vec![("Content-Type", "application/xml".to_owned())],
                Body::Bytes(body.clone().into()),
                &hash,
            )?;
            let response = checked(self.send(&request, &mut |_| {}).await?)?;
            // The store may fail a completion after its 200 status line went out.
            if let Some((code, message)) = error_of(&response.data) {
                return Err(Stop::Failed(UploadError::new(
                    ErrorKind::Protocol,
                    format!("CompleteMultipartUpload failed: {code}: {message}"),
                )));
            }
            Ok(response)
        })
        .await
    }

    /// One part, retried as configured; its ETag (and checksum, for the completion).
    async fn put_part(
        &self,
        id: &str,
        number: u64,
        offset: u64,
        len: u64,
    ) -> Result<CompletedPart, Stop> {
        let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
        self.with_retries(|| async {
            let checksum = self.checksum(offset, len).await?;
            let crc32c = self.crc32c.then(|| checksum.1.clone());
            let request = self.signed(
                "PUT",
                &[
                    ("partNumber", number.to_string()),
                    ("uploadId", id.to_owned()),
                ],
                vec![checksum],
                Body::Range { offset, len },
                UNSIGNED_PAYLOAD,
            )?;
            let response = self
                .send(&request, &mut |n| self.meter.raise(index, n))
                .await?;
            let response = checked(response)?;
            let etag = response.get("etag").map(str::to_owned).ok_or_else(|| {
                Stop::Failed(UploadError::new(
                    ErrorKind::Protocol,
                    format!("the store accepted part {number} without an ETag"),
                ))
            })?;
            Ok(CompletedPart { etag, crc32c })
        })
        .await
    }

    fn remember(&self, entry: &Entry) {
        if let Some(store) = self.store {
            store.put(entry);
        }
    }

    fn forget(&self) {
        if let Some(store) = self.store {
            store.remove();
        }
    }

    /// A digest of a range of the source.
    async fn digest(&self, algorithm: Algorithm, offset: u64, len: u64) -> Result<Vec<u8>, Stop> {
        Ok(self
            .interruptible(self.client.digest(algorithm, offset, len))
            .await??)
    }

    /// The checksum header the store verifies a range of the source by.
    async fn checksum(&self, offset: u64, len: u64) -> Result<(&'static str, String), Stop> {
        let (name, algorithm) = if self.crc32c {
            ("x-amz-checksum-crc32c", Algorithm::Crc32c)
        } else {
            ("Content-MD5", Algorithm::Md5)
        };
        let digest = self.digest(algorithm, offset, len).await?;
        Ok((name, STANDARD.encode(digest)))
    }

    /// Runs `step` until it succeeds; network errors and 5xx (and 429) are retried after the
    /// configured delays.
    async fn with_retries<T, F, Fut>(&self, mut step: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Stop>>,
    {
        let mut attempt = 0;
        loop {
            let err = match step().await {
                Ok(v) => return Ok(v),
                Err(Stop::Failed(e))
                    if matches!(
                        e.kind(),
                        ErrorKind::Io | ErrorKind::Connect | ErrorKind::Timeout
                    ) =>
                {
                    e
                }
                Err(Stop::Answered(r)) if r.status >= 500 || r.status == 429 => {
                    UploadError::new(ErrorKind::Protocol, describe(&r))
                }
                Err(other) => return Err(other),
            };
            let Some(&delay) = self.s3.options.retry_delays.get(attempt) else {
                return Err(Stop::Failed(err));
            };
            attempt += 1;
            tracing::debug!(attempt, ?delay, error = %err, "S3 request failed; retrying");
            self.meter.with_sink(|s| {
                s.notice(Notice::Retrying {
                    attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                    delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error: err.to_string(),
                });
            });
            self.interruptible(crate::backend::sleep(delay)).await?;
        }
    }

    /// A request to the object's URL with `query`, signed (SigV4, `s3`).
    fn signed(
        &self,
        method: &'static str,
        query: &[(&str, String)],
        mut headers: Vec<(&'static str, String)>,
        body: Body,
        payload_hash: &str,
    ) -> Result<Request, Stop> {
        let mut url = self.plan.url.clone();
        let text: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    sigv4::uri_encode(k, false)
                } else {
                    format!(
                        "{}={}",
                        sigv4::uri_encode(k, false),
                        sigv4::uri_encode(v, false)
                    )
                }
            })
            .collect();
        url.set_query((!text.is_empty()).then(|| text.join("&")).as_deref());
        headers.push(("x-amz-content-sha256", payload_hash.to_owned()));
        let mut signed_headers: Vec<(String, String)> = vec![("host".to_owned(), host_of(&url))];
        signed_headers.extend(headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        signed_headers.extend(self.plan.header.iter().cloned());
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let now = crate::backend::unix_time().as_secs();
        let scope = Scope::new(&self.s3.options.region, "s3", &sigv4::amz_date(now))
            .ok_or_else(|| Stop::Failed(UploadError::new(ErrorKind::Internal, "bad clock")))?;
        let path = percent_decode(url.path());
        let signed = sigv4::sign(
            &sigv4::Request {
                method,
                path: &path,
                query: &pairs,
                headers: &signed_headers,
                payload_hash,
            },
            &self.s3.options.credentials,
            &scope,
        );
        headers.push(("x-amz-date", signed.amz_date));
        if let Some(token) = signed.security_token {
            headers.push(("x-amz-security-token", token));
        }
        headers.push(("Authorization", signed.authorization));
        Ok(Request {
            method,
            url,
            headers,
            body,
        })
    }

    async fn send(
        &self,
        request: &Request,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<Response, Stop> {
        Ok(self
            .interruptible(self.client.send(request, progress))
            .await??)
    }

    /// Runs `fut` unless the upload is aborted or out of time first (S3 uploads do not pause).
    async fn interruptible<T>(&self, fut: impl Future<Output = T>) -> Result<T, Stop> {
        self.control
            .guard(fut, self.deadline, false)
            .await
            .map_err(|i| match i {
                Interrupt::TimedOut => Stop::TimedOut,
                Interrupt::Aborted | Interrupt::Paused => Stop::Aborted,
            })
    }

    /// `AbortMultipartUpload`, bounded in time; failures are logged.
    async fn abort_upload(&self, id: &str) {
        let Ok(request) = self.signed(
            "DELETE",
            &[("uploadId", id.to_owned())],
            Vec::new(),
            Body::Empty,
            sigv4::EMPTY_SHA256,
        ) else {
            return;
        };
        match crate::http::send_within(self.client, &request, ABORT_WITHIN).await {
            Some(Ok(r)) if (200..300).contains(&r.status) || r.status == 404 => {
                tracing::debug!(upload_id = id, "multipart upload aborted");
            }
            Some(Ok(r)) => tracing::warn!(status = r.status, "AbortMultipartUpload refused"),
            Some(Err(e)) => tracing::warn!(error = %e, "AbortMultipartUpload failed"),
            None => tracing::warn!("AbortMultipartUpload timed out"),
        }
    }
}

/// The MD5 an ETag stands for, when it is a plain quoted MD5 (not a composite or encrypted
/// object's).
fn md5_of_etag(etag: &str) -> Option<Vec<u8>> {
    let hex = etag.trim().trim_matches('"');
    if hex.len() != 32 {
        return None;
    }
    (0..32)
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A 2xx response, or the stop it means.
fn checked(response: Response) -> Result<Response, Stop> {
    if (200..300).contains(&response.status) {
        Ok(response)
    } else {
        Err(Stop::Answered(response))
    }
}

/// `status: Code: Message` of an S3 error answer.
fn describe(r: &Response) -> String {
    match error_of(&r.data) {
        Some((code, message)) => format!("the store answered {}: {code}: {message}", r.status),
        None => format!("the store answered {}", r.status),
    }
}

/// `Host` as the request head writes it: the port only when it is not the scheme's default.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// The path with `%XX` decoded (the signer encodes it again, byte for byte the same).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_md5_etag_is_checked_against_the_file() {
        let md5 = md5_of_etag("\"11197fc9219c304e618084741a6dd8a8\"").unwrap();
        assert_eq!(md5.len(), 16);
        assert_eq!(md5[0], 0x11);
        assert_eq!(md5_of_etag("\"5400de6ad307dd80cd84e2a512264537-20\""), None);
        assert_eq!(md5_of_etag("\"zz197fc9219c304e618084741a6dd8a8\""), None);
        assert_eq!(md5_of_etag(""), None);
    }
}
