//! Debian's `tinyproxy` on 127.0.0.1 (installed by the test script), with or without Basic
//! authentication, killed on drop; its log shows what went through it. Shared by the
//! library's and the CLI's proxy tests.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TinyProxy {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    auth: Option<(String, String)>,
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TinyProxy {
    /// Starts tinyproxy on a free port, asking for `auth` (user, password) when given; `None`
    /// (said loudly) without the binary, unless `UPTASK_REQUIRE_PEERS=1`, where that fails.
    pub fn start(auth: Option<(&str, &str)>) -> Option<Self> {
        let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
        let binary = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        let Some(binary) = binary else {
            let why = "SKIPPED: tinyproxy is not installed (apt-get install tinyproxy)";
            assert!(!required, "{why}");
            eprintln!("{why}");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 64\nLogLevel Info\n\
             LogFile \"{}\"\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
            log.display()
        );
        if let Some((user, pass)) = auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proxy = Self {
            child,
            port,
            dir,
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tinyproxy did not listen on {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(proxy)
    }

    /// `http://[user:pass@]127.0.0.1:PORT`, with the credentials it asks for.
    pub fn url(&self) -> String {
        match &self.auth {
            Some((user, pass)) => format!("http://{user}:{pass}@127.0.0.1:{}", self.port),
            None => self.bare_url(),
        }
    }

    /// `http://127.0.0.1:PORT`, without credentials.
    pub fn bare_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }

    /// The requests it was asked to forward or tunnel, as their request lines (`POST
    /// http://...`, `CONNECT host:port`).
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split_once("): ").map(|(_, r)| r.trim().to_owned()))
            .filter(|r| {
                [
                    "CONNECT ", "POST ", "PATCH ", "PUT ", "HEAD ", "GET ", "DELETE ", "OPTIONS ",
                ]
                .iter()
                .any(|m| r.starts_with(m))
            })
            .collect()
    }

    /// Stops it at once, dropping every connection through it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
