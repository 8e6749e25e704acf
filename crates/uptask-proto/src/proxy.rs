//! Proxies as curl reads them: which proxy (if any) a URL goes through, and the bytes that
//! speak to it.
//!
//! - `http_proxy` / `HTTP_PROXY` for `http` URLs, sent in absolute form to the proxy;
//! - `https_proxy` / `HTTPS_PROXY` for `https` URLs, through a `CONNECT` tunnel with TLS to the
//!   origin inside it;
//! - `all_proxy` / `ALL_PROXY` for either, when the scheme's own is unset;
//! - `no_proxy` / `NO_PROXY`: hosts reached directly — `*`, host names that match as a suffix
//!   on a label boundary (`example.com` and `.example.com` both cover `a.example.com`), IP
//!   addresses, and IPv4 ranges as `10.0.0.0/8`;
//! - lower case wins over upper case; an explicit proxy replaces the environment's, and an
//!   explicit bypass list replaces `NO_PROXY`.
//!
//! A proxy URL is `[http://][user:pass@]host[:port]` (port 1080 by default, as curl's);
//! `user:pass` goes out as `Proxy-Authorization: Basic`. Only HTTP proxies are spoken to.
//!
//! ```
//! use uptask_proto::proxy::{ProxyRules, Route};
//!
//! let env = |k: &str| match k {
//!     "https_proxy" => Some("http://u:p@127.0.0.1:8888".to_owned()),
//!     "NO_PROXY" => Some("internal.example,10.0.0.0/8".to_owned()),
//!     _ => None,
//! };
//! let rules = ProxyRules::from_env(env);
//! let route = rules.route("https", "files.example.org", 443)?;
//! let Route::Tunnel(proxy) = route else { panic!("{route:?}") };
//! assert_eq!((proxy.host.as_str(), proxy.port), ("127.0.0.1", 8888));
//! assert_eq!(proxy.authorization().as_deref(), Some("Basic dTpw"));
//! assert_eq!(rules.route("https", "a.internal.example", 443)?, Route::Direct);
//! assert_eq!(rules.route("https", "10.1.2.3", 443)?, Route::Direct);
//! assert_eq!(rules.route("http", "files.example.org", 80)?, Route::Direct); // no http_proxy
//! # Ok::<(), uptask_proto::proxy::ProxyError>(())
//! ```

use std::net::IpAddr;

use base64::Engine;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// Straight to the origin.
    Direct,
    /// To the proxy, which forwards it: an `http` URL, its request line in absolute form.
    Forward(ProxyUrl),
    /// Through a `CONNECT` tunnel the proxy opens to the origin: an `https` URL.
    Tunnel(ProxyUrl),
}

/// A proxy to speak to.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// `user:pass`, percent-decoded, when the URL carries them.
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ProxyUrl {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

impl std::fmt::Display for ProxyUrl {
    /// `http://host:port`, with the user name but never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match &self.credentials {
            Some((user, _)) => write!(f, "http://{user}@{host}:{}", self.port),
            None => write!(f, "http://{host}:{}", self.port),
        }
    }
}

/// A proxy setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The URL does not parse as a proxy URL.
    #[error("invalid proxy URL {text:?}{}: {why}", from.as_ref().map(|v| format!(" in {v}")).unwrap_or_default())]
    Invalid {
        /// The setting as given.
        text: String,
        /// The environment variable it came from, if any.
        from: Option<String>,
        /// What is wrong.
        why: String,
    },
}

