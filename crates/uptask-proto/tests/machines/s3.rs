//! The S3 machine: the rows of the S3 fault table at the protocol level, and the rules of
//! docs/PROTOCOLS.md ("S3-compatible stores", "Resuming after a restart").

use std::time::Duration;

use uptask_proto::engine::{
    Answer, Body, DigestAlgorithm, DigestOf, Event, Machine, Response, Why,
};
use uptask_proto::s3::{Entry, S3Config, S3Machine, Signer};
use uptask_proto::sigv4::Credentials;

use crate::scenario::{Asked, Scenario, header};

const OBJECT: &str = "http://127.0.0.1:8333/bucket/big.bin";
const MIB: u64 = 1 << 20;

fn scenario(len: u64, f: impl FnOnce(&mut S3Config)) -> Scenario<S3Machine<String>> {
    let signer = Signer {
        credentials: Credentials::new("AKID", "SECRET"),
        region: "us-east-1".into(),
        user_headers: vec![("x-amz-meta-owner".into(), "ann".into())],
    };
    let mut config = S3Config::new(OBJECT.parse().unwrap(), len, signer);
    config.part_size = 5 * MIB;
    config.concurrency = 2;
    config.retry_delays = vec![Duration::ZERO, Duration::ZERO];
    config.unix_at_zero = Duration::from_secs(1_767_225_600); // 2026-01-01
    f(&mut config);
    Scenario::new(S3Machine::new(config))
}

/// The next action must be a digest of `range`, answered with `digest`.
fn digest(
    s: &mut Scenario<S3Machine<String>>,
    algorithm: DigestAlgorithm,
    range: (u64, u64),
    digest: &[u8],
) {
    match s.next() {
        Asked::Digest(id, a, DigestOf::Range { offset, len })
            if a == algorithm && (offset, len) == range =>
        {
            s.machine.answer(id, Answer::Digest(digest.to_vec()));
        }
        other => panic!("expected a {algorithm:?} digest of {range:?}, got {other:?}"),
    }
}

fn created(s: &mut Scenario<S3Machine<String>>) {
    let (id, r) = s.send("POST", "?uploads");
    assert_eq!(header(&r, "x-amz-checksum-algorithm"), "CRC32C");
    s.reply(id, Response::new(200).with_data("<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>"));
}

fn etag(n: u64) -> Response {
    Response::new(200).with_header("ETag", &format!("\"e{n}\""))
}

