//! The scenarios of the tus client conformance contract that apply to uptask, each against a
//! scripted server: the requests (method, URL, headers, body size) and the event order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha1::Digest;
use uptask::TusOptions;

use super::script::{Reply, Script, Seen};
use super::{payload, quick, run, tus_opts};

/// A correct tus server in a few lines, announcing `extensions`; Location is absolute unless
/// `relative`.
#[derive(Clone)]
pub struct Model {
    extensions: &'static str,
    relative: bool,
    base: Arc<Mutex<String>>,
    uploads: Arc<Mutex<HashMap<String, (u64, u64)>>>,
    next: Arc<Mutex<u32>>,
}

impl Model {
    pub fn new(extensions: &'static str) -> Self {
        Self {
            extensions,
            relative: false,
            base: Arc::default(),
            uploads: Arc::default(),
            next: Arc::default(),
        }
    }

    pub fn relative(mut self) -> Self {
        self.relative = true;
        self
    }

    pub async fn start(self) -> (Script, Self) {
        self.start_with(|m, seen, _| m.answer(seen)).await
    }

    /// Starts a server whose answers come from `f(model, request, index)`, which may defer to
    /// [`Model::answer`] or script a fault.
    pub async fn start_with(
        self,
        f: impl Fn(&Model, &Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> (Script, Self) {
        let m = self.clone();
        let script = Script::start(move |seen, i| f(&m, seen, i)).await;
        *self.base.lock().unwrap() = script.base.clone();
        (script, self)
    }

    /// Registers an upload as if created earlier, with `offset` bytes received.
    pub fn seed(&self, path: &str, len: u64, offset: u64) {
        self.uploads
            .lock()
            .unwrap()
            .insert(path.to_owned(), (len, offset));
    }

    pub fn offset(&self, path: &str) -> Option<u64> {
        self.uploads.lock().unwrap().get(path).map(|u| u.1)
    }

    pub fn answer(&self, seen: &Seen) -> Reply {
        let body_len: u64 = seen
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        match seen.method.as_str() {
            "OPTIONS" => Reply::new(204)
                .header("Tus-Version", "1.0.0")
                .header("Tus-Extension", self.extensions)
                .header("Tus-Checksum-Algorithm", "md5,sha1"),
            "POST"
                if seen
                    .header("upload-concat")
                    .is_some_and(|c| c.starts_with("final")) =>
            {
                let path = self.create(0);
                Reply::new(201).header("Location", self.location(&path))
            }
            "POST" => {
                let len = match seen.header("upload-defer-length") {
                    Some("1") => u64::MAX,
                    _ => seen.header("upload-length").unwrap().parse().unwrap(),
                };
                let path = self.create(len);
                let mut r = Reply::new(201).header("Location", self.location(&path));
                if body_len > 0 {
                    self.uploads.lock().unwrap().get_mut(&path).unwrap().1 = body_len;
                    r = r.header("Upload-Offset", body_len);
                }
                r
            }
            "HEAD" => match self.uploads.lock().unwrap().get(&seen.path) {
                Some((len, off)) => Reply::new(200)
                    .header("Upload-Offset", off)
                    .header("Upload-Length", len),
                None => Reply::new(404),
            },
            "PATCH" => {
                let mut uploads = self.uploads.lock().unwrap();
                let Some(upload) = uploads.get_mut(&seen.path) else {
                    return Reply::new(404);
                };
                let claimed: u64 = seen.header("upload-offset").unwrap().parse().unwrap();
                if claimed != upload.1 {
                    return Reply::new(409);
                }
                if let Some(len) = seen.header("upload-length") {
                    upload.0 = len.parse().unwrap();
                }
                upload.1 += body_len;
                Reply::new(204).header("Upload-Offset", upload.1)
            }
            "DELETE" => {
                self.uploads.lock().unwrap().remove(&seen.path);
                Reply::new(204)
            }
            _ => Reply::new(405),
        }
    }

    fn create(&self, len: u64) -> String {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        let path = format!("/files/u{n}");
        self.uploads.lock().unwrap().insert(path.clone(), (len, 0));
        path
    }

    fn location(&self, path: &str) -> String {
        if self.relative {
            path.to_owned()
        } else {
            format!("{}{path}", self.base.lock().unwrap())
        }
    }
}

const CORE: &str = "creation,termination";

#[tokio::test]
async fn single_upload_lifecycle() {
    let (server, _) = Model::new(CORE).start().await;
    let (outcome, trace) = run(tus_opts(
        &server.url("/files/"),
        b"hello world",
        TusOptions::new(),
    ))
    .await;
    let done = outcome.unwrap();
    assert_eq!(done.status_code, 204);
    assert_eq!(done.upload_url, Some(server.url("/files/u1")));
    assert_eq!(
        server.lines(),
        ["OPTIONS /files/", "POST /files/", "PATCH /files/u1"]
    );
    let reqs = server.requests();
    for r in &reqs {
        assert_eq!(r.header("tus-resumable"), Some("1.0.0"), "{r:?}");
    }
    let post = &reqs[1];
    assert_eq!(post.header("upload-length"), Some("11"));
    let meta = post.header("upload-metadata").unwrap();
    assert!(
        meta.starts_with("filename aGVsbG8udHh0,filetype "),
        "{meta}"
    );
    assert!(post.body.is_empty());
    let patch = &reqs[2];
    assert_eq!(patch.header("upload-offset"), Some("0"));
    assert_eq!(
        patch.header("content-type"),
        Some("application/offset+octet-stream")
    );
    assert_eq!(patch.body, b"hello world");
    assert_eq!(trace.milestones(), ["created", "headers"]);
    assert_eq!(trace.sent().last(), Some(&11));
}

#[tokio::test]
async fn creation_with_upload_sends_a_small_body_with_the_post() {
    let (server, _) = Model::new("creation,creation-with-upload").start().await;
    let (outcome, trace) = run(tus_opts(
        &server.url("/files"),
        b"hello world",
        TusOptions::new(),
    ))
    .await;
    assert_eq!(outcome.unwrap().status_code, 201);
    assert_eq!(server.lines(), ["OPTIONS /files", "POST /files"]);
    let post = &server.requests()[1];
    assert_eq!(
        post.header("content-type"),
        Some("application/offset+octet-stream")
    );
    assert_eq!(post.header("upload-length"), Some("11"));
    assert_eq!(post.body, b"hello world");
    assert_eq!(trace.milestones(), ["created", "headers"]);
    assert_eq!(trace.sent().last(), Some(&11));
}

#[tokio::test]
async fn creation_with_upload_then_partial_chunks() {
    let (server, _) = Model::new("creation,creation-with-upload").start().await;
    let tus = TusOptions::new().chunk_size(5);
    let (outcome, trace) = run(tus_opts(&server.url("/files"), b"hello world", tus)).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert_eq!(
        server.lines(),
        [
            "OPTIONS /files",
            "POST /files",
            "PATCH /files/u1",
            "PATCH /files/u1"
        ]
    );
    let reqs = server.requests();
    let sizes: Vec<usize> = reqs.iter().map(|r| r.body.len()).collect();
    assert_eq!(sizes, [0, 5, 5, 1]);
    assert_eq!(reqs[2].header("upload-offset"), Some("5"));
    assert_eq!(reqs[3].header("upload-offset"), Some("10"));
    let sent = trace.sent();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    for milestone in [5, 10, 11] {
        assert!(sent.contains(&milestone), "{sent:?}");
    }
}

#[tokio::test]
async fn resume_from_a_previous_upload_asks_the_offset_first() {
    let (server, model) = Model::new(CORE).start().await;
    model.seed("/files/old", 11, 6);
    let tus = TusOptions::new().upload_url(server.url("/files/old"));
    let (outcome, trace) = run(tus_opts(&server.url("/files/"), b"hello world", tus)).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert_eq!(
        server.lines(),
        ["OPTIONS /files/", "HEAD /files/old", "PATCH /files/old"]
    );
    let patch = &server.requests()[2];
    assert_eq!(patch.header("upload-offset"), Some("6"));
    assert_eq!(patch.body, b"world");
    assert_eq!(trace.milestones(), ["resumed:6", "headers"]);
    assert_eq!(
        trace.sent().first(),
        Some(&6),
        "no byte below the server's offset is reported"
    );
}

#[tokio::test]
async fn a_previous_upload_that_is_gone_starts_anew() {
    let (server, _) = Model::new(CORE).start().await;
    let tus = TusOptions::new().upload_url(server.url("/files/vanished"));
    let (outcome, _) = run(tus_opts(&server.url("/files/"), b"hello world", tus)).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert_eq!(
        server.lines(),
        [
            "OPTIONS /files/",
            "HEAD /files/vanished",
            "POST /files/",
            "PATCH /files/u1"
        ]
    );
}

#[tokio::test]
async fn retry_after_a_cut_resumes_at_the_servers_offset() {
    let (server, _) = Model::new(CORE)
        .start_with(move |m, seen, i| {
            let reply = m.answer(seen);
            // The first PATCH: the server keeps 4000 bytes, then the connection breaks.
            if seen.method == "PATCH" && i == 2 {
                m.uploads.lock().unwrap().get_mut(&seen.path).unwrap().1 = 4000;
                return Reply::new(0).cut_after(4000);
            }
            reply
        })
        .await;
    let data = payload(10_000);
    let (outcome, trace) = run(tus_opts(&server.url("/files/"), &data, quick())).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert_eq!(
        server.lines(),
        [
            "OPTIONS /files/",
            "POST /files/",
            "PATCH /files/u1",
            "HEAD /files/u1",
            "PATCH /files/u1"
        ]
    );
    let reqs = server.requests();
    assert_eq!(reqs[4].header("upload-offset"), Some("4000"));
    assert_eq!(
        reqs[4].body,
        &data[4000..],
        "no acknowledged byte is sent twice"
    );
    assert_eq!(
        trace.milestones(),
        ["created", "retrying:1", "resumed:4000", "headers"]
    );
}

#[tokio::test]
async fn server_errors_and_locks_are_retried_other_4xx_are_the_outcome() {
    for (status, retried) in [
        (500, true),
        (503, true),
        (423, true),
        (409, true),
        (403, false),
        (413, false),
    ] {
        let (server, _) = Model::new(CORE)
            .start_with(move |m, seen, i| {
                if seen.method == "PATCH" && i == 2 {
                    return Reply::new(status);
                }
                m.answer(seen)
            })
            .await;
        let (outcome, trace) = run(tus_opts(&server.url("/files/"), b"hello world", quick())).await;
        let done = outcome.unwrap();
        if retried {
            assert_eq!(done.status_code, 204, "{status}");
            assert_eq!(server.lines().len(), 5, "{status}: {:?}", server.lines());
            assert!(trace.milestones().contains(&"retrying:1".to_owned()));
        } else {
            // WeChat semantics: an HTTP error is a completed upload carrying that status.
            assert_eq!(done.status_code, status);
            assert_eq!(server.lines().len(), 3, "{status}: {:?}", server.lines());
            assert_eq!(trace.milestones(), ["created", "headers"]);
        }
    }
}

#[tokio::test]
async fn retries_run_out() {
    let (server, _) = Model::new(CORE)
        .start_with(move |m, seen, _| {
            if seen.method == "PATCH" {
                return Reply::new(500);
            }
            m.answer(seen)
        })
        .await;
    let (outcome, trace) = run(tus_opts(&server.url("/files/"), b"hello world", quick())).await;
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    let patches = server
        .lines()
        .iter()
        .filter(|l| l.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 3, "one try and two retries: {:?}", server.lines());
    assert_eq!(
        trace.milestones(),
        [
            "created",
            "retrying:1",
            "resumed:0",
            "retrying:2",
            "resumed:0"
        ]
    );
}

#[tokio::test]
async fn the_retry_count_starts_again_after_progress() {
    // Every PATCH keeps 2 bytes and breaks: with two retries allowed, the upload still
    // completes because each failure moved the offset.
    let (server, model) = Model::new(CORE)
        .start_with(move |m, seen, _| {
            if seen.method == "PATCH" {
                let mut up = m.uploads.lock().unwrap();
                let u = up.get_mut(&seen.path).unwrap();
                let claimed: u64 = seen.header("upload-offset").unwrap().parse().unwrap();
                if claimed != u.1 {
                    return Reply::new(409);
                }
                if u.0 - u.1 > 2 {
                    u.1 += 2;
                    return Reply::new(0).cut_after(2);
                }
            }
            m.answer(seen)
        })
        .await;
    let (outcome, trace) = run(tus_opts(&server.url("/files/"), b"hello world", quick())).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert!(trace.milestones().iter().all(|m| m != "retrying:3"));
    assert_eq!(model.offset("/files/u1"), Some(11));
}

#[tokio::test]
async fn relative_location_is_resolved_against_the_endpoint() {
    let (server, _) = Model::new(CORE).relative().start().await;
    let (outcome, _) = run(tus_opts(
        &server.url("/api/files/"),
        b"hello world",
        TusOptions::new(),
    ))
    .await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert_eq!(
        server.lines(),
        ["OPTIONS /api/files/", "POST /api/files/", "PATCH /files/u1"]
    );
}

#[tokio::test]
async fn custom_headers_go_with_every_request() {
    let (server, _) = Model::new(CORE).start().await;
    let opts = tus_opts(&server.url("/files/"), b"hello world", TusOptions::new())
        .header("X-Custom", "yes")
        .header("Authorization", "Bearer t");
    let (outcome, _) = run(opts).await;
    outcome.unwrap();
    for r in server.requests() {
        assert_eq!(r.header("x-custom"), Some("yes"), "{r:?}");
        assert_eq!(r.header("authorization"), Some("Bearer t"), "{r:?}");
    }
    let bad =
        tus_opts(&server.url("/files/"), b"x", TusOptions::new()).header("Upload-Offset", "5");
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("Upload-Offset")
    );
}

#[tokio::test]
async fn parallel_parts_are_joined_by_concatenation() {
    let (server, model) = Model::new("creation,concatenation").start().await;
    let data = payload(3 << 20);
    let tus = TusOptions::new().parallel(3);
    let (outcome, trace) = run(tus_opts(&server.url("/files/"), &data, tus)).await;
    let done = outcome.unwrap();
    assert_eq!(done.status_code, 201);
    assert_eq!(
        done.upload_url,
        Some(server.url("/files/u4")),
        "the joined upload"
    );
    let reqs = server.requests();
    let partials: Vec<&Seen> = reqs
        .iter()
        .filter(|r| r.header("upload-concat") == Some("partial"))
        .collect();
    assert_eq!(partials.len(), 3);
    let lengths: u64 = partials
        .iter()
        .map(|r| r.header("upload-length").unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(lengths, data.len() as u64);
    let last = reqs.last().unwrap();
    assert_eq!(last.method, "POST");
    let fin = last.header("upload-concat").unwrap();
    let parts: Vec<&str> = fin.strip_prefix("final;").unwrap().split(' ').collect();
    assert_eq!(parts.len(), 3);
    let mut joined = Vec::new();
    for url in parts {
        let path = url.strip_prefix(&server.base).unwrap();
        assert_eq!(model.offset(path), Some(1 << 20));
        joined.extend(
            reqs.iter()
                .filter(|r| r.method == "PATCH" && r.path == path)
                .flat_map(|r| r.body.clone()),
        );
    }
    assert!(joined == data, "the parts, in order, are the file");
    assert_eq!(trace.sent().last(), Some(&(3 << 20)));
    assert!(last.header("upload-metadata").is_some());
}

#[tokio::test]
async fn checksums_are_sent_and_a_mismatch_resends_the_chunk() {
    let (server, _) = Model::new("creation,checksum")
        .start_with(move |m, seen, i| {
            if seen.method == "PATCH" && i == 2 {
                return Reply::new(460);
            }
            m.answer(seen)
        })
        .await;
    let (outcome, _) = run(tus_opts(&server.url("/files/"), b"hello world", quick())).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    let reqs = server.requests();
    let patches: Vec<&Seen> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 2, "{:?}", server.lines());
    let digest = sha1::Sha1::digest(b"hello world");
    let want = uptask_proto::tus::ChecksumAlgorithm::Sha1.header_value(&digest);
    for p in patches {
        assert_eq!(p.header("upload-checksum"), Some(want.as_str()));
        assert_eq!(p.body, b"hello world");
    }
}

#[tokio::test]
async fn a_file_over_tus_max_size_is_refused_before_creation() {
    let server = Script::start(|seen, _| match seen.method.as_str() {
        "OPTIONS" => Reply::new(204)
            .header("Tus-Extension", "creation")
            .header("Tus-Max-Size", 5),
        _ => Reply::new(500),
    })
    .await;
    let (outcome, _) = run(tus_opts(
        &server.url("/files/"),
        b"hello world",
        TusOptions::new(),
    ))
    .await;
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), uptask::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("Tus-Max-Size"), "{err}");
    assert_eq!(server.lines(), ["OPTIONS /files/"]);
}

