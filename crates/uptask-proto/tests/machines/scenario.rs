//! Drives a machine step by step, the way a runner would, recording what it reports.

use std::time::Duration;

use uptask_proto::engine::{
    Action, Answer, DigestAlgorithm, DigestOf, Event, Failure, Machine, Outcome, Request,
    RequestId, Response,
};

/// A machine under test, its clock, and everything it reported.
pub struct Scenario<M> {
    pub machine: M,
    pub now: Duration,
    pub events: Vec<Event>,
}

/// What a machine asked for, besides events.
#[derive(Debug)]
pub enum Asked {
    Send(RequestId, Request),
    Digest(RequestId, DigestAlgorithm, DigestOf),
    Read(RequestId, usize),
    Wait(Option<Duration>),
    Done(Outcome),
    Fail(Failure<String>),
}

impl<M: Machine<Error = String>> Scenario<M> {
    pub fn new(machine: M) -> Self {
        Self {
            machine,
            now: Duration::ZERO,
            events: Vec::new(),
        }
    }

    /// The next thing the machine asks for; events on the way are recorded.
    pub fn next(&mut self) -> Asked {
        for _ in 0..10_000 {
            match self.machine.poll(self.now) {
                Action::Event(e) => self.events.push(e),
                Action::Send { id, request } => return Asked::Send(id, request),
                Action::Digest { id, algorithm, of } => return Asked::Digest(id, algorithm, of),
                Action::Read { id, max } => return Asked::Read(id, max),
                Action::Wait { until } => return Asked::Wait(until),
                Action::Done(o) => return Asked::Done(o),
                Action::Fail(f) => return Asked::Fail(f),
                other => panic!("unknown action {other:?}"),
            }
        }
        panic!("the machine reported events forever");
    }

    /// The next request, which must be `method` to a URL ending in `path`.
    pub fn send(&mut self, method: &str, path: &str) -> (RequestId, Request) {
        match self.next() {
            Asked::Send(id, r) if r.method == method && r.url.as_str().ends_with(path) => (id, r),
            other => panic!("expected {method} …{path}, got {other:?}"),
        }
    }

    /// Answers `id` with `response`.
    pub fn reply(&mut self, id: RequestId, response: Response) {
        self.machine.answer(id, Answer::Response(response));
    }

    /// The transport failed `id` (a cut connection when `retryable`).
    pub fn fail(&mut self, id: RequestId, retryable: bool) {
        self.machine.answer(
            id,
            Answer::Failed {
                error: "connection reset".to_owned(),
                retryable,
            },
        );
    }

    /// The transport accepted `n` body bytes of `id`.
    pub fn sent(&mut self, id: RequestId, n: u64) {
        self.machine.sent(id, n);
    }

    /// The next action must be a wait; the clock moves to its end.
    pub fn wait_out(&mut self) -> Option<Duration> {
        match self.next() {
            Asked::Wait(until) => {
                if let Some(t) = until {
                    self.now = self.now.max(t);
                }
                until
            }
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    pub fn done(&mut self) -> Outcome {
        match self.next() {
            Asked::Done(o) => o,
            other => panic!("expected the outcome, got {other:?}"),
        }
    }

    pub fn failure(&mut self) -> String {
        match self.next() {
            Asked::Fail(f) => f.to_string(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// The events as short words, for comparing milestones.
    pub fn milestones(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Created { .. } => Some("created".to_owned()),
                Event::Resumed { offset } => Some(format!("resumed:{offset}")),
                Event::Retrying { attempt, .. } => Some(format!("retrying:{attempt}")),
                Event::Remember(_) => Some("remember".to_owned()),
                Event::Forget => Some("forget".to_owned()),
                _ => None,
            })
            .collect()
    }

    /// The progress counts reported, in order.
    pub fn progress(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Progress { sent, .. } => Some(*sent),
                _ => None,
            })
            .collect()
    }
}

pub fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .header(name)
        .unwrap_or_else(|| panic!("{} has no {name}: {request:?}", request.method))
}
