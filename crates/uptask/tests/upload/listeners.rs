//! Rule 8: listeners run outside every lock, may abort or remove listeners, get no replay.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uptask::{ListenerId, upload_file};

use crate::support::{Behavior, TestServer, Trace};
use crate::{opts, payload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_may_abort_from_inside_a_callback() {
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 64 * 1024,
        pause: Duration::from_millis(2),
    })
    .await;
    let task = upload_file(opts(&server.url, payload(16 << 20)));
    let handle = task.handle();
    let aborted = Arc::new(AtomicBool::new(false));
    let after_abort = Arc::new(AtomicU64::new(0));
    let (a, n) = (Arc::clone(&aborted), Arc::clone(&after_abort));
    task.on_progress_update(move |p| {
        if a.load(Ordering::SeqCst) {
            n.fetch_add(1, Ordering::SeqCst);
        }
        if p.total_bytes_sent > 1 << 20 && !a.swap(true, Ordering::SeqCst) {
            assert!(handle.abort());
        }
    });
    let (a2, n2) = (Arc::clone(&aborted), Arc::clone(&after_abort));
    task.on_headers_received(move |_| {
        if a2.load(Ordering::SeqCst) {
            n2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let err = task.await.unwrap_err();
    assert!(err.is_aborted());
    assert!(aborted.load(Ordering::SeqCst));
    assert_eq!(
        after_abort.load(Ordering::SeqCst),
        0,
        "an event was delivered after abort"
    );
}

#[tokio::test]
async fn a_listener_may_remove_itself_and_others_from_inside_a_callback() {
    let server = TestServer::start(Behavior::SlowReader {
        chunk: 128 * 1024,
        pause: Duration::from_millis(1),
    })
    .await;
    let task = upload_file(opts(&server.url, payload(4 << 20)));
    let handle = task.handle();
    let (a_calls, b_calls, c_calls) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let ids: Arc<Mutex<Vec<ListenerId>>> = Arc::default();
    let (ac, i) = (Arc::clone(&a_calls), Arc::clone(&ids));
    let a = task.on_progress_update(move |_| {
        ac.fetch_add(1, Ordering::SeqCst);
        for id in i.lock().unwrap().iter() {
            handle.off_progress_update(*id);
        }
    });
    let bc = Arc::clone(&b_calls);
    let b = task.on_progress_update(move |_| {
        bc.fetch_add(1, Ordering::SeqCst);
    });
    let cc = Arc::clone(&c_calls);
    task.on_progress_update(move |_| {
        cc.fetch_add(1, Ordering::SeqCst);
    });
    ids.lock().unwrap().extend([a, b]);
    task.await.unwrap();
    assert_eq!(
        a_calls.load(Ordering::SeqCst),
        1,
        "removal takes effect from the next event"
    );
    assert!(b_calls.load(Ordering::SeqCst) <= 1);
    assert!(
        c_calls.load(Ordering::SeqCst) > 1,
        "untouched listeners keep receiving"
    );
}

#[tokio::test]
async fn off_progress_update_all_and_off_headers_received_all_remove_every_listener() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(100_000)));
    let trace = Trace::default();
    trace.attach(&task);
    trace.attach(&task);
    task.off_progress_update_all();
    task.off_headers_received_all();
    task.await.unwrap();
    assert!(trace.events().is_empty(), "{:?}", trace.events());
}

#[tokio::test]
async fn off_by_id_removes_exactly_that_listener() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(100_000)));
    let kept = Trace::default();
    let removed = Trace::default();
    let r = removed.clone();
    let id = task.on_progress_update(move |_| r.push("p".into()));
    let r = removed.clone();
    let hid = task.on_headers_received(move |_| r.push("h".into()));
    kept.attach(&task);
    assert!(task.off_progress_update(id));
    assert!(
        !task.off_progress_update(id),
        "a second removal finds nothing"
    );
    assert!(task.off_headers_received(hid));
    assert!(!task.off_headers_received(hid));
    task.await.unwrap();
    assert!(removed.events().is_empty());
    assert!(!kept.events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_listener_gets_no_replay() {
    let server = TestServer::start(Behavior::PauseAfterHead(Duration::from_millis(500))).await;
    let task = upload_file(opts(&server.url, payload(10_000)));
    let handle = task.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    task.on_headers_received(move |_| {
        let _ = tx.send(());
    });
    let waiter = tokio::spawn(task);
    tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .await
        .unwrap();
    let late = Trace::default();
    let l = late.clone();
    handle.on_headers_received(move |_| l.push("late headers".into()));
    let l = late.clone();
    handle.on_progress_update(move |_| l.push("late progress".into()));
    waiter.await.unwrap().unwrap();
    assert!(late.events().is_empty(), "{:?}", late.events());
}

#[tokio::test]
async fn the_chainable_aliases_deliver_events() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(100_000)));
    let trace = Trace::default();
    let (t1, t2) = (trace.clone(), trace.clone());
    task.progress(move |p| t1.push(format!("progress:{}", p.progress)))
        .headers_received(move |_| t2.push("headers".into()));
    task.await.unwrap();
    let events = trace.events();
    assert_eq!(events.last().unwrap(), "headers");
    assert!(events.contains(&"progress:100".to_owned()));
}

#[tokio::test]
async fn a_panicking_listener_does_not_break_the_upload() {
    let server = TestServer::start(Behavior::Echo).await;
    let task = upload_file(opts(&server.url, payload(100_000)));
    task.on_progress_update(|_| panic!("listener bug"));
    let trace = Trace::default();
    trace.attach(&task);
    let done = task.await.unwrap();
    assert_eq!(done.status_code, 200);
    assert!(!trace.progress().is_empty());
}
