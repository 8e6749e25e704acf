//! Request heads and origins for a socket: the HTTP/1.1 text the native transport writes, and
//! where it connects.

use uptask_proto::http1::RequestHead;
use uptask_proto::multipart::MultipartBody;
use uptask_proto::proxy::ProxyUrl;
use url::Url;

use crate::UploadError;

/// How uptask names itself to servers and proxies.
pub(super) const USER_AGENT: &str = concat!("uptask/", env!("CARGO_PKG_VERSION"));

/// Host, port and scheme of a URL: what a connection is opened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: bool,
}

impl Origin {
    pub(super) fn of(url: &Url) -> Result<Self, UploadError> {
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(UploadError::invalid(format!("URL has no host: {url}"))),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| UploadError::invalid(format!("URL has no port: {url}")))?;
        Ok(Self {
            host,
            port,
            tls: url.scheme() == "https",
        })
    }
}

/// A request head: the method and target of `url`, `Host`, the user's headers, defaults for
/// `User-Agent` and `Accept`, then the protocol's own headers. To a forwarding proxy the target
/// is the whole URL (absolute form), with the proxy's credentials.
pub(super) fn encode_head(
    method: &str,
    url: &Url,
    user: &[(String, String)],
    own: &[(&str, String)],
    forward: Option<&ProxyUrl>,
) -> Result<Vec<u8>, UploadError> {
    let proto = |e: uptask_proto::ProtoError| UploadError::invalid(e.to_string()).with_source(e);
    let target = match forward {
        Some(_) => absolute_target(url),
        None => request_target(url),
    };
    let mut head = RequestHead::new(method, &target);
    if let Some(auth) = forward.and_then(ProxyUrl::authorization) {
        head.header("Proxy-Authorization", &auth).map_err(proto)?;
    }
    let user_has = |n: &str| user.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !user_has("host") {
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        head.header("Host", &host).map_err(proto)?;
    }
    for (name, value) in user {
        head.header(name, value).map_err(proto)?;
    }
    if !user_has("user-agent") {
        head.header("User-Agent", USER_AGENT).map_err(proto)?;
    }
    if !user_has("accept") {
        head.header("Accept", "*/*").map_err(proto)?;
    }
    for (name, value) in own {
        head.header(name, value).map_err(proto)?;
    }
    Ok(head.encode())
}

/// Path and query, the origin-form request target. `url` serializes both percent-encoded, so
/// neither can hold a space or a line break.
fn request_target(url: &Url) -> String {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    target
}

/// The whole URL without its fragment, the absolute-form request target a proxy forwards.
fn absolute_target(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.to_string()
}

/// The headers uptask sets on a multipart request.
fn multipart_own(body: &MultipartBody) -> [(&'static str, String); 2] {
    [
        ("Content-Type", body.content_type()),
        ("Content-Length", body.len().to_string()),
    ]
}

/// The multipart request's headers for HTTP/2 (names lower-case, as it requires): the user's,
/// then uptask's own.
pub(super) fn multipart_fields(
    header: &[(String, String)],
    body: &MultipartBody,
) -> Vec<(String, String)> {
    header
        .iter()
        .cloned()
        .chain(multipart_own(body).map(|(n, v)| (n.to_owned(), v)))
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use uptask_proto::multipart::{Boundary, FilePart};

    use super::*;

    fn body() -> MultipartBody {
        MultipartBody::new(
            Boundary::from_random([1; 16]),
            &[],
            &FilePart::new("file", "a", 1),
        )
    }

    /// The head of a multipart POST of `body` to `url`, with one header of the user's.
    fn head_of(url: &str, body: &MultipartBody) -> String {
        let user = [("X-User".to_owned(), "ann".to_owned())];
        let head = encode_head(
            "POST",
            &Url::parse(url).unwrap(),
            &user,
            &multipart_own(body),
            None,
        );
        String::from_utf8(head.unwrap()).unwrap()
    }

    #[test]
    fn a_forwarding_proxy_gets_the_whole_url_and_its_credentials() {
        let proxy = ProxyUrl::parse("http://u:p@127.0.0.1:3128").unwrap();
        let url = Url::parse("http://h:8080/up?a=1#frag").unwrap();
        let head = encode_head("POST", &url, &[], &[], Some(&proxy)).unwrap();
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.starts_with(
                "POST http://h:8080/up?a=1 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\nHost: h:8080\r\n"
            ),
            "{head}"
        );
    }

    #[test]
    fn fragments_are_not_sent_and_ipv6_hosts_keep_brackets() {
        let head = head_of("http://[::1]:8080/up?a=1#frag", &body());
        assert!(
            head.starts_with("POST /up?a=1 HTTP/1.1\r\nHost: [::1]:8080\r\n"),
            "{head}"
        );
        let origin = Origin::of(&Url::parse("http://[::1]:8080/up").unwrap()).unwrap();
        assert_eq!(origin.host, "::1");
        assert_eq!(origin.port, 8080);
    }

    #[test]
    fn content_length_is_in_the_head() {
        let body = body();
        let head = head_of("http://h/", &body);
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(head.contains("X-User: ann\r\n"));
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding"));
    }

    #[test]
    fn a_redirect_changes_only_the_request_target() {
        let body = body();
        let head = head_of("http://h/a?x=1", &body);
        let moved = head_of("http://h/b", &body);
        assert!(
            moved.starts_with("POST /b HTTP/1.1\r\nHost: h\r\n"),
            "{moved}"
        );
        assert_eq!(moved.len(), head.len() - "/a?x=1".len() + "/b".len());
    }
}
