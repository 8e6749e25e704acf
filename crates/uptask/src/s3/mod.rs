//! S3-compatible uploads: [`S3Options`], the [`Credentials`] they sign with, and how buckets
//! are addressed. Use them through [`UploadOptions::s3`](crate::UploadOptions::s3). The
//! protocol is `uptask_proto::s3::machine`.

mod options;

pub use options::{Addressing, Credentials, PartChecksum, S3Options};
