//! What the user sees: NDJSON events on stdout, or a progress bar on stderr.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
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

/// A progress bar on stderr (bytes, speed, ETA); draws nothing when stderr is not a terminal.
pub(crate) fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}
