//! What scripts read: NDJSON events and text on stdout.

use std::io::Write;

use serde::Serialize;

/// One NDJSON line: `{"event": NAME, ...fields of body}`.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    event: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Writes one event line to stdout and flushes it, so consumers see it at once.
pub(crate) fn json_event<T: Serialize>(event: &str, body: &T) {
    json_line(&Tagged { event, body });
}

/// Writes a value that names its own event (a notice) as one line.
pub(crate) fn json_line<T: Serialize>(value: &T) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not kill the upload; the outcome still sets the exit code.
    if serde_json::to_writer(&mut out, value).is_ok() {
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
}

/// Writes raw text to stdout.
pub(crate) fn stdout_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// One NDJSON event of the upload of `file` (named in the line when given).
pub(crate) fn json_event_of<T: Serialize>(file: Option<&str>, event: &str, body: &T) {
    match file {
        None => json_event(event, body),
        Some(file) => json_line(&FileTagged { event, file, body }),
    }
}

/// A notice (which names its own event), with `file` when given.
pub(crate) fn json_notice<T: Serialize>(file: Option<&str>, notice: &T) {
    match file {
        None => json_line(notice),
        Some(file) => json_line(&FileNotice { file, notice }),
    }
}

#[derive(Serialize)]
struct FileTagged<'a, T: Serialize> {
    event: &'a str,
    file: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Serialize)]
struct FileNotice<'a, T: Serialize> {
    file: &'a str,
    #[serde(flatten)]
    notice: &'a T,
}