#[tokio::test]
async fn a_server_without_options_is_assumed_to_support_creation() {
    let (server, _) = Model::new(CORE)
        .start_with(move |m, seen, _| {
            if seen.method == "OPTIONS" {
                return Reply::new(405);
            }
            m.answer(seen)
        })
        .await;
    let (outcome, _) = run(tus_opts(
        &server.url("/files/"),
        b"hello world",
        TusOptions::new(),
    ))
    .await;
    assert_eq!(outcome.unwrap().status_code, 204);
    assert_eq!(server.lines().len(), 3);
}

#[tokio::test]
async fn a_server_that_lies_about_its_offset_is_an_error() {
    for (offset, what) in [("99", "past what was sent"), ("abc", "not a number")] {
        let (server, _) = Model::new(CORE)
            .start_with(move |m, seen, _| {
                if seen.method == "PATCH" {
                    return Reply::new(204).header("Upload-Offset", offset);
                }
                m.answer(seen)
            })
            .await;
        let (outcome, _) = run(tus_opts(&server.url("/files/"), b"hello world", quick())).await;
        let err = outcome.unwrap_err();
        assert_eq!(err.kind(), uptask::ErrorKind::Protocol, "{what}: {err}");
    }
    // A creation without Location cannot go on either.
    let server = Script::start(|seen, _| match seen.method.as_str() {
        "POST" => Reply::new(201),
        _ => Reply::new(204),
    })
    .await;
    let (outcome, _) = run(tus_opts(&server.url("/files/"), b"hello world", quick())).await;
    assert!(outcome.unwrap_err().to_string().contains("Location"));
}

