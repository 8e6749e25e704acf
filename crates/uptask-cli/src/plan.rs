//! From the command line as typed to validated library options.

use std::path::{Path, PathBuf};
use std::time::Duration;

use uptask::{S3Options, TusOptions, UploadOptions};

use crate::args::{Protocol, UploadArgs};
use crate::exit::bad;

/// The files and the URL of the command line: with several arguments, the last is the URL
/// when it has a scheme (`http://`, `s3://`, ...), and must be one when it is neither a file
/// nor a pattern.
pub(crate) fn targets(args: &UploadArgs) -> anyhow::Result<(Vec<PathBuf>, Option<String>)> {
    let mut files: Vec<String> = args.targets.clone();
    let url = match files.last() {
        Some(last) if files.len() > 1 && last.contains("://") => files.pop(),
        Some(last)
            if files.len() > 1 && !Path::new(last).exists() && !last.contains(['*', '?', '[']) =>
        {
            return Err(bad(format!(
                "invalid URL {last:?}: the last argument is neither a URL (http://, https://, s3://) nor a file"
            )));
        }
        _ => None,
    };
    if let Some(first) = files.iter().find(|f| f.contains("://")) {
        return Err(bad(format!(
            "{first:?} looks like a URL: give the files first and the URL last"
        )));
    }
    if files.len() > 1 && files.iter().any(|f| f == "-") {
        return Err(bad("standard input (-) can only be uploaded on its own"));
    }
    if args.parallel == 0 {
        return Err(bad("invalid --parallel 0: use 1 or more"));
    }
    let mut paths = Vec::with_capacity(files.len());
    for file in files {
        paths.extend(expand(&file)?);
    }
    Ok((paths, url))
}

/// A pattern the shell did not expand (quoted, or a shell without globbing): the files it
/// matches, in name order. Anything else, an existing file included, stands for itself.
fn expand(arg: &str) -> anyhow::Result<Vec<PathBuf>> {
    if !arg.contains(['*', '?', '[']) || Path::new(arg).exists() {
        return Ok(vec![PathBuf::from(arg)]);
    }
    let pattern = glob::glob(arg).map_err(|e| bad(format!("invalid pattern {arg:?}: {e}")))?;
    let matched: Vec<PathBuf> = pattern
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    if matched.is_empty() {
        return Err(bad(format!("file not found: no file matches {arg:?}")));
    }
    Ok(matched)
}

/// Builds the library options for uploading `file` to `url`.
pub(crate) fn upload_options(
    args: &UploadArgs,
    file: &Path,
    url: &str,
) -> anyhow::Result<UploadOptions> {
    // `-` is standard input: a pipe is sent with a deferred length (tus), a redirected file as
    // any file.
    let stdin = file.as_os_str() == "-";
    let file = if stdin {
        PathBuf::from("/dev/stdin")
    } else {
        file.to_path_buf()
    };
    let mut opts = UploadOptions::new(url, &file, &args.name)
        .timeout(duration("--timeout", &args.timeout)?)
        .stall_timeout(duration("--stall-timeout", &args.stall_timeout)?)
        .enable_http2(args.http2);
    if args.signer && args.protocol != Protocol::S3 {
        return Err(bad("--signer is for --protocol s3"));
    }
    match args.protocol {
        Protocol::Multipart => {}
        Protocol::Tus => opts = opts.tus(tus_options(args)?),
        Protocol::S3 => opts = opts.s3(s3_options(args, url)?),
    }
    if let Some(name) = &args.file_name {
        opts = opts.file_name(name);
    } else if stdin {
        opts = opts.file_name("stdin");
    }
    for field in &args.form {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid -F {field:?}: expected KEY=VALUE")))?;
        opts = opts.form_data(k, v);
    }
    for header in &args.header {
        let (k, v) = header
            .split_once(':')
            .ok_or_else(|| bad(format!("invalid -H {header:?}: expected 'Name: value'")))?;
        opts = opts.header(k.trim(), v.trim_start());
    }
    let mut proxy = match &args.proxy {
        Some(url) => uptask::Proxy::url(url),
        None => uptask::Proxy::from_env(),
    };
    if let Some(list) = &args.noproxy {
        proxy = proxy.no_proxy(list);
    }
    opts = opts.proxy(proxy);
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| bad(format!("cannot read --ca-cert {}: {e}", path.display())))?;
        opts = opts.add_root_certificate_pem(pem);
    }
    Ok(opts)
}

fn retry_delays(args: &UploadArgs) -> anyhow::Result<Vec<Duration>> {
    args.retry_delays
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| duration("--retry-delays", d))
        .collect()
}

/// Credentials, region and endpoint as the AWS tools find them: flags, `AWS_*` variables, then
/// the shared credentials and config files of the profile.
pub(crate) fn aws_settings(flags: &uptask_proto::s3::Settings) -> uptask_proto::s3::Resolved {
    let env = |k: &str| std::env::var(k).ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
            .and_then(|p| std::fs::read_to_string(p).ok())
    };
    uptask_proto::s3::resolve(
        flags,
        env,
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials").as_deref(),
        file("AWS_CONFIG_FILE", "config").as_deref(),
    )
}

/// The error for a store without keys, naming where they are looked for.
pub(crate) fn no_credentials(what: &str, profile: &str) -> anyhow::Error {
    bad(format!(
        "{what}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add them to profile {profile:?} of ~/.aws/credentials"
    ))
}

