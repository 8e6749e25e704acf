//! `uptask upload`: run the uploads, report them, map the outcomes to an exit code.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use uptask::{
    Client, ErrorKind, Notice, UploadError, UploadHandle, UploadOptions, UploadTask, upload_file,
};
use uptask_server::ServerConfig;

use crate::args::{Protocol, UploadArgs};
use crate::bars::Bars;
use crate::exit::{self, Reported, bad};
use crate::output::{self, json_event};
use crate::plan;
use crate::report::{Outcome, Teller, prefixed, report_line};

/// Where the built-in server stores files, as `uptask serve` does by default.
const EMBEDDED_DIR: &str = "./uptask-uploads";

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
    // A hidden bar (stderr is not a terminal) needs no listener at all.
    let bars = (!args.json)
        .then(|| Bars::new(&sizes(&files)))
        .filter(|b| !b.is_hidden());
    let outcomes = transfer(client.as_ref(), &files, all, args.json, bars.as_ref()).await;
    if let Some(server) = server {
        server.stop().await;
    }
    let teller = Teller {
        json: args.json,
        protocol: args.protocol,
        target: args
            .targets
            .last()
            .filter(|_| !embedded)
            .map(String::as_str),
        embedded,
        bars: bars.as_ref(),
        several,
    };
    let code = files
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(index, (file, outcome))| teller.tell(index, file, outcome))
        .max_by_key(|code| severity(*code))
        .unwrap_or(exit::OK);
    if code == exit::OK {
        Ok(code)
    } else {
        Err(Reported(code).into())
    }
}

/// Each file's bar name, and its size when it is a regular file (so a queued file shows it).
fn sizes(files: &[PathBuf]) -> Vec<(String, Option<u64>)> {
    files
        .iter()
        .map(|f| {
            let size = std::fs::metadata(f)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len());
            (f.display().to_string(), size)
        })
        .collect()
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
    bars: Option<&Bars>,
) -> Vec<Outcome> {
    let several = files.len() > 1;
    let mut handles: Vec<UploadHandle> = Vec::with_capacity(files.len());
    let mut running = Vec::with_capacity(files.len());
    for (index, (file, opts)) in files.iter().zip(all).enumerate() {
        let name = several.then_some(file.as_path());
        let task = match client {
            Some(client) => client.upload_file(opts),
            None => upload_file(opts),
        };
        watch(&task, name, json, bars.map(|b| (b, index)));
        handles.push(task.handle());
        let bars = bars.cloned();
        running.push(tokio::spawn(async move {
            let outcome = task.await;
            // The bar ends with its upload, not when the ones before it are joined.
            if let Some(bars) = bars {
                bars.finish(index, ended(&outcome));
            }
            outcome
        }));
    }
    let mut outcomes = Vec::with_capacity(running.len());
    let mut interrupted = false;
    for mut join in running {
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
        outcomes.push(joined.unwrap_or_else(|e| {
            Err(UploadError::new(
                ErrorKind::Internal,
                format!("the upload stopped without a result: {e}"),
            ))
        }));
    }
    outcomes
}

/// What a bar says when its upload ended without success.
fn ended(outcome: &Outcome) -> Result<(), &'static str> {
    match outcome {
        Ok(done) if done.status_code < 400 => Ok(()),
        Ok(_) => Err("refused"),
        Err(e) if e.is_aborted() => Err("aborted"),
        Err(_) => Err("failed"),
    }
}

/// Attaches the reporting listeners of one upload: NDJSON events (naming `file` when there
/// are several), or its bar, plus a line per retry.
fn watch(task: &UploadTask, file: Option<&Path>, json: bool, bar: Option<(&Bars, usize)>) {
    let name = file.map(|f| f.display().to_string());
    if let Some((bars, index)) = bar {
        let b = bars.clone();
        task.on_progress_update(move |p| b.progress(index, p));
        let b = bars.clone();
        task.on_notice(move |n| {
            if matches!(n, Notice::Dequeued { .. }) {
                b.starting(index);
            }
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
        let bars = bar.map(|(b, _)| b.clone());
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
                match &bars {
                    // Above the bars, which would draw over a line written past them.
                    Some(bars) => bars.println(&prefixed(name.as_deref(), &line)),
                    None => report_line(name.as_deref(), &line),
                }
                *last = line;
            }
        });
    }
}