impl ProxyUrl {
    /// Parses `[http://][user:pass@]host[:port]`.
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] for another scheme (`socks5://`, `https://`), no host, or a bad
    /// port.
    ///
    /// ```
    /// use uptask_proto::proxy::ProxyUrl;
    /// let p = ProxyUrl::parse("proxy.internal:3128")?;
    /// assert_eq!(p.to_string(), "http://proxy.internal:3128");
    /// let p = ProxyUrl::parse("http://me:s%40cret@[::1]:8080/")?;
    /// assert_eq!(p.to_string(), "http://me@[::1]:8080"); // the password stays out of messages
    /// assert_eq!(p.authorization().as_deref(), Some("Basic bWU6c0BjcmV0")); // me:s@cret
    /// assert!(ProxyUrl::parse("socks5://127.0.0.1:1080").is_err());
    /// # Ok::<(), uptask_proto::proxy::ProxyError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, ProxyError> {
        let invalid = |why: &str| ProxyError::Invalid {
            text: redact(text),
            from: None,
            why: why.to_owned(),
        };
        let trimmed = text.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(invalid(&format!(
                "{}:// proxies are not supported: use an http:// proxy",
                url.scheme()
            )));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("no host")),
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let credentials = (!url.username().is_empty()).then(|| {
            (
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        Ok(Self {
            host,
            port: url.port().unwrap_or(1080),
            credentials,
        })
    }

    /// The `Proxy-Authorization` value, when the URL carries credentials.
    #[must_use]
    pub fn authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|(user, pass)| {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            format!("Basic {token}")
        })
    }

    /// The `CONNECT` request that opens a tunnel to `host:port`.
    ///
    /// ```
    /// use uptask_proto::proxy::ProxyUrl;
    /// let p = ProxyUrl::parse("http://u:p@127.0.0.1:8888")?;
    /// let head = String::from_utf8(p.connect_request("example.org", 443, "uptask/1"))?;
    /// assert_eq!(head, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\
    ///     Proxy-Authorization: Basic dTpw\r\nUser-Agent: uptask/1\r\n\r\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn connect_request(&self, host: &str, port: u16, user_agent: &str) -> Vec<u8> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(auth) = self.authorization() {
            head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        head.push_str(&format!("User-Agent: {user_agent}\r\n\r\n"));
        head.into_bytes()
    }
}

/// What a proxy's answer to `CONNECT` means: `Ok` once the tunnel is open, or the one clear
/// line that says why not.
///
/// ```
/// use uptask_proto::proxy::{ProxyUrl, tunnel_answer};
/// let p = ProxyUrl::parse("127.0.0.1:8888")?;
/// assert!(tunnel_answer(&p, "example.org:443", 200, "Connection established").is_ok());
/// let e = tunnel_answer(&p, "example.org:443", 407, "Proxy Authentication Required").unwrap_err();
/// assert!(e.starts_with("the proxy http://127.0.0.1:8888 wants credentials (407 Proxy Authentication Required)"));
/// # Ok::<(), uptask_proto::proxy::ProxyError>(())
/// ```
///
/// # Errors
/// The explanation, for any status but 2xx.
pub fn tunnel_answer(
    proxy: &ProxyUrl,
    authority: &str,
    status: u16,
    reason: &str,
) -> Result<(), String> {
    match status {
        200..=299 => Ok(()),
        // Some proxies (tinyproxy) answer wrong credentials with 401 rather than 407.
        401 | 407 => Err(refused_credentials(proxy, status, reason)),
        _ => Err(format!(
            "the proxy {proxy} refused the tunnel to {authority} ({status} {reason})"
        )),
    }
}

/// The error for a 407: the proxy wants credentials, or other ones.
#[must_use]
pub fn refused_credentials(proxy: &ProxyUrl, status: u16, reason: &str) -> String {
    let hint = if proxy.credentials.is_some() {
        "the user and password in the proxy URL were refused"
    } else {
        "give them in the proxy URL: http://user:pass@host:port"
    };
    format!("the proxy {proxy} wants credentials ({status} {reason}): {hint}")
}

/// The proxy settings in force: the environment's, or explicit ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRules {
    http: Option<Setting>,
    https: Option<Setting>,
    all: Option<Setting>,
    no_proxy: Vec<String>,
}

