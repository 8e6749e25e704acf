//! tus 1.0 resumable uploads: options, the resume store, and the driver that runs the protocol
//! over any backend's [`Client`](crate::http::Client).

mod driver;
mod options;
pub(crate) mod store;

pub(crate) use driver::run;
pub use options::TusOptions;
