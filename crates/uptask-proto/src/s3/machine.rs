//! The S3 client as a sans-IO machine: one signed `PUT` for a small file; otherwise
//! `CreateMultipartUpload`, parts side by side (each with its CRC32C or `Content-MD5` and its own
//! retries), then `CompleteMultipartUpload`. A remembered upload is continued: its parts are
//! listed, each checked against the file, and only the rest are sent.
//!
//! ```text
//!  one part:  digest ─► PUT ───────────────────────────────────────────────────► Done
//!  more:      [remembered?] ─► ListParts… ─► check each (MD5, CRC32C) ─┐
//!             [fresh?] ─► AbortMultipartUpload (the old one) ──────────┼─► CreateMultipartUpload
//!                                                                      ▼
//!             parts × concurrency: digest ─► UploadPart ─► … ─► CompleteMultipartUpload ─► Done
//!
//!  network errors, 5xx and 429: Retrying ─► wait (jittered) ─► the same request again
//!  other answers: Done (complete: false); last words abort the upload unless it is kept
//! ```
//!
//! ```
//! use std::time::Duration;
//! use uptask_proto::engine::{Action, Machine};
//! use uptask_proto::s3::{S3Config, S3Machine, Signer};
//! use uptask_proto::sigv4::Credentials;
//!
//! let signer = Signer { credentials: Credentials::new("AKID", "SECRET"), region: "us-east-1".into(), user_headers: vec![] };
//! let config = S3Config::new("http://127.0.0.1:8333/b/k".parse().unwrap(), 10, signer);
//! let mut m: S3Machine<String> = S3Machine::new(config);
//! // A small file: its checksum first, then one PUT.
//! assert!(matches!(m.poll(Duration::ZERO), Action::Digest { .. }));
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest;
use url::Url;

use super::routes::Presigned;
use super::{CompletedPart, Entry, ListedPart, PartPlan, Signer, SignerRoutes, plan_parts};
use crate::engine::{
    Action, Body, DigestAlgorithm, DigestOf, Event, Meter, Outbox, Request, RequestId, Retry,
    RetryPolicy,
};
use crate::sigv4::{self, UNSIGNED_PAYLOAD};

/// Who lets the upload's requests into the store.
///
/// ```
/// use uptask_proto::s3::{Auth, SignerRoutes};
/// let auth = Auth::Routes(SignerRoutes::new("http://127.0.0.1:9099/s3".parse().unwrap(), "f.bin"));
/// assert!(matches!(auth, Auth::Routes(_)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// The client holds the keys and signs every request itself.
    Keys(Signer),
    /// A signer (Companion's S3 routes) creates, completes and aborts the upload and presigns
    /// each part; only the parts go to the store. Each part's CRC32C is signed into its URL
    /// when the signer takes it (stores refuse unsigned `x-amz-*` headers on a presigned
    /// request), or else it carries `Content-MD5`.
    Routes(SignerRoutes),
}

/// How an S3 upload is to be made.
///
/// ```
/// # use uptask_proto::s3::{S3Config, Signer};
/// # let signer = Signer { credentials: uptask_proto::sigv4::Credentials::new("a", "b"), region: "r".into(), user_headers: vec![] };
/// let c = S3Config::new("http://h/b/k".parse().unwrap(), 1, signer);
/// assert_eq!((c.part_size, c.concurrency, c.crc32c), (8 << 20, 4, true));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct S3Config {
    /// The object's URL.
    pub object: Url,
    /// The file's length.
    pub len: u64,
    /// The object's `Content-Type`.
    pub content_type: String,
    /// Who signs.
    pub auth: Auth,
    /// Bytes per part (raised so no file needs more than 10,000).
    pub part_size: u64,
    /// Parts sent at once.
    pub concurrency: usize,
    /// CRC32C part checksums rather than `Content-MD5` (through a signer: when it takes them).
    pub crc32c: bool,
    /// Delays before each retry of a request.
    pub retry_delays: Vec<Duration>,
    /// Seeds the retry jitter.
    pub seed: u64,
    /// A multipart upload remembered from an earlier run.
    pub stored: Option<Entry>,
    /// Abort the remembered upload and start anew.
    pub fresh: bool,
    /// A failed or timed-out upload is kept to be continued (there is a resume store).
    pub keep: bool,
    /// The wall clock (since the Unix epoch) when the runner's clock was zero: signatures are
    /// dated by it.
    pub unix_at_zero: Duration,
}

