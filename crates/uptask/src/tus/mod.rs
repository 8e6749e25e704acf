//! tus 1.0 resumable uploads: their options. The protocol is `uptask_proto::tus::machine`.

mod options;

pub use options::TusOptions;
