//! The one runner: drives any protocol machine over a [`Transport`] to the upload's outcome.
//!
//! Abort, pause, the deadline and the last words after an abort (tus `DELETE`, S3
//! `AbortMultipartUpload`) are written here once for every protocol. Requests run side by side
//! (parallel parts); body progress comes back from each through one channel, so the machine
//! sees every count as the socket accepted it.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::mpsc;
use uptask_proto::engine::{
    Action, Answer, DigestOf, Event, Failure, LastWords, Machine, Memo, Outcome, RequestId, Why,
};

use crate::backend::{Heard, Transport};
use crate::digest::{Algorithm, Hasher};
use crate::events::{Control, EventSink};
use crate::resume::Entry;
use crate::{ErrorKind, Notice, UploadError, UploadSuccess};

/// How long each last word (after an abort or a failure) may take.
const LAST_WORDS_WITHIN: Duration = Duration::from_secs(5);

/// What the requests under way heard, owned, with the request it came from.
#[derive(Debug)]
enum Signal {
    /// Bytes accepted, and when (the runner may hear of it later).
    Sent(u64, Duration),
    Head(u16, crate::Header),
}

type Signals = mpsc::UnboundedSender<(RequestId, Signal)>;

type Pending<'a> = Pin<Box<dyn Future<Output = Answer<UploadError>> + Send + 'a>>;

/// What the runner does besides the machine's own actions.
#[derive(Debug)]
pub(crate) struct Setting<'a> {
    /// The whole upload's time limit.
    pub(crate) timeout: Option<Duration>,
    /// Where the machine's memos are kept, if anywhere.
    pub(crate) store: Option<&'a Entry>,
}

/// Runs `machine` to its outcome.
pub(crate) async fn run<M, T>(
    machine: &mut M,
    transport: &T,
    sink: &mut EventSink,
    control: &Control,
    setting: Setting<'_>,
) -> Result<UploadSuccess, UploadError>
where
    M: Machine<Error = UploadError>,
    T: Transport,
{
    let mut runner = Runner {
        transport,
        store: setting.store,
        deadline: setting.timeout.map(|t| crate::backend::now() + t),
        inflight: Vec::new(),
        heard_at: None,
        signals: mpsc::unbounded_channel(),
    };
    let ending = runner.drive(machine, sink, control).await;
    runner.inflight.clear();
    let (why, result) = match ending {
        Ending::Done(outcome) => {
            sink.headers(&outcome.response.header);
            let mut success = UploadSuccess::new(
                outcome.response.status,
                outcome.response.header,
                outcome.response.data,
            );
            success.upload_url = outcome.upload_url;
            ((!outcome.complete).then_some(Why::Answered), Ok(success))
        }
        Ending::Failed(e) => (Some(Why::Failed), Err(e)),
        Ending::Aborted => (Some(Why::Aborted), Err(UploadError::aborted())),
        Ending::TimedOut => (
            Some(Why::TimedOut),
            Err(UploadError::new(
                ErrorKind::Timeout,
                format!(
                    "the upload did not complete within {:?}",
                    setting.timeout.unwrap_or_default()
                ),
            )),
        ),
    };
    if let Some(why) = why {
        last_words(transport, setting.store, machine.last_words(why)).await;
    }
    result
}

/// How the drive ended.
enum Ending {
    Done(Outcome),
    Failed(UploadError),
    Aborted,
    TimedOut,
}

struct Runner<'a, T> {
    transport: &'a T,
    store: Option<&'a Entry>,
    /// When the whole upload must be done, on the backend clock; moved on while paused.
    deadline: Option<Duration>,
    /// Actions under way: their id, whether they are requests (a pause drops those), and the
    /// future of their answer.
    inflight: Vec<(RequestId, bool, Pending<'a>)>,
    /// When the last body bytes heard of were accepted.
    heard_at: Option<Duration>,
    /// Body bytes accepted and heads arrived, per request, from the requests under way.
    signals: (Signals, mpsc::UnboundedReceiver<(RequestId, Signal)>),
}

