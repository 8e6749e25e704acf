//! The platform boundary: the only module that looks at the target.
//!
//! Each backend provides `spawn` (run a task where the platform runs them), `transport` (the
//! [`Transport`] of one upload), `run_listeners` (call user code where it cannot stall the
//! transport), `now` (a monotonic clock for the progress gate), `unix_time` (the wall clock,
//! for signatures and expiry dates), `sleep`, and `on_own_runtime` and `block_on` for the
//! blocking API. Besides the platforms, what they share: the transport seam, the planned
//! source they read and the bandwidth limits they apply at the socket. Nothing here knows of
//! protocols, plans or tasks.

mod planned;
mod rate;
mod transport;

pub(crate) use planned::{Fingerprint, PlannedSource, range_of};
pub(crate) use rate::Limits;
pub use rate::RateLimit;
pub(crate) use transport::{Body, Heard, Request, Response, Setup, Transport};

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::Blob;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::{
    block_on, now, on_own_runtime, run_listeners, sleep, spawn, transport, unix_time,
};

#[cfg(target_arch = "wasm32")]
mod web;
#[cfg(target_arch = "wasm32")]
pub use web::Blob;
#[cfg(target_arch = "wasm32")]
pub(crate) use web::{
    block_on, now, on_own_runtime, run_listeners, sleep, spawn, transport, unix_time,
};
