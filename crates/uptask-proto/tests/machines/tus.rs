//! The tus machine: the rows of the tus fault table and the conformance scenarios, at the
//! protocol level.

use std::time::Duration;

use uptask_proto::engine::{Body, DigestOf, Event, Machine, Response, Why};
use uptask_proto::tus::machine::{TusConfig, TusMachine};

use crate::scenario::{Asked, Scenario, header};

const ENDPOINT: &str = "http://127.0.0.1:1080/files/";

fn scenario(len: u64, f: impl FnOnce(&mut TusConfig)) -> Scenario<TusMachine<String>> {
    let mut config = TusConfig::new(ENDPOINT.parse().unwrap(), len);
    config.retry_delays = vec![Duration::ZERO, Duration::ZERO];
    config.metadata = "filename aGVsbG8udHh0".to_owned();
    f(&mut config);
    Scenario::new(TusMachine::new(config))
}

/// OPTIONS answered with these extensions.
fn discovered(s: &mut Scenario<TusMachine<String>>, extensions: &str) {
    let (id, r) = s.send("OPTIONS", "/files/");
    assert_eq!(header(&r, "tus-resumable"), "1.0.0");
    s.reply(
        id,
        Response::new(204).with_header("Tus-Extension", extensions),
    );
}

/// POST answered 201 with `/files/u1`.
fn created(s: &mut Scenario<TusMachine<String>>) {
    let (id, _) = s.send("POST", "/files/");
    s.reply(id, Response::new(201).with_header("Location", "/files/u1"));
}

fn at(offset: u64) -> Response {
    Response::new(204).with_header("Upload-Offset", &offset.to_string())
}

#[test]
fn single_upload_lifecycle() {
    let mut s = scenario(11, |_| {});
    discovered(&mut s, "creation,termination");
    let (id, post) = s.send("POST", "/files/");
    assert_eq!(header(&post, "upload-length"), "11");
    assert_eq!(header(&post, "upload-metadata"), "filename aGVsbG8udHh0");
    assert_eq!(post.body, Body::Empty);
    s.reply(id, Response::new(201).with_header("Location", "/files/u1"));
    let (id, patch) = s.send("PATCH", "/files/u1");
    assert_eq!(header(&patch, "upload-offset"), "0");
    assert_eq!(
        header(&patch, "content-type"),
        "application/offset+octet-stream"
    );
    assert_eq!(patch.body, Body::Range { offset: 0, len: 11 });
    s.sent(id, 5);
    s.sent(id, 11);
    s.reply(id, at(11));
    let done = s.done();
    assert!(done.complete);
    assert_eq!(
        done.upload_url.as_deref(),
        Some("http://127.0.0.1:1080/files/u1")
    );
    assert_eq!(s.milestones(), ["remember", "created", "forget"]);
    assert_eq!(s.progress(), [5, 11, 11]);
}

#[test]
fn a_cut_mid_patch_resumes_at_the_servers_offset_with_only_the_rest() {
    let mut s = scenario(10_000, |_| {});
    discovered(&mut s, "creation");
    created(&mut s);
    let (id, _) = s.send("PATCH", "/files/u1");
    s.sent(id, 6000);
    s.fail(id, true);
    // No delay: the HEAD goes at once.
    let (id, _) = s.send("HEAD", "/files/u1");
    s.reply(
        id,
        Response::new(200)
            .with_header("Upload-Offset", "4000")
            .with_header("Upload-Length", "10000"),
    );
    let (id, patch) = s.send("PATCH", "/files/u1");
    assert_eq!(header(&patch, "upload-offset"), "4000");
    assert_eq!(
        patch.body,
        Body::Range {
            offset: 4000,
            len: 6000
        },
        "no acknowledged byte again"
    );
    s.reply(id, at(10_000));
    assert!(s.done().complete);
    assert_eq!(
        s.milestones(),
        [
            "remember",
            "created",
            "retrying:1",
            "resumed:4000",
            "forget"
        ]
    );
    // The count steps back to the server's offset, announced with the rewind flag.
    assert!(s.events.contains(&Event::Progress {
        sent: 4000,
        rewind: true
    }));
}

#[test]
fn server_errors_and_locks_are_retried_through_head() {
    for status in [500, 503, 423, 409] {
        let mut s = scenario(100, |_| {});
        discovered(&mut s, "creation");
        created(&mut s);
        let (id, _) = s.send("PATCH", "/files/u1");
        s.reply(id, Response::new(status));
        let (id, _) = s.send("HEAD", "/files/u1");
        s.reply(id, at(0));
        let (id, _) = s.send("PATCH", "/files/u1");
        s.reply(id, at(100));
        assert!(s.done().complete, "{status}");
        let retry = s.events.iter().find_map(|e| match e {
            Event::Retrying { error, .. } => Some(error.clone()),
            _ => None,
        });
        assert_eq!(retry.unwrap(), format!("the server answered {status}"));
    }
}