impl<'a, T: Transport> Runner<'a, T> {
    async fn drive<M: Machine<Error = UploadError>>(
        &mut self,
        machine: &mut M,
        sink: &mut EventSink,
        control: &Control,
    ) -> Ending {
        loop {
            self.hear_queued(machine);
            match machine.poll(crate::backend::now()) {
                Action::Send { id, request } => {
                    let (transport, tx) = (self.transport, self.signals.0.clone());
                    self.inflight.push((
                        id,
                        true,
                        Box::pin(async move {
                            let mut hear = move |h: Heard<'_>| {
                                let signal = match h {
                                    Heard::Sent(n) => Signal::Sent(n, crate::backend::now()),
                                    Heard::Head { status, header } => {
                                        Signal::Head(status, header.clone())
                                    }
                                };
                                let _ = tx.send((id, signal));
                            };
                            answer(transport.send(&request, &mut hear).await, Answer::Response)
                        }),
                    ));
                }
                Action::Digest { id, algorithm, of } => {
                    let algorithm = match Algorithm::try_from(algorithm) {
                        Ok(a) => a,
                        Err(e) => return Ending::Failed(e),
                    };
                    match of {
                        DigestOf::Range { offset, len } => {
                            let transport = self.transport;
                            self.inflight.push((
                                id,
                                false,
                                Box::pin(async move {
                                    let digest = transport.digest(algorithm, offset, len).await;
                                    answer(digest, Answer::Digest)
                                }),
                            ));
                        }
                        // Bytes held in memory are hashed at once.
                        DigestOf::Bytes(bytes) => {
                            machine.answer(id, Answer::Digest(Hasher::of(algorithm, &bytes)));
                        }
                        _ => return Ending::Failed(internal("a digest of an unknown source")),
                    }
                }
                Action::Read { id, max } => {
                    let transport = self.transport;
                    self.inflight.push((
                        id,
                        false,
                        Box::pin(
                            async move { answer(transport.read_stream(max).await, Answer::Read) },
                        ),
                    ));
                }
                Action::Event(event) => self.event(event, sink),
                Action::Done(outcome) => return Ending::Done(outcome),
                Action::Fail(failure) => return Ending::Failed(error_of(failure)),
                Action::Wait { until } => {
                    if let Some(ending) = self.wait(machine, control, until).await {
                        return ending;
                    }
                }
                _ => return Ending::Failed(internal("the machine asked for an unknown action")),
            }
        }
    }

    /// Waits for the next thing that moves the upload: an answer, progress, `until`, or the
    /// caller (abort, pause) or the deadline ending it.
    async fn wait<M: Machine<Error = UploadError>>(
        &mut self,
        machine: &mut M,
        control: &Control,
        until: Option<Duration>,
    ) -> Option<Ending> {
        let mut paused = control.paused.clone();
        let pause = async {
            if machine.pausable() {
                let _ = paused.wait_for(|p| *p).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            () = control.cancel.cancelled() => return Some(Ending::Aborted),
            () = pause => return self.paused(machine, control).await,
            () = sleep_until(self.deadline) => return Some(Ending::TimedOut),
            Some((id, signal)) = self.signals.1.recv() => self.heard(machine, id, signal),
            (id, answer) = next_answer(&mut self.inflight) => self.answered(machine, id, answer),
            () = sleep_until(until), if until.is_some() => {}
        }
        None
    }

    /// Paused: the requests in flight are dropped (their connections close) and nothing is
    /// sent until resumed; digests and reads under way finish. The deadline moves on by the
    /// time spent paused.
    async fn paused<M: Machine<Error = UploadError>>(
        &mut self,
        machine: &mut M,
        control: &Control,
    ) -> Option<Ending> {
        let since = crate::backend::now();
        tracing::debug!("upload paused");
        self.inflight.retain(|(id, request, _)| {
            if *request {
                machine.dropped(*id);
            }
            !*request
        });
        let mut paused = control.paused.clone();
        loop {
            tokio::select! {
                biased;
                () = control.cancel.cancelled() => return Some(Ending::Aborted),
                _ = paused.wait_for(|p| !*p) => break,
                (id, answer) = next_answer(&mut self.inflight) => self.answered(machine, id, answer),
            }
        }
        if let Some(d) = &mut self.deadline {
            *d += crate::backend::now().saturating_sub(since);
        }
        tracing::debug!("upload resumed");
        None
    }

    /// Gives the machine a request's answer, after what the requests heard before it: a
    /// request's last bytes can be counted in the very poll that gave its answer, and the
    /// machine must hear them while the request is still its own (an S3 part's count heard
    /// after its answer is dropped, and the final progress with it).
    fn answered<M: Machine<Error = UploadError>>(
        &mut self,
        machine: &mut M,
        id: RequestId,
        answer: Answer<UploadError>,
    ) {
        self.hear_queued(machine);
        machine.answer(id, answer);
    }

    /// Hands the machine everything requests heard that it has not been given yet.
    fn hear_queued<M: Machine<Error = UploadError>>(&mut self, machine: &mut M) {
        while let Ok((id, signal)) = self.signals.1.try_recv() {
            self.heard(machine, id, signal);
        }
    }

    /// Hands what a request heard to its machine.
    fn heard<M: Machine<Error = UploadError>>(
        &mut self,
        machine: &mut M,
        id: RequestId,
        signal: Signal,
    ) {
        match signal {
            Signal::Sent(n, at) => {
                self.heard_at = Some(at);
                machine.sent(id, n);
            }
            Signal::Head(status, header) => machine.head(id, status, &header),
        }
    }

    fn event(&mut self, event: Event, sink: &mut EventSink) {
        match event {
            Event::Progress { sent, rewind } => {
                if rewind {
                    sink.rewind();
                }
                // Counted when the socket took the bytes, if that is what this progress is.
                match self.heard_at.take() {
                    Some(at) => sink.progress_at(sent, at),
                    None => sink.progress(sent),
                }
            }
            Event::Grow { expected } => sink.grow(expected),
            Event::Headers(header) => sink.headers(&header),
            Event::Created { url } => sink.notice(Notice::UploadCreated { url }),
            Event::Resumed { offset } => sink.notice(Notice::Resumed { offset }),
            Event::Retrying {
                attempt,
                delay,
                error,
            } => {
                tracing::debug!(attempt, ?delay, %error, "request failed; retrying");
                sink.notice(Notice::Retrying {
                    attempt,
                    delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error,
                });
            }
            Event::Remember(memo) => {
                if let Some(store) = self.store {
                    store.put::<Memo>(&memo);
                }
            }
            Event::Forget => {
                if let Some(store) = self.store {
                    store.remove();
                }
            }
            other => tracing::debug!(?other, "event not reported"),
        }
    }
}

