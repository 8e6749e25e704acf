//! Interop with an independent multipart parser: busboy, behind `peers/form-echo.mjs`.
//!
//! Needs `node` and `peers/node_modules` (`npm install` in `peers/`; the test script does it).
//! Without them the tests say so loudly and skip, unless `UPTASK_REQUIRE_PEERS=1` (set by the
//! test script and CI), where a missing peer is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped peer must say so loudly"
)]

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use uptask::{ErrorKind, UploadOptions, upload_file};

mod common;

use common::{Peer, hex_sha256, payload};

/// The busboy echo server, and its base URL.
fn start_echo() -> Option<(Peer, String)> {
    let peer = common::start_peer("form-echo.mjs", "busboy", &["0".as_ref()])?;
    let port = peer.banner.trim().rsplit(' ').next().unwrap().to_owned();
    Some((peer, format!("http://127.0.0.1:{port}")))
}

#[tokio::test]
async fn busboy_reads_fields_file_name_size_and_content() {
    let Some((_peer, base)) = start_echo() else {
        return;
    };
    let data = payload(1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("报告 résumé.pdf");
    std::fs::write(&path, &data).unwrap();
    let done = upload_file(
        UploadOptions::new(format!("{}/upload", base), &path, "document")
            .form_data("owner", "ann")
            .form_data("note", "multi word; with = signs")
            .form_data("owner", "bob"),
    )
    .await
    .unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    let v: Value = serde_json::from_str(&done.data).unwrap();
    let fields: Vec<(String, String)> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("owner", "ann"),
            ("note", "multi word; with = signs"),
            ("owner", "bob")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let file = &v["files"][0];
    assert_eq!(file["name"], "document");
    assert_eq!(file["filename"], "报告 résumé.pdf");
    assert_eq!(file["mimeType"], "application/pdf");
    assert_eq!(file["size"], data.len());
    assert_eq!(file["sha256"], hex_sha256(&data));
    let declared: u64 = v["headers"]["content-length"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(declared, v["bytesReceived"].as_u64().unwrap());
}

#[tokio::test]
async fn several_files_in_one_request_reach_busboy_whole_and_in_order() {
    let Some((_peer, base)) = start_echo() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (front, back, note) = (payload(700_001), payload(1 << 20), b"seen at noon".to_vec());
    std::fs::write(dir.path().join("front.jpg"), &front).unwrap();
    std::fs::write(dir.path().join("back.jpg"), &back).unwrap();
    std::fs::write(dir.path().join("empty.txt"), b"").unwrap();
    let opts = UploadOptions::new(
        format!("{base}/upload"),
        dir.path().join("front.jpg"),
        "photo",
    )
    .form_data("album", "trip")
    .add_file(uptask::FormFile::new("photo", dir.path().join("back.jpg")))
    .add_file(
        uptask::FormFile::with_source("note", uptask::Source::Bytes(note.clone().into()))
            .file_name("note.txt"),
    )
    .add_file(uptask::FormFile::new("extra", dir.path().join("empty.txt")));
    let task = upload_file(opts);
    let last = std::sync::Arc::new(std::sync::Mutex::new(None));
    let l = std::sync::Arc::clone(&last);
    task.on_progress_update(move |p| *l.lock().unwrap() = Some(*p));
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200, "{}", done.data);
    let v: Value = serde_json::from_str(&done.data).unwrap();
    let files: Vec<(String, String, u64, String)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["filename"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
                f["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("photo", "front.jpg", &front[..]),
        ("photo", "back.jpg", &back[..]),
        ("note", "note.txt", &note[..]),
        ("extra", "empty.txt", &b""[..]),
    ]
    .map(|(n, f, d)| (n.to_owned(), f.to_owned(), d.len() as u64, hex_sha256(d)));
    assert_eq!(files, want);
    assert_eq!(v["fields"][0]["value"], "trip");
    // Progress covered the whole body: every file and the framing around them.
    let last = last.lock().unwrap().unwrap();
    let received = v["bytesReceived"].as_u64().unwrap();
    assert_eq!(
        (last.progress, last.total_bytes_expected_to_send),
        (100, received)
    );
    assert!(received > (front.len() + back.len() + note.len()) as u64);
}

#[tokio::test]
async fn several_files_are_refused_for_tus_and_checked_like_the_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"a").unwrap();
    let a = dir.path().join("a.bin");
    let err = UploadOptions::new("http://127.0.0.1:9/files/", &a, "file")
        .add_file(uptask::FormFile::new("file", &a))
        .tus(uptask::TusOptions::new())
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("one multipart request"), "{err}");
    let err = UploadOptions::new("http://127.0.0.1:9/upload", &a, "file")
        .add_file(uptask::FormFile::new(
            "file",
            dir.path().join("missing.bin"),
        ))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("file not found"), "{err}");
    let err = UploadOptions::new("http://127.0.0.1:9/upload", &a, "file")
        .add_file(uptask::FormFile::new("", &a))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("form field name"), "{err}");
}

