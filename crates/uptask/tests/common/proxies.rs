//! Real proxies on 127.0.0.1, installed by the test script: Debian's `tinyproxy` (with or
//! without Basic authentication) and `squid`, each killed on drop; their logs show what went
//! through them. Shared by the library's and the CLI's proxy tests.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which proxy it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tinyproxy,
    Squid,
}

pub struct ProxyPeer {
    child: Child,
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    auth: Option<(String, String)>,
}

impl Drop for ProxyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first of `paths` that exists; `None` (said loudly) when none does, unless
/// `UPTASK_REQUIRE_PEERS=1`, where that fails.
fn installed(name: &str, paths: &[&str]) -> Option<PathBuf> {
    let found = paths.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        let why = format!("SKIPPED: {name} is not installed (apt-get install {name})");
        assert!(
            !std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1"),
            "{why}"
        );
        eprintln!("{why}");
    }
    found
}

impl ProxyPeer {
    /// tinyproxy on a free port, asking for `auth` (user, password) when given.
    pub fn tinyproxy(auth: Option<(&str, &str)>) -> Option<Self> {
        let binary = installed("tinyproxy", &["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"])?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 64\nLogLevel Info\n\
             LogFile \"{}\"\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
            dir.path().join("proxy.log").display()
        );
        if let Some((user, pass)) = auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = Command::new(binary);
        cmd.arg("-d").arg("-c").arg(&conf_path);
        Some(Self::run(cmd, Kind::Tinyproxy, port, dir, auth))
    }

    /// squid on a free port, caching nothing, open to loopback clients.
    pub fn squid() -> Option<Self> {
        let binary = installed("squid", &["/usr/sbin/squid", "/usr/bin/squid"])?;
        let dir = tempfile::tempdir().unwrap();
        // As root, squid runs as its own user, which must be able to write its logs here.
        set_mode_777(dir.path());
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "http_port 127.0.0.1:{port}\nhttp_access allow localhost\nhttp_access deny all\n\
             cache deny all\naccess_log stdio:{d}/proxy.log\ncache_log {d}/cache.log\n\
             pid_filename {d}/squid.pid\ncoredump_dir {d}\nshutdown_lifetime 0 seconds\n"
        );
        let conf_path = dir.path().join("squid.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = Command::new(binary);
        cmd.arg("-N").arg("-f").arg(&conf_path);
        Some(Self::run(cmd, Kind::Squid, port, dir, None))
    }

    fn run(
        mut cmd: Command,
        kind: Kind,
        port: u16,
        dir: tempfile::TempDir,
        auth: Option<(&str, &str)>,
    ) -> Self {
        let child = cmd
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proxy = Self {
            child,
            kind,
            port,
            dir,
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{kind:?} did not listen on {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
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
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }

    /// The requests it was asked to forward or tunnel, as `METHOD target` (`POST
    /// http://...`, `CONNECT host:port`). Squid logs a request once it ended.
    pub fn requests(&self) -> Vec<String> {
        let log = self.log();
        match self.kind {
            Kind::Tinyproxy => log
                .lines()
                .filter_map(|l| l.split_once("): ").map(|(_, r)| r.trim()))
                .filter_map(|r| {
                    let mut words = r.split(' ');
                    let (method, target) = (words.next()?, words.next()?);
                    let known = [
                        "CONNECT", "POST", "PATCH", "PUT", "HEAD", "GET", "DELETE", "OPTIONS",
                    ];
                    known
                        .contains(&method)
                        .then(|| format!("{method} {target}"))
                })
                .collect(),
            Kind::Squid => log
                .lines()
                .filter_map(|l| {
                    let words: Vec<&str> = l.split_whitespace().collect();
                    Some(format!("{} {}", words.get(5)?, words.get(6)?))
                })
                .filter(|r| !r.starts_with("- "))
                .collect(),
        }
    }

    /// The requests logged after the first `before`, once there are `count` of them or 10 s
    /// have gone: squid logs a request when its transaction ends, which can be a moment after
    /// the client has its answer and has exited.
    pub fn requests_after(&self, before: usize, count: usize) -> Vec<String> {
        let started = Instant::now();
        loop {
            let all = self.requests();
            if all.len() >= before + count || started.elapsed() > Duration::from_secs(10) {
                return all
                    .get(before..)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it at once, dropping every connection through it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[cfg(unix)]
fn set_mode_777(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[cfg(not(unix))]
fn set_mode_777(_: &Path) {}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