#[test]
fn other_4xx_are_the_outcome_not_retried() {
    for status in [403, 413] {
        let mut s = scenario(100, |_| {});
        discovered(&mut s, "creation");
        created(&mut s);
        let (id, _) = s.send("PATCH", "/files/u1");
        s.reply(id, Response::new(status));
        let done = s.done();
        assert_eq!((done.response.status, done.complete), (status, false));
        assert!(!s.milestones().iter().any(|m| m.starts_with("retrying")));
    }
}

#[test]
fn a_checksum_mismatch_sends_the_chunk_again_with_the_same_checksum() {
    let mut s = scenario(5, |c| c.checksum = true);
    let (id, _) = s.send("OPTIONS", "/files/");
    s.reply(
        id,
        Response::new(204)
            .with_header("Tus-Extension", "creation,checksum")
            .with_header("Tus-Checksum-Algorithm", "md5,sha1"),
    );
    created(&mut s);
    let Asked::Digest(id, _, DigestOf::Range { offset: 0, len: 5 }) = s.next() else {
        panic!()
    };
    s.machine
        .answer(id, uptask_proto::engine::Answer::Digest(vec![1, 2, 3]));
    let (id, first) = s.send("PATCH", "/files/u1");
    assert_eq!(header(&first, "upload-checksum"), "sha1 AQID");
    s.reply(id, Response::new(460));
    let (id, _) = s.send("HEAD", "/files/u1");
    s.reply(id, at(0));
    let (id, again) = s.send("PATCH", "/files/u1");
    assert_eq!(
        header(&again, "upload-checksum"),
        "sha1 AQID",
        "the digest is not computed twice"
    );
    s.reply(id, at(5));
    assert!(s.done().complete);
}

#[test]
fn retries_run_out_with_the_last_error() {
    let mut s = scenario(10, |_| {});
    discovered(&mut s, "creation");
    created(&mut s);
    let (id, _) = s.send("PATCH", "/files/u1");
    s.reply(id, Response::new(500));
    for _ in 0..2 {
        let (id, _) = s.send("HEAD", "/files/u1");
        s.reply(id, Response::new(500));
    }
    assert_eq!(s.failure(), "the server answered 500");
    assert_eq!(
        s.milestones(),
        ["remember", "created", "retrying:1", "retrying:2"]
    );
}

#[test]
fn the_retry_count_starts_again_after_progress() {
    let mut s = scenario(6, |_| {});
    discovered(&mut s, "creation");
    created(&mut s);
    // Every PATCH is cut after two bytes the server kept: three cuts with two retries allowed.
    for offset in [0u64, 2, 4] {
        let (id, patch) = s.send("PATCH", "/files/u1");
        assert_eq!(header(&patch, "upload-offset"), offset.to_string());
        s.fail(id, true);
        let (id, _) = s.send("HEAD", "/files/u1");
        s.reply(id, at(offset + 2));
        if offset + 2 == 6 {
            break;
        }
    }
    assert!(s.done().complete);
    assert_eq!(
        s.milestones().iter().filter(|m| *m == "retrying:1").count(),
        3
    );
}

#[test]
fn an_offset_past_what_was_sent_or_not_a_number_is_a_protocol_error() {
    for bad in ["11", "x", "-1"] {
        let mut s = scenario(10, |_| {});
        discovered(&mut s, "creation");
        created(&mut s);
        let (id, _) = s.send("PATCH", "/files/u1");
        s.reply(id, Response::new(204).with_header("Upload-Offset", bad));
        let failure = s.failure();
        assert!(
            failure.contains("Upload-Offset") || failure.contains("upload-offset"),
            "{bad}: {failure}"
        );
    }
}

#[test]
fn a_creation_without_location_is_a_protocol_error() {
    let mut s = scenario(10, |_| {});
    discovered(&mut s, "creation");
    let (id, _) = s.send("POST", "/files/");
    s.reply(id, Response::new(201));
    assert!(s.failure().contains("without a Location header"));
}

#[test]
fn a_location_that_is_not_http_is_refused() {
    let mut s = scenario(10, |_| {});
    discovered(&mut s, "creation");
    let (id, _) = s.send("POST", "/files/");
    s.reply(
        id,
        Response::new(201).with_header("Location", "file:///etc/passwd"),
    );
    assert!(s.failure().contains("is not http or https"));
}

