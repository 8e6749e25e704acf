//! Cross-origin calls: any origin may call without credentials (`*`, tusd's default); the
//! origins the operator named may also send them (cookies, HTTP auth), which needs their
//! origin echoed and `Access-Control-Allow-Credentials`. Methods and headers asked for are
//! echoed, and the headers a page may read are named.

use axum::http::HeaderValue;
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// The layer for `origins` (none named: any origin, no credentials).
pub(crate) fn layer(origins: &[String]) -> CorsLayer {
    let cors = CorsLayer::new()
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(
            crate::EXPOSED_LIST
                .split(", ")
                .map(axum::http::HeaderName::from_static)
                .collect::<Vec<_>>(),
        );
    let named = named(origins);
    if named.is_empty() {
        return cors.allow_origin(AllowOrigin::any());
    }
    // Credentials forbid `*`: every origin is echoed, and only the named ones are told they
    // may send credentials (a browser then refuses a credentialed call from any other).
    cors.allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(AllowCredentials::predicate(move |origin, _| {
            named.contains(origin)
        }))
}

/// What a response to a request from `origin` says, as the layer would: the allowed origin,
/// and whether credentials may come.
pub(crate) fn answer(origins: &[String], origin: &HeaderValue) -> (HeaderValue, bool) {
    let named = named(origins);
    if named.is_empty() {
        return (HeaderValue::from_static("*"), false);
    }
    (origin.clone(), named.contains(origin))
}

fn named(origins: &[String]) -> Vec<HeaderValue> {
    origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(origin = %o, error = %e, "an allowed origin that cannot be a header is ignored");
                None
            }
        })
        .collect()
}
