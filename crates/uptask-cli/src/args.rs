//! The command line as typed: no validation beyond what clap does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Upload files you can watch and abort, or receive them.
#[derive(Debug, Parser)]
#[command(name = "uptask", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Upload files to URL as multipart/form-data, with tus, or to S3 (to a built-in server
    /// when URL is omitted).
    #[command(after_help = UPLOAD_EXAMPLES)]
    Upload(Box<UploadArgs>),
    /// Receive uploads: POST /upload (multipart, sha256-checked) and tus at /files/, in --dir or
    /// an S3 bucket (--store) that any number of instances share.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(Box<ServeArgs>),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

const UPLOAD_EXAMPLES: &str = "\
Examples:
  uptask upload README.md
      Start a built-in server on a free loopback port, upload there, print where the
      file was stored and its sha256.
  uptask upload photo.jpg https://example.com/upload --name avatar -F album=holidays \\
      -H 'Authorization: Bearer t0k3n'
  uptask upload big.iso http://127.0.0.1:8080/upload --json | jq -c 'select(.event==\"success\")'
  uptask upload *.jpg http://127.0.0.1:8080/upload --parallel 3 --limit-rate 4M
      Three at a time, 4 MiB/s for all of them together: a bar per file and a total.
      With --json every event names its \"file\".
  uptask upload big.iso http://127.0.0.1:8080/files/ --protocol tus
      Resumable: if interrupted (even killed), the same command continues from the
      server's offset. Upload URLs are remembered in $XDG_CACHE_HOME/uptask/tus
      (or $UPTASK_CACHE_DIR/tus); --fresh starts over.
  pg_dump mydb | uptask upload - http://127.0.0.1:8080/files/ --protocol tus --file-name db.sql
      A pipe has no length in advance: tus sends it with a deferred length.
  uptask upload big.iso s3://backups/big.iso --protocol s3 --endpoint http://127.0.0.1:8333
      Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials.
      Parts in parallel; if interrupted, the same command sends only the parts the store
      lacks (upload ids are remembered in $XDG_CACHE_HOME/uptask/s3); --fresh starts over.
  uptask upload big.iso http://127.0.0.1:8080/s3 --protocol s3 --signer -H 'Authorization: Bearer t0k3n'
      Straight to the store without its keys: the server (uptask serve --store, or Uppy
      Companion) picks the key and presigns each part; the token goes to it, not the store.

Exit codes: 0 completed (< 400), 22 completed (>= 400), 1 failed, 2 bad input, 130 aborted.";

