//! What a person sees: `uptask upload` in a real pseudo-terminal (120×20), its output read
//! back through a VT100 screen. The bars must move while bytes do (two looks a second apart,
//! under `--limit-rate` or against a server that reads slowly), never read `0 B/0 B`, and give
//! way to the result lines.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use super::{s3_args, server, weed};

const ROWS: u16 = 20;
const COLS: u16 = 120;

/// `uptask` running in a pseudo-terminal, and the screen it has drawn so far.
struct Term {
    screen: Arc<Mutex<vt100::Parser>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    reader: Option<std::thread::JoinHandle<()>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Term {
    fn spawn(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("uptask"));
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env("UPTASK_CACHE_DIR", dir.join("cache"));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        // Only the child holds the terminal's other end: its exit ends our reads.
        drop(pair.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 200)));
        let mut from = pair.master.try_clone_reader().unwrap();
        let to = Arc::clone(&screen);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Linux answers EIO once the child's side is closed: the end, like EOF.
            while let Ok(n @ 1..) = from.read(&mut buf) {
                to.lock().unwrap().process(&buf[..n]);
            }
        });
        let writer = pair.master.take_writer().unwrap();
        Self {
            screen,
            child,
            writer,
            reader: Some(reader),
            _master: pair.master,
        }
    }

    /// The visible screen, row by row, trailing blanks trimmed.
    fn lines(&self) -> Vec<String> {
        let parser = self.screen.lock().unwrap();
        parser
            .screen()
            .rows(0, COLS)
            .map(|r| r.trim_end().to_owned())
            .collect()
    }

    fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// Looks at the screen until `find` finds what it wants in it, for at most `limit`.
    fn wait_for<T>(&self, what: &str, limit: Duration, find: impl Fn(&Self) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(found) = find(self) {
                return found;
            }
            assert!(
                start.elapsed() < limit,
                "no {what} on the screen within {limit:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses Ctrl-C.
    fn interrupt(&mut self) {
        self.writer.write_all(b"\x03").unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the exit (at most `limit`) and everything drawn before it; the exit code.
    fn finish(&mut self, limit: Duration) -> u32 {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("uptask still runs after {limit:?}:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status.exit_code()
    }
}

/// `12.34 MiB` in bytes.
fn bytes_of(text: &str) -> Option<f64> {
    let (number, unit) = text.trim().split_once(' ')?;
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// The `sent/total` a bar draws on the row that starts with `name` (or the only bar, for
/// `None`), in bytes.
fn drawn(term: &Term, name: Option<&str>) -> Option<(f64, f64)> {
    let lines = term.lines();
    let line = lines.iter().find(|l| {
        let row = l.trim_start();
        row.contains("] ") && name.is_none_or(|n| row.starts_with(&format!("{n} ")))
    })?;
    let counts = line.split("] ").nth(1)?;
    let (sent, rest) = counts.split_once('/')?;
    // The total runs up to the unit's end: `64.00 MiB 3.00 MiB/s ...`.
    let mut words = rest.split_whitespace();
    let total = format!("{} {}", words.next()?, words.next()?);
    Some((bytes_of(sent)?, bytes_of(&total)?))
}

/// Two looks at a bar a second apart while its upload runs: the drawn count moved, the total
/// is the one expected, and the screen never read `0 B/0 B`.
fn assert_moves(term: &Term, name: Option<&str>, total: f64) {
    let label = name.unwrap_or("the bar");
    let first = term.wait_for(
        &format!("bytes sent on {label}"),
        Duration::from_secs(20),
        |t| drawn(t, name).filter(|(sent, _)| *sent > 0.0),
    );
    std::thread::sleep(Duration::from_secs(1));
    let second = drawn(term, name)
        .unwrap_or_else(|| panic!("{label} is gone a second later:\n{}", term.text()));
    assert!(
        second.0 > first.0,
        "{label} did not move in a second: {first:?} then {second:?}\n{}",
        term.text()
    );
    assert!(second.0 < total, "{label} finished too soon to be watched");
    // The drawn total is the body, framing included: within a few KiB of the file.
    assert!(
        (second.1 - total).abs() < 0.01 * total + 16384.0,
        "{label} draws a total of {} for {total} bytes",
        second.1
    );
    assert!(!term.text().contains("0 B/0 B"), "{}", term.text());
}

fn file(dir: &Path, name: &str, len: usize) -> f64 {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join(name), data).unwrap();
    len as f64
}

#[test]
fn a_multipart_bar_moves_and_gives_way_to_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let len = file(dir.path(), "big.bin", 12 << 20);
    let mut term = Term::spawn(
        dir.path(),
        &["upload", "big.bin", &s.url, "--limit-rate", "4MiB"],
        &[],
    );
    assert_moves(&term, None, len);
    assert_eq!(term.finish(Duration::from_secs(30)), 0, "{}", term.text());
    let screen = term.text();
    assert!(
        screen.contains("uptask: done: 12.00 MiB in "),
        "no result line:\n{screen}"
    );
    assert!(!screen.contains("] "), "the bar was not cleared:\n{screen}");
}

#[test]
fn a_tus_bar_moves() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let url = s.url.replace("/upload", "/files/");
    let len = file(dir.path(), "big.bin", 12 << 20);
    let mut term = Term::spawn(
        dir.path(),
        &[
            "upload",
            "big.bin",
            &url,
            "--protocol",
            "tus",
            "--limit-rate",
            "4MiB",
        ],
        &[],
    );
    assert_moves(&term, None, len);
    assert_eq!(term.finish(Duration::from_secs(30)), 0, "{}", term.text());
    let screen = term.text();
    assert!(screen.contains("uploaded: http://"), "{screen}");
    assert!(screen.contains("uptask: done: 12.00 MiB in "), "{screen}");
}

#[test]
fn an_s3_bar_moves_and_ends_in_one_line_naming_the_object() {
    const BUCKET: &str = "uptask-term";
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let len = file(dir.path(), "big.bin", 12 << 20);
    let target = format!("s3://{BUCKET}/big.bin");
    let mut args = vec!["upload".to_owned()];
    args.extend(s3_args(BUCKET, "big.bin"));
    args.extend(["--limit-rate".to_owned(), "4MiB".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut term = Term::spawn(dir.path(), &args, &weed::aws_env());
    assert_moves(&term, None, len);
    assert_eq!(term.finish(Duration::from_secs(30)), 0, "{}", term.text());
    let screen = term.text();
    assert!(
        screen.contains(&format!("uploaded {target} (ETag \"")),
        "no object line:\n{screen}"
    );
    assert!(
        !screen.contains("<?xml") && !screen.contains("<Complete"),
        "{screen}"
    );
}

#[test]
fn several_files_each_have_a_moving_bar_and_a_total() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let a = file(dir.path(), "a.bin", 8 << 20);
    let b = file(dir.path(), "b.bin", 8 << 20);
    let c = file(dir.path(), "c.bin", 2 << 20);
    let mut term = Term::spawn(
        dir.path(),
        &[
            "upload",
            "a.bin",
            "b.bin",
            "c.bin",
            &s.url,
            "--parallel",
            "2",
            "--limit-rate",
            "4MiB",
        ],
        &[],
    );
    // Two at a time: the third waits, showing its size rather than nothing.
    let queued = term.wait_for("c.bin queued", Duration::from_secs(10), |t| {
        t.lines()
            .into_iter()
            .find(|l| l.trim_start().starts_with("c.bin "))
            .filter(|l| l.contains("queued"))
    });
    assert!(queued.contains("0 B/2.00 MiB"), "{queued}");
    assert_moves(&term, Some("a.bin"), a);
    // The two running share the limit: the second moves too, not only after the first.
    assert_moves(&term, Some("b.bin"), b);
    assert_moves(&term, Some("total"), a + b + c);
    assert_eq!(term.finish(Duration::from_secs(30)), 0, "{}", term.text());
    let screen = term.text();
    let lines = term.lines();
    for name in ["a.bin", "b.bin", "c.bin"] {
        let header = lines
            .iter()
            .position(|l| *l == format!("==> {name} <=="))
            .unwrap_or_else(|| panic!("no header line for {name}:\n{screen}"));
        assert!(
            lines[header + 1].starts_with("{\"files\""),
            "{name}'s body does not start on a line of its own:\n{screen}"
        );
        assert!(
            screen.contains(&format!("uptask: {name}: done: ")),
            "no result line for {name}:\n{screen}"
        );
    }
    assert!(!screen.contains("] "), "a bar was left behind:\n{screen}");
}

#[test]
fn ctrl_c_stops_the_bar_where_it_was_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    file(dir.path(), "big.bin", 32 << 20);
    let mut term = Term::spawn(
        dir.path(),
        &["upload", "big.bin", &s.url, "--limit-rate", "2MiB"],
        &[],
    );
    let (sent, _) = term.wait_for("bytes sent", Duration::from_secs(20), |t| {
        drawn(t, None).filter(|(sent, _)| *sent > 0.0)
    });
    term.interrupt();
    assert_eq!(term.finish(Duration::from_secs(10)), 130, "{}", term.text());
    let screen = term.text();
    let bar = screen
        .lines()
        .find(|l| l.contains("] "))
        .unwrap_or_else(|| panic!("the bar is gone:\n{screen}"));
    assert!(bar.contains("aborted"), "{bar}\n{screen}");
    let (stopped, _) = drawn(&term, None).unwrap();
    assert!(stopped >= sent && stopped < (32 << 20) as f64, "{stopped}");
    assert!(screen.contains("uptask: upload aborted"), "{screen}");
}

/// A server that reads the body slowly (about 2.5 MiB/s) and then answers `ok`: without a
/// limit of uptask's own, the socket's backpressure alone paces the upload.
fn slow_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read_exact(&mut byte).is_ok() {
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut buf = vec![0u8; 64 << 10];
        let mut left = len;
        while left > 0 {
            let Ok(n @ 1..) = conn.read(&mut buf[..left.min(64 << 10)]) else {
                return;
            };
            left -= n;
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
    });
    url
}

#[test]
fn without_a_limit_the_bar_follows_a_slow_server() {
    let dir = tempfile::tempdir().unwrap();
    let len = file(dir.path(), "big.bin", 12 << 20);
    let url = slow_server();
    let mut term = Term::spawn(dir.path(), &["upload", "big.bin", &url], &[]);
    assert_moves(&term, None, len);
    assert_eq!(term.finish(Duration::from_secs(30)), 0, "{}", term.text());
    let screen = term.text();
    assert!(
        screen.contains("\nok\n") || screen.starts_with("ok\n"),
        "{screen}"
    );
    assert!(screen.contains("uptask: done: 12.00 MiB in "), "{screen}");
}