/// A proxy URL as given, and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    text: String,
    from: Option<String>,
}

impl ProxyRules {
    /// No proxy for anything.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// The settings of an environment (`get` reads one variable).
    #[must_use]
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            [name.to_ascii_lowercase(), name.to_owned()]
                .into_iter()
                .find_map(|n| {
                    get(&n)
                        .filter(|v| !v.trim().is_empty())
                        .map(|text| Setting {
                            text,
                            from: Some(n),
                        })
                })
        };
        Self {
            http: var("HTTP_PROXY"),
            https: var("HTTPS_PROXY"),
            all: var("ALL_PROXY"),
            no_proxy: var("NO_PROXY")
                .map(|s| bypass_list(&s.text))
                .unwrap_or_default(),
        }
    }

    /// Every URL through `proxy` (as curl's `--proxy`); an empty one means none at all. The
    /// bypass list stays.
    #[must_use]
    pub fn through(mut self, proxy: &str) -> Self {
        let setting = (!proxy.trim().is_empty()).then(|| Setting {
            text: proxy.to_owned(),
            from: None,
        });
        self.all = setting;
        self.http = None;
        self.https = None;
        self
    }

    /// Replaces the bypass list (as curl's `--noproxy` replaces `NO_PROXY`).
    #[must_use]
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = bypass_list(list);
        self
    }

    /// Whether any proxy is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none() && self.all.is_none()
    }

    /// The route to `host:port` over `scheme` (`http` or `https`).
    ///
    /// # Errors
    /// [`ProxyError::Invalid`] when the proxy that applies does not parse.
    pub fn route(&self, scheme: &str, host: &str, port: u16) -> Result<Route, ProxyError> {
        let tls = scheme == "https";
        let setting = if tls { &self.https } else { &self.http };
        let Some(setting) = setting.as_ref().or(self.all.as_ref()) else {
            return Ok(Route::Direct);
        };
        if self.bypassed(host, port) {
            return Ok(Route::Direct);
        }
        let proxy = ProxyUrl::parse(&setting.text).map_err(|e| match e {
            ProxyError::Invalid { text, why, .. } => ProxyError::Invalid {
                text,
                from: setting.from.clone(),
                why,
            },
        })?;
        Ok(if tls {
            Route::Tunnel(proxy)
        } else {
            Route::Forward(proxy)
        })
    }

    fn bypassed(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            // `host:port` entries cover that port only.
            let (name, only_port) = match entry.rsplit_once(':') {
                Some((n, p)) if !n.contains(':') => (n, p.parse::<u16>().ok()),
                _ => (entry.as_str(), None),
            };
            if only_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name.trim_start_matches('[').trim_end_matches(']');
            if let Some((net, bits)) = name.split_once('/') {
                return match (ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_range(ip, net, bits),
                    _ => false,
                };
            }
            if let (Some(ip), Ok(entry_ip)) = (ip, name.parse::<IpAddr>()) {
                return ip == entry_ip;
            }
            let name = name.trim_start_matches('.');
            !name.is_empty()
                && (host == name
                    || host
                        .strip_suffix(name)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
    }
}

