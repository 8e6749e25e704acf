//! The S3 machine through a signer (Companion's S3 routes): the signer creates, lists,
//! completes and aborts; each part goes to the URL it presigned, without the user's headers,
//! with `Content-MD5` or (when the signer takes it) its CRC32C signed into the URL.

use std::time::Duration;

use uptask_proto::engine::{Body, DigestAlgorithm, Event, Machine, Memo, Response, Why};
use uptask_proto::s3::{Entry, S3Config, S3Machine, SignerRoutes};

use crate::scenario::{Asked, Scenario, header};

const SIGNER: &str = "http://127.0.0.1:9099/s3";
const MIB: u64 = 1 << 20;

fn scenario(len: u64, f: impl FnOnce(&mut S3Config)) -> Scenario<S3Machine<String>> {
    let routes = SignerRoutes::new(SIGNER.parse().unwrap(), "big file.bin");
    let mut config = S3Config::through(routes, len);
    config.content_type = "application/x-test".into();
    config.part_size = 5 * MIB;
    config.concurrency = 2;
    config.retry_delays = vec![Duration::ZERO, Duration::ZERO];
    f(&mut config);
    Scenario::new(S3Machine::new(config))
}

fn json(body: &str) -> Response {
    Response::new(200).with_data(body)
}

fn md5(s: &mut Scenario<S3Machine<String>>, range: (u64, u64)) {
    match s.next() {
        Asked::Digest(
            id,
            DigestAlgorithm::Md5,
            uptask_proto::engine::DigestOf::Range { offset, len },
        ) if (offset, len) == range => {
            s.machine
                .answer(id, uptask_proto::engine::Answer::Digest(vec![0xff; 16]));
        }
        other => panic!("expected an MD5 of {range:?}, got {other:?}"),
    }
}

