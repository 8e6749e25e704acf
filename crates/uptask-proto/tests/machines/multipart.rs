//! The multipart machine: one POST of the planned body, redirects within the origin, and the
//! headers event as soon as the final head arrives.

use uptask_proto::engine::{Body, Event, Machine, Response};
use uptask_proto::multipart::machine::{MAX_REDIRECTS, MultipartMachine};

use crate::scenario::{Scenario, header};

fn scenario() -> Scenario<MultipartMachine<String>> {
    let url = "http://127.0.0.1:8080/upload".parse().unwrap();
    Scenario::new(MultipartMachine::new(
        url,
        1000,
        "multipart/form-data; boundary=b".into(),
    ))
}

fn headers_events(s: &Scenario<MultipartMachine<String>>) -> usize {
    s.events
        .iter()
        .filter(|e| matches!(e, Event::Headers(_)))
        .count()
}

#[test]
fn one_post_whose_answer_is_the_outcome_with_one_headers_event() {
    let mut s = scenario();
    let (id, post) = s.send("POST", "/upload");
    assert_eq!(post.body, Body::Multipart { len: 1000 });
    assert_eq!(
        header(&post, "content-type"),
        "multipart/form-data; boundary=b"
    );
    s.sent(id, 400);
    let head = Response::new(201).with_header("X-Id", "7");
    s.machine.head(id, 201, &head.header);
    s.reply(id, head.with_data("{}"));
    let done = s.done();
    assert_eq!(
        (done.response.status, done.response.data.as_str()),
        (201, "{}")
    );
    assert_eq!(s.progress(), [400]);
    assert_eq!(
        headers_events(&s),
        2,
        "at the head and with the outcome; the sink keeps the first"
    );
    assert!(
        s.machine
            .last_words(uptask_proto::engine::Why::Aborted)
            .requests
            .is_empty()
    );
}

#[test]
fn a_307_within_the_origin_sends_the_body_again_there_and_progress_never_steps_back() {
    let mut s = scenario();
    let (id, _) = s.send("POST", "/upload");
    s.sent(id, 1000);
    let redirect = Response::new(307).with_header("Location", "/final?x=1");
    s.machine.head(id, 307, &redirect.header);
    s.reply(id, redirect);
    let (id, again) = s.send("POST", "/final?x=1");
    assert_eq!(again.body, Body::Multipart { len: 1000 });
    s.sent(id, 500);
    s.sent(id, 1000);
    s.reply(id, Response::new(200));
    assert_eq!(s.done().response.status, 200);
    assert_eq!(
        s.progress(),
        [1000, 1000],
        "the re-sent body does not count again"
    );
    assert_eq!(headers_events(&s), 1, "no headers event for the redirect");
}

#[test]
fn a_redirect_to_another_origin_is_the_outcome() {
    let mut s = scenario();
    let (id, _) = s.send("POST", "/upload");
    s.reply(
        id,
        Response::new(308).with_header("Location", "http://elsewhere.example/upload"),
    );
    assert_eq!(s.done().response.status, 308);
}

#[test]
fn other_redirects_are_outcomes() {
    for status in [301, 302, 303] {
        let mut s = scenario();
        let (id, _) = s.send("POST", "/upload");
        s.reply(id, Response::new(status).with_header("Location", "/other"));
        assert_eq!(s.done().response.status, status);
    }
}

#[test]
fn redirect_loops_are_capped() {
    let mut s = scenario();
    for _ in 0..=MAX_REDIRECTS {
        let (id, _) = s.send("POST", "/upload");
        s.reply(id, Response::new(307).with_header("Location", "/upload"));
    }
    assert!(s.failure().contains("too many redirects (more than 5)"));
}

#[test]
fn a_transport_error_is_the_failure_not_retried() {
    let mut s = scenario();
    let (id, _) = s.send("POST", "/upload");
    s.fail(id, true);
    assert_eq!(s.failure(), "connection reset");
}
