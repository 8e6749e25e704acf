//! The platform boundary: the only module that looks at the target.
//!
//! Each backend provides `start` (run a planned upload and its dispatcher) and `now` (a
//! monotonic clock for the progress gate).

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::{now, start};