/// Part `n`: its MD5, the signer's URL for it, then the PUT there (returned unanswered).
fn part(
    s: &mut Scenario<S3Machine<String>>,
    n: u64,
    range: (u64, u64),
) -> uptask_proto::engine::RequestId {
    md5(s, range);
    let (id, sign) = s.send("GET", &format!("/s3/multipart/u-1/{n}?key=up%2Fbig"));
    assert!(sign.user_headers, "the user's headers go to the signer");
    s.reply(id, json(&format!(r#"{{"url":"http://127.0.0.1:8333/b/up/big?partNumber={n}&X-Amz-Signature=s{n}","expires":900}}"#)));
    let (id, put) = s.send("PUT", &format!("&X-Amz-Signature=s{n}"));
    assert!(
        !put.user_headers,
        "the user's headers never go to the store"
    );
    assert_eq!(header(&put, "content-md5"), "/////////////////////w==");
    assert!(put.header("authorization").is_none());
    assert_eq!(
        put.body,
        Body::Range {
            offset: range.0,
            len: range.1
        }
    );
    id
}

fn created(s: &mut Scenario<S3Machine<String>>) {
    let (id, create) = s.send("POST", "/s3/multipart");
    let Body::Bytes(body) = &create.body else {
        panic!("the creation carries JSON");
    };
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["filename"], "big file.bin");
    assert_eq!(body["type"], "application/x-test");
    assert_eq!(body["checksumAlgorithm"], "CRC32C", "CRC32C is asked for");
    s.reply(
        id,
        json(r#"{"key":"up/big","uploadId":"u-1","bucket":"b"}"#),
    );
}

/// The creation, answered by a signer that presigns CRC32C.
fn created_with_crc32c(s: &mut Scenario<S3Machine<String>>) {
    let (id, _) = s.send("POST", "/s3/multipart");
    s.reply(
        id,
        json(r#"{"key":"up/big","uploadId":"u-1","checksumAlgorithm":"CRC32C"}"#),
    );
}

/// Part `n` of an upload with CRC32C: its CRC32C, the signer's URL for it with the value, the
/// PUT there with no checksum header of its own (returned unanswered).
fn crc32c_part(
    s: &mut Scenario<S3Machine<String>>,
    n: u64,
    range: (u64, u64),
) -> uptask_proto::engine::RequestId {
    match s.next() {
        Asked::Digest(
            id,
            DigestAlgorithm::Crc32c,
            uptask_proto::engine::DigestOf::Range { offset, len },
        ) if (offset, len) == range => {
            let crc = u8::try_from(n).unwrap();
            s.machine
                .answer(id, uptask_proto::engine::Answer::Digest(vec![crc; 4]));
        }
        other => panic!("expected a CRC32C of {range:?}, got {other:?}"),
    }
    let crc = match n {
        1 => "AQEBAQ%3D%3D",
        2 => "AgICAg%3D%3D",
        _ => "AwMDAw%3D%3D",
    };
    let (id, _) = s.send(
        "GET",
        &format!("/s3/multipart/u-1/{n}?key=up%2Fbig&checksumCRC32C={crc}"),
    );
    s.reply(id, json(&format!(r#"{{"url":"http://127.0.0.1:8333/b/up/big?partNumber={n}&x-amz-checksum-crc32c=C&X-Amz-Signature=s{n}"}}"#)));
    let (id, put) = s.send("PUT", &format!("&X-Amz-Signature=s{n}"));
    assert!(put.header("content-md5").is_none());
    assert!(put.header("x-amz-checksum-crc32c").is_none());
    id
}

#[test]
fn a_small_file_is_one_put_to_the_url_the_signer_gives() {
    let mut s = scenario(10, |_| {});
    md5(&mut s, (0, 10));
    let (id, params) = s.send(
        "GET",
        "/s3/params?filename=big+file.bin&type=application%2Fx-test",
    );
    s.reply(id, json(r#"{"method":"PUT","url":"http://127.0.0.1:8333/b/k?X-Amz-Signature=1","fields":{},"headers":{"content-type":"application/x-test"}}"#));
    let (id, put) = s.send("PUT", "/b/k?X-Amz-Signature=1");
    assert_eq!(header(&put, "content-type"), "application/x-test");
    assert!(!put.user_headers);
    s.sent(id, 10);
    s.reply(id, Response::new(200).with_header("ETag", "\"e\""));
    let done = s.done();
    assert!(done.complete);
    assert_eq!(
        done.upload_url.as_deref(),
        Some("http://127.0.0.1:8333/b/k")
    );
    assert_eq!(s.progress(), [10]);
    assert!(params.user_headers);
}

#[test]
fn parts_go_to_presigned_urls_and_the_signer_completes_them_in_order() {
    let mut s = scenario(12 * MIB, |_| {});
    created(&mut s);
    let p1 = part(&mut s, 1, (0, 5 * MIB));
    let p2 = part(&mut s, 2, (5 * MIB, 5 * MIB));
    assert!(matches!(s.next(), Asked::Wait(None)), "two at once");
    s.reply(p2, Response::new(200).with_header("ETag", "\"e2\""));
    let p3 = part(&mut s, 3, (10 * MIB, 2 * MIB));
    s.reply(p3, Response::new(200).with_header("ETag", "\"e3\""));
    s.reply(p1, Response::new(200).with_header("ETag", "\"e1\""));
    let (id, complete) = s.send("POST", "/s3/multipart/u-1/complete?key=up%2Fbig");
    let Body::Bytes(body) = &complete.body else {
        panic!("the completion carries JSON");
    };
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"parts": [
            {"PartNumber": 1, "ETag": "\"e1\""},
            {"PartNumber": 2, "ETag": "\"e2\""},
            {"PartNumber": 3, "ETag": "\"e3\""},
        ]})
    );
    s.reply(id, json(r#"{"location":"http://127.0.0.1:8333/b/up/big"}"#));
    let done = s.done();
    assert!(done.complete);
    assert_eq!(
        done.upload_url.as_deref(),
        Some("http://127.0.0.1:8333/b/up/big")
    );
    assert_eq!(s.milestones(), ["remember", "created", "forget"]);
    let created = s.events.iter().find_map(|e| match e {
        Event::Created { url } => Some(url.clone()),
        _ => None,
    });
    assert_eq!(
        created.as_deref(),
        Some("http://127.0.0.1:9099/s3/multipart/u-1?key=up%2Fbig")
    );
    let remembered = s.events.iter().find_map(|e| match e {
        Event::Remember(Memo::S3(entry)) => Some(entry.clone()),
        _ => None,
    });
    let entry = remembered.unwrap();
    assert_eq!(
        (entry.key.as_deref(), entry.crc32c),
        (Some("up/big"), false)
    );
}

#[test]
fn a_part_the_store_fails_is_signed_anew_and_sent_again() {
    let mut s = scenario(6 * MIB, |c| c.concurrency = 1);
    created(&mut s);
    let p1 = part(&mut s, 1, (0, 5 * MIB));
    s.reply(
        p1,
        Response::new(503).with_data("<Error><Code>SlowDown</Code><Message>busy</Message></Error>"),
    );
    // The MD5 is kept; the URL is not (it may have expired while waiting).
    let (id, _) = s.send("GET", "/s3/multipart/u-1/1?key=up%2Fbig");
    s.reply(
        id,
        json(r#"{"url":"http://127.0.0.1:8333/b/up/big?partNumber=1&X-Amz-Signature=again"}"#),
    );
    let (id, _) = s.send("PUT", "X-Amz-Signature=again");
    s.reply(id, Response::new(200).with_header("ETag", "\"e1\""));
    assert!(s.milestones().contains(&"retrying:1".to_owned()));
}

#[test]
fn a_signer_that_refuses_ends_the_upload_with_its_answer_and_the_abort_goes_to_it() {
    let mut s = scenario(12 * MIB, |_| {});
    created(&mut s);
    md5(&mut s, (0, 5 * MIB));
    let (id, _) = s.send("GET", "/s3/multipart/u-1/1?key=up%2Fbig");
    s.reply(
        id,
        Response::new(401).with_data(r#"{"error":"s3: a token is required"}"#),
    );
    let outcome = s.done();
    assert_eq!(outcome.response.status, 401);
    assert!(!outcome.complete);
    let words = s.machine.last_words(Why::Failed);
    assert_eq!(words.requests.len(), 1);
    let abort = &words.requests[0];
    assert_eq!(abort.method, "DELETE");
    assert_eq!(
        abort.url.as_str(),
        "http://127.0.0.1:9099/s3/multipart/u-1?key=up%2Fbig"
    );
    assert!(
        abort.user_headers,
        "the signer needs the user's token for the abort too"
    );
}

#[test]
fn a_presigning_answer_without_a_put_url_is_a_protocol_error() {
    let mut s = scenario(10, |_| {});
    md5(&mut s, (0, 10));
    let (id, _) = s.send(
        "GET",
        "/s3/params?filename=big+file.bin&type=application%2Fx-test",
    );
    s.reply(id, json(r#"{"method":"PUT","url":"file:///etc/passwd"}"#));
    assert!(s.failure().contains("no presigned PUT URL"));
}

#[test]
fn a_small_file_the_signer_would_post_as_a_form_goes_as_one_part() {
    // Companion presigns a whole small file as a browser's POST form.
    let mut s = scenario(10, |_| {});
    md5(&mut s, (0, 10));
    let (id, _) = s.send(
        "GET",
        "/s3/params?filename=big+file.bin&type=application%2Fx-test",
    );
    s.reply(
        id,
        json(r#"{"method":"POST","url":"http://127.0.0.1:8333/b","fields":{"key":"k"}}"#),
    );
    created(&mut s);
    // The MD5 of the same bytes stands; part 1 is signed and sent as a PUT.
    let (id, _) = s.send("GET", "/s3/multipart/u-1/1?key=up%2Fbig");
    s.reply(
        id,
        json(r#"{"url":"http://127.0.0.1:8333/b/up/big?partNumber=1&X-Amz-Signature=s1"}"#),
    );
    let (id, put) = s.send("PUT", "X-Amz-Signature=s1");
    assert_eq!(put.body, Body::Range { offset: 0, len: 10 });
    assert!(!put.user_headers);
    s.sent(id, 10);
    s.reply(id, Response::new(200).with_header("ETag", "\"e1\""));
    let (id, complete) = s.send("POST", "/s3/multipart/u-1/complete?key=up%2Fbig");
    let Body::Bytes(body) = &complete.body else {
        panic!("the completion carries JSON");
    };
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(body).unwrap(),
        serde_json::json!({"parts": [{"PartNumber": 1, "ETag": "\"e1\""}]})
    );
    s.reply(id, json(r#"{"location":"http://127.0.0.1:8333/b/up/big"}"#));
    assert!(s.done().complete);
    assert_eq!(s.progress(), [10]);
}

#[test]
fn a_remembered_direct_upload_is_listed_through_the_signer_and_goes_on() {
    let mut s = scenario(12 * MIB, |c| {
        let mut entry = Entry::new("u-1", 5 * MIB, false);
        entry.key = Some("up/big".into());
        c.stored = Some(entry);
    });
    let (id, _) = s.send("GET", "/s3/multipart/u-1?key=up%2Fbig");
    // Part 1 is the file's (its ETag is the MD5 the digest gives); part 2 is not.
    s.reply(id, json(r#"[{"PartNumber":1,"Size":5242880,"ETag":"\"ffffffffffffffffffffffffffffffff\""},{"PartNumber":2,"Size":5242880,"ETag":"\"00000000000000000000000000000000\""}]"#));
    md5(&mut s, (0, 5 * MIB));
    md5(&mut s, (5 * MIB, 5 * MIB));
    let p2 = part(&mut s, 2, (5 * MIB, 5 * MIB));
    assert!(s.milestones().contains(&"resumed:5242880".to_owned()));
    s.reply(p2, Response::new(200).with_header("ETag", "\"e2\""));
}

#[test]
fn a_remembered_upload_without_a_key_starts_anew() {
    let mut s = scenario(12 * MIB, |c| {
        c.stored = Some(Entry::new("u-0", 5 * MIB, false));
    });
    created(&mut s);
}

#[test]
fn a_signer_that_takes_crc32c_signs_each_parts_value_and_gets_them_at_the_completion() {
    let mut s = scenario(12 * MIB, |_| {});
    created_with_crc32c(&mut s);
    let p1 = crc32c_part(&mut s, 1, (0, 5 * MIB));
    let p2 = crc32c_part(&mut s, 2, (5 * MIB, 5 * MIB));
    s.reply(p1, Response::new(200).with_header("ETag", "\"e1\""));
    let p3 = crc32c_part(&mut s, 3, (10 * MIB, 2 * MIB));
    s.reply(p2, Response::new(200).with_header("ETag", "\"e2\""));
    s.reply(p3, Response::new(200).with_header("ETag", "\"e3\""));
    let (id, complete) = s.send("POST", "/s3/multipart/u-1/complete?key=up%2Fbig");
    let Body::Bytes(body) = &complete.body else {
        panic!("the completion carries JSON");
    };
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(body).unwrap(),
        serde_json::json!({"parts": [
            {"PartNumber": 1, "ETag": "\"e1\"", "ChecksumCRC32C": "AQEBAQ=="},
            {"PartNumber": 2, "ETag": "\"e2\"", "ChecksumCRC32C": "AgICAg=="},
            {"PartNumber": 3, "ETag": "\"e3\"", "ChecksumCRC32C": "AwMDAw=="},
        ]})
    );
    s.reply(id, json(r#"{"location":"http://127.0.0.1:8333/b/up/big"}"#));
    assert!(s.done().complete);
    let remembered = s.events.iter().find_map(|e| match e {
        Event::Remember(Memo::S3(entry)) => Some(entry.crc32c),
        _ => None,
    });
    assert_eq!(remembered, Some(true), "a resume keeps the CRC32Cs");
}

#[test]
fn a_small_files_md5_is_taken_again_as_crc32c_once_the_signer_takes_it() {
    let mut s = scenario(10, |_| {});
    md5(&mut s, (0, 10));
    let (id, _) = s.send("GET", "type=application%2Fx-test");
    s.reply(
        id,
        json(r#"{"method":"POST","url":"http://127.0.0.1:8333/b","fields":{}}"#),
    );
    created_with_crc32c(&mut s);
    let p1 = crc32c_part(&mut s, 1, (0, 10));
    s.reply(p1, Response::new(200).with_header("ETag", "\"e1\""));
    let (id, _) = s.send("POST", "/complete?key=up%2Fbig");
    s.reply(id, json("{}"));
    assert!(s.done().complete);
}

#[test]
fn without_crc32c_the_signer_is_not_asked_for_it() {
    let mut s = scenario(12 * MIB, |c| c.crc32c = false);
    let (id, create) = s.send("POST", "/s3/multipart");
    let Body::Bytes(body) = &create.body else {
        panic!("the creation carries JSON");
    };
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert!(body.get("checksumAlgorithm").is_none());
    // A signer that claims CRC32C anyway is not believed: the parts carry Content-MD5.
    s.reply(
        id,
        json(r#"{"key":"up/big","uploadId":"u-1","checksumAlgorithm":"CRC32C"}"#),
    );
    part(&mut s, 1, (0, 5 * MIB));
}