#[tokio::test]
async fn abort_terminates_the_upload_on_the_server() {
    let (server, model) = Model::new(CORE)
        .start_with(move |m, seen, _| {
            if seen.method == "PATCH" {
                return Reply::new(0).stall(Duration::from_secs(10));
            }
            m.answer(seen)
        })
        .await;
    let task = uptask::upload_file(tus_opts(&server.url("/files/"), &payload(100_000), quick()));
    let handle = task.handle();
    let waiter = tokio::spawn(task);
    crate::common::wait_until("the first PATCH", Duration::from_secs(20), || {
        server.lines().iter().any(|l| l.starts_with("PATCH"))
    })
    .await;
    assert!(handle.abort());
    let err = waiter.await.unwrap().unwrap_err();
    assert!(err.is_aborted());
    assert_eq!(server.lines().last().unwrap(), "DELETE /files/u1");
    assert_eq!(model.offset("/files/u1"), None);
}

#[tokio::test]
async fn abort_can_keep_the_upload_for_later() {
    let (server, _) = Model::new(CORE)
        .start_with(move |m, seen, _| {
            if seen.method == "PATCH" {
                return Reply::new(0).stall(Duration::from_secs(10));
            }
            m.answer(seen)
        })
        .await;
    let tus = quick().terminate_on_abort(false);
    let task = uptask::upload_file(tus_opts(&server.url("/files/"), &payload(1000), tus));
    let handle = task.handle();
    let waiter = tokio::spawn(task);
    crate::common::wait_until("the first PATCH", Duration::from_secs(20), || {
        server.lines().iter().any(|l| l.starts_with("PATCH"))
    })
    .await;
    handle.abort();
    assert!(waiter.await.unwrap().unwrap_err().is_aborted());
    assert!(!server.lines().iter().any(|l| l.starts_with("DELETE")));
}

