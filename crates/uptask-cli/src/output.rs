//! What the user sees: NDJSON events on stdout, or a progress bar on stderr.

use std::io::Write;

use std::sync::{Arc, Mutex, PoisonError};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
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

/// Progress bars on stderr (bytes, speed, ETA): one per file, and a total under several;
/// nothing is drawn when stderr is not a terminal.
#[derive(Clone)]
pub(crate) struct Bars {
    multi: MultiProgress,
    files: Vec<ProgressBar>,
    total: Option<ProgressBar>,
    /// (sent, expected) per file, for the total.
    counts: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Bars {
    pub(crate) fn new(files: usize, with_total: bool) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ")
        };
        let named = if with_total { "{prefix:>16!} " } else { "" };
        let file_style = style(&format!(
            "{named}{{spinner}} [{{bar:30}}] {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}} ETA {{eta}}"
        ));
        let files: Vec<ProgressBar> = (0..files)
            .map(|_| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(file_style.clone());
                bar
            })
            .collect();
        let total = with_total.then(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(style(
                "{prefix:>16!} {spinner} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ));
            bar.set_prefix("total");
            bar
        });
        let counts = Arc::new(Mutex::new(vec![(0, 0); files.len()]));
        Self {
            multi,
            files,
            total,
            counts,
        }
    }

    pub(crate) fn is_hidden(&self) -> bool {
        self.multi.is_hidden()
    }

    pub(crate) fn name(&self, index: usize, name: &str) {
        if let Some(bar) = self.files.get(index) {
            bar.set_prefix(name.to_owned());
        }
    }

    /// File `index` has sent `sent` of `expected` bytes.
    pub(crate) fn set(&self, index: usize, sent: u64, expected: u64) {
        if let Some(bar) = self.files.get(index) {
            bar.set_length(expected);
            bar.set_position(sent);
        }
        if let Some(total) = &self.total {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = counts.get_mut(index) {
                *c = (sent, expected);
            }
            total.set_length(counts.iter().map(|c| c.1).sum());
            total.set_position(counts.iter().map(|c| c.0).sum());
        }
    }

    /// File `index` ended: its bar goes (kept, as it stopped, on failure).
    pub(crate) fn finish(&self, index: usize, ok: bool) {
        if let Some(bar) = self.files.get(index) {
            if ok {
                bar.finish_and_clear();
            } else {
                bar.abandon();
            }
        }
        if let Some(total) = &self.total
            && self.files.iter().all(ProgressBar::is_finished)
        {
            total.finish_and_clear();
        }
    }
}