/// Sends the last words side by side, each within its bound; their answers are logged.
async fn last_words<T: Transport>(transport: &T, store: Option<&Entry>, words: LastWords) {
    let sends = words.requests.iter().map(|request| async move {
        let mut ignore = |_: Heard<'_>| {};
        let what = format!("{} {}", request.method, request.url);
        tokio::select! {
            r = transport.send(request, &mut ignore) => match r {
                Ok(r) if r.is_success() || r.status == 404 || r.status == 410 => {
                    tracing::debug!(%what, status = r.status, "last word delivered");
                }
                Ok(r) => tracing::warn!(%what, status = r.status, "last word refused"),
                Err(e) => tracing::warn!(%what, error = %e, "last word failed"),
            },
            () = crate::backend::sleep(LAST_WORDS_WITHIN) => {
                tracing::warn!(%what, "last word timed out");
            }
        }
    });
    crate::join::join_all(sends).await;
    if words.forget
        && let Some(store) = store
    {
        store.remove();
    }
}

/// The answer of a transport call.
fn answer<V>(
    result: Result<V, UploadError>,
    ok: impl FnOnce(V) -> Answer<UploadError>,
) -> Answer<UploadError> {
    match result {
        Ok(v) => ok(v),
        Err(error) => {
            let retryable = matches!(
                error.kind(),
                ErrorKind::Io | ErrorKind::Connect | ErrorKind::Timeout
            );
            Answer::Failed { error, retryable }
        }
    }
}

fn error_of(failure: Failure<UploadError>) -> UploadError {
    match failure {
        Failure::Transport(e) => e,
        Failure::Protocol(m) => UploadError::new(ErrorKind::Protocol, m),
        Failure::InvalidInput(m) => UploadError::invalid(m),
        other => internal(other.to_string()),
    }
}

