//! A direct upload's calls to its signer: the S3 routes of Uppy's Companion (which
//! `uptask serve --store s3://...` serves too). The signer creates, lists, completes and aborts
//! the multipart upload and presigns each part; the parts themselves go straight to the store,
//! so the client never holds the store's keys.
//!
//! A signer that presigns part checksums (`uptask serve` does; Companion does not) says so in
//! its answer to the creation: the parts then carry CRC32C, signed into each URL by the signer
//! (the store verifies it), instead of an unsigned `Content-MD5`, which costs far more CPU.
//!
//! ```text
//!  one part:  GET  base/params?filename=F&type=T          → {method, url, headers}
//!  more:      POST base/multipart {filename, type, metadata} → {key, uploadId}
//!             GET  base/multipart/ID/N?key=K             → {url}  (then PUT url)
//!             POST base/multipart/ID/complete?key=K {parts: [{PartNumber, ETag}]}
//!  CRC32C:    POST base/multipart {..., checksumAlgorithm: "CRC32C"}
//!                                        → {key, uploadId, checksumAlgorithm: "CRC32C"}
//!             GET  base/multipart/ID/N?key=K&checksumCRC32C=C  (C signed into the URL)
//!             complete: {parts: [{PartNumber, ETag, ChecksumCRC32C}]}
//!  resume:    GET  base/multipart/ID?key=K               → [{PartNumber, Size, ETag}]
//!  abort:     DELETE base/multipart/ID?key=K
//! ```

use serde_json::{Value, json};
use url::Url;

use super::{CompletedPart, ListedPart};
use crate::engine::{Body, Request};

/// Where a direct upload's signer is, and what it is told of the file.
///
/// ```
/// use uptask_proto::s3::SignerRoutes;
/// let routes = SignerRoutes::new("http://127.0.0.1:9099/s3".parse().unwrap(), "a b.bin");
/// assert_eq!(routes.base.path(), "/s3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignerRoutes {
    /// The routes' base (`http://host/s3`): `/params` and `/multipart` are under it.
    pub base: Url,
    /// The file's name, which the signer may use to choose the key.
    pub file_name: String,
    /// The upload's metadata, passed to the signer when it creates the upload.
    pub metadata: Vec<(String, String)>,
}

/// A URL the signer presigned, and the headers it wants sent with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Presigned {
    pub(super) url: Url,
    pub(super) content_type: Option<String>,
}

impl SignerRoutes {
    /// The routes under `base`, for a file called `file_name`.
    pub fn new(base: Url, file_name: impl Into<String>) -> Self {
        Self {
            base,
            file_name: file_name.into(),
            metadata: Vec::new(),
        }
    }