#[test]
fn a_small_file_is_one_signed_put_with_its_crc32c() {
    let mut s = scenario(10, |_| {});
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 10), &[0, 0, 0, 1]);
    let (id, put) = s.send("PUT", "/bucket/big.bin");
    assert_eq!(header(&put, "x-amz-checksum-crc32c"), "AAAAAQ==");
    assert_eq!(header(&put, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    assert_eq!(header(&put, "x-amz-date"), "20260101T000000Z");
    let auth = header(&put, "authorization");
    assert!(
        auth.contains("/20260101/us-east-1/s3/aws4_request"),
        "{auth}"
    );
    assert!(
        auth.contains("x-amz-meta-owner"),
        "the user's headers are signed: {auth}"
    );
    assert_eq!(put.body, Body::Range { offset: 0, len: 10 });
    s.sent(id, 10);
    s.reply(id, Response::new(200));
    assert!(s.done().complete);
    assert_eq!(s.progress(), [10]);
}

#[test]
fn md5_checksums_on_request() {
    let mut s = scenario(10, |c| c.crc32c = false);
    digest(&mut s, DigestAlgorithm::Md5, (0, 10), &[0xff; 16]);
    let (_, put) = s.send("PUT", "/bucket/big.bin");
    assert_eq!(header(&put, "content-md5"), "/////////////////////w==");
}

#[test]
fn a_multipart_upload_sends_parts_side_by_side_then_completes_in_order() {
    let mut s = scenario(12 * MIB, |_| {});
    created(&mut s);
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[1; 4]);
    let (p1, put1) = s.send("PUT", "?partNumber=1&uploadId=u-1");
    assert_eq!(
        put1.body,
        Body::Range {
            offset: 0,
            len: 5 * MIB
        }
    );
    digest(&mut s, DigestAlgorithm::Crc32c, (5 * MIB, 5 * MIB), &[2; 4]);
    let (p2, _) = s.send("PUT", "?partNumber=2&uploadId=u-1");
    // Two at once: the third waits for a free slot.
    assert!(matches!(s.next(), Asked::Wait(None)));
    s.sent(p2, 5 * MIB);
    s.reply(p2, etag(2));
    digest(
        &mut s,
        DigestAlgorithm::Crc32c,
        (10 * MIB, 2 * MIB),
        &[3; 4],
    );
    let (p3, _) = s.send("PUT", "?partNumber=3&uploadId=u-1");
    s.reply(p3, etag(3));
    s.sent(p1, 5 * MIB);
    s.reply(p1, etag(1));
    let (id, complete) = s.send("POST", "?uploadId=u-1");
    let Body::Bytes(xml) = &complete.body else {
        panic!()
    };
    let xml = std::str::from_utf8(xml).unwrap();
    assert!(xml.find("<PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag><ChecksumCRC32C>AQEBAQ==</ChecksumCRC32C>").unwrap()
        < xml.find("<PartNumber>3</PartNumber>").unwrap());
    assert_ne!(
        header(&complete, "x-amz-content-sha256"),
        "UNSIGNED-PAYLOAD",
        "the XML's hash is signed"
    );
    s.reply(
        id,
        Response::new(200).with_data("<CompleteMultipartUploadResult/>"),
    );
    assert!(s.done().complete);
    assert_eq!(s.milestones(), ["remember", "created", "forget"]);
}

#[test]
fn a_part_sent_again_counts_only_past_its_best_try() {
    let mut s = scenario(10 * MIB, |c| c.concurrency = 1);
    created(&mut s);
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[1; 4]);
    let (id, _) = s.send("PUT", "?partNumber=1&uploadId=u-1");
    s.sent(id, 3 * MIB);
    s.fail(id, true);
    let (id, _) = s.send("PUT", "?partNumber=1&uploadId=u-1");
    s.sent(id, MIB);
    s.sent(id, 4 * MIB);
    s.reply(id, etag(1));
    let _ = s.next();
    assert_eq!(
        s.progress(),
        [3 * MIB, 4 * MIB],
        "never down, nothing counted twice"
    );
    assert_eq!(s.milestones(), ["remember", "created", "retrying:1"]);
}

#[test]
fn network_errors_5xx_and_429_are_retried() {
    for status in [500, 503, 429] {
        let mut s = scenario(10, |_| {});
        digest(&mut s, DigestAlgorithm::Crc32c, (0, 10), &[0; 4]);
        let (id, _) = s.send("PUT", "/bucket/big.bin");
        s.reply(
            id,
            Response::new(status)
                .with_data("<Error><Code>SlowDown</Code><Message>later</Message></Error>"),
        );
        let (id, _) = s.send("PUT", "/bucket/big.bin");
        s.reply(id, Response::new(200));
        assert!(s.done().complete);
        let Some(Event::Retrying { error, .. }) = s
            .events
            .iter()
            .find(|e| matches!(e, Event::Retrying { .. }))
        else {
            panic!()
        };
        assert_eq!(
            error,
            &format!("the store answered {status}: SlowDown: later")
        );
    }
}

#[test]
fn retries_run_out_with_the_transports_error() {
    let mut s = scenario(10, |_| {});
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 10), &[0; 4]);
    for _ in 0..3 {
        let (id, _) = s.send("PUT", "/bucket/big.bin");
        s.fail(id, true);
    }
    assert_eq!(s.failure(), "connection reset");
}

