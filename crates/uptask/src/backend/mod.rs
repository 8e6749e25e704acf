//! The platform boundary: the only module that looks at the target.
//!
//! Each backend provides `start` (run a planned upload and its dispatcher), `run_listeners`
//! (call user code where it cannot stall the transport), `now` (a monotonic clock for the
//! progress gate), `unix_time` (the wall clock, for signatures and expiry dates), `sleep`, and
//! for [`crate::blocking`] `on_own_runtime` and `block_on`.

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::Blob;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::{block_on, now, on_own_runtime, run_listeners, sleep, start, unix_time};

#[cfg(target_arch = "wasm32")]
mod web;
#[cfg(target_arch = "wasm32")]
pub use web::Blob;
#[cfg(target_arch = "wasm32")]
pub(crate) use web::{block_on, now, on_own_runtime, run_listeners, sleep, start, unix_time};
