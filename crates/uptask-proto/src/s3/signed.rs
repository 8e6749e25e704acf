//! Signed requests to one object: its URL with a query, the protocol's headers, and the
//! caller's own headers signed along (uptask signs every header it sends).

use url::Url;

use crate::engine::{Body, Request};
use crate::sigv4::{self, Credentials, Scope};

/// Who signs, for which region, and which of the caller's headers go along.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The keys.
    pub credentials: Credentials,
    /// The region the signature is scoped to.
    pub region: String,
    /// The caller's headers, sent with every request and so signed.
    pub user_headers: Vec<(String, String)>,
}

impl Signer {
    /// A request to `object` with `query`, signed at `unix_secs` (SigV4, service `s3`).
    ///
    /// ```
    /// use uptask_proto::engine::Body;
    /// use uptask_proto::s3::Signer;
    /// use uptask_proto::sigv4::{Credentials, EMPTY_SHA256};
    ///
    /// let signer = Signer { credentials: Credentials::new("AKID", "SECRET"), region: "us-east-1".into(), user_headers: vec![] };
    /// let url = "http://127.0.0.1:8333/b/k".parse().unwrap();
    /// let r = signer.sign(&url, "DELETE", &[("uploadId", "1".into())], vec![], Body::Empty, EMPTY_SHA256, 0);
    /// assert_eq!(r.url.as_str(), "http://127.0.0.1:8333/b/k?uploadId=1");
    /// assert!(r.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256 Credential=AKID/19700101/us-east-1/s3/aws4_request"));
    /// ```
    #[expect(
        clippy::too_many_arguments,
        reason = "one signed request, every part of it"
    )]
    pub fn sign(
        &self,
        object: &Url,
        method: &'static str,
        query: &[(&str, String)],
        mut headers: Vec<(&'static str, String)>,
        body: Body,
        payload_hash: &str,
        unix_secs: u64,
    ) -> Request {
        let mut url = object.clone();
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
        signed_headers.extend(self.user_headers.iter().cloned());
        let pairs = owned(query);
        let path = percent_decode(url.path());
        if let Some(scope) = self.scope_at(unix_secs) {
            let signed = sigv4::sign(
                &sigv4::Request {
                    method,
                    path: &path,
                    query: &pairs,
                    headers: &signed_headers,
                    payload_hash,
                },
                &self.credentials,
                &scope,
            );
            headers.push(("x-amz-date", signed.amz_date));
            if let Some(token) = signed.security_token {
                headers.push(("x-amz-security-token", token));
            }
            headers.push(("Authorization", signed.authorization));
        }
        Request {
            method,
            url,
            headers,
            body,
            user_headers: true,
        }
    }

    /// A presigned URL for one request to `object` with `query`: whoever holds it may make
    /// that request, with any body, for `expires_secs` from `unix_secs`, without the keys.
    /// Only `Host` is signed (the caller's headers are not: the URL's user does not send
    /// them), and the body is `UNSIGNED-PAYLOAD`, since it is not known when signing.
    ///
    /// ```
    /// use uptask_proto::s3::Signer;
    /// use uptask_proto::sigv4::Credentials;
    ///
    /// let signer = Signer { credentials: Credentials::new("AKID", "SECRET"), region: "us-east-1".into(), user_headers: vec![] };
    /// let object = "http://127.0.0.1:8333/b/photo 1.jpg".parse().unwrap();
    /// let url = signer.presign(&object, "PUT", &[("partNumber", "2".into()), ("uploadId", "u".into())], 0, 900);
    /// assert!(url.as_str().starts_with("http://127.0.0.1:8333/b/photo%201.jpg?partNumber=2&uploadId=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F19700101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=19700101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    /// ```
    #[must_use]
    pub fn presign(
        &self,
        object: &Url,
        method: &'static str,
        query: &[(&str, String)],
        unix_secs: u64,
        expires_secs: u64,
    ) -> Url {
        let mut url = object.clone();
        let pairs = owned(query);
        let headers = [("host".to_owned(), host_of(&url))];
        let path = percent_decode(url.path());
        if let Some(scope) = self.scope_at(unix_secs) {
            let presigned = sigv4::presign(
                &sigv4::Request {
                    method,
                    path: &path,
                    query: &pairs,
                    headers: &headers,
                    payload_hash: sigv4::UNSIGNED_PAYLOAD,
                },
                &self.credentials,
                &scope,
                expires_secs,
            );
            url.set_query(Some(&presigned.query_string()));
        }
        url
    }

    /// The fields of a browser's `POST` form (a presigned POST policy) that puts one object
    /// under `key` of `bucket` (whose URL the form goes to) for `expires_secs` from
    /// `unix_secs`: the form must carry these fields as they are, then the file. The policy
    /// pins the key and, if given, the `Content-Type`, and caps the file at `max_len` bytes.
    ///
    /// ```
    /// use uptask_proto::s3::Signer;
    /// use uptask_proto::sigv4::Credentials;
    ///
    /// let signer = Signer { credentials: Credentials::new("AKID", "SECRET"), region: "us-east-1".into(), user_headers: vec![] };
    /// let fields = signer.post_policy("b", "up/a.jpg", Some("image/jpeg"), Some(1 << 20), 0, 900);
    /// let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    /// assert_eq!(names, ["key", "Content-Type", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "Policy", "X-Amz-Signature"]);
    /// assert_eq!(fields[3].1, "AKID/19700101/us-east-1/s3/aws4_request");
    /// ```
    #[must_use]
    pub fn post_policy(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        max_len: Option<u64>,
        unix_secs: u64,
        expires_secs: u64,
    ) -> Vec<(String, String)> {
        use base64::Engine as _;
        use serde_json::{Value, json};

        let Some(scope) = self.scope_at(unix_secs) else {
            return Vec::new();
        };
        let credential = format!(
            "{}/{}",
            self.credentials.access_key_id,
            scope.credential_scope()
        );
        let mut fields = vec![("key".to_owned(), key.to_owned())];
        if let Some(t) = content_type {
            fields.push(("Content-Type".to_owned(), t.to_owned()));
        }
        fields.extend([
            ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            ("X-Amz-Credential".to_owned(), credential),
            ("X-Amz-Date".to_owned(), scope.amz_date().to_owned()),
        ]);
        let mut conditions: Vec<Value> = vec![json!({ "bucket": bucket })];
        conditions.extend(fields.iter().map(|(n, v)| json!({ n.as_str(): v })));
        if let Some(max) = max_len {
            conditions.push(json!(["content-length-range", 0, max]));
        }
        let policy = json!({
            "expiration": iso8601(&sigv4::amz_date(unix_secs.saturating_add(expires_secs))),
            "conditions": conditions,
        });
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        // A POST policy's string to sign is the policy itself.
        let signature = sigv4::signature(&self.credentials, &scope, &policy);
        fields.push(("Policy".to_owned(), policy));
        fields.push(("X-Amz-Signature".to_owned(), signature));
        fields
    }

    /// The scope of a signature made at `unix_secs`; never `None` in practice, since
    /// `amz_date` always gives the form a scope takes.
    fn scope_at(&self, unix_secs: u64) -> Option<Scope> {
        Scope::new(&self.region, "s3", &sigv4::amz_date(unix_secs))
    }
}

/// `20261203T143930Z` as a policy's expiration writes it: `2026-12-03T14:39:30.000Z`.
fn iso8601(amz: &str) -> String {
    let part = |r: std::ops::Range<usize>| amz.get(r).unwrap_or("00");
    format!(
        "{}-{}-{}T{}:{}:{}.000Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    )
}

/// Query pairs as the signer takes them.
fn owned(query: &[(&str, String)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
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