fn internal(message: impl Into<String>) -> UploadError {
    UploadError::new(ErrorKind::Internal, message.into())
}

/// Waits until `at` on the backend clock; forever for `None`.
async fn sleep_until(at: Option<Duration>) {
    match at {
        Some(at) => crate::backend::sleep(at.saturating_sub(crate::backend::now())).await,
        None => std::future::pending().await,
    }
}

/// The first action under way to finish, taken out of the set; never, while it is empty.
async fn next_answer(
    inflight: &mut Vec<(RequestId, bool, Pending<'_>)>,
) -> (RequestId, Answer<UploadError>) {
    std::future::poll_fn(|cx| {
        for i in 0..inflight.len() {
            if let Poll::Ready(answer) = inflight[i].2.as_mut().poll(cx) {
                let (id, _, _) = inflight.swap_remove(i);
                return Poll::Ready((id, answer));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uptask_proto::engine::{Request, Response};

    use super::*;

    const BODY: u64 = 7;

    /// Counts the whole body and answers in the same poll, as a fast server can make a real
    /// transport do: nothing yields between the count and the answer.
    struct AtOnce;

    impl Transport for AtOnce {
        async fn send(
            &self,
            _request: &Request,
            hear: &mut (dyn FnMut(Heard<'_>) + Send),
        ) -> Result<Response, UploadError> {
            hear(Heard::Sent(BODY));
            Ok(Response::new(200))
        }

        async fn read_stream(&self, _max: usize) -> Result<bytes::Bytes, UploadError> {
            Err(internal("no stream here"))
        }

        async fn digest(
            &self,
            _algorithm: Algorithm,
            _offset: u64,
            _len: u64,
        ) -> Result<Vec<u8>, UploadError> {
            Err(internal("no digest here"))
        }
    }

    /// One request, whose counts count only while it is under way (as an S3 part's do).
    #[derive(Default)]
    struct OneRequest {
        asked: bool,
        under_way: bool,
        counted: u64,
        answered: bool,
    }

    impl Machine for OneRequest {
        type Error = UploadError;

        fn poll(&mut self, _now: Duration) -> Action<UploadError> {
            if !self.asked {
                self.asked = true;
                self.under_way = true;
                let url =
                    url::Url::parse("http://127.0.0.1:9/part").unwrap_or_else(|_| unreachable!());
                return Action::Send {
                    id: RequestId(1),
                    request: Request::new("PUT", url),
                };
            }
            if self.answered {
                let mut response = Response::new(200);
                response.data = self.counted.to_string();
                return Action::Done(Outcome {
                    response,
                    upload_url: None,
                    complete: true,
                });
            }
            Action::Wait { until: None }
        }

        fn answer(&mut self, _id: RequestId, _answer: Answer<UploadError>) {
            self.under_way = false;
            self.answered = true;
        }

        fn sent(&mut self, _id: RequestId, n: u64) {
            if self.under_way {
                self.counted = n;
            }
        }

        fn dropped(&mut self, _id: RequestId) {}

        fn pausable(&self) -> bool {
            false
        }

        fn last_words(&mut self, _why: Why) -> LastWords {
            LastWords::default()
        }
    }

    #[tokio::test]
    async fn a_count_heard_in_the_poll_that_answers_reaches_the_machine_first() {
        let shared = Arc::new(crate::events::Shared::new());
        let (outcome, _) = tokio::sync::oneshot::channel();
        let (mut sink, _dispatcher) = crate::events::channel(Arc::clone(&shared), BODY, outcome);
        let control = Control {
            cancel: shared.cancel.clone(),
            paused: tokio::sync::watch::channel(false).1,
        };
        let mut machine = OneRequest::default();
        let setting = Setting {
            timeout: Some(Duration::from_secs(5)),
            store: None,
        };
        let done = run(&mut machine, &AtOnce, &mut sink, &control, setting).await;
        let done = done.unwrap_or_else(|e| panic!("the upload failed: {e}"));
        assert_eq!(done.data, BODY.to_string(), "the last count was lost");
    }
}
