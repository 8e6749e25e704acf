//! The progress bars a person sees on stderr: one per file, and a total under several.
//!
//! Every number drawn comes from uptask's own progress events (bytes the socket took, the
//! speed and time left that the library measured), never from estimates of the bar's own,
//! so the bar agrees with `--json`. A file waiting for its turn shows its size and "queued".
//!
//! The frame is redrawn at most ten times a second, from a thread of its own, whenever an
//! event changed it. Lines stop short of the terminal's width, so none wraps: the frame's
//! height is its line count, and what the terminal echoes (a `^C`) lands on the line below
//! it, which the next frame clears, instead of leaving a copy of the bar above it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use console::Term;
use uptask::ProgressUpdate;

/// How often a changed frame is drawn again.
const FRAME: Duration = Duration::from_millis(100);
/// The width of the bar itself, between its brackets.
const BAR_WIDTH: usize = 30;
/// Columns kept free at the right edge (see the module doc).
const RIGHT_MARGIN: usize = 3;
/// The widest file name drawn before a bar; longer ones keep their end.
const NAME_WIDTH: usize = 16;

/// How a file's upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Queued,
    Starting,
    Running,
    Done,
    Failed(&'static str),
}

/// One file's bar.
#[derive(Debug, Clone)]
struct FileBar {
    name: String,
    sent: u64,
    expected: u64,
    /// uptask's measured speed and time left, from the last event.
    speed: Option<u64>,
    eta: Option<u64>,
    stage: Stage,
    started: Option<Instant>,
    took: Option<Duration>,
}

struct State {
    files: Vec<FileBar>,
    several: bool,
    term: Term,
    /// Lines of the last frame, which the next one overwrites.
    drawn: usize,
    dirty: bool,
}

/// Progress bars on stderr; nothing is drawn when stderr is not a terminal.
#[derive(Clone)]
pub(crate) struct Bars {
    state: Arc<Mutex<State>>,
    hidden: bool,
}

impl Bars {
    /// Bars for files of these sizes (`None` when not known before reading, as for stdin),
    /// named when there are several, with a total under them.
    pub(crate) fn new(files: &[(String, Option<u64>)]) -> Self {
        let term = Term::buffered_stderr();
        let hidden = !term.is_term();
        // A Windows console takes the frame's escape sequences only once asked to, which
        // this does.
        #[cfg(windows)]
        let _ = term.features().colors_supported();
        let bars = Self::with_term(files, term, hidden);
        if !hidden {
            let state = Arc::downgrade(&bars.state);
            std::thread::spawn(move || redraw_while_alive(&state));
        }
        bars
    }

    fn with_term(files: &[(String, Option<u64>)], term: Term, hidden: bool) -> Self {
        let several = files.len() > 1;
        let files = files
            .iter()
            .map(|(name, size)| FileBar {
                name: name.clone(),
                sent: 0,
                expected: size.unwrap_or(0),
                speed: None,
                eta: None,
                stage: if several {
                    Stage::Queued
                } else {
                    Stage::Starting
                },
                started: None,
                took: None,
            })
            .collect();
        Self {
            state: Arc::new(Mutex::new(State {
                files,
                several,
                term,
                drawn: 0,
                dirty: true,
            })),
            hidden,
        }
    }