#[tokio::test]
async fn pause_drops_the_request_and_resume_continues_from_the_servers_offset() {
    let (server, model) = Model::new(CORE)
        .start_with(move |m, seen, i| {
            if seen.method == "PATCH" && i == 2 {
                // Keeps 300 bytes, then stops reading: the client sits mid-body until paused.
                m.uploads.lock().unwrap().get_mut(&seen.path).unwrap().1 = 300;
                return Reply::new(0).cut_after(300).stall(Duration::from_secs(10));
            }
            m.answer(seen)
        })
        .await;
    let data = payload(50_000_000);
    let task = uptask::upload_file(tus_opts(&server.url("/files/"), &data, quick()));
    let trace = super::Trace::default();
    trace.attach(&task);
    let handle = task.handle();
    let waiter = tokio::spawn(task);
    crate::common::wait_until("the first PATCH", Duration::from_secs(20), || {
        server.lines().iter().any(|l| l.starts_with("PATCH"))
    })
    .await;
    assert!(handle.pause());
    assert!(!handle.pause());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = server.lines().len();
    assert!(handle.resume());
    let done = waiter.await.unwrap().unwrap();
    assert_eq!(done.status_code, 204);
    assert_eq!(
        during,
        3,
        "nothing is sent while paused: {:?}",
        server.lines()
    );
    let lines = server.lines();
    assert_eq!(&lines[3..], ["HEAD /files/u1", "PATCH /files/u1"]);
    assert_eq!(server.requests()[4].header("upload-offset"), Some("300"));
    assert_eq!(model.offset("/files/u1"), Some(50_000_000));
    assert!(trace.milestones().contains(&"resumed:300".to_owned()));
    assert!(!handle.pause(), "a finished upload cannot be paused");
}