impl S3Config {
    /// `len` bytes to `object`: 8 MiB parts, 4 at once, CRC32C, retries after 0, 1, 3, 5 s.
    pub fn new(object: Url, len: u64, signer: Signer) -> Self {
        Self::with_auth(object, len, Auth::Keys(signer))
    }

    /// `len` bytes through the signer at `routes`, which picks the key: as [`S3Config::new`].
    /// `crc32c` asks the signer to presign CRC32C part checksums; a signer that does not
    /// (Companion) gets `Content-MD5` ones.
    ///
    /// ```
    /// # use uptask_proto::s3::{S3Config, SignerRoutes};
    /// let routes = SignerRoutes::new("http://127.0.0.1:9099/s3".parse().unwrap(), "f.bin");
    /// let c = S3Config::through(routes, 1);
    /// assert_eq!((c.object.path(), c.crc32c), ("/s3", true));
    /// ```
    pub fn through(routes: SignerRoutes, len: u64) -> Self {
        Self::with_auth(routes.base.clone(), len, Auth::Routes(routes))
    }

    fn with_auth(object: Url, len: u64, auth: Auth) -> Self {
        Self {
            object,
            len,
            content_type: "application/octet-stream".to_owned(),
            auth,
            part_size: 8 << 20,
            concurrency: 4,
            crc32c: true,
            retry_delays: [0, 1, 3, 5].map(Duration::from_secs).to_vec(),
            seed: 1,
            stored: None,
            fresh: false,
            keep: false,
            unix_at_zero: Duration::ZERO,
        }
    }
}

/// Where a request (or digest) of the S3 upload is.
pub(super) type Step = crate::engine::Step<()>;