    pub(crate) fn is_hidden(&self) -> bool {
        self.hidden
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Changes file `index`'s bar; the next frame shows it.
    fn change(&self, index: usize, f: impl FnOnce(&mut FileBar)) {
        let mut state = self.state();
        if let Some(file) = state.files.get_mut(index) {
            f(file);
            state.dirty = true;
        }
    }

    /// File `index` left the queue and is starting.
    pub(crate) fn starting(&self, index: usize) {
        self.change(index, |f| f.stage = Stage::Starting);
    }

    /// File `index` reported progress.
    pub(crate) fn progress(&self, index: usize, p: &ProgressUpdate) {
        self.change(index, |f| {
            f.started.get_or_insert_with(Instant::now);
            f.stage = Stage::Running;
            f.sent = p.total_bytes_sent;
            f.expected = p.total_bytes_expected_to_send;
            f.speed = p.speed;
            f.eta = p.eta;
        });
    }

    /// File `index` ended: its bar goes on success, and stays as it stopped, saying why, on
    /// failure. The frame is drawn at once, so it is right before anything else is printed.
    pub(crate) fn finish(&self, index: usize, ended: Result<(), &'static str>) {
        self.change(index, |f| {
            f.took = Some(f.started.map(|s| s.elapsed()).unwrap_or_default());
            f.stage = match ended {
                Ok(()) => Stage::Done,
                Err(why) => Stage::Failed(why),
            };
        });
        if !self.hidden {
            self.state().paint();
        }
    }

    /// The bytes file `index` sent and how long that took, once it ended.
    pub(crate) fn summary(&self, index: usize) -> Option<(u64, Duration)> {
        let state = self.state();
        let file = state.files.get(index)?;
        Some((file.sent, file.took?))
    }

    /// Prints a line above the bars.
    pub(crate) fn println(&self, line: &str) {
        let mut state = self.state();
        state.print_above(line);
        state.paint();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Plain numbers and a terminal handle: a panic elsewhere cannot leave them inconsistent.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Draws every changed frame until the bars are gone.
fn redraw_while_alive(state: &Weak<Mutex<State>>) {
    while let Some(state) = state.upgrade() {
        {
            let mut state = lock(&state);
            if state.dirty {
                state.paint();
            }
        }
        drop(state);
        std::thread::sleep(FRAME);
    }
}

impl State {
    /// The frame's lines: every file not yet done (a failed one keeps its line), then the
    /// total while anything runs.
    fn lines(&self) -> Vec<String> {
        let width = usize::from(self.term.size().1).saturating_sub(RIGHT_MARGIN);
        let mut lines: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.stage != Stage::Done)
            .map(|f| {
                let name = self.several.then_some(f.name.as_str());
                let message = match &f.stage {
                    Stage::Queued => "queued".to_owned(),
                    Stage::Starting => "starting".to_owned(),
                    Stage::Running => rate_text(f.speed, f.eta),
                    Stage::Done => String::new(),
                    Stage::Failed(why) => (*why).to_owned(),
                };
                // Standard input's length is learnt as it is read: unknown until then.
                let unknown = f.expected == 0 && matches!(f.stage, Stage::Queued | Stage::Starting);
                bar_line(name, f.sent, (!unknown).then_some(f.expected), &message)
            })
            .collect();
        let running = self
            .files
            .iter()
            .any(|f| !matches!(f.stage, Stage::Done | Stage::Failed(_)));
        if self.several && running {
            let (sent, expected) = self
                .files
                .iter()
                .fold((0, 0), |(s, e), f| (s + f.sent, e + f.expected));
            // The speed of the uploads under way, each as uptask measured it.
            let speed: u64 = self
                .files
                .iter()
                .filter(|f| f.stage == Stage::Running)
                .filter_map(|f| f.speed)
                .sum();
            let eta = (speed > 0).then(|| expected.saturating_sub(sent).div_ceil(speed));
            let message = rate_text((speed > 0).then_some(speed), eta);
            lines.push(bar_line(Some("total"), sent, Some(expected), &message));
        }
        lines
            .into_iter()
            .map(|l| console::truncate_str(&l, width, "").into_owned())
            .collect()
    }

    /// Draws the frame over the last one. Once nothing runs, the last frame (failed files
    /// only) stays on the screen and the next output goes below it.
    fn paint(&mut self) {
        self.dirty = false;
        let lines = self.lines();
        let _ = self.term.write_str(&frame(self.drawn, &lines));
        self.drawn = lines.len();
        let _ = self.term.flush();
        if self
            .files
            .iter()
            .all(|f| matches!(f.stage, Stage::Done | Stage::Failed(_)))
        {
            self.drawn = 0;
        }
    }

    /// Writes `line` where the frame's first row is; the next `paint` draws the frame below.
    fn print_above(&mut self, line: &str) {
        let _ = self.term.write_str(&format!(
            "{}{line}{CLEAR_RIGHT}\n",
            to_first_row(self.drawn)
        ));
        self.drawn = 0;
    }
}

/// Erases from the cursor to the end of its row.
const CLEAR_RIGHT: &str = "\x1b[K";
/// Erases from the cursor to the end of the screen.
const CLEAR_BELOW: &str = "\x1b[J";

/// The bytes that turn a frame of `drawn` rows, with the cursor on the row below it, into
/// `lines`. Each row is overwritten where it stands rather than the old frame being cleared
/// first: a terminal reads the frame in pieces, and a piece that ends mid-frame must show
/// every bar (old or new), never a blank screen. What is left below (rows of a taller frame,
/// the `^C` the terminal echoed) is erased last.
fn frame(drawn: usize, lines: &[String]) -> String {
    let mut out = to_first_row(drawn);
    for line in lines {
        out.push_str(line);
        out.push_str(CLEAR_RIGHT);
        out.push('\n');
    }
    out.push_str(CLEAR_BELOW);
    out
}

/// From the row below a frame of `drawn` rows to the start of its first row.
fn to_first_row(drawn: usize) -> String {
    match drawn {
        0 => "\r".to_owned(),
        n => format!("\r\x1b[{n}A"),
    }
}

/// `    name.bin [=====>      ] 1.50 MiB/3.00 MiB 2.00 MiB/s ETA 1s`; a `total` not known yet
/// is drawn as `?`.
fn bar_line(name: Option<&str>, sent: u64, total: Option<u64>, message: &str) -> String {
    let expected = total.unwrap_or(0);
    let filled = if expected == 0 {
        0
    } else {
        let share = u128::from(sent.min(expected)) * BAR_WIDTH as u128 / u128::from(expected);
        usize::try_from(share).unwrap_or(BAR_WIDTH)
    };
    let bar = match filled {
        0 => format!("{:BAR_WIDTH$}", ""),
        BAR_WIDTH => "=".repeat(BAR_WIDTH),
        n => format!("{}>{}", "=".repeat(n - 1), " ".repeat(BAR_WIDTH - n)),
    };
    let name = name
        .map(|n| format!("{:>NAME_WIDTH$} ", tail(n, NAME_WIDTH)))
        .unwrap_or_default();
    let total = total.map_or_else(|| "?".to_owned(), bytes_text);
    let counts = format!("{}/{total}", bytes_text(sent));
    format!("{name}[{bar}] {counts} {message}")
        .trim_end()
        .to_owned()
}

/// The last `width` characters of `name`, marked with `…` when cut.
fn tail(name: &str, width: usize) -> String {
    let count = name.chars().count();
    if count <= width {
        return name.to_owned();
    }
    let kept: String = name.chars().skip(count - (width - 1)).collect();
    format!("…{kept}")
}

/// `150 B`, `3.00 MiB`: binary units with two decimals.
fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// `12.00 MiB/s ETA 4s`, from uptask's measurement; empty until it has one.
fn rate_text(speed: Option<u64>, eta: Option<u64>) -> String {
    let Some(speed) = speed else {
        return String::new();
    };
    let eta = eta
        .map(|s| format!(" ETA {}", duration_text(s)))
        .unwrap_or_default();
    format!("{}/s{eta}", bytes_text(speed))
}

/// `4s`, `1m05s`, `2h03m`.
fn duration_text(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The human result of a finished upload: `64.00 MiB in 3.2s (20.00 MiB/s)`.
pub(crate) fn summary(bytes: u64, took: Duration) -> String {
    let secs = took.as_secs_f64();
    if secs < 0.05 {
        return bytes_text(bytes);
    }
    let speed = (bytes as f64 / secs) as u64;
    format!(
        "{} in {secs:.1}s ({}/s)",
        bytes_text(bytes),
        bytes_text(speed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_as_a_person_expects() {
        assert_eq!(rate_text(None, None), "");
        assert_eq!(rate_text(Some(3 << 20), Some(65)), "3.00 MiB/s ETA 1m05s");
        assert_eq!(rate_text(Some(1024), None), "1.00 KiB/s");
        assert_eq!(duration_text(7300), "2h01m");
        assert_eq!(bytes_text(150), "150 B");
        assert_eq!(bytes_text(5 << 30), "5.00 GiB");
        assert_eq!(
            summary(64 << 20, Duration::from_millis(3200)),
            "64.00 MiB in 3.2s (20.00 MiB/s)"
        );
        assert_eq!(summary(10, Duration::ZERO), "10 B");
        assert_eq!(tail("a-rather-long-file-name.bin", 10), "…-name.bin");
    }

    #[test]
    fn a_length_not_known_yet_is_not_drawn_as_zero() {
        let bars = hidden(&[("-".into(), None)]);
        let lines = bars.state().lines();
        assert!(lines[0].ends_with("] 0 B/? starting"), "{lines:?}");
        // An empty file that was sent is 0 of 0, as it should be.
        bars.progress(0, &ProgressUpdate::new(0, 0));
        let lines = bars.state().lines();
        assert!(lines[0].ends_with("] 0 B/0 B"), "{lines:?}");
    }

    #[test]
    fn a_bar_fills_with_the_bytes_sent() {
        let empty = bar_line(None, 0, Some(100), "queued");
        assert_eq!(empty, format!("[{}] 0 B/100 B queued", " ".repeat(30)));
        let half = bar_line(Some("a.bin"), 50, Some(100), "");
        assert_eq!(
            half,
            format!(
                "           a.bin [{}>{}] 50 B/100 B",
                "=".repeat(14),
                " ".repeat(15)
            )
        );
        assert!(bar_line(None, 100, Some(100), "").starts_with(&format!("[{}]", "=".repeat(30))));
    }

    fn hidden(files: &[(String, Option<u64>)]) -> Bars {
        Bars::with_term(files, Term::buffered_stderr(), true)
    }

    #[test]
    fn the_total_adds_up_the_files_and_their_measured_speeds() {
        let bars = hidden(&[("a".into(), Some(100)), ("b".into(), Some(300))]);
        let lines = bars.state().lines();
        assert!(lines[1].ends_with("0 B/300 B queued"), "{lines:?}");
        assert!(lines[2].contains("total ["), "{lines:?}");
        assert!(
            lines[2].contains("0 B/400 B"),
            "sizes known before any event"
        );
        bars.progress(0, &ProgressUpdate::new(50, 120).with_speed(10));
        bars.progress(1, &ProgressUpdate::new(30, 320).with_speed(20));
        let lines = bars.state().lines();
        assert!(lines[0].ends_with("50 B/120 B 10 B/s ETA 7s"), "{lines:?}");
        assert!(lines[2].ends_with("80 B/440 B 30 B/s ETA 12s"), "{lines:?}");
        assert!(bars.summary(0).is_none(), "still running");
        bars.finish(0, Ok(()));
        assert_eq!(bars.summary(0).map(|s| s.0), Some(50));
        bars.progress(1, &ProgressUpdate::new(60, 320).with_speed(20));
        let lines = bars.state().lines();
        assert_eq!(lines.len(), 2, "a finished file's bar goes: {lines:?}");
        assert!(
            lines[1].ends_with("110 B/440 B 20 B/s ETA 17s"),
            "{lines:?}"
        );
        bars.finish(1, Err("failed"));
        let lines = bars.state().lines();
        assert_eq!(
            lines.len(),
            1,
            "the total goes once nothing runs: {lines:?}"
        );
        assert!(lines[0].ends_with("60 B/320 B failed"), "{lines:?}");
    }

    /// Rows of a VT100 screen after `bytes` went through a terminal (which turns `\n` into
    /// `\r\n`), trailing blanks trimmed, blank rows dropped.
    fn screen_after(parser: &mut vt100::Parser, bytes: &str) -> Vec<String> {
        parser.process(bytes.replace('\n', "\r\n").as_bytes());
        parser
            .screen()
            .rows(0, 80)
            .map(|r| r.trim_end().to_owned())
            .filter(|r| !r.is_empty())
            .collect()
    }

    #[test]
    fn a_frame_read_in_pieces_never_shows_fewer_bars() {
        let old: Vec<String> = ["a 1", "b 1", "total 2"].map(String::from).into();
        let new: Vec<String> = ["a 2", "b 2", "total 4"].map(String::from).into();
        let mut parser = vt100::Parser::new(10, 80, 0);
        let mut shown = screen_after(&mut parser, &format!("above\n{}", frame(0, &old)));
        assert_eq!(shown, ["above", "a 1", "b 1", "total 2"]);
        // A terminal may read the frame up to any line's end; each piece shows three bars.
        let next = frame(old.len(), &new);
        for piece in next.split_inclusive('\n') {
            shown = screen_after(&mut parser, piece);
            assert_eq!(shown.len(), 4, "{shown:?} after {piece:?}");
        }
        assert_eq!(shown, ["above", "a 2", "b 2", "total 4"]);
        // A shorter frame leaves nothing of the taller one, nor the `^C` echoed below it.
        screen_after(&mut parser, "^C");
        shown = screen_after(&mut parser, &frame(new.len(), &new[1..]));
        assert_eq!(shown, ["above", "b 2", "total 4"]);
    }
}
