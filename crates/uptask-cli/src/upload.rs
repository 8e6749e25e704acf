//! `uptask upload`: run one upload, report it, map the outcome to an exit code.

use std::path::PathBuf;

use uptask::{ErrorKind, Notice, UploadError, UploadOptions, UploadSuccess, upload_file};
use uptask_server::{ServerConfig, UploadReply};

use crate::args::UploadArgs;
use crate::exit::{self, Reported, bad};
use crate::output::{json_event, json_line, progress_bar, stdout_text};
use crate::plan;

/// Where the built-in server stores files, as `uptask serve` does by default.
const EMBEDDED_DIR: &str = "./uptask-uploads";

pub(crate) async fn run(args: UploadArgs) -> anyhow::Result<u8> {
    match args.url.clone() {
        Some(url) => {
            let opts = plan::upload_options(&args, &url)?;
            let outcome = transfer(opts, args.json).await?;
            // A tus or S3 upload of a file is kept when it fails: a second run continues it.
            let resumable =
                args.protocol != crate::args::Protocol::Multipart && args.file.as_os_str() != "-";
            conclude(outcome, args.json, resumable, |done| {
                if !args.json {
                    stdout_text(&done.data);
                    if let (Some(url), true) = (&done.upload_url, done.data.is_empty()) {
                        stdout_text(&format!("uploaded: {url}\n"));
                    }
                }
            })
        }
        None => embedded(&args).await,
    }
}

/// No URL: a built-in server on a free loopback port receives the file.
async fn embedded(args: &UploadArgs) -> anyhow::Result<u8> {
    if args.protocol != crate::args::Protocol::Multipart {
        return Err(bad(
            "the built-in server takes multipart uploads: give a URL for --protocol tus or s3",
        ));
    }
    // Check the input before anything is created on disk.
    let probe = plan::upload_options(args, "http://127.0.0.1:1/upload")?;
    check(&probe, args.json)?;

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

    let opts = plan::upload_options(args, &format!("http://{addr}/upload"))?;
    let outcome = transfer(opts, args.json).await;
    let _ = stop.send(());
    let _ = server.await;
    let outcome = outcome?;

    let stored = match &outcome {
        Ok(done) if done.status_code == 200 => serde_json::from_str::<UploadReply>(&done.data)
            .ok()
            .and_then(|r| r.files.into_iter().next()),
        _ => None,
    };
    conclude(outcome, args.json, false, |_| {
        let Some(file) = &stored else { return };
        let path = std::fs::canonicalize(&file.path).unwrap_or_else(|_| PathBuf::from(&file.path));
        if args.json {
            json_event(
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
    })
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

/// Runs the upload with the chosen reporting; Ctrl-C aborts it.
async fn transfer(
    opts: UploadOptions,
    json: bool,
) -> anyhow::Result<Result<UploadSuccess, UploadError>> {
    check(&opts, json)?;
    let task = upload_file(opts);
    let handle = task.handle();
    // A hidden bar (stderr is not a terminal) needs no listener at all.
    let bar = (!json).then(progress_bar).filter(|b| !b.is_hidden());
    if let Some(bar) = &bar {
        let b = bar.clone();
        task.on_progress_update(move |p| {
            b.set_length(p.total_bytes_expected_to_send);
            b.set_position(p.total_bytes_sent);
        });
    } else if json {
        task.on_progress_update(|p| json_event("progressUpdate", p));
        task.on_headers_received(|h| json_event("headersReceived", h));
        task.on_notice(json_line);
    }
    if !json {
        // Parts retried in parallel fail alike: one line for each retry, not one per part.
        let last = std::sync::Mutex::new(String::new());
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
            let mut last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last != line {
                report_line(&line);
                *last = line;
            }
        });
    }
    let mut task = task;
    let outcome = tokio::select! {
        outcome = &mut task => outcome,
        _ = tokio::signal::ctrl_c() => {
            handle.abort();
            task.await
        }
    };
    if let Some(bar) = bar {
        match &outcome {
            Ok(_) => bar.finish_and_clear(),
            Err(_) => bar.abandon(),
        }
    }
    Ok(outcome)
}

/// Reports the outcome (after `on_success` for a completed upload) and picks the exit code; a
/// failed `resumable` upload also says how to continue it.
fn conclude(
    outcome: Result<UploadSuccess, UploadError>,
    json: bool,
    resumable: bool,
    on_success: impl FnOnce(&UploadSuccess),
) -> anyhow::Result<u8> {
    match outcome {
        Ok(done) => {
            on_success(&done);
            if json {
                json_event("success", &done);
            }
            if done.status_code >= 400 {
                // An S3 store explains itself in an XML error document: say what it said.
                let why = uptask_proto::s3::error_of(&done.data)
                    .map(|(code, message)| format!(": {code}: {message}"))
                    .unwrap_or_default();
                report_line(&format!(
                    "the server answered with status {}{why}",
                    done.status_code
                ));
                Err(Reported(exit::HTTP_ERROR).into())
            } else {
                Ok(exit::OK)
            }
        }
        Err(err) => {
            if json {
                json_event("fail", &err);
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
            report_line(&line);
            if resumable && code == exit::FAILED && !json {
                report_line("run the same command again to continue where this upload stopped");
            }
            Err(Reported(code).into())
        }
    }
}

#[expect(clippy::print_stderr, reason = "the one line a failed upload reports")]
fn report_line(line: &str) {
    eprintln!("uptask: {line}");
}
