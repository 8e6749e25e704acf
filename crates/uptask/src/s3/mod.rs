//! S3-compatible uploads: [`S3Options`], the [`Credentials`] they sign with, and how buckets
//! are addressed. Use them through [`UploadOptions::s3`](crate::UploadOptions::s3).

mod driver;
mod entry;
mod options;

pub(crate) use driver::run;
pub use options::{Addressing, Credentials, PartChecksum, S3Options};
