//! Debian's `tinyproxy` on a free loopback port, for the "through a proxy" rows; killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

pub(crate) struct TinyProxy {
    child: Child,
    pub(crate) url: String,
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts tinyproxy with its files in `dir`; `None` when it is not installed.
pub(crate) fn start(dir: &Path) -> anyhow::Result<Option<TinyProxy>> {
    let Some(binary) = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        return Ok(None);
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 16\nLogLevel Warning\n\
             LogFile \"{}\"\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
            dir.join("tinyproxy.log").display()
        ),
    )?;
    let child = Command::new(binary)
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting tinyproxy")?;
    let proxy = TinyProxy {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "tinyproxy did not listen on {port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some(proxy))
}