fn s3_options(args: &UploadArgs, url: &str) -> anyhow::Result<S3Options> {
    if args.concurrency == 0 {
        return Err(bad("invalid --concurrency 0: use 1 or more"));
    }
    if args.signer {
        let keyed = [
            ("--endpoint", args.endpoint.is_some()),
            ("--region", args.region.is_some()),
            ("--profile", args.profile.is_some()),
        ];
        if let Some((flag, _)) = keyed.iter().find(|(_, set)| *set) {
            return Err(bad(format!(
                "{flag} is for uploads with keys; with --signer the signer knows the store"
            )));
        }
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(bad(format!(
                "--signer takes the signer's http(s) URL (e.g. http://host/s3), not {url:?}"
            )));
        }
        return Ok(S3Options::signer(url)
            .part_size(byte_size("--part-size", &args.part_size)?)
            .concurrency(args.concurrency)
            .checksum(part_checksum(args.part_checksum))
            .retry_delays(retry_delays(args)?)
            .fresh(args.fresh)
            .resume_store(cache_dir().join("s3")));
    }
    let resolved = aws_settings(&uptask_proto::s3::Settings {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
    });
    let credentials = resolved
        .credentials
        .ok_or_else(|| no_credentials("--protocol s3", &resolved.profile))?;
    let mut s3 = S3Options::new(credentials)
        .region(resolved.region)
        .part_size(byte_size("--part-size", &args.part_size)?)
        .concurrency(args.concurrency)
        .checksum(part_checksum(args.part_checksum))
        .retry_delays(retry_delays(args)?)
        .fresh(args.fresh)
        .resume_store(cache_dir().join("s3"));
    if let Some(endpoint) = resolved.endpoint {
        s3 = s3.endpoint(endpoint);
    }
    Ok(s3)
}

fn tus_options(args: &UploadArgs) -> anyhow::Result<TusOptions> {
    if args.tus_parallel == 0 {
        return Err(bad("invalid --tus-parallel 0: use 1 or more"));
    }
    let delays = retry_delays(args)?;
    Ok(TusOptions::new()
        .chunk_size(byte_size("--chunk-size", &args.chunk_size)?)
        .parallel(args.tus_parallel)
        .retry_delays(delays)
        .fresh(args.fresh)
        .checksum(!args.no_checksum)
        .resume_store(cache_dir().join("tus")))
}

/// Where uptask keeps state between runs: `$UPTASK_CACHE_DIR`, else the user's cache directory.
pub(crate) fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("UPTASK_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("uptask")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("uptask")))
        .or_else(|| env("LOCALAPPDATA").map(|d| d.join("uptask")))
        .unwrap_or_else(|| std::env::temp_dir().join("uptask-cache"))
}

/// `0` (none), or a human duration such as `30s`, `1m30s`, `500ms`.
pub(crate) fn duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| {
        bad(format!(
            "invalid {flag} {text:?}: {e} (use e.g. 30s, 5m or 0 for none)"
        ))
    })
}

/// A byte size such as `10GiB`, `500MB` or `1048576`.
pub(crate) fn byte_size(flag: &str, text: &str) -> anyhow::Result<u64> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| {
            bad(format!(
                "invalid {flag} {text:?}: {e} (use e.g. 10GiB, 500MB or a number of bytes)"
            ))
        })
}

/// `--limit-rate`: curl's suffixes (K, M, G, powers of 1024), or any [`byte_size`].
pub(crate) fn limit_rate(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.len() - t.chars().last().map_or(0, char::len_utf8));
    let shift = match unit {
        "k" | "K" => Some(10),
        "m" | "M" => Some(20),
        "g" | "G" => Some(30),
        _ => None,
    };
    if let (Some(shift), Ok(n)) = (shift, number.parse::<f64>())
        && n.is_finite()
        && n >= 0.0
    {
        return Ok((n * f64::from(1u32 << shift)) as u64);
    }
    byte_size("--limit-rate", t).map_err(|_| {
        bad(format!(
            "invalid --limit-rate {text:?}: use bytes per second, e.g. 500K, 2M, 1.5MiB or 0 for none"
        ))
    })
}

fn part_checksum(checksum: crate::args::PartChecksum) -> uptask::s3::PartChecksum {
    match checksum {
        crate::args::PartChecksum::Crc32c => uptask::s3::PartChecksum::Crc32c,
        crate::args::PartChecksum::Md5 => uptask::s3::PartChecksum::Md5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_or_explain() {
        assert_eq!(duration("--timeout", "0").unwrap(), Duration::ZERO);
        assert_eq!(
            duration("--timeout", "1m30s").unwrap(),
            Duration::from_secs(90)
        );
        assert!(
            duration("--timeout", "soon")
                .unwrap_err()
                .to_string()
                .contains("--timeout")
        );
        assert_eq!(byte_size("--max-size", "10GiB").unwrap(), 10 << 30);
        assert_eq!(byte_size("--max-size", "1024").unwrap(), 1024);
        assert!(byte_size("--max-size", "lots").is_err());
        assert_eq!(limit_rate("2M").unwrap(), 2 << 20);
        assert_eq!(limit_rate("500k").unwrap(), 500 << 10);
        assert_eq!(limit_rate("1.5M").unwrap(), 3 << 19);
        assert_eq!(limit_rate("800kB").unwrap(), 800_000);
        assert_eq!(limit_rate("4096").unwrap(), 4096);
        assert_eq!(limit_rate("0").unwrap(), 0);
        assert!(
            limit_rate("fast")
                .unwrap_err()
                .to_string()
                .contains("--limit-rate")
        );
        assert!(limit_rate("-1M").is_err());
    }
}
