//! Which proxy an upload goes through: the environment's by default, as curl reads it.

use uptask_proto::proxy::ProxyRules;

use crate::UploadError;

/// The proxy setting of an upload, given with [`UploadOptions::proxy`](crate::UploadOptions::proxy).
///
/// By default the environment decides, as for curl: `http_proxy` / `HTTP_PROXY` for `http`
/// URLs (requests go to the proxy in absolute form), `https_proxy` / `HTTPS_PROXY` for `https`
/// (a `CONNECT` tunnel, TLS to the origin inside it, HTTP/2 too), `all_proxy` / `ALL_PROXY` for
/// both, and `no_proxy` / `NO_PROXY` for hosts reached directly. `user:pass@` in a proxy URL
/// is sent as `Proxy-Authorization: Basic`; a proxy that refuses (407, or a refused tunnel)
/// ends the upload with one error naming it. Progress is still counted at uptask's own
/// socket. In the browser, the browser's own proxy settings apply: setting one there is an
/// input error.
///
/// ```
/// use uptask::{Proxy, UploadOptions};
/// // Through this proxy, whatever the environment says, except for hosts under .internal.
/// let opts = UploadOptions::new("https://files.example.org/upload", "a.bin", "file")
///     .proxy(Proxy::url("http://user:secret@127.0.0.1:3128").no_proxy(".internal"));
/// // Straight to the server, whatever the environment says.
/// let direct = UploadOptions::new("https://files.example.org/upload", "a.bin", "file")
///     .proxy(Proxy::none());
/// # let _ = (opts, direct);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxy {
    base: Base,
    no_proxy: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Base {
    #[default]
    Environment,
    None,
    Url(String),
}

impl Proxy {
    /// The environment's proxies (the default).
    #[must_use]
    pub fn from_env() -> Self {
        Self::default()
    }

    /// No proxy, whatever the environment says.
    #[must_use]
    pub fn none() -> Self {
        Self {
            base: Base::None,
            no_proxy: None,
        }
    }

    /// Every request through the proxy at `url` (`[http://][user:pass@]host[:port]`), as curl's
    /// `--proxy`; `NO_PROXY` still applies unless [`no_proxy`](Self::no_proxy) replaces it.
    /// An empty URL means no proxy.
    #[must_use]
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            base: Base::Url(url.into()),
            no_proxy: None,
        }
    }

    /// Hosts reached directly, replacing `NO_PROXY` (as curl's `--noproxy`): a comma-separated
    /// list of host suffixes, IP addresses, IPv4 ranges (`10.0.0.0/8`), or `*` for all.
    #[must_use]
    pub fn no_proxy(mut self, list: impl Into<String>) -> Self {
        self.no_proxy = Some(list.into());
        self
    }

    /// The rules in force now, checked against the upload's URL so a bad proxy setting is
    /// an input error before anything is sent.
    pub(crate) fn rules(&self, url: &url::Url) -> Result<ProxyRules, UploadError> {
        let env = |k: &str| std::env::var(k).ok();
        let rules = match &self.base {
            Base::None => return Ok(ProxyRules::none()),
            Base::Environment => ProxyRules::from_env(env),
            Base::Url(proxy) => ProxyRules::from_env(env).through(proxy),
        };
        let rules = match &self.no_proxy {
            Some(list) => rules.no_proxy(list),
            None => rules,
        };
        let invalid =
            |e: uptask_proto::proxy::ProxyError| UploadError::invalid(e.to_string()).with_source(e);
        if let Base::Url(proxy) = &self.base
            && !proxy.trim().is_empty()
        {
            uptask_proto::proxy::ProxyUrl::parse(proxy).map_err(invalid)?;
        }
        let port = url.port_or_known_default().unwrap_or_default();
        rules
            .route(url.scheme(), url.host_str().unwrap_or_default(), port)
            .map_err(invalid)?;
        Ok(rules)
    }
}
