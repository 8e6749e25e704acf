//! S3-compatible multipart uploads, the parts that need no IO: where an object lives (targets,
//! endpoints, addressing), credentials and region from the standard AWS environment and shared
//! files, how a file is cut into parts, and the XML of the multipart calls.
//!
//! ```
//! use uptask_proto::s3::{Addressing, Target, plan_parts};
//!
//! let target = Target::parse("s3://photos/2026/beach day.jpg")?;
//! let url = target.object_url("http://127.0.0.1:8333", Addressing::Path)?;
//! assert_eq!(url, "http://127.0.0.1:8333/photos/2026/beach%20day.jpg");
//! assert_eq!(plan_parts(20 << 20, 8 << 20).count, 3);
//! # Ok::<(), uptask_proto::s3::S3Error>(())
//! ```

mod config;
mod flow;
mod listing;
pub mod machine;
mod parts;
mod routes;
mod signed;
mod target;
mod xml;

/// What an S3 multipart upload leaves in a resume store.
pub use crate::engine::S3Entry as Entry;
pub use config::{Profiles, Resolved, Settings, resolve};
pub use listing::{ListedObject, ListedUpload, ObjectList, UploadList, list_objects, list_uploads};
pub use machine::{Auth, S3Config, S3Machine};
pub use parts::{MAX_PARTS, MIN_PART_SIZE, PartPlan, plan_parts};
pub use routes::SignerRoutes;
pub use signed::Signer;
pub use target::{Addressing, Target};
pub use xml::{
    CompletedPart, ListedPart, PartList, complete_body, completed_etag, error_of, list_parts,
    upload_id,
};

/// What is wrong with an S3 target, endpoint or setting.
///
/// ```
/// let err = uptask_proto::s3::Target::parse("s3://Bad_Bucket/k").unwrap_err();
/// assert!(err.to_string().contains("Bad_Bucket"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// Not `s3://bucket/key`.
    #[error("invalid S3 target {0:?}: expected s3://bucket/key")]
    Target(String),
    /// A bucket name S3 does not allow.
    #[error("invalid bucket name {0:?}: 3 to 63 lower-case letters, digits, dots and hyphens")]
    Bucket(String),
    /// An endpoint that is not an http(s) URL.
    #[error("invalid S3 endpoint {0:?}: expected an http or https URL")]
    Endpoint(String),
}
