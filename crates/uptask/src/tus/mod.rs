//! tus 1.0 resumable uploads: options, what the resume store keeps, and the driver that runs
//! the protocol over any backend's [`Client`](crate::http::Client).

mod driver;
mod entry;
mod options;

pub(crate) use driver::run;
pub use options::TusOptions;
