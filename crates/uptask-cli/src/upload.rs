//! `uptask upload`: run the uploads, report them, map the outcomes to an exit code.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use uptask::{
    Client, ErrorKind, Notice, UploadError, UploadHandle, UploadOptions, UploadSuccess, UploadTask,
    upload_file,
};
use uptask_server::{ServerConfig, UploadReply};

use crate::args::{Protocol, UploadArgs};
use crate::exit::{self, Reported, bad};
use crate::output::{self, Bars, json_event, stdout_text};
use crate::plan;

/// Where the built-in server stores files, as `uptask serve` does by default.
const EMBEDDED_DIR: &str = "./uptask-uploads";

/// An upload's outcome.
type Outcome = Result<UploadSuccess, UploadError>;

pub(crate) async fn run(args: UploadArgs) -> anyhow::Result<u8> {
    let (files, url) = plan::targets(&args)?;
    let rate = plan::limit_rate(&args.limit_rate)?;
    let embedded = url.is_none();
    if embedded && args.protocol != Protocol::Multipart {
        return Err(bad(
            "the built-in server takes multipart uploads: give a URL for --protocol tus or s3",
        ));
    }
    // Every file is checked before anything is sent, or created on disk: the built-in
    // server's address is not known yet, so a stand-in checks the rest.
    let target = url.unwrap_or_else(|| "http://127.0.0.1:1/upload".to_owned());
    let mut all = Vec::with_capacity(files.len());
    for file in &files {
        let opts = plan::upload_options(&args, file, &target)?;
        check(&opts, args.json)?;
        all.push(opts);
    }
    let server = if embedded {
        let server = Embedded::start().await?;
        // The same options, aimed at it.
        all = files
            .iter()
            .map(|file| plan::upload_options(&args, file, &server.url))
            .collect::<anyhow::Result<_>>()?;
        Some(server)
    } else {
        None
    };
    let several = files.len() > 1;
    // One file runs alone under its own limit; several share a client's slots and limit.
    let client = several.then(|| {
        let client = Client::new().max_concurrent(args.parallel);
        if rate > 0 {
            client.limit_rate(rate)
        } else {
            client
        }
    });
    if !several && rate > 0 {
        all = all.into_iter().map(|opts| opts.limit_rate(rate)).collect();
    }
    let outcomes = transfer(client.as_ref(), &files, all, args.json).await;
    if let Some(server) = server {
        server.stop().await;
    }
    let code = files
        .iter()
        .zip(outcomes)
        .map(|(file, outcome)| {
            // A tus or S3 upload of a file is kept when it fails: a second run continues it.
            let resumable = args.protocol != Protocol::Multipart && file.as_os_str() != "-";
            report(
                several.then_some(file),
                outcome,
                args.json,
                resumable,
                embedded,
            )
        })
        .max_by_key(|code| severity(*code))
        .unwrap_or(exit::OK);
    if code == exit::OK {
        Ok(code)
    } else {
        Err(Reported(code).into())
    }
}

/// Which exit code wins when files end differently: an abort, then a failure, then bad
/// input, then an HTTP error status.
fn severity(code: u8) -> u8 {
    match code {
        exit::ABORTED => 4,
        exit::FAILED => 3,
        exit::BAD_INPUT => 2,
        exit::HTTP_ERROR => 1,
        _ => 0,
    }
}

/// The built-in server on a free loopback port, for runs without a URL.
struct Embedded {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Embedded {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(uptask_server::serve(
            listener,
            ServerConfig::new(EMBEDDED_DIR),
            async {
                let _ = stopped.await;
            },
        ));
        tracing::debug!(%addr, "built-in server started");
        Ok(Self {
            url: format!("http://{addr}/upload"),
            stop,
            server,
        })
    }