#[test]
fn a_remembered_upload_that_is_gone_starts_anew() {
    let mut s = scenario(3, |c| {
        c.upload_url = Some("http://127.0.0.1:1080/files/old".parse().unwrap());
    });
    discovered(&mut s, "creation");
    let (id, _) = s.send("HEAD", "/files/old");
    s.reply(id, Response::new(404));
    created(&mut s);
    let (id, _) = s.send("PATCH", "/files/u1");
    s.reply(id, at(3));
    assert!(s.done().complete);
    assert_eq!(s.milestones(), ["forget", "remember", "created", "forget"]);
}

#[test]
fn a_remembered_upload_continues_from_its_offset() {
    let mut s = scenario(10, |c| {
        c.upload_url = Some("http://127.0.0.1:1080/files/old".parse().unwrap());
    });
    discovered(&mut s, "creation");
    let (id, _) = s.send("HEAD", "/files/old");
    s.reply(
        id,
        Response::new(200)
            .with_header("Upload-Offset", "7")
            .with_header("Upload-Length", "10"),
    );
    let (id, patch) = s.send("PATCH", "/files/old");
    assert_eq!(patch.body, Body::Range { offset: 7, len: 3 });
    s.reply(id, at(10));
    assert!(s.done().complete);
    assert_eq!(s.milestones(), ["resumed:7", "forget"]);
}

#[test]
fn another_uploads_length_is_not_continued() {
    let mut s = scenario(10, |c| {
        c.upload_url = Some("http://127.0.0.1:1080/files/old".parse().unwrap());
    });
    discovered(&mut s, "creation");
    let (id, _) = s.send("HEAD", "/files/old");
    s.reply(
        id,
        Response::new(200)
            .with_header("Upload-Offset", "0")
            .with_header("Upload-Length", "99"),
    );
    assert!(s.failure().contains("not the same upload"));
}

#[test]
fn a_file_over_tus_max_size_is_refused_before_creation() {
    let mut s = scenario(2000, |_| {});
    let (id, _) = s.send("OPTIONS", "/files/");
    s.reply(
        id,
        Response::new(204)
            .with_header("Tus-Extension", "creation")
            .with_header("Tus-Max-Size", "1000"),
    );
    assert!(
        s.failure()
            .contains("more than the server's Tus-Max-Size of 1000")
    );
}

#[test]
fn a_server_without_options_is_taken_to_support_creation() {
    let mut s = scenario(4, |_| {});
    let (id, _) = s.send("OPTIONS", "/files/");
    s.reply(id, Response::new(405));
    created(&mut s);
    let (id, _) = s.send("PATCH", "/files/u1");
    s.reply(id, at(4));
    assert!(s.done().complete);
}

#[test]
fn abort_terminates_the_upload_and_forgets_it() {
    let mut s = scenario(10, |_| {});
    discovered(&mut s, "creation,termination");
    created(&mut s);
    let _ = s.send("PATCH", "/files/u1");
    let words = s.machine.last_words(Why::Aborted);
    assert_eq!(words.requests.len(), 1);
    assert_eq!(words.requests[0].method, "DELETE");
    assert_eq!(
        words.requests[0].url.as_str(),
        "http://127.0.0.1:1080/files/u1"
    );
    assert!(words.forget);
    // A timeout or a failure keeps the upload for a later run.
    assert!(s.machine.last_words(Why::TimedOut).requests.is_empty());
}

#[test]
fn abort_can_keep_the_upload_for_later() {
    let mut s = scenario(10, |c| c.terminate_on_abort = false);
    discovered(&mut s, "creation");
    created(&mut s);
    let words = s.machine.last_words(Why::Aborted);
    assert!(words.requests.is_empty() && !words.forget);
}

#[test]
fn a_paused_patch_continues_from_the_servers_offset() {
    let mut s = scenario(1000, |_| {});
    discovered(&mut s, "creation");
    created(&mut s);
    let (id, _) = s.send("PATCH", "/files/u1");
    s.sent(id, 300);
    s.machine.dropped(id);
    let (id, _) = s.send("HEAD", "/files/u1");
    s.reply(id, at(300));
    let (id, patch) = s.send("PATCH", "/files/u1");
    assert_eq!(
        patch.body,
        Body::Range {
            offset: 300,
            len: 700
        }
    );
    s.reply(id, at(1000));
    assert!(s.done().complete);
    assert!(s.machine.pausable());
}

