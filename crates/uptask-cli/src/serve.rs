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
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| bad(format!("cannot listen on --addr {}: {e}", args.addr)))?;
    let addr = listener.local_addr()?;
    let storing = if args.discard {
        "discarding uploads".to_owned()
    } else {
        format!("storing in {}", args.dir.display())
    };
    announce(&format!(
        "uptask serve: listening on http://{addr} (POST /upload), {storing}"
    ));
    uptask_server::serve(listener, config, uptask_server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))?;
    Ok(exit::OK)
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
