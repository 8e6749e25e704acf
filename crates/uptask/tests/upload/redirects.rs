//! Redirects: 307/308 re-send the body within the origin only, with a cap on their number.

use std::sync::atomic::Ordering;

use uptask::{ErrorKind, upload_file};

use crate::support::{Behavior, TestServer, Trace};
use crate::{opts, payload};

fn redirect(status: u16, location: &str, final_path: &str) -> Behavior {
    Behavior::Redirect {
        status,
        location: location.to_owned(),
        final_path: final_path.to_owned(),
    }
}

#[tokio::test]
async fn a_307_within_the_origin_re_sends_the_whole_body() {
    let server = TestServer::start(redirect(307, "/final?x=1", "/final?x=1")).await;
    let data = payload(300_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.bin");
    std::fs::write(&path, &data).unwrap();
    let task = upload_file(
        uptask::UploadOptions::new(&server.url, &path, "file")
            .header("Authorization", "Bearer t0k3n"),
    );
    let trace = Trace::default();
    trace.attach(&task);
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200);
    assert_eq!(
        *server.seen.paths.lock().unwrap(),
        ["/upload", "/final?x=1"]
    );
    // The second request carried the whole file again.
    let body = server.seen.body.lock().unwrap().clone();
    crate::support::assert_body_carries(&body, &done.data, &data);
    let heads = server.seen.heads.lock().unwrap().clone();
    assert!(
        heads[1].contains("Authorization: Bearer t0k3n"),
        "same origin keeps its headers"
    );
    // One headers event (the final response), progress never goes back.
    let events = trace.events();
    assert_eq!(
        events.iter().filter(|e| e.starts_with("headers:")).count(),
        1
    );
    let progress = trace.progress();
    assert!(progress.windows(2).all(|w| w[1].1 > w[0].1));
}

#[tokio::test]
async fn a_308_to_another_origin_is_not_followed_and_nothing_goes_there() {
    let other = TestServer::start(Behavior::Echo).await;
    let server = TestServer::start(redirect(308, &other.url, "/never")).await;
    let task =
        upload_file(opts(&server.url, payload(10_000)).header("Authorization", "Bearer secret"));
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 308, "the redirect itself is the outcome");
    assert_eq!(done.header.get("location"), Some(&other.url));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        other.seen.connections.load(Ordering::SeqCst),
        0,
        "no byte (and no Authorization) to another origin"
    );
}

#[tokio::test]
async fn redirect_loops_are_capped() {
    let server = TestServer::start(redirect(307, "/loop", "/never")).await;
    let err = upload_file(opts(&server.url, payload(1000)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.to_string().contains("too many redirects"), "{err}");
    assert_eq!(
        server.seen.paths.lock().unwrap().len(),
        6,
        "the first request and 5 redirects"
    );
}

#[tokio::test]
async fn other_redirects_are_outcomes_not_followed() {
    for status in [301, 302, 303] {
        let server = TestServer::start(redirect(status, "/elsewhere", "/elsewhere")).await;
        let done = upload_file(opts(&server.url, payload(1000))).await.unwrap();
        assert_eq!(done.status_code, status);
        assert_eq!(server.seen.paths.lock().unwrap().len(), 1);
    }
}