#[test]
fn a_4xx_is_the_outcome_and_aborts_the_multipart_upload() {
    let mut s = scenario(10 * MIB, |c| c.keep = true);
    created(&mut s);
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[1; 4]);
    let (id, _) = s.send("PUT", "?partNumber=1&uploadId=u-1");
    s.reply(
        id,
        Response::new(403).with_data("<Error><Code>AccessDenied</Code></Error>"),
    );
    let done = s.done();
    assert_eq!((done.response.status, done.complete), (403, false));
    let words = s.machine.last_words(Why::Answered);
    assert_eq!(words.requests[0].method, "DELETE");
    assert!(words.requests[0].url.as_str().ends_with("?uploadId=u-1"));
    assert!(words.forget);
}

#[test]
fn an_abort_aborts_the_multipart_upload_even_when_kept() {
    let mut s = scenario(10 * MIB, |c| c.keep = true);
    created(&mut s);
    let words = s.machine.last_words(Why::Aborted);
    assert_eq!(words.requests.len(), 1);
    assert!(words.forget);
    assert!(!s.machine.pausable());
}

#[test]
fn a_failure_keeps_the_upload_when_there_is_a_resume_store() {
    let mut kept = scenario(10 * MIB, |c| c.keep = true);
    created(&mut kept);
    let words = kept.machine.last_words(Why::Failed);
    assert!(words.requests.is_empty() && !words.forget);
    assert!(kept.machine.last_words(Why::TimedOut).requests.is_empty());
    let mut not = scenario(10 * MIB, |_| {});
    created(&mut not);
    assert_eq!(not.machine.last_words(Why::Failed).requests.len(), 1);
}

#[test]
fn nothing_to_abort_before_creation() {
    let mut s = scenario(10 * MIB, |_| {});
    let _ = s.send("POST", "?uploads");
    assert!(s.machine.last_words(Why::Aborted).requests.is_empty());
}

#[test]
fn a_creation_without_an_upload_id_is_a_protocol_error() {
    let mut s = scenario(10 * MIB, |_| {});
    let (id, _) = s.send("POST", "?uploads");
    s.reply(id, Response::new(200).with_data("<nothing/>"));
    assert!(s.failure().contains("without an UploadId"));
}

#[test]
fn a_part_without_an_etag_is_a_protocol_error() {
    let mut s = scenario(10 * MIB, |c| c.concurrency = 1);
    created(&mut s);
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[1; 4]);
    let (id, _) = s.send("PUT", "?partNumber=1&uploadId=u-1");
    s.reply(id, Response::new(200));
    assert!(s.failure().contains("accepted part 1 without an ETag"));
}

#[test]
fn a_completion_that_fails_inside_a_200_is_a_failure() {
    let mut s = scenario(6 * MIB, |c| c.concurrency = 1);
    created(&mut s);
    for (n, range) in [(1, (0, 5 * MIB)), (2, (5 * MIB, MIB))] {
        digest(&mut s, DigestAlgorithm::Crc32c, range, &[1; 4]);
        let (id, _) = s.send("PUT", &format!("?partNumber={n}&uploadId=u-1"));
        s.reply(id, etag(n));
    }
    let (id, _) = s.send("POST", "?uploadId=u-1");
    s.reply(
        id,
        Response::new(200)
            .with_data("<Error><Code>InternalError</Code><Message>oops</Message></Error>"),
    );
    assert_eq!(
        s.failure(),
        "CompleteMultipartUpload failed: InternalError: oops"
    );
}

fn listing(parts: &[(u64, &str, u64)], next: Option<u64>) -> Response {
    let mut xml = String::from("<ListPartsResult>");
    if let Some(m) = next {
        xml.push_str(&format!(
            "<IsTruncated>true</IsTruncated><NextPartNumberMarker>{m}</NextPartNumberMarker>"
        ));
    }
    for (n, etag, size) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{etag}\"</ETag><Size>{size}</Size></Part>"
        ));
    }
    Response::new(200).with_data(xml + "</ListPartsResult>")
}