    /// `base/segments...?query`, each segment escaped.
    fn at(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn call(&self, method: &'static str, segments: &[&str], query: &[(&str, &str)]) -> Request {
        let mut request = Request::new(method, self.at(segments, query));
        request
            .headers
            .push(("Accept", "application/json".to_owned()));
        request
    }

    fn with_json(mut request: Request, value: &Value) -> Request {
        request
            .headers
            .push(("Content-Type", "application/json".to_owned()));
        request.body = Body::Bytes(value.to_string().into());
        request
    }

    /// The upload's address on the signer (the `Created` event's URL).
    pub(super) fn upload_url(&self, upload_id: &str, key: &str) -> Url {
        self.at(&["multipart", upload_id], &[("key", key)])
    }

    /// A presigned `PUT` of the whole (small) file.
    pub(super) fn params(&self, content_type: &str) -> Request {
        let query = [
            ("filename", self.file_name.as_str()),
            ("type", content_type),
        ];
        self.call("GET", &["params"], &query)
    }

    /// A new multipart upload, asking for CRC32C part checksums when `crc32c`.
    pub(super) fn create(&self, content_type: &str, crc32c: bool) -> Request {
        let metadata: serde_json::Map<String, Value> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        let mut body =
            json!({ "filename": self.file_name, "type": content_type, "metadata": metadata });
        if crc32c {
            body["checksumAlgorithm"] = Value::from(CRC32C);
        }
        Self::with_json(self.call("POST", &["multipart"], &[]), &body)
    }

    /// A presigned `PUT` of part `number`, with its CRC32C (base64) when the upload has them.
    pub(super) fn sign_part(
        &self,
        upload_id: &str,
        key: &str,
        number: u64,
        crc32c: Option<&str>,
    ) -> Request {
        let number = number.to_string();
        let mut query = vec![("key", key)];
        if let Some(c) = crc32c {
            query.push(("checksumCRC32C", c));
        }
        self.call("GET", &["multipart", upload_id, &number], &query)
    }

    /// The parts the store has.
    pub(super) fn list(&self, upload_id: &str, key: &str) -> Request {
        self.call("GET", &["multipart", upload_id], &[("key", key)])
    }

    /// The completion, with the parts' ETags in order.
    pub(super) fn complete(&self, upload_id: &str, key: &str, parts: &[CompletedPart]) -> Request {
        let parts: Vec<Value> = parts
            .iter()
            .zip(1u64..)
            .map(|(p, n)| {
                let mut part = json!({ "PartNumber": n, "ETag": p.etag });
                if let Some(c) = &p.crc32c {
                    part["ChecksumCRC32C"] = Value::from(c.as_str());
                }
                part
            })
            .collect();
        let call = self.call(
            "POST",
            &["multipart", upload_id, "complete"],
            &[("key", key)],
        );
        Self::with_json(call, &json!({ "parts": parts }))
    }

    /// The abort.
    pub(super) fn abort(&self, upload_id: &str, key: &str) -> Request {
        self.call("DELETE", &["multipart", upload_id], &[("key", key)])
    }
}

/// The checksum algorithm's name on the routes.
const CRC32C: &str = "CRC32C";

/// What `POST /multipart` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Created {
    pub(super) key: String,
    pub(super) upload_id: String,
    /// The signer presigns each part's CRC32C.
    pub(super) crc32c: bool,
}

/// The key and upload id of `POST /multipart`'s answer, and whether it took CRC32C.
pub(super) fn created(json: &str) -> Option<Created> {
    let v: Value = serde_json::from_str(json).ok()?;
    let key = v.get("key")?.as_str()?.to_owned();
    let upload_id = v.get("uploadId")?.as_str()?.to_owned();
    let crc32c = v
        .get("checksumAlgorithm")
        .and_then(Value::as_str)
        .is_some_and(|a| a.eq_ignore_ascii_case(CRC32C));
    (!key.is_empty() && !upload_id.is_empty()).then_some(Created {
        key,
        upload_id,
        crc32c,
    })
}

