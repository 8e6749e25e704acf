//! Bucket listings: the objects under a prefix (`ListObjectsV2`) and the multipart uploads
//! still open (`ListMultipartUploads`), one page at a time.

use super::xml::{element, raw_elements};

/// One page of a `ListObjectsV2` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectList {
    /// The keys on this page, decoded, with their sizes.
    pub objects: Vec<(String, u64)>,
    /// The `continuation-token` of the next page, when the list is truncated.
    pub next_token: Option<String>,
}

/// Parses a `ListObjectsV2` answer; `None` if it is not one.
///
/// ```
/// let xml = "<ListBucketResult><IsTruncated>true</IsTruncated>\
///     <Contents><Key>up/a&amp;b</Key><Size>3</Size></Contents>\
///     <NextContinuationToken>t-2</NextContinuationToken></ListBucketResult>";
/// let page = uptask_proto::s3::list_objects(xml).unwrap();
/// assert_eq!(page.objects, vec![("up/a&b".to_owned(), 3)]);
/// assert_eq!(page.next_token.as_deref(), Some("t-2"));
/// ```
#[must_use]
pub fn list_objects(xml: &str) -> Option<ObjectList> {
    if !xml.contains("<ListBucketResult") {
        return None;
    }
    let objects = raw_elements(xml, "Contents")
        .filter_map(|c| {
            let size = element(c, "Size").and_then(|s| s.trim().parse().ok())?;
            Some((element(c, "Key")?, size))
        })
        .collect();
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next_token = element(xml, "NextContinuationToken").filter(|t| truncated && !t.is_empty());
    Some(ObjectList {
        objects,
        next_token,
    })
}

/// One page of a `ListMultipartUploads` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadList {
    /// `(key, upload id)` of each open upload on this page.
    pub uploads: Vec<(String, String)>,
    /// `(key-marker, upload-id-marker)` of the next page, when the list is truncated.
    pub next: Option<(String, String)>,
}

/// Parses a `ListMultipartUploads` answer; `None` if it is not one.
///
/// ```
/// let xml = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>\
///     <Upload><Key>k</Key><UploadId>u-1</UploadId></Upload></ListMultipartUploadsResult>";
/// let page = uptask_proto::s3::list_uploads(xml).unwrap();
/// assert_eq!(page.uploads, vec![("k".to_owned(), "u-1".to_owned())]);
/// assert_eq!(page.next, None);
/// ```
#[must_use]
pub fn list_uploads(xml: &str) -> Option<UploadList> {
    if !xml.contains("<ListMultipartUploadsResult") {
        return None;
    }
    let uploads = raw_elements(xml, "Upload")
        .filter_map(|u| Some((element(u, "Key")?, element(u, "UploadId")?)))
        .collect();
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = truncated
        .then(|| {
            Some((
                element(xml, "NextKeyMarker")?,
                element(xml, "NextUploadIdMarker").unwrap_or_default(),
            ))
        })
        .flatten();
    Some(UploadList { uploads, next })
}
