//! The result's `profile`: WeChat's timing fields, measured over a real socket.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uptask::upload_file;

use crate::support::{Behavior, TestServer};
use crate::{opts, payload};

#[tokio::test]
async fn the_profile_orders_the_stages_and_names_the_peer() {
    // The server holds the response body back 300 ms after its head.
    let server = TestServer::start(Behavior::PauseAfterHead(Duration::from_millis(300))).await;
    let data = payload(200_000);
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let done = upload_file(opts(&server.url, data.clone())).await.unwrap();
    let p = done.profile.clone().unwrap();
    let stages = [
        Some(p.invoke_start),
        p.domain_look_up_start,
        p.domain_look_up_end,
        p.connect_start,
        p.connect_end,
        Some(p.request_start),
        Some(p.request_end),
        Some(p.response_start),
        Some(p.response_end),
    ]
    .map(|t| t.unwrap_or_else(|| panic!("a stage is missing: {p:?}")));
    assert!(stages.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
    // Wall-clock milliseconds, taken at the call.
    let invoked = Duration::from_secs_f64(p.invoke_start / 1000.0);
    assert!(invoked.abs_diff(before) < Duration::from_secs(1), "{p:?}");
    // The pause is where it happened: between the head and the end of the body.
    assert!(p.response_end - p.response_start >= 290.0, "{p:?}");
    assert!(p.response_start - p.request_start < 290.0, "{p:?}");
    assert_eq!((p.ssl_connection_start, p.ssl_connection_end), (None, None));
    let port: u16 = server
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        (p.peer_ip.as_deref(), p.port),
        (Some("127.0.0.1"), Some(port))
    );
    assert_eq!(
        (p.protocol.as_deref(), p.socket_reused),
        (Some("http/1.1"), Some(false))
    );
    // Head and body, as the server read them.
    let head = server.seen.head.lock().unwrap().len() as u64;
    let body = server.seen.content_length().unwrap();
    assert_eq!(p.send_bytes_count, head + body, "{p:?}");
    // Serialized with WeChat's names.
    let json = serde_json::to_value(&done).unwrap();
    for key in [
        "invokeStart",
        "domainLookUpStart",
        "requestEnd",
        "sendBytesCount",
        "peerIP",
        "socketReused",
    ] {
        assert!(json["profile"].get(key).is_some(), "{key} in {json}");
    }
}
