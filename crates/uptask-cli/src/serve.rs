//! `uptask serve`: the receiving server until SIGINT/SIGTERM.

use uptask_server::ServerConfig;

use crate::args::ServeArgs;
use crate::exit::{self, bad};
use crate::plan;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let max_size = plan::byte_size("--max-size", &args.max_size)?;
    let mut config = ServerConfig::new(&args.dir)
        .max_size(max_size)
        .discard(args.discard);
    for origin in &args.allow_origin {
        config = config.allow_origin(checked_origin(origin)?);
    }
    if let Some(token) = &args.token {
        if token.is_empty() {
            return Err(bad("--token is empty"));
        }
        config = config.token(token);
    }
    if let Some(url) = &args.hooks_http {
        let parsed =
            url::Url::parse(url).map_err(|e| bad(format!("invalid --hooks-http {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(format!(
                "invalid --hooks-http {url:?}: expected an http or https URL"
            )));
        }
        config = config
            .hooks_http(url)
            .hooks_retry(plan::duration("--hooks-retry", &args.hooks_retry)?);
    }
    if let Some(url) = &args.store {
        config = config
            .s3(s3_store(url, &args)?)
            .presign_expiry(plan::duration("--presign-expiry", &args.presign_expiry)?);
    }
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| bad(format!("cannot listen on --addr {}: {e}", args.addr)))?;
    // After the address, so a bad one fails before anything is made.
    if let Err(e) = uptask_server::check_store(&config).await {
        return Err(match &config.s3 {
            Some(s3) => anyhow::anyhow!("cannot use the store {s3}: {e}"),
            None => bad(format!("cannot use --dir {}: {e}", args.dir.display())),
        });
    }
    let addr = listener.local_addr()?;
    let storing = match &config.s3 {
        _ if args.discard => "discarding uploads".to_owned(),
        Some(s3) => format!("storing in {s3}"),
        None => format!("storing in {}", args.dir.display()),
    };
    announce(&format!(
        "uptask serve: listening on http://{addr} (POST /upload), {storing}"
    ));
    uptask_server::serve(listener, config, uptask_server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))?;
    Ok(exit::OK)
}

/// The bucket, with keys, region and endpoint found as the client finds them.
fn s3_store(url: &str, args: &ServeArgs) -> anyhow::Result<uptask_server::S3Store> {
    let resolved = plan::aws_settings(&uptask_proto::s3::Settings {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
    });
    let credentials = resolved
        .credentials
        .ok_or_else(|| plan::no_credentials("--store", &resolved.profile))?;
    let mut store = uptask_server::S3Store::parse(url, credentials)
        .map_err(|e| bad(format!("--store: {e}")))?
        .region(resolved.region)
        .part_size(plan::byte_size("--part-size", &args.part_size)?)
        .lock_lease(plan::duration("--lock-lease", &args.lock_lease)?);
    if let Some(endpoint) = resolved.endpoint {
        if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
            return Err(bad(format!(
                "invalid --endpoint {endpoint:?}: expected an http or https URL"
            )));
        }
        store = store.endpoint(endpoint);
    }
    Ok(store)
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn checked_origin(text: &str) -> anyhow::Result<String> {
    let invalid = |why: &str| bad(format!("invalid --allow-origin {text:?}: {why}"));
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("expected http(s)://host[:port]"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "an origin has no path: expected http(s)://host[:port]",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[expect(clippy::print_stderr, reason = "the server's start-up line")]
fn announce(line: &str) {
    eprintln!("{line}");
}
