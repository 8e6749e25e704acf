//! The S3 client: one signed `PUT` for a small file; otherwise `CreateMultipartUpload`, parts
//! in parallel with `Content-MD5` and per-part retries, then `CompleteMultipartUpload`. Any
//! failure, abort or timeout after creation aborts the multipart upload, so no parts linger.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uptask_proto::s3::{complete_body, error_of, plan_parts, upload_id};
use uptask_proto::sigv4::{self, Scope, UNSIGNED_PAYLOAD};
use url::Url;

use crate::digest::{Algorithm, Hasher};
use crate::http::{Body, Client, Request, Response};
use crate::meter::Meter;
use crate::prepare::{Plan, S3Plan};
use crate::task::{Control, EventSink, Interrupt};
use crate::{ErrorKind, UploadError, UploadSuccess};

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
    let driver = Driver {
        plan,
        s3,
        client,
        control,
        deadline: plan.timeout.map(|t| crate::backend::now() + t),
    };
    let len = plan.source.len();
    let parts = plan_parts(len, s3.options.part_size);
    let meter = Meter::new(sink, usize::try_from(parts.count).unwrap_or(1));
    let result = if parts.count <= 1 {
        driver.put_whole(&meter).await
    } else {
        driver.multipart(&meter).await
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
}

impl<C: Client> Driver<'_, C> {
    /// One `PUT` of the whole file.
    async fn put_whole(&self, meter: &Meter<'_>) -> Result<Response, Stop> {
        let len = self.plan.source.len();
        self.with_retries(|| async {
            let md5 = self.md5(0, len).await?;
            let request = self.signed(
                "PUT",
                &[],
                vec![
                    ("Content-MD5", md5),
                    ("Content-Type", self.s3.content_type.clone()),
                ],
                Body::Range { offset: 0, len },
                UNSIGNED_PAYLOAD,
            )?;
            let response = self.send(&request, &mut |n| meter.raise(0, n)).await?;
            checked(response)
        })
        .await
    }

    /// Create, parts in parallel, complete; abort the upload on any stop after creation.
    async fn multipart(&self, meter: &Meter<'_>) -> Result<Response, Stop> {
        let created = self
            .with_retries(|| async {
                let request = self.signed(
                    "POST",
                    &[("uploads", String::new())],
                    vec![("Content-Type", self.s3.content_type.clone())],
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
        let result = self.parts_then_complete(&id, meter).await;
        if result.is_err() {
            self.abort_upload(&id).await;
        }
        result
    }

    async fn parts_then_complete(&self, id: &str, meter: &Meter<'_>) -> Result<Response, Stop> {
        let plan = plan_parts(self.plan.source.len(), self.s3.options.part_size);
        let next = Mutex::new(1u64);
        let etags: Mutex<Vec<Option<String>>> =
            Mutex::new(vec![None; usize::try_from(plan.count).unwrap_or(0)]);
        let worker = || async {
            loop {
                let number = {
                    let mut n = next.lock().unwrap_or_else(PoisonError::into_inner);
                    let this = *n;
                    *n += 1;
                    this
                };
                let Some((offset, len)) = plan.part(number) else {
                    return Ok::<(), Stop>(());
                };
                let etag = self.put_part(id, number, offset, len, meter).await?;
                let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
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
        let etags: Vec<String> = etags
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

    /// One part, retried as configured; its ETag.
    async fn put_part(
        &self,
        id: &str,
        number: u64,
        offset: u64,
        len: u64,
        meter: &Meter<'_>,
    ) -> Result<String, Stop> {
        let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
        self.with_retries(|| async {
            let md5 = self.md5(offset, len).await?;
            let request = self.signed(
                "PUT",
                &[
                    ("partNumber", number.to_string()),
                    ("uploadId", id.to_owned()),
                ],
                vec![("Content-MD5", md5)],
                Body::Range { offset, len },
                UNSIGNED_PAYLOAD,
            )?;
            let response = self.send(&request, &mut |n| meter.raise(index, n)).await?;
            let response = checked(response)?;
            response.get("etag").map(str::to_owned).ok_or_else(|| {
                Stop::Failed(UploadError::new(
                    ErrorKind::Protocol,
                    format!("the store accepted part {number} without an ETag"),
                ))
            })
        })
        .await
    }

    /// `Content-MD5` of a range of the source.
    async fn md5(&self, offset: u64, len: u64) -> Result<String, Stop> {
        let digest = self
            .interruptible(self.client.digest(Algorithm::Md5, offset, len))
            .await??;
        Ok(STANDARD.encode(digest))
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
        signed_headers.extend(self.s3.headers.iter().cloned());
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
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