/// A FIFO that a thread fills with `data`, as a shell pipe would.
pub fn fifo_with(data: Vec<u8>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipe");
    let ok = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success());
    let p = path.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        w.write_all(&data).unwrap();
    });
    (dir, path)
}

#[tokio::test]
async fn a_stream_of_unknown_length_defers_the_length_to_its_last_chunk() {
    let (server, model) = Model::new("creation,creation-defer-length")
        .start_with(move |m, seen, i| {
            // The second PATCH breaks after 1000 bytes: the retry sends the rest from memory.
            if seen.method == "PATCH" && i == 3 {
                m.uploads.lock().unwrap().get_mut(&seen.path).unwrap().1 += 1000;
                return Reply::new(0).cut_after(1000);
            }
            m.answer(seen)
        })
        .await;
    let data = payload(10_000);
    let (_dir, fifo) = fifo_with(data.clone());
    let tus = quick().chunk_size(4096);
    let opts = uptask::UploadOptions::new(server.url("/files/"), &fifo, "file").tus(tus);
    let (outcome, trace) = run(opts).await;
    assert_eq!(outcome.unwrap().status_code, 204);
    let reqs = server.requests();
    let post = &reqs[1];
    assert_eq!(post.header("upload-defer-length"), Some("1"));
    assert_eq!(post.header("upload-length"), None);
    let patches: Vec<&Seen> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    let offsets: Vec<&str> = patches
        .iter()
        .map(|p| p.header("upload-offset").unwrap())
        .collect();
    assert_eq!(
        offsets,
        ["0", "4096", "5096", "8192"],
        "{:?}",
        server.lines()
    );
    let lengths: Vec<Option<&str>> = patches.iter().map(|p| p.header("upload-length")).collect();
    assert_eq!(lengths, [None, None, None, Some("10000")]);
    let mut received = Vec::new();
    for p in &patches {
        let off: usize = p.header("upload-offset").unwrap().parse().unwrap();
        received.truncate(off);
        received.extend_from_slice(&p.body);
    }
    assert!(
        received == data,
        "the server got the stream, once, in order"
    );
    assert_eq!(model.offset("/files/u1"), Some(10_000));
    // Expected grows as the stream is read and ends at its length.
    let last = trace
        .events()
        .into_iter()
        .rfind(|e| e.starts_with("progress:"))
        .unwrap();
    assert_eq!(last, "progress:10000:10000");
    assert!(trace.milestones().contains(&"resumed:5096".to_owned()));
}

#[tokio::test]
async fn a_stream_needs_a_server_that_defers_the_length() {
    let (server, _) = Model::new(CORE).start().await;
    let (_dir, fifo) = fifo_with(b"abc".to_vec());
    let opts =
        uptask::UploadOptions::new(server.url("/files/"), &fifo, "file").tus(TusOptions::new());
    let (outcome, _) = run(opts).await;
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("creation-defer-length"), "{err}");
    let multipart = uptask::UploadOptions::new(server.url("/upload"), &fifo, "file");
    assert!(
        multipart
            .validate()
            .unwrap_err()
            .to_string()
            .contains("FIFO")
    );
}

#[tokio::test]
async fn an_empty_file_is_one_creation_and_one_event_at_100() {
    let (server, _) = Model::new(CORE).start().await;
    let (outcome, trace) = run(tus_opts(&server.url("/files/"), b"", TusOptions::new())).await;
    assert_eq!(outcome.unwrap().status_code, 201);
    assert_eq!(server.lines(), ["OPTIONS /files/", "POST /files/"]);
    assert_eq!(server.requests()[1].header("upload-length"), Some("0"));
    assert_eq!(trace.events(), ["progress:0:0", "created", "headers"]);
}
