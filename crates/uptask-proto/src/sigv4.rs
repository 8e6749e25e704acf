//! AWS Signature Version 4 for S3-compatible stores, as pure functions: canonical request,
//! string to sign, signature and the headers that carry them.
//!
//! S3 rules apply: the path is not normalized and is URI-encoded once (other AWS services
//! encode it twice); the payload hash is given by the caller (`UNSIGNED-PAYLOAD` or the body's
//! sha256).
//!
//! ```
//! use uptask_proto::sigv4::{Credentials, Request, Scope, sign};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
//! let scope = Scope::new("us-east-1", "s3", "20150830T123600Z").unwrap();
//! let req = Request {
//!     method: "GET",
//!     path: "/",
//!     query: &[],
//!     headers: &[("Host".into(), "example.amazonaws.com".into())],
//!     payload_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
//! };
//! let signed = sign(&req, &creds, &scope);
//! assert!(signed.authorization.starts_with(
//!     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature="
//! ));
//! ```

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The sha256 of an empty payload, in hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The payload hash value that leaves the body out of the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// An access key, its secret, and a session token for temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the secret or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// Long-term credentials.
    ///
    /// ```
    /// let c = uptask_proto::sigv4::Credentials::new("AKID", "secret");
    /// assert!(!format!("{c:?}").contains("secret\""));
    /// ```
    #[must_use]
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
        }
    }
}

/// Region, service and time of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    region: String,
    service: String,
    /// `YYYYMMDDTHHMMSSZ`
    amz_date: String,
}

impl Scope {
    /// A scope at `amz_date` (`YYYYMMDDTHHMMSSZ`, UTC); `None` if the date is not in that form.
    ///
    /// ```
    /// use uptask_proto::sigv4::Scope;
    /// assert!(Scope::new("us-east-1", "s3", "20150830T123600Z").is_some());
    /// assert!(Scope::new("us-east-1", "s3", "2015-08-30").is_none());
    /// ```
    #[must_use]
    pub fn new(region: &str, service: &str, amz_date: &str) -> Option<Self> {
        let b = amz_date.as_bytes();
        let ok = b.len() == 16
            && b[8] == b'T'
            && b[15] == b'Z'
            && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
        ok.then(|| Self {
            region: region.to_owned(),
            service: service.to_owned(),
            amz_date: amz_date.to_owned(),
        })
    }

    /// The `X-Amz-Date` value.
    #[must_use]
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }

    fn date(&self) -> &str {
        &self.amz_date[..8]
    }

    /// `DATE/REGION/SERVICE/aws4_request`.
    #[must_use]
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date(),
            self.region,
            self.service
        )
    }
}

/// The `X-Amz-Date` form (`YYYYMMDDTHHMMSSZ`, UTC) of a Unix time in seconds.
///
/// ```
/// assert_eq!(uptask_proto::sigv4::amz_date(1_440_938_160), "20150830T123600Z");
/// assert_eq!(uptask_proto::sigv4::amz_date(0), "19700101T000000Z");
/// ```
#[must_use]
pub fn amz_date(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian), in 400-year eras.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// What is signed of a request. `path` is the decoded path (it is encoded here); `query` holds
/// decoded pairs; `headers` are the headers to sign, `Host` included (uptask signs every header
/// it sends).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: &'a str,
    /// The path, decoded (e.g. `/bucket/my photo.jpg`).
    pub path: &'a str,
    /// Query pairs, decoded, in any order.
    pub query: &'a [(String, String)],
    /// Headers to sign.
    pub headers: &'a [(String, String)],
    /// Hex sha256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

/// The headers to add to a request: `X-Amz-Date`, `Authorization`, and the session token if
/// any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The `X-Amz-Date` value.
    pub amz_date: String,
    /// The `Authorization` value.
    pub authorization: String,
    /// The `X-Amz-Security-Token` value, for temporary credentials.
    pub security_token: Option<String>,
    /// The signature alone (hex).
    pub signature: String,
}

/// URI-encodes `s` as SigV4 wants: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper case),
/// and `/` too unless `keep_slash`.
///
/// ```
/// use uptask_proto::sigv4::uri_encode;
/// assert_eq!(uri_encode("a b/ሴ", true), "a%20b/%E1%88%B4");
/// assert_eq!(uri_encode("a/b", false), "a%2Fb");
/// ```
#[must_use]
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The canonical request (S3 rules). Header values are trimmed and inner runs of spaces and
/// line folds collapse to one space; repeated headers join with `,`.
#[must_use]
pub fn canonical_request(req: &Request<'_>, extra: &[(String, String)]) -> (String, String) {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in req.headers.iter().chain(extra) {
        let name = name.to_ascii_lowercase();
        let value = collapse(value);
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let mut out = String::new();
    let _ = write!(
        out,
        "{}\n{}\n{}\n",
        req.method,
        uri_encode(if req.path.is_empty() { "/" } else { req.path }, true),
        query
    );
    for (n, v) in &headers {
        let _ = writeln!(out, "{n}:{v}");
    }
    let _ = write!(out, "\n{signed}\n{}", req.payload_hash);
    (out, signed)
}

fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The string to sign for a canonical request.
#[must_use]
pub fn string_to_sign(scope: &Scope, canonical: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        scope.amz_date,
        scope.credential_scope(),
        hex(&Sha256::digest(canonical.as_bytes()))
    )
}

/// The signature (hex) of a string to sign.
#[must_use]
pub fn signature(creds: &Credentials, scope: &Scope, string_to_sign: &str) -> String {
    let secret = format!("AWS4{}", creds.secret_access_key);
    let k_date = hmac(secret.as_bytes(), scope.date().as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Signs a request: `X-Amz-Date` (and the session token) are signed along with `headers`.
#[must_use]
pub fn sign(req: &Request<'_>, creds: &Credentials, scope: &Scope) -> Signed {
    let mut extra = vec![("x-amz-date".to_owned(), scope.amz_date.clone())];
    if let Some(token) = &creds.session_token {
        extra.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    let (canonical, signed_headers) = canonical_request(req, &extra);
    let sts = string_to_sign(scope, &canonical);
    let signature = signature(creds, scope, &sts);
    Signed {
        amz_date: scope.amz_date.clone(),
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id,
            scope.credential_scope()
        ),
        security_token: creds.session_token.clone(),
        signature,
    }
}

/// A presigned request: the query pairs to send (the request's own, then the signature's), so
/// that whoever holds the URL may make that one request until it expires, with no keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// Every query pair, decoded: the request's, then `X-Amz-Algorithm` .. `X-Amz-Signature`.
    pub query: Vec<(String, String)>,
    /// The signature alone (hex).
    pub signature: String,
}

impl Presigned {
    /// The query string, encoded (`a=b&X-Amz-Algorithm=...`), to follow the path and `?`.
    #[must_use]
    pub fn query_string(&self) -> String {
        self.query
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Signs a request in its query string instead of its headers (query-string authentication,
/// what S3 calls a presigned URL), valid `expires_secs` from the scope's time. Only
/// `req.headers` are signed (at least `Host`); the session token, if any, is signed in the
/// query. S3 wants [`UNSIGNED_PAYLOAD`] as the payload hash, since the body is not known yet.
///
/// ```
/// use uptask_proto::sigv4::{Credentials, Request, Scope, UNSIGNED_PAYLOAD, presign};
///
/// let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
/// let scope = Scope::new("us-east-1", "s3", "20150830T123600Z").unwrap();
/// let query = [("partNumber".to_owned(), "1".to_owned()), ("uploadId".to_owned(), "u1".to_owned())];
/// let req = Request {
///     method: "PUT",
///     path: "/bucket/photo.jpg",
///     query: &query,
///     headers: &[("host".into(), "127.0.0.1:8333".into())],
///     payload_hash: UNSIGNED_PAYLOAD,
/// };
/// let url = presign(&req, &creds, &scope, 900).query_string();
/// assert!(url.starts_with("partNumber=1&uploadId=u1&X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
/// assert!(url.contains("&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature="));
/// ```
#[must_use]
pub fn presign(
    req: &Request<'_>,
    creds: &Credentials,
    scope: &Scope,
    expires_secs: u64,
) -> Presigned {
    let mut signed_headers: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed_headers.sort();
    signed_headers.dedup();
    let mut query = req.query.to_vec();
    query.extend([
        ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        (
            "X-Amz-Credential".to_owned(),
            format!("{}/{}", creds.access_key_id, scope.credential_scope()),
        ),
        ("X-Amz-Date".to_owned(), scope.amz_date.clone()),
        ("X-Amz-Expires".to_owned(), expires_secs.to_string()),
    ]);
    if let Some(token) = &creds.session_token {
        query.push(("X-Amz-Security-Token".to_owned(), token.clone()));
    }
    query.push(("X-Amz-SignedHeaders".to_owned(), signed_headers.join(";")));
    let (canonical, _) = canonical_request(
        &Request {
            query: &query,
            ..*req
        },
        &[],
    );
    let signature = signature(creds, scope, &string_to_sign(scope, &canonical));
    query.push(("X-Amz-Signature".to_owned(), signature.clone()));
    Presigned { query, signature }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
