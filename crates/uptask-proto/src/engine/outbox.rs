//! What a machine has to say before its next request: events, and at most one ending.

use std::collections::VecDeque;

use super::{Action, Event, Retry, RetryPolicy, Step, Stop};

/// The actions a machine queued for its runner, oldest first, and whether the upload ended.
///
/// ```
/// use uptask_proto::engine::{Action, Event, Outbox};
/// let mut out: Outbox<String> = Outbox::default();
/// out.event(Event::Forget);
/// out.end(Action::Wait { until: None });
/// out.end(Action::Wait { until: None }); // one ending only
/// assert!(out.ended());
/// assert!(matches!(out.pop(), Some(Action::Event(Event::Forget))));
/// assert!(out.pop().is_some() && out.pop().is_none());
/// ```
#[derive(Debug)]
pub struct Outbox<E> {
    queue: VecDeque<Action<E>>,
    ended: bool,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            ended: false,
        }
    }
}

impl<E> Outbox<E> {
    /// Queues an action.
    pub fn push(&mut self, action: Action<E>) {
        self.queue.push_back(action);
    }

    /// Queues an event.
    pub fn event(&mut self, event: Event) {
        self.push(Action::Event(event));
    }

    /// Queues the upload's ending; later endings are ignored.
    pub fn end(&mut self, action: Action<E>) {
        if !self.ended {
            self.ended = true;
            self.push(action);
        }
    }

    /// Whether the upload has ended.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The oldest queued action.
    pub fn pop(&mut self) -> Option<Action<E>> {
        self.queue.pop_front()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl<E: std::fmt::Display> Outbox<E> {
    /// After a failed step with `progress` acknowledged: another try after a delay (its notice
    /// queued), or the upload's end.
    pub fn recover<P: Copy>(
        &mut self,
        stop: Stop<E>,
        retry: &mut Retry,
        policy: &mut RetryPolicy,
        progress: u64,
    ) -> Step<P> {
        match stop.settle(retry, policy, progress) {
            Ok((event, delay)) => {
                self.event(event);
                Step::Backoff(delay)
            }
            Err(end) => {
                self.end(*end);
                Step::Ready
            }
        }
    }
}