/// The URL (and `content-type`) of a presigning answer. Only a `PUT` can carry the file's
/// bytes as they are (a `POST` form is a browser's).
pub(super) fn presigned(json: &str) -> Option<Presigned> {
    let v: Value = serde_json::from_str(json).ok()?;
    if v.get("method")
        .and_then(Value::as_str)
        .is_some_and(|m| !m.eq_ignore_ascii_case("PUT"))
    {
        return None;
    }
    let url: Url = v.get("url")?.as_str()?.parse().ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let content_type = v
        .get("headers")
        .and_then(Value::as_object)
        .and_then(|h| {
            h.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|(_, t)| t.as_str())
        .map(str::to_owned);
    Some(Presigned { url, content_type })
}

/// Whether a presigning answer is a browser's `POST` form (Companion presigns a whole small
/// file so).
pub(super) fn is_form(json: &str) -> bool {
    serde_json::from_str::<Value>(json).is_ok_and(|v| {
        v.get("method")
            .and_then(Value::as_str)
            .is_some_and(|m| m.eq_ignore_ascii_case("POST"))
    })
}

/// The parts of the list route's answer; entries without a number, ETag or size are left out.
pub(super) fn listed(json: &str) -> Option<Vec<ListedPart>> {
    let v: Value = serde_json::from_str(json).ok()?;
    let parts = v.as_array()?.iter().filter_map(|p| {
        Some(ListedPart {
            number: p.get("PartNumber")?.as_u64()?,
            etag: p.get("ETag")?.as_str()?.to_owned(),
            size: p.get("Size")?.as_u64()?,
        })
    });
    Some(parts.collect())
}

/// The object's URL in the completion's answer.
pub(super) fn location(json: &str) -> Option<String> {
    let v: Value = serde_json::from_str(json).ok()?;
    v.get("location")?.as_str().map(str::to_owned)
}

/// The message of the signer's error answer (`{"error": "..."}` or `{"message": "..."}`).
pub(super) fn error_message(json: &str) -> Option<String> {
    let v: Value = serde_json::from_str(json).ok()?;
    let text = v.get("error").or_else(|| v.get("message"))?;
    Some(match text {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> SignerRoutes {
        SignerRoutes::new("http://h:1/s3/".parse().unwrap(), "a b.bin")
    }

    #[test]
    fn calls_go_under_the_base_with_their_segments_escaped() {
        let r = routes();
        assert_eq!(
            r.sign_part("id/1", "up/a b", 3, None).url.as_str(),
            "http://h:1/s3/multipart/id%2F1/3?key=up%2Fa+b"
        );
        assert_eq!(
            r.sign_part("u", "k", 2, Some("yZRlqg==")).url.as_str(),
            "http://h:1/s3/multipart/u/2?key=k&checksumCRC32C=yZRlqg%3D%3D"
        );
        assert_eq!(
            r.params("text/plain").url.as_str(),
            "http://h:1/s3/params?filename=a+b.bin&type=text%2Fplain"
        );
        let done = r.complete(
            "u",
            "k",
            &[
                CompletedPart {
                    etag: "\"e1\"".into(),
                    crc32c: None,
                },
                CompletedPart {
                    etag: "\"e2\"".into(),
                    crc32c: Some("yZRlqg==".into()),
                },
            ],
        );
        assert_eq!(done.url.path(), "/s3/multipart/u/complete");
        let Body::Bytes(body) = &done.body else {
            panic!("the completion carries JSON");
        };
        let body: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            body,
            json!({"parts": [
                {"PartNumber": 1, "ETag": "\"e1\""},
                {"PartNumber": 2, "ETag": "\"e2\"", "ChecksumCRC32C": "yZRlqg=="},
            ]})
        );
        assert_eq!(r.abort("u", "k").method, "DELETE");
    }

    #[test]
    fn the_creation_names_the_file_and_carries_the_metadata() {
        let mut r = routes();
        r.metadata = vec![("album".into(), "trip".into()), ("n".into(), "7".into())];
        let create = r.create("image/jpeg", false);
        assert_eq!(
            (create.method, create.url.path()),
            ("POST", "/s3/multipart")
        );
        let Body::Bytes(body) = &create.body else {
            panic!("the creation carries JSON");
        };
        assert_eq!(
            serde_json::from_slice::<Value>(body).unwrap(),
            json!({"filename": "a b.bin", "type": "image/jpeg", "metadata": {"album": "trip", "n": "7"}})
        );
        let Body::Bytes(body) = &r.create("image/jpeg", true).body else {
            panic!("the creation carries JSON");
        };
        let body: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(body["checksumAlgorithm"], "CRC32C");
    }

    #[test]
    fn answers_are_read_and_wrong_ones_refused() {
        let c = created(r#"{"key":"up/x","uploadId":"U"}"#).unwrap();
        assert_eq!(
            (c.key.as_str(), c.upload_id.as_str(), c.crc32c),
            ("up/x", "U", false)
        );
        let c = created(r#"{"key":"k","uploadId":"U","checksumAlgorithm":"crc32c"}"#).unwrap();
        assert!(c.crc32c);
        assert_eq!(created(r#"{"key":"","uploadId":"U"}"#), None);
        let p = presigned(
            r#"{"method":"PUT","url":"http://s/b/k?X=1","headers":{"Content-Type":"a/b"}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.url.as_str(), p.content_type.as_deref()),
            ("http://s/b/k?X=1", Some("a/b"))
        );
        assert_eq!(presigned(r#"{"method":"POST","url":"http://s/b"}"#), None);
        assert_eq!(presigned(r#"{"url":"file:///etc/passwd"}"#), None);
        let parts =
            listed(r#"[{"PartNumber":2,"ETag":"\"e\"","Size":5},{"PartNumber":3}]"#).unwrap();
        assert_eq!(
            parts,
            vec![ListedPart {
                number: 2,
                etag: "\"e\"".into(),
                size: 5
            }]
        );
        assert_eq!(listed("{}"), None);
        assert_eq!(
            error_message(r#"{"error":"s3: no"}"#).as_deref(),
            Some("s3: no")
        );
    }
}