#[test]
fn creation_with_upload_sends_a_small_body_with_the_post() {
    let mut s = scenario(5, |_| {});
    discovered(&mut s, "creation,creation-with-upload");
    let (id, post) = s.send("POST", "/files/");
    assert_eq!(post.body, Body::Range { offset: 0, len: 5 });
    s.sent(id, 5);
    s.reply(
        id,
        Response::new(201)
            .with_header("Location", "/files/u1")
            .with_header("Upload-Offset", "5"),
    );
    assert!(s.done().complete);
}

#[test]
fn parallel_parts_are_joined_by_concatenation() {
    let mut s = scenario(4 << 20, |c| c.parallel = 2);
    discovered(&mut s, "creation,concatenation");
    let (a, pa) = s.send("POST", "/files/");
    let (b, pb) = s.send("POST", "/files/");
    assert_eq!(
        (header(&pa, "upload-concat"), header(&pb, "upload-length")),
        ("partial", "2097152")
    );
    s.reply(a, Response::new(201).with_header("Location", "/files/p1"));
    s.reply(b, Response::new(201).with_header("Location", "/files/p2"));
    let (a, _) = s.send("PATCH", "/files/p1");
    let (b, second) = s.send("PATCH", "/files/p2");
    assert_eq!(
        second.body,
        Body::Range {
            offset: 2 << 20,
            len: 2 << 20
        }
    );
    s.sent(a, 1 << 20);
    s.sent(b, 2 << 20);
    s.reply(a, at(2 << 20));
    s.reply(b, at(2 << 20));
    let (id, fin) = s.send("POST", "/files/");
    assert_eq!(
        s.progress(),
        [1 << 20, 3 << 20, 4 << 20, 4 << 20],
        "parts are summed"
    );
    assert_eq!(
        header(&fin, "upload-concat"),
        "final;http://127.0.0.1:1080/files/p1 http://127.0.0.1:1080/files/p2"
    );
    s.reply(
        id,
        Response::new(201).with_header("Location", "/files/whole"),
    );
    let done = s.done();
    assert_eq!(
        done.upload_url.as_deref(),
        Some("http://127.0.0.1:1080/files/whole")
    );
}

#[test]
fn a_stream_defers_its_length_and_resends_from_memory_after_a_cut() {
    let mut s = scenario(0, |c| {
        c.stream = true;
        c.chunk_size = Some(4);
    });
    discovered(&mut s, "creation,creation-defer-length");
    let (id, post) = s.send("POST", "/files/");
    assert_eq!(header(&post, "upload-defer-length"), "1");
    s.reply(id, Response::new(201).with_header("Location", "/files/u1"));
    let Asked::Read(id, 4) = s.next() else {
        panic!()
    };
    s.machine.answer(
        id,
        uptask_proto::engine::Answer::Read(bytes::Bytes::from_static(b"abcd")),
    );
    let (id, patch) = s.send("PATCH", "/files/u1");
    assert!(patch.header("upload-length").is_none(), "not the end yet");
    s.fail(id, true);
    let (id, _) = s.send("HEAD", "/files/u1");
    s.reply(id, at(1));
    let (id, again) = s.send("PATCH", "/files/u1");
    assert_eq!(again.body, Body::Bytes(bytes::Bytes::from_static(b"bcd")));
    s.reply(id, at(4));
    let Asked::Read(id, 4) = s.next() else {
        panic!()
    };
    s.machine.answer(
        id,
        uptask_proto::engine::Answer::Read(bytes::Bytes::from_static(b"ef")),
    );
    let (id, last) = s.send("PATCH", "/files/u1");
    assert_eq!(header(&last, "upload-length"), "6");
    s.reply(id, at(6));
    assert!(s.done().complete);
    assert!(s.events.contains(&Event::Grow { expected: 6 }));
}

#[test]
fn a_stream_needs_a_server_that_defers_the_length() {
    let mut s = scenario(0, |c| c.stream = true);
    discovered(&mut s, "creation");
    assert!(s.failure().contains("creation-defer-length"));
}

#[test]
fn retry_delays_are_jittered_within_a_quarter() {
    let mut s = scenario(10, |c| c.retry_delays = vec![Duration::from_secs(4)]);
    discovered(&mut s, "creation");
    created(&mut s);
    let (id, _) = s.send("PATCH", "/files/u1");
    s.fail(id, true);
    let until = s.wait_out().unwrap();
    assert!(
        until >= Duration::from_secs(3) && until <= Duration::from_secs(5),
        "{until:?}"
    );
    let (id, _) = s.send("HEAD", "/files/u1");
    s.reply(id, at(10));
    assert!(s.done().complete);
}