const SERVE_EXAMPLES: &str = "\
Examples:
  uptask serve
  uptask serve --addr 127.0.0.1:9000 --dir /srv/uploads --max-size 2GiB --token s3cret
  curl -F file=@notes.txt http://127.0.0.1:8080/upload
  uptask serve --store s3://uploads/incoming --endpoint http://127.0.0.1:8333
      Files and tus uploads in the bucket (keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
      or ~/.aws/credentials). Start as many instances as you like on the same bucket: an
      upload begun on one continues on any other.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Protocol {
    /// One multipart/form-data POST (WeChat-compatible).
    Multipart,
    /// tus 1.0 resumable upload.
    Tus,
    /// S3-compatible multipart upload.
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PartChecksum {
    /// x-amz-checksum-crc32c.
    Crc32c,
    /// Content-MD5.
    Md5,
}

#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    /// The files to upload, then where to (http, https or s3; when the last argument is not a
    /// URL, a built-in server on a free loopback port, storing into ./uptask-uploads). `-`
    /// reads standard input (a pipe needs --protocol tus, which sends it with a deferred
    /// length).
    #[arg(value_name = "FILE... [URL]", required = true)]
    pub(crate) targets: Vec<String>,
    /// With several files: how many upload at once (the rest wait their turn, in order).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) parallel: usize,
    /// The multipart field name of the file.
    #[arg(long, default_value = "file")]
    pub(crate) name: String,
    /// The file name the server sees (default: FILE's own name).
    #[arg(long, value_name = "NAME")]
    pub(crate) file_name: Option<String>,
    /// An extra form field, sent before the file; repeatable.
    #[arg(short = 'F', long = "form", value_name = "KEY=VALUE")]
    pub(crate) form: Vec<String>,
    /// An extra request header; repeatable.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub(crate) header: Vec<String>,
    /// Bound on the whole upload, e.g. 30s or 10m; 0 means none.
    #[arg(long, value_name = "DURATION", default_value = "0")]
    pub(crate) timeout: String,
    /// End the upload when no byte moves for this long; 0 means never.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub(crate) stall_timeout: String,
    /// Send at most this many bytes per second, curl's way: 500K, 2M, 1G (K = 1024 bytes), or
    /// a size such as 1.5MiB or 800kB; 0 means no limit.
    #[arg(long, value_name = "RATE", default_value = "0")]
    pub(crate) limit_rate: String,
    /// multipart: use HTTP/2 (over https when the server offers it; over http, servers that
    /// speak it without an upgrade).
    #[arg(long)]
    pub(crate) http2: bool,
    /// Write one JSON object per event on stdout (NDJSON) instead of a progress bar.
    #[arg(long)]
    pub(crate) json: bool,
    /// The upload protocol.
    #[arg(long, value_enum, default_value = "multipart")]
    pub(crate) protocol: Protocol,
    /// Trust this extra root CA (PEM file) for HTTPS; verification stays on.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Send every request through this HTTP proxy: http://user:pass@host:port, where the
    /// scheme, the credentials and the port (1080) may be left out; "" for none. Without it,
    /// http_proxy, https_proxy, all_proxy (or their upper-case names) apply, as for curl.
    /// https goes through a CONNECT tunnel.
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Reach these hosts directly (comma-separated host suffixes, IPs, 10.0.0.0/8 ranges, or *
    /// for all), replacing NO_PROXY.
    #[arg(long, value_name = "LIST")]
    pub(crate) noproxy: Option<String>,
    /// tus, s3: start a new upload even if an earlier run of the same file to the same target
    /// can be continued (runs otherwise resume: tus from the server's offset, s3 with the parts
    /// the store has).
    #[arg(long)]
    pub(crate) fresh: bool,
    /// tus: at most this many bytes per PATCH (e.g. 8MiB); 0 sends the rest in one.
    #[arg(long, value_name = "SIZE", default_value = "0", help_heading = "tus")]
    pub(crate) chunk_size: String,
    /// tus: upload this many parts of the file at once and join them (needs the concatenation
    /// extension).
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "tus")]
    pub(crate) tus_parallel: usize,
    /// tus: do not send Upload-Checksum even when the server offers the checksum extension.
    #[arg(long, help_heading = "tus")]
    pub(crate) no_checksum: bool,
    /// s3: URL is a signer's (the base of Uppy Companion's S3 routes, e.g. http://host/s3, which
    /// `uptask serve --store` serves): no keys here; the signer picks the key and presigns each
    /// part, the parts go straight to the store (each with its CRC32C signed into its URL, or
    /// Content-MD5 when the signer does not sign checksums), and -H headers go to the signer
    /// only.
    #[arg(long, help_heading = "s3")]
    pub(crate) signer: bool,
    /// s3: the S3-compatible endpoint (default: $AWS_ENDPOINT_URL, the profile's endpoint_url,
    /// else AWS).
    #[arg(long, value_name = "URL", help_heading = "s3")]
    pub(crate) endpoint: Option<String>,
    /// s3: the region (default: $AWS_REGION, the profile's region, else us-east-1).
    #[arg(long, help_heading = "s3")]
    pub(crate) region: Option<String>,
    /// s3: the profile of the shared AWS files (default: $AWS_PROFILE, else default).
    #[arg(long, help_heading = "s3")]
    pub(crate) profile: Option<String>,
    /// s3: the part size of a multipart upload (at least 5MiB); smaller files go in one PUT.
    #[arg(long, value_name = "SIZE", default_value = "8MiB", help_heading = "s3")]
    pub(crate) part_size: String,
    /// s3: how many parts are sent at once.
    #[arg(long, value_name = "N", default_value_t = 4, help_heading = "s3")]
    pub(crate) concurrency: usize,
    /// s3: the checksum the store verifies each part by: crc32c (cheap, computed in hardware;
    /// through a --signer only if it signs them, as uptask serve does, else md5) or md5
    /// (Content-MD5, for stores without the flexible checksums).
    #[arg(long, value_enum, default_value = "crc32c", help_heading = "s3")]
    pub(crate) part_checksum: PartChecksum,
    /// tus and s3: waits before each retry, comma-separated (e.g. 0,1s,3s,5s); empty for no retries.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "0,1s,3s,5s",
        help_heading = "tus"
    )]
    pub(crate) retry_delays: String,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: String,
    /// Where to store uploaded files (unless --store names a bucket).
    #[arg(long, default_value = "./uptask-uploads")]
    pub(crate) dir: PathBuf,
    /// Keep files and tus uploads in an S3 bucket (s3://BUCKET or s3://BUCKET/PREFIX) instead
    /// of --dir: several instances on one bucket act as one server behind a load balancer.
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]", help_heading = "S3 store")]
    pub(crate) store: Option<String>,
    /// The S3-compatible endpoint (default: $AWS_ENDPOINT_URL, the profile's endpoint_url, else
    /// AWS).
    #[arg(long, value_name = "URL", help_heading = "S3 store")]
    pub(crate) endpoint: Option<String>,
    /// The region (default: $AWS_REGION, the profile's region, else us-east-1).
    #[arg(long, help_heading = "S3 store")]
    pub(crate) region: Option<String>,
    /// The profile of the shared AWS files (default: $AWS_PROFILE, else default).
    #[arg(long, help_heading = "S3 store")]
    pub(crate) profile: Option<String>,
    /// The size of the parts uploads are kept in (at least 5MiB).
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "8MiB",
        help_heading = "S3 store"
    )]
    pub(crate) part_size: String,
    /// How long an upload's lock outlives an instance that stopped renewing it (killed, cut
    /// off): another instance may take the upload over after that.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15s",
        help_heading = "S3 store"
    )]
    pub(crate) lock_lease: String,
    /// How long the presigned URLs of the direct-to-store routes (`/s3/`, Uppy Companion's)
    /// stay valid; at most 7d.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15m",
        help_heading = "S3 store"
    )]
    pub(crate) presign_expiry: String,
    /// The largest request accepted (e.g. 10GiB, 500MB, 1048576); larger ones get 413.
    #[arg(long, default_value = "10GiB")]
    pub(crate) max_size: String,
    /// Require `Authorization: Bearer TOKEN` on every request.
    #[arg(long, env = "UPTASK_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Parse uploads but store nothing (a benchmark sink).
    #[arg(long)]
    pub(crate) discard: bool,
    /// Send hook events (pre-create, post-finish, post-terminate) as POST JSON to URL. A
    /// pre-create answer other than 2xx refuses the upload with that answer; post events are
    /// kept in the store until the receiver takes them (at least once).
    #[arg(long, value_name = "URL", help_heading = "Hooks")]
    pub(crate) hooks_http: Option<String>,
    /// How often events the hook receiver has not taken yet are sent again.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Hooks"
    )]
    pub(crate) hooks_retry: String,
    /// Let pages of this origin (scheme://host or scheme://host:port) call with credentials
    /// (cookies, HTTP auth); repeatable. Any origin may call without credentials.
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) allow_origin: Vec<String>,
}
