use std::collections::BTreeMap;

use crate::ProtoError;

/// The largest response head accepted; a server sending more is treated as hostile.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

const MAX_HEADERS: usize = 128;

/// A parsed response status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase (often empty).
    pub reason: String,
    /// Headers in wire order, names lower-cased, values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFraming {
    /// No body (1xx, 204, 304, or a response to HEAD).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// Parses a response head from the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete, or the head and the number of bytes it took.
///
/// ```
/// use uptask_proto::http1::parse_response_head;
/// let buf = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\n\r\nno";
/// let (head, used) = parse_response_head(buf)?.unwrap();
/// assert_eq!(head.status, 413);
/// assert_eq!(&buf[used..], b"no");
/// assert!(parse_response_head(b"HTTP/1.1 200 OK\r\nX: y\r\n")?.is_none());
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
///
/// # Errors
/// [`ProtoError::ResponseHead`] for bytes that are not an HTTP/1.x response head, and
/// [`ProtoError::ResponseHeadTooLarge`] once `buf` passes [`MAX_HEAD_BYTES`] without a complete head.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtoError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut storage);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(used)) if used > MAX_HEAD_BYTES => {
            Err(ProtoError::ResponseHeadTooLarge(MAX_HEAD_BYTES))
        }
        Ok(httparse::Status::Complete(used)) => {
            let head = ResponseHead {
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_owned(),
                headers: resp
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, used)))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            Err(ProtoError::ResponseHeadTooLarge(MAX_HEAD_BYTES))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(ProtoError::ResponseHead(e.to_string())),
    }
}

impl ResponseHead {
    /// A 1xx interim response, after which the real response follows.
    #[must_use]
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// All values of a header (name in lower case), in wire order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// How the body of this response is delimited (RFC 9112 §6.3), given the request method.
    ///
    /// ```
    /// use uptask_proto::http1::{parse_response_head, BodyFraming};
    /// let (head, _) = parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")?.unwrap();
    /// assert_eq!(head.framing("POST")?, BodyFraming::Length(5));
    /// # Ok::<(), uptask_proto::ProtoError>(())
    /// ```
    ///
    /// # Errors
    /// [`ProtoError::ContentLength`] for a length that is not a number or several that disagree.
    pub fn framing(&self, method: &str) -> Result<BodyFraming, ProtoError> {
        if method.eq_ignore_ascii_case("HEAD")
            || self.is_informational()
            || self.status == 204
            || self.status == 304
        {
            return Ok(BodyFraming::Empty);
        }
        let chunked = self.values("transfer-encoding").any(|v| {
            String::from_utf8_lossy(v)
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        });
        if chunked {
            return Ok(BodyFraming::Chunked);
        }
        if self.values("transfer-encoding").next().is_some() {
            return Ok(BodyFraming::UntilClose);
        }
        let mut length: Option<u64> = None;
        for raw in self.values("content-length") {
            let text = String::from_utf8_lossy(raw);
            for item in text.split(',') {
                let item = item.trim();
                let n = item
                    .parse::<u64>()
                    .ok()
                    .filter(|_| item.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ProtoError::ContentLength(text.to_string()))?;
                if length.is_some_and(|l| l != n) {
                    return Err(ProtoError::ContentLength(text.to_string()));
                }
                length = Some(n);
            }
        }
        Ok(length.map_or(BodyFraming::UntilClose, BodyFraming::Length))
    }
}

/// The seed's `header` object: names lower-cased, repeated values joined by `", "`.
///
/// ```
/// use uptask_proto::http1::{header_map, parse_response_head};
/// let raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Id: 7\r\nset-cookie: b=2\r\n\r\n";
/// let (head, _) = parse_response_head(raw)?.unwrap();
/// let map = header_map(&head);
/// assert_eq!(map["set-cookie"], "a=1, b=2");
/// assert_eq!(map["x-id"], "7");
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
#[must_use]
pub fn header_map(head: &ResponseHead) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &head.headers {
        let value = String::from_utf8_lossy(value);
        map.entry(name.clone())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> ResponseHead {
        parse_response_head(raw.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn framing_follows_rfc_9112() {
        assert_eq!(
            head("HTTP/1.1 204 \r\n\r\n").framing("POST").unwrap(),
            BodyFraming::Empty
        );
        assert_eq!(
            head("HTTP/1.1 100 Continue\r\n\r\n")
                .framing("POST")
                .unwrap(),
            BodyFraming::Empty
        );
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 4\r\n\r\n"
            )
            .framing("POST")
            .unwrap(),
            BodyFraming::Chunked
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\n\r\n").framing("POST").unwrap(),
            BodyFraming::UntilClose
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n")
                .framing("POST")
                .unwrap(),
            BodyFraming::Length(7)
        );
    }

    #[test]
    fn conflicting_or_bad_lengths_are_errors() {
        for raw in [
            "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ] {
            assert!(head(raw).framing("POST").is_err(), "{raw:?}");
        }
    }

    #[test]
    fn garbage_and_oversized_heads_are_errors() {
        assert!(parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        let big = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD_BYTES + 1));
        assert_eq!(
            parse_response_head(big.as_bytes()),
            Err(ProtoError::ResponseHeadTooLarge(MAX_HEAD_BYTES))
        );
        // Also when the whole oversized head arrived at once.
        let complete = format!("{big}\r\n\r\n");
        assert_eq!(
            parse_response_head(complete.as_bytes()),
            Err(ProtoError::ResponseHeadTooLarge(MAX_HEAD_BYTES))
        );
    }
}
