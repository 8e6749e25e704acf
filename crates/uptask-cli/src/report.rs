//! How a run tells what became of each upload: the response body on stdout (one line for S3
//! instead of the store's XML), a result line for a person, or the NDJSON `success`/`fail`
//! events; and the exit code each outcome maps to.

use std::io::IsTerminal;
use std::path::PathBuf;

use uptask::{ErrorKind, UploadError, UploadSuccess};
use uptask_server::UploadReply;

use crate::args::Protocol;
use crate::bars::{self, Bars};
use crate::exit;
use crate::output::{self, stdout_text};

/// An upload's outcome.
pub(crate) type Outcome = Result<UploadSuccess, UploadError>;

/// What every upload of one run is told with.
pub(crate) struct Teller<'a> {
    pub(crate) json: bool,
    pub(crate) protocol: Protocol,
    /// The URL as given (`s3://bucket/key` names the object in the result line).
    pub(crate) target: Option<&'a str>,
    /// The built-in server received the uploads: say where it stored them.
    pub(crate) embedded: bool,
    pub(crate) bars: Option<&'a Bars>,
    /// Several files: each is named, and each body ends with a newline.
    pub(crate) several: bool,
}

impl Teller<'_> {
    /// Reports file `index`'s outcome and returns its exit code; a failed resumable upload
    /// also says how to continue it.
    pub(crate) fn tell(&self, index: usize, file: &std::path::Path, outcome: Outcome) -> u8 {
        let name = self.several.then(|| file.display().to_string());
        let name = name.as_deref();
        match outcome {
            Ok(done) => self.success(index, name, &done),
            Err(err) => {
                if self.json {
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
                // A tus or S3 upload of a file is kept when it fails: a second run continues it.
                let resumable = self.protocol != Protocol::Multipart && file.as_os_str() != "-";
                if resumable && code == exit::FAILED && !self.json {
                    report_line(
                        name,
                        "run the same command again to continue where this upload stopped",
                    );
                }
                code
            }
        }
    }

    fn success(&self, index: usize, name: Option<&str>, done: &UploadSuccess) -> u8 {
        if self.json {
            if self.embedded {
                stored(name, done, true);
            }
            output::json_event_of(name, "success", done);
        } else {
            if let Some(name) = name {
                stdout_text(&format!("==> {name} <==\n"));
            }
            if self.embedded {
                stored(name, done, false);
            } else {
                self.body(done);
            }
            if let (Some(bars), true) = (self.bars, done.status_code < 400)
                && let Some((bytes, took)) = bars.summary(index)
            {
                report_line(
                    name,
                    &format!(
                        "done: {}, status {}",
                        bars::summary(bytes, took),
                        done.status_code
                    ),
                );
            }
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

    /// The response for a person: the body as the server sent it, except for a completed S3
    /// upload, which is one line naming the object (where a signer put it) and its ETag; a tus
    /// server's empty body gives way to the upload's URL.
    fn body(&self, done: &UploadSuccess) {
        let s3_done = self.protocol == Protocol::S3 && done.status_code < 400;
        // A signer's completion answers in JSON, and an ETag on that answer (Companion's web
        // framework adds one) is the JSON's, not the object's.
        let signer_json = done.data.trim_start().starts_with('{');
        let etag = (s3_done && !signer_json)
            .then(|| {
                done.header
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
                    .map(|(_, v)| v.clone())
                    .or_else(|| uptask_proto::s3::completed_etag(&done.data))
            })
            .flatten();
        let object = done.upload_url.as_deref().or(self.target);
        match (etag, object) {
            (Some(etag), object) => {
                let object = object.unwrap_or_default();
                stdout_text(&format!("uploaded {object} (ETag {etag})\n"));
                return;
            }
            (None, Some(object)) if s3_done && done.upload_url.is_some() => {
                stdout_text(&format!("uploaded {object}\n"));
                return;
            }
            _ => {}
        }
        stdout_text(&done.data);
        if let (Some(url), true) = (&done.upload_url, done.data.is_empty()) {
            stdout_text(&format!("uploaded: {url}\n"));
        } else if !done.data.is_empty()
            && !done.data.ends_with('\n')
            && (self.several || std::io::stdout().is_terminal())
        {
            // The next file's header, or the shell's prompt, starts on a line of its own.
            stdout_text("\n");
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
pub(crate) fn report_line(file: Option<&str>, line: &str) {
    eprintln!("{}", prefixed(file, line));
}

/// `uptask: [file: ]line`.
pub(crate) fn prefixed(file: Option<&str>, line: &str) -> String {
    match file {
        Some(file) => format!("uptask: {file}: {line}"),
        None => format!("uptask: {line}"),
    }
}