/// One part (or, for a single PUT, the whole file).
#[derive(Debug)]
pub(super) struct Slot {
    /// 1-based; 0 for the whole file in one PUT.
    pub(super) number: u64,
    pub(super) offset: u64,
    pub(super) len: u64,
    /// The checksum header the store verifies the part by.
    pub(super) checksum: Option<(&'static str, String)>,
    /// Through a signer: the URL to send the part to, used once (a retry is signed anew).
    pub(super) presigned: Option<Presigned>,
    /// Through a signer: the request in flight asks for the URL, not sends the part.
    pub(super) signing: bool,
    pub(super) started: bool,
    pub(super) done: Option<CompletedPart>,
    pub(super) step: Step,
    pub(super) retry: Retry,
}

/// What the upload is doing.
#[derive(Debug)]
pub(super) enum Phase {
    Single,
    /// Aborting the remembered upload (`fresh`).
    Discard,
    Listing {
        marker: Option<u64>,
        listed: Vec<ListedPart>,
    },
    /// Checking listed parts against the file, one at a time.
    Verifying {
        queue: VecDeque<ListedPart>,
        md5_ok: bool,
    },
    Creating,
    Parts,
    Completing {
        body: bytes::Bytes,
        hash: String,
    },
}

/// An S3 upload as a state machine: see the [module documentation](self).
#[derive(Debug)]
pub struct S3Machine<E> {
    pub(super) config: S3Config,
    pub(super) policy: RetryPolicy,
    pub(super) plan: PartPlan,
    /// CRC32C checksums (a resumed upload keeps the kind it was created with; through a
    /// signer, only once it took them).
    pub(super) crc32c: bool,
    pub(super) phase: Phase,
    /// The one request of a single-request phase, and its retries.
    pub(super) step: Step,
    pub(super) retry: Retry,
    pub(super) upload_id: Option<String>,
    /// The key the signer chose (direct uploads only).
    pub(super) key: Option<String>,
    /// Where the object is, when a signer said so (direct uploads only).
    pub(super) located: Option<String>,
    pub(super) slots: Vec<Slot>,
    pub(super) owners: BTreeMap<RequestId, usize>,
    pub(super) out: Outbox<E>,
    pub(super) meter: Meter,
    pub(super) now: Duration,
    next_id: u64,
}

/// The owner index of a single-request phase's request.
pub(super) const PHASE: usize = usize::MAX;

impl<E: std::fmt::Display> S3Machine<E> {
    /// A machine for the upload `config` describes.
    pub fn new(config: S3Config) -> Self {
        // A resumed upload keeps the part size it was cut with, so its parts still line up,
        // and the checksum it was created for.
        let mut config = config;
        let direct = matches!(config.auth, Auth::Routes(_));
        // Without its key the signer could not find a remembered upload.
        if direct && config.stored.as_ref().is_some_and(|e| e.key.is_none()) {
            config.stored = None;
        }
        let (part_size, crc32c) = match &config.stored {
            Some(entry) if !config.fresh => (entry.part_size, entry.crc32c),
            // A signer's creation answer says whether it takes CRC32C.
            _ => (config.part_size, config.crc32c && !direct),
        };
        let plan = plan_parts(config.len, part_size);
        let count = usize::try_from(plan.count).unwrap_or(1);
        let slot = |number: u64, (offset, len): (u64, u64)| Slot {
            number,
            offset,
            len,
            checksum: None,
            presigned: None,
            signing: false,
            started: false,
            done: None,
            step: Step::Ready,
            retry: Retry::default(),
        };
        let (phase, slots) = if plan.count <= 1 {
            (Phase::Single, vec![slot(0, (0, config.len))])
        } else {
            let slots = (1..=plan.count)
                .map(|n| slot(n, plan.part(n).unwrap_or_default()))
                .collect();
            let phase = match &config.stored {
                Some(_) if config.fresh => Phase::Discard,
                Some(_) => Phase::Listing {
                    marker: None,
                    listed: Vec::new(),
                },
                None => Phase::Creating,
            };
            (phase, slots)
        };
        Self {
            policy: RetryPolicy::new(config.retry_delays.clone(), config.seed),
            config,
            plan,
            crc32c,
            phase,
            step: Step::Ready,
            retry: Retry::default(),
            upload_id: None,
            key: None,
            located: None,
            slots,
            owners: BTreeMap::new(),
            out: Outbox::default(),
            meter: Meter::new(count),
            now: Duration::ZERO,
            next_id: 0,
        }
    }

    pub(super) fn id(&mut self, owner: usize) -> RequestId {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.owners.insert(id, owner);
        id
    }

    pub(super) fn end(&mut self, action: Action<E>) {
        self.out.end(action);
    }

    pub(super) fn event(&mut self, event: Event) {
        self.out.event(event);
    }

    /// The bytes of every part the store has acknowledged.
    pub(super) fn acknowledged(&self) -> u64 {
        self.slots
            .iter()
            .filter(|s| s.done.is_some())
            .map(|s| s.len)
            .sum()
    }