#[tokio::test]
async fn busboy_reads_escaped_names_as_browsers_send_them() {
    let Some((_peer, base)) = start_echo() else {
        return;
    };
    let cases = [
        ("plain.txt", "plain.txt"),
        ("quote\"d.txt", "quote%22d.txt"),
        ("back\\slash.txt", "back%5Cslash.txt"),
        ("new\nline.txt", "new%0Aline.txt"),
        ("semi;colon=eq.txt", "semi;colon=eq.txt"),
        ("emoji 🚀.bin", "emoji 🚀.bin"),
    ];
    for (name, seen) in cases {
        let done = upload_file(
            UploadOptions::from_bytes(format!("{}/upload", base), b"x".to_vec(), "f\"ield")
                .file_name(name)
                .form_data("k\"ey\r\n", "value"),
        )
        .await
        .unwrap();
        let v: Value = serde_json::from_str(&done.data).unwrap();
        assert_eq!(v["files"][0]["filename"], seen, "{name:?}");
        assert_eq!(v["files"][0]["name"], "f%22ield");
        assert_eq!(v["fields"][0]["name"], "k%22ey%0D%0A");
        assert_eq!(v["fields"][0]["value"], "value");
    }
}

#[tokio::test]
async fn busboy_sees_an_aborted_upload_as_aborted() {
    let Some((_peer, base)) = start_echo() else {
        return;
    };
    let task = upload_file(UploadOptions::from_bytes(
        format!("{}/upload?slow_ms=5", base),
        payload(32 << 20),
        "file",
    ));
    let handle = task.handle();
    task.on_progress_update(move |p| {
        if p.total_bytes_sent > 1 << 20 {
            handle.abort();
        }
    });
    assert!(task.await.unwrap_err().is_aborted());
    // The peer notices once its buffered bytes are drained.
    let mut aborted = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let log = reqwest_free_get(&format!("{}/log", base)).await;
        let v: Value = serde_json::from_str(&log).unwrap();
        if v.as_array().unwrap().iter().any(|r| r["aborted"] == true) {
            aborted = true;
            break;
        }
    }
    assert!(aborted, "busboy never saw the request aborted");
}

/// A GET with a raw socket, so the test needs no HTTP client besides the one under test.
async fn reqwest_free_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    // Node answers small bodies with Content-Length, without chunking.
    body.to_owned()
}