/// `NO_PROXY`'s entries: comma- or space-separated, lower case.
fn bypass_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The text of a proxy URL without its password.
fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (scheme, Some(at)) => {
            let start = scheme.map_or(0, |s| s + 3);
            let userinfo = &text[start..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &text[..start], &text[at..]),
                None => text.to_owned(),
            }
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyRules {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyRules::from_env(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    fn proxy_of(route: Route) -> Option<String> {
        match route {
            Route::Direct => None,
            Route::Forward(p) => Some(format!("forward {p}")),
            Route::Tunnel(p) => Some(format!("tunnel {p}")),
        }
    }

    #[test]
    fn each_scheme_reads_its_variable_lower_case_first() {
        let rules = env(&[
            ("HTTP_PROXY", "upper:1"),
            ("http_proxy", "lower:2"),
            ("HTTPS_PROXY", "secure:3"),
        ]);
        let http = rules.route("http", "example.org", 80).unwrap();
        assert_eq!(proxy_of(http).as_deref(), Some("forward http://lower:2"));
        let https = rules.route("https", "example.org", 443).unwrap();
        assert_eq!(proxy_of(https).as_deref(), Some("tunnel http://secure:3"));
    }

    #[test]
    fn all_proxy_fills_in_and_an_explicit_proxy_replaces_the_environment() {
        let rules = env(&[("ALL_PROXY", "all:9"), ("https_proxy", "secure:3")]);
        let http = rules.route("http", "example.org", 80).unwrap();
        assert_eq!(proxy_of(http).as_deref(), Some("forward http://all:9"));
        let rules = rules.through("http://mine:7");
        let https = rules.route("https", "example.org", 443).unwrap();
        assert_eq!(proxy_of(https).as_deref(), Some("tunnel http://mine:7"));
        let none = rules.through("");
        assert_eq!(
            none.route("https", "example.org", 443).unwrap(),
            Route::Direct
        );
    }

    #[test]
    fn no_proxy_matches_as_curl_does() {
        let rules = env(&[
            ("https_proxy", "p:1"),
            (
                "no_proxy",
                "example.com, .corp.test,192.168.1.7, 10.0.0.0/8,[::1],host.test:8443",
            ),
        ]);
        let direct =
            |host: &str, port: u16| rules.route("https", host, port).unwrap() == Route::Direct;
        assert!(direct("example.com", 443));
        assert!(direct("a.b.example.com", 443));
        assert!(
            !direct("notexample.com", 443),
            "a suffix on a label boundary only"
        );
        assert!(direct("x.corp.test", 443));
        assert!(direct("corp.test", 443));
        assert!(direct("192.168.1.7", 443));
        assert!(!direct("192.168.1.8", 443));
        assert!(direct("10.200.3.4", 443));
        assert!(!direct("11.0.0.1", 443));
        assert!(direct("[::1]", 443));
        assert!(direct("host.test", 8443));
        assert!(
            !direct("host.test", 443),
            "a port entry covers that port only"
        );
        assert!(!direct("EXAMPLE.org", 443));
        assert!(direct("EXAMPLE.COM", 443), "case does not matter");
        let all = env(&[("https_proxy", "p:1"), ("NO_PROXY", "*")]);
        assert_eq!(all.route("https", "anything", 443).unwrap(), Route::Direct);
        let replaced = all.no_proxy("other.test");
        assert_ne!(
            replaced.route("https", "anything", 443).unwrap(),
            Route::Direct
        );
    }

    #[test]
    fn a_bad_proxy_names_its_variable_and_hides_the_password() {
        let rules = env(&[("HTTPS_PROXY", "socks5://me:secret@127.0.0.1:1080")]);
        let e = rules
            .route("https", "example.org", 443)
            .unwrap_err()
            .to_string();
        assert!(e.contains("in HTTPS_PROXY"), "{e}");
        assert!(e.contains("socks5:// proxies are not supported"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        // A proxy that does not apply is not an error.
        assert_eq!(
            rules.route("http", "example.org", 80).unwrap(),
            Route::Direct
        );
    }

    #[test]
    fn a_refused_tunnel_says_why_and_what_to_do() {
        let with = ProxyUrl::parse("http://u:p@127.0.0.1:8888").unwrap();
        let e = tunnel_answer(&with, "a:443", 407, "Proxy Authentication Required").unwrap_err();
        assert!(e.contains("were refused"), "{e}");
        let e = tunnel_answer(&with, "a:443", 403, "Forbidden").unwrap_err();
        assert_eq!(
            e,
            "the proxy http://u@127.0.0.1:8888 refused the tunnel to a:443 (403 Forbidden)"
        );
    }
}