    /// Stops the server once the uploads are done, letting requests in flight finish.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// Rejects bad options with exit 2 before anything is sent or created.
fn check(opts: &UploadOptions, json: bool) -> anyhow::Result<()> {
    opts.validate().map_err(|e| {
        if json {
            json_event("fail", &e);
        }
        bad(e.detail())
    })
}

/// Runs the uploads (several through `client`, so at most `--parallel` at once, in order)
/// with a bar each and a total under several, or NDJSON events naming their file when there
/// are several; Ctrl-C aborts them all.
async fn transfer(
    client: Option<&Client>,
    files: &[PathBuf],
    all: Vec<UploadOptions>,
    json: bool,
) -> Vec<Outcome> {
    let several = files.len() > 1;
    // A hidden bar (stderr is not a terminal) needs no listener at all.
    let bars = (!json)
        .then(|| Bars::new(files.len(), several))
        .filter(|b| !b.is_hidden());
    let mut handles: Vec<UploadHandle> = Vec::with_capacity(files.len());
    let mut running = Vec::with_capacity(files.len());
    for (index, (file, opts)) in files.iter().zip(all).enumerate() {
        let name = several.then_some(file.as_path());
        if let (Some(bars), Some(name)) = (&bars, name) {
            bars.name(index, &name.display().to_string());
        }
        let task = match client {
            Some(client) => client.upload_file(opts),
            None => upload_file(opts),
        };
        watch(&task, name, json, bars.as_ref().map(|b| (b, index)));
        handles.push(task.handle());
        running.push(tokio::spawn(task));
    }
    let mut outcomes = Vec::with_capacity(running.len());
    let mut interrupted = false;
    for (index, mut join) in running.into_iter().enumerate() {
        let joined = if interrupted {
            join.await
        } else {
            tokio::select! {
                joined = &mut join => joined,
                _ = tokio::signal::ctrl_c() => {
                    interrupted = true;
                    for handle in &handles {
                        handle.abort();
                    }
                    join.await
                }
            }
        };
        let outcome = joined.unwrap_or_else(|e| {
            Err(UploadError::new(
                ErrorKind::Internal,
                format!("the upload stopped without a result: {e}"),
            ))
        });
        if let Some(bars) = &bars {
            bars.finish(index, outcome.is_ok());
        }
        outcomes.push(outcome);
    }
    outcomes
}

/// Attaches the reporting listeners of one upload: NDJSON events (naming `file` when there
/// are several), or its bar, plus a line per retry.
fn watch(task: &UploadTask, file: Option<&Path>, json: bool, bar: Option<(&Bars, usize)>) {
    let name = file.map(|f| f.display().to_string());
    if let Some((bars, index)) = bar {
        let bars = bars.clone();
        task.on_progress_update(move |p| {
            bars.set(index, p.total_bytes_sent, p.total_bytes_expected_to_send);
        });
    } else if json {
        let n = name.clone();
        task.on_progress_update(move |p| output::json_event_of(n.as_deref(), "progressUpdate", p));
        let n = name.clone();
        task.on_headers_received(move |h| {
            output::json_event_of(n.as_deref(), "headersReceived", h);
        });
        let n = name.clone();
        task.on_notice(move |notice| output::json_notice(n.as_deref(), notice));
    }
    if !json {
        // Parts retried in parallel fail alike: one line for each retry, not one per part.
        let last = Mutex::new(String::new());
        task.on_notice(move |n| {
            let line = match n {
                Notice::Resumed { offset } if *offset > 0 => {
                    format!("continuing: {offset} bytes are already there")
                }
                Notice::Retrying {
                    attempt,
                    delay_ms,
                    error,
                } => format!(
                    "{error}; retry {attempt} in {:.1}s",
                    *delay_ms as f64 / 1000.0
                ),
                _ => return,
            };
            let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
            if *last != line {
                report_line(name.as_deref(), &line);
                *last = line;
            }
        });
    }
}

/// Reports one file's outcome and returns its exit code; a failed `resumable` upload also says
/// how to continue it. With `embedded`, a success says where the built-in server stored it.
fn report(
    file: Option<&PathBuf>,
    outcome: Outcome,
    json: bool,
    resumable: bool,
    embedded: bool,
) -> u8 {
    let name = file.map(|f| f.display().to_string());
    let name = name.as_deref();
    match outcome {
        Ok(done) => {
            if !json && name.is_some() {
                stdout_text(&format!("==> {} <==\n", name.unwrap_or_default()));
            }
            if embedded {
                stored(name, &done, json);
            } else if !json {
                stdout_text(&done.data);
                if let (Some(url), true) = (&done.upload_url, done.data.is_empty()) {
                    stdout_text(&format!("uploaded: {url}\n"));
                }
            }
            if json {
                output::json_event_of(name, "success", &done);
            }
            if done.status_code >= 400 {
                // An S3 store explains itself in an XML error document: say what it said.
                let why = uptask_proto::s3::error_of(&done.data)
                    .map(|(code, message)| format!(": {code}: {message}"))
                    .unwrap_or_default();
                report_line(
                    name,
                    &format!("the server answered with status {}{why}", done.status_code),
                );
                exit::HTTP_ERROR
            } else {
                exit::OK
            }
        }
        Err(err) => {
            if json {
                output::json_event_of(name, "fail", &err);
            }
            let code = match err.kind() {
                ErrorKind::Aborted => exit::ABORTED,
                ErrorKind::InvalidInput => exit::BAD_INPUT,
                _ => exit::FAILED,
            };
            let line = if err.is_aborted() {
                "upload aborted".to_owned()
            } else {
                err.detail()
            };
            report_line(name, &line);
            if resumable && code == exit::FAILED && !json {
                report_line(
                    name,
                    "run the same command again to continue where this upload stopped",
                );
            }
            code
        }
    }
}

/// Where the built-in server stored the file, and the sha256 it computed while receiving it.
fn stored(name: Option<&str>, done: &UploadSuccess, json: bool) {
    let Some(file) = (done.status_code == 200)
        .then(|| serde_json::from_str::<UploadReply>(&done.data).ok())
        .flatten()
        .and_then(|r| r.files.into_iter().next())
    else {
        return;
    };
    let path = std::fs::canonicalize(&file.path).unwrap_or_else(|_| PathBuf::from(&file.path));
    if json {
        output::json_event_of(
            name,
            "stored",
            &serde_json::json!({ "path": path, "sha256": file.sha256, "size": file.size }),
        );
    } else {
        stdout_text(&format!(
            "stored: {}\nsha256: {}\n",
            path.display(),
            file.sha256
        ));
    }
}

#[expect(clippy::print_stderr, reason = "the lines a run reports")]
fn report_line(file: Option<&str>, line: &str) {
    match file {
        Some(file) => eprintln!("uptask: {file}: {line}"),
        None => eprintln!("uptask: {line}"),
    }
}