/// What one bad-input case must produce.
enum Expect {
    /// An `InvalidInput` error (or `Connect` for an address nothing listens on) whose message
    /// contains this text, before any byte goes out.
    Error(ErrorKind, &'static str),
    /// A request busboy parses; the check gets busboy's JSON.
    Parsed(fn(&Value)),
}

#[tokio::test]
async fn bad_input_table_each_case_is_a_clear_error_or_an_escaped_request() {
    let Some((_peer, base)) = start_echo() else {
        return;
    };
    let url = format!("{}/upload", base);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.txt");
    std::fs::write(&file, "abc").unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let long = dir.path().join("x".repeat(5000));
    let with_name = |name: &str| UploadOptions::new(&url, &file, "file").file_name(name);
    let many_fields = (0..10_000).fold(UploadOptions::new(&url, &file, "file"), |o, i| {
        o.form_data(format!("k{i}"), "v")
    });
    use ErrorKind::{Connect, InvalidInput};
    let cases: Vec<(&str, UploadOptions, Expect)> = vec![
        (
            "empty path",
            UploadOptions::new(&url, "", "file"),
            Expect::Error(InvalidInput, "file path is empty"),
        ),
        (
            "missing file",
            UploadOptions::new(&url, dir.path().join("nope"), "file"),
            Expect::Error(InvalidInput, "file not found"),
        ),
        (
            "directory",
            UploadOptions::new(&url, dir.path(), "file"),
            Expect::Error(InvalidInput, "is a directory"),
        ),
        (
            "FIFO",
            UploadOptions::new(&url, &fifo, "file"),
            Expect::Error(InvalidInput, "not a regular file"),
        ),
        (
            "very long path",
            UploadOptions::new(&url, &long, "file"),
            Expect::Error(InvalidInput, "cannot access file"),
        ),
        (
            "empty field name",
            UploadOptions::new(&url, &file, ""),
            Expect::Error(InvalidInput, "field name"),
        ),
        (
            "URL with userinfo",
            UploadOptions::new(url.replace("http://", "http://u:pw@"), &file, "file"),
            Expect::Error(InvalidInput, "credentials in the URL"),
        ),
        (
            "ftp URL",
            UploadOptions::new("ftp://127.0.0.1/x", &file, "file"),
            Expect::Error(InvalidInput, "unsupported URL scheme \"ftp\""),
        ),
        (
            "file URL",
            UploadOptions::new("file:///etc/passwd", &file, "file"),
            Expect::Error(InvalidInput, "unsupported URL scheme \"file\""),
        ),
        (
            "ws URL",
            UploadOptions::new("ws://127.0.0.1/x", &file, "file"),
            Expect::Error(InvalidInput, "unsupported URL scheme \"ws\""),
        ),
        (
            "URL without host",
            UploadOptions::new("http://", &file, "file"),
            Expect::Error(InvalidInput, "invalid URL"),
        ),
        (
            "not a URL",
            UploadOptions::new("upload here", &file, "file"),
            Expect::Error(InvalidInput, "invalid URL"),
        ),
        (
            "IPv6 literal, nothing listening",
            UploadOptions::new("http://[::1]:9/upload", &file, "file"),
            Expect::Error(Connect, "cannot connect to ::1:9"),
        ),
        (
            "header name with CRLF",
            UploadOptions::new(&url, &file, "file").header("X-A\r\nX-B", "1"),
            Expect::Error(InvalidInput, "invalid header name"),
        ),
        (
            "header value with CRLF",
            UploadOptions::new(&url, &file, "file").header("X-A", "1\r\nX-B: 2"),
            Expect::Error(InvalidInput, "control characters"),
        ),
        (
            "header value with LF",
            UploadOptions::new(&url, &file, "file").header("X-A", "1\nX-B: 2"),
            Expect::Error(InvalidInput, "control characters"),
        ),
        (
            "header value with NUL",
            UploadOptions::new(&url, &file, "file").header("X-A", "a\0b"),
            Expect::Error(InvalidInput, "control characters"),
        ),
        (
            "non-ASCII header name",
            UploadOptions::new(&url, &file, "file").header("X-Ünï", "1"),
            Expect::Error(InvalidInput, "invalid header name"),
        ),
        (
            "empty header name",
            UploadOptions::new(&url, &file, "file").header("", "1"),
            Expect::Error(InvalidInput, "invalid header name"),
        ),
        (
            "Content-Type header",
            UploadOptions::new(&url, &file, "file").header("content-type", "text/plain"),
            Expect::Error(InvalidInput, "cannot be set"),
        ),
        (
            "Content-Length header",
            UploadOptions::new(&url, &file, "file").header("Content-Length", "1"),
            Expect::Error(InvalidInput, "cannot be set"),
        ),
        (
            "Transfer-Encoding header",
            UploadOptions::new(&url, &file, "file").header("Transfer-Encoding", "chunked"),
            Expect::Error(InvalidInput, "cannot be set"),
        ),
        (
            "garbage root CA",
            UploadOptions::new(url.replace("http:", "https:"), &file, "file")
                .add_root_certificate_pem(b"x".to_vec()),
            Expect::Error(InvalidInput, "PEM"),
        ),
        (
            "relative path",
            UploadOptions::new(&url, "Cargo.toml", "file"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "Cargo.toml")),
        ),
        (
            "URL with fragment",
            UploadOptions::new(format!("{url}?q=1#frag"), &file, "file"),
            Expect::Parsed(|v| assert_eq!(v["path"], "/upload")),
        ),
        (
            "non-ASCII header value",
            UploadOptions::new(&url, &file, "file").header("X-Note", "naïve"),
            Expect::Parsed(|v| assert!(v["headers"]["x-note"].is_string())),
        ),
        (
            "form key with quotes",
            UploadOptions::new(&url, &file, "file").form_data("a\"b", "v"),
            Expect::Parsed(|v| assert_eq!(v["fields"][0]["name"], "a%22b")),
        ),
        (
            "form key with newline",
            UploadOptions::new(&url, &file, "file").form_data("a\nb", "v"),
            Expect::Parsed(|v| assert_eq!(v["fields"][0]["name"], "a%0Ab")),
        ),
        (
            "form value with newlines",
            UploadOptions::new(&url, &file, "file").form_data("k", "line1\r\nline2"),
            Expect::Parsed(|v| assert_eq!(v["fields"][0]["value"], "line1\r\nline2")),
        ),
        (
            "10,000 form fields",
            many_fields,
            Expect::Parsed(|v| assert_eq!(v["fields"].as_array().unwrap().len(), 10_000)),
        ),
        (
            "filename with quotes",
            with_name("say \"hi\".txt"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "say %22hi%22.txt")),
        ),
        (
            "filename with backslashes",
            with_name("C:\\dir\\a.txt"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "C:%5Cdir%5Ca.txt")),
        ),
        (
            "filename with slashes",
            with_name("../../etc/passwd"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "../../etc/passwd")),
        ),
        (
            "filename with CR LF",
            with_name("a\r\nContent-Type: evil"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "a%0D%0AContent-Type: evil")),
        ),
        (
            "filename with a tab",
            with_name("a\tb.txt"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "a\tb.txt")),
        ),
        (
            "UTF-8 filename",
            with_name("文件 ü.txt"),
            Expect::Parsed(|v| assert_eq!(v["files"][0]["filename"], "文件 ü.txt")),
        ),
    ];
    assert!(cases.len() >= 30);
    for (what, opts, expect) in cases {
        let result = upload_file(opts).await;
        match (expect, result) {
            (Expect::Error(kind, text), Err(e)) => {
                assert_eq!(e.kind(), kind, "{what}: {e:?}");
                assert!(
                    e.err_msg().contains(text),
                    "{what}: {:?} should contain {text:?}",
                    e.err_msg()
                );
            }
            (Expect::Parsed(check), Ok(done)) => {
                assert_eq!(done.status_code, 200, "{what}: {}", done.data);
                let v: Value = serde_json::from_str(&done.data).unwrap();
                check(&v);
            }
            (Expect::Error(..), Ok(done)) => {
                panic!("{what}: expected an error, got status {}", done.status_code)
            }
            (Expect::Parsed(_), Err(e)) => panic!("{what}: expected a request, got {e:?}"),
        }
    }
}