const MD5_A: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn a_remembered_upload_sends_only_the_parts_the_store_lacks_or_holds_wrong() {
    let mut s = scenario(15 * MIB, |c| {
        c.stored = Some(Entry::new("old", 5 * MIB, true));
        c.part_size = 8 * MIB; // the stored upload's part size wins
    });
    let (id, list) = s.send("GET", "?uploadId=old");
    assert!(list.url.query().unwrap().contains("uploadId=old"));
    // Page one: part 1 (an MD5 ETag), page two: part 2 (changed since) and part 3 (wrong size).
    s.reply(id, listing(&[(1, MD5_A, 5 * MIB)], Some(1)));
    let (id, page2) = s.send("GET", "?uploadId=old&part-number-marker=1");
    assert_eq!(page2.method, "GET");
    s.reply(id, listing(&[(2, MD5_A, 5 * MIB), (3, "abc-2", MIB)], None));
    let md5: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&MD5_A[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    digest(&mut s, DigestAlgorithm::Md5, (0, 5 * MIB), &md5);
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[9; 4]);
    digest(&mut s, DigestAlgorithm::Md5, (5 * MIB, 5 * MIB), &[0; 16]);
    digest(&mut s, DigestAlgorithm::Crc32c, (5 * MIB, 5 * MIB), &[2; 4]);
    let (p2, _) = s.send("PUT", "?partNumber=2&uploadId=old");
    assert_eq!(s.milestones(), ["resumed:5242880"]);
    assert_eq!(s.progress(), [5 * MIB], "the stored part counts at once");
    digest(
        &mut s,
        DigestAlgorithm::Crc32c,
        (10 * MIB, 5 * MIB),
        &[3; 4],
    );
    let (p3, _) = s.send("PUT", "?partNumber=3&uploadId=old");
    s.reply(p2, etag(2));
    s.reply(p3, etag(3));
    let (id, complete) = s.send("POST", "?uploadId=old");
    let Body::Bytes(xml) = &complete.body else {
        panic!()
    };
    assert!(std::str::from_utf8(xml).unwrap().contains(&format!(
        "&quot;{MD5_A}&quot;</ETag><ChecksumCRC32C>CQkJCQ=="
    )));
    s.reply(id, Response::new(200));
    assert!(s.done().complete);
}

#[test]
fn a_remembered_upload_the_store_no_longer_has_starts_anew() {
    let mut s = scenario(10 * MIB, |c| {
        c.stored = Some(Entry::new("old", 5 * MIB, true));
    });
    let (id, _) = s.send("GET", "?uploadId=old");
    s.reply(
        id,
        Response::new(404).with_data("<Error><Code>NoSuchUpload</Code></Error>"),
    );
    created(&mut s);
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[1; 4]);
    assert_eq!(s.milestones(), ["forget", "remember", "created"]);
}

#[test]
fn fresh_aborts_the_remembered_upload_first() {
    let mut s = scenario(10 * MIB, |c| {
        c.stored = Some(Entry::new("old", 5 * MIB, true));
        c.fresh = true;
    });
    let (id, _) = s.send("DELETE", "?uploadId=old");
    s.fail(id, false); // its failure does not matter
    created(&mut s);
}

#[test]
fn a_listing_whose_marker_does_not_move_on_stops() {
    let mut s = scenario(10 * MIB, |c| {
        c.stored = Some(Entry::new("old", 5 * MIB, true));
    });
    let (id, _) = s.send("GET", "?uploadId=old");
    s.reply(id, listing(&[], Some(3)));
    let (id, _) = s.send("GET", "?uploadId=old&part-number-marker=3");
    s.reply(id, listing(&[], Some(3)));
    // No third page: the upload goes on with what was listed (nothing).
    digest(&mut s, DigestAlgorithm::Crc32c, (0, 5 * MIB), &[1; 4]);
}

#[test]
fn a_listing_that_is_not_one_is_a_protocol_error() {
    let mut s = scenario(10 * MIB, |c| {
        c.stored = Some(Entry::new("old", 5 * MIB, true));
    });
    let (id, _) = s.send("GET", "?uploadId=old");
    s.reply(id, Response::new(200).with_data("<html/>"));
    assert!(s.failure().contains("not a part list"));
}