    /// A request to the object with `query`, signed now.
    pub(super) fn signed(
        &self,
        signer: &Signer,
        method: &'static str,
        query: &[(&str, String)],
        headers: Vec<(&'static str, String)>,
        body: Body,
        payload_hash: &str,
    ) -> crate::engine::Request {
        let unix = (self.config.unix_at_zero + self.now).as_secs();
        signer.sign(
            &self.config.object,
            method,
            query,
            headers,
            body,
            payload_hash,
            unix,
        )
    }

    /// The remembered upload's id.
    pub(super) fn stored_id(&self) -> String {
        let stored = self.config.stored.as_ref();
        stored.map(|e| e.upload_id.clone()).unwrap_or_default()
    }

    /// The remembered upload's key, when a signer chose it.
    pub(super) fn stored_key(&self) -> String {
        let stored = self.config.stored.as_ref();
        stored.and_then(|e| e.key.clone()).unwrap_or_default()
    }

    /// The abort of the upload `id`: through the signer, or signed here.
    pub(super) fn abort_request(&self, id: String, key: &str) -> Request {
        match &self.config.auth {
            Auth::Keys(signer) => self.signed(
                signer,
                "DELETE",
                &[("uploadId", id)],
                Vec::new(),
                Body::Empty,
                sigv4::EMPTY_SHA256,
            ),
            Auth::Routes(routes) => routes.abort(&id, key),
        }
    }

    /// The id's query pair.
    pub(super) fn upload_query(&self) -> (&'static str, String) {
        ("uploadId", self.upload_id.clone().unwrap_or_default())
    }

    pub(super) fn digest_algorithm(&self) -> DigestAlgorithm {
        if self.crc32c {
            DigestAlgorithm::Crc32c
        } else {
            DigestAlgorithm::Md5
        }
    }

    /// The header a part's checksum goes in.
    pub(super) fn checksum_header(&self, digest: &[u8]) -> (&'static str, String) {
        let name = if self.crc32c {
            "x-amz-checksum-crc32c"
        } else {
            "Content-MD5"
        };
        (name, STANDARD.encode(digest))
    }

    /// The next request of a single-request phase.
    pub(super) fn phase_request(&mut self) -> Option<Action<E>> {
        let request = match &self.config.auth {
            Auth::Keys(signer) => self.keys_request(signer)?,
            Auth::Routes(routes) => self.routes_request(routes)?,
        };
        let id = self.id(PHASE);
        self.step = Step::InFlight(id, ());
        Some(Action::Send { id, request })
    }

    /// A single-request phase's request, signed here.
    fn keys_request(&self, signer: &Signer) -> Option<Request> {
        let request = match &self.phase {
            Phase::Discard => self.abort_request(self.stored_id(), ""),
            Phase::Listing { marker, .. } => {
                let id = self.stored_id();
                let mut query = vec![("uploadId", id)];
                if let Some(m) = marker {
                    query.push(("part-number-marker", m.to_string()));
                }
                self.signed(
                    signer,
                    "GET",
                    &query,
                    Vec::new(),
                    Body::Empty,
                    sigv4::EMPTY_SHA256,
                )
            }
            Phase::Creating => {
                let mut headers = vec![("Content-Type", self.config.content_type.clone())];
                if self.crc32c {
                    headers.push(("x-amz-checksum-algorithm", "CRC32C".to_owned()));
                }
                self.signed(
                    signer,
                    "POST",
                    &[("uploads", String::new())],
                    headers,
                    Body::Empty,
                    sigv4::EMPTY_SHA256,
                )
            }
            Phase::Completing { body, hash } => {
                let (body, hash) = (body.clone(), hash.clone());
                let headers = vec![("Content-Type", "application/xml".to_owned())];
                self.signed(
                    signer,
                    "POST",
                    &[self.upload_query()],
                    headers,
                    Body::Bytes(body),
                    &hash,
                )
            }
            Phase::Single | Phase::Parts | Phase::Verifying { .. } => return None,
        };
        Some(request)
    }

    /// A single-request phase's request, to the signer.
    fn routes_request(&self, routes: &SignerRoutes) -> Option<Request> {
        let id = self.upload_id.as_deref().unwrap_or_default();
        let key = self.key.as_deref().unwrap_or_default();
        Some(match &self.phase {
            Phase::Discard => routes.abort(&self.stored_id(), &self.stored_key()),
            Phase::Listing { .. } => routes.list(&self.stored_id(), &self.stored_key()),
            Phase::Creating => routes.create(&self.config.content_type, self.config.crc32c),
            Phase::Completing { .. } => {
                let parts: Vec<CompletedPart> =
                    self.slots.iter().filter_map(|s| s.done.clone()).collect();
                routes.complete(id, key, &parts)
            }
            Phase::Single | Phase::Parts | Phase::Verifying { .. } => return None,
        })
    }

    /// The next action of slot `i`, when it is ready: its checksum, then its PUT.
    pub(super) fn slot_request(&mut self, i: usize) -> Action<E> {
        let id = self.id(i);
        let slot = &self.slots[i];
        let (number, offset, len) = (slot.number, slot.offset, slot.len);
        let Some(checksum) = slot.checksum.clone() else {
            self.slots[i].step = Step::InFlight(id, ());
            let algorithm = self.digest_algorithm();
            return Action::Digest {
                id,
                algorithm,
                of: DigestOf::Range { offset, len },
            };
        };
        let body = Body::Range { offset, len };
        let content_type = self.config.content_type.clone();
        let request = match &self.config.auth {
            Auth::Keys(signer) if number == 0 => {
                let headers = vec![checksum, ("Content-Type", content_type)];
                self.signed(signer, "PUT", &[], headers, body, UNSIGNED_PAYLOAD)
            }
            Auth::Keys(signer) => {
                let query = [("partNumber", number.to_string()), self.upload_query()];
                self.signed(
                    signer,
                    "PUT",
                    &query,
                    vec![checksum],
                    body,
                    UNSIGNED_PAYLOAD,
                )
            }
            Auth::Routes(routes) => {
                let slot = &mut self.slots[i];
                slot.signing = slot.presigned.is_none();
                match slot.presigned.take() {
                    None if number == 0 => routes.params(&content_type),
                    None => {
                        let upload = self.upload_id.as_deref().unwrap_or_default();
                        let key = self.key.as_deref().unwrap_or_default();
                        let crc32c = self.crc32c.then_some(checksum.1.as_str());
                        routes.sign_part(upload, key, number, crc32c)
                    }
                    Some(p) => {
                        if number == 0 {
                            let mut object = p.url.clone();
                            object.set_query(None);
                            self.located = Some(object.to_string());
                        }
                        let mut put = Request::new("PUT", p.url);
                        // A CRC32C is in the signed URL already.
                        if !self.crc32c {
                            put.headers.push(checksum);
                        }
                        if let Some(t) = p.content_type {
                            put.headers.push(("Content-Type", t));
                        }
                        put.body = body;
                        put.user_headers = false;
                        put
                    }
                }
            }
        };
        self.slots[i].step = Step::InFlight(id, ());
        Action::Send { id, request }
    }

    /// The signer answered the one PUT of a small file with a browser's `POST` form, which
    /// would need the file's bytes inside a form: the file goes as a multipart upload of one
    /// part instead, which every signer presigns as a `PUT`. Its checksum stands (same bytes).
    pub(super) fn as_one_part(&mut self) {
        if let Some(slot) = self.slots.first_mut() {
            slot.number = 1;
            slot.started = false;
        }
        self.phase = Phase::Creating;
    }

    /// The checksum the signer's creation answer settled on; a digest taken for the other
    /// kind (a small file's, before the signer answered with a form) is taken again.
    pub(super) fn take_checksum(&mut self, crc32c: bool) {
        if crc32c != self.crc32c {
            self.crc32c = crc32c;
            for slot in self.slots.iter_mut().filter(|s| s.done.is_none()) {
                slot.checksum = None;
            }
        }
    }

    /// Every part is in: the completion, with the ETags (and CRC32Cs) in order.
    pub(super) fn completion(&mut self) {
        let parts: Vec<CompletedPart> = self.slots.iter().filter_map(|s| s.done.clone()).collect();
        let body = super::complete_body(&parts);
        let hash = sigv4::hex(&sha2::Sha256::digest(body.as_bytes()));
        self.phase = Phase::Completing {
            body: body.into(),
            hash,
        };
        self.step = Step::Ready;
        self.retry = Retry::default();
    }
}

/// The MD5 an ETag stands for, when it is a plain quoted MD5 (not a composite or encrypted
/// object's).
pub(super) fn md5_of_etag(etag: &str) -> Option<Vec<u8>> {
    let hex = etag.trim().trim_matches('"');
    if hex.len() != 32 {
        return None;
    }
    (0..32)
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
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
