//! Bucket listings: the objects under a prefix (`ListObjectsV2`) and the multipart uploads
//! still open (`ListMultipartUploads`), one page at a time.

use super::xml::{element, raw_elements};

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The key, decoded.
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// `LastModified`, in Unix seconds by the store's clock (`None` when absent or unreadable).
    pub modified: Option<u64>,
}

/// One page of a `ListObjectsV2` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectList {
    /// The objects on this page.
    pub objects: Vec<ListedObject>,
    /// The `continuation-token` of the next page, when the list is truncated.
    pub next_token: Option<String>,
}

/// Parses a `ListObjectsV2` answer; `None` if it is not one.
///
/// ```
/// let xml = "<ListBucketResult><IsTruncated>true</IsTruncated>\
///     <Contents><Key>up/a&amp;b</Key><Size>3</Size>\
///     <LastModified>2015-08-30T12:36:00.000Z</LastModified></Contents>\
///     <NextContinuationToken>t-2</NextContinuationToken></ListBucketResult>";
/// let page = uptask_proto::s3::list_objects(xml).unwrap();
/// assert_eq!(page.objects[0].key, "up/a&b");
/// assert_eq!(page.objects[0].size, 3);
/// assert_eq!(page.objects[0].modified, Some(1_440_938_160));
/// assert_eq!(page.next_token.as_deref(), Some("t-2"));
/// ```
#[must_use]
pub fn list_objects(xml: &str) -> Option<ObjectList> {
    if !xml.contains("<ListBucketResult") {
        return None;
    }
    let objects = raw_elements(xml, "Contents")
        .filter_map(|c| {
            Some(ListedObject {
                key: element(c, "Key")?,
                size: element(c, "Size").and_then(|s| s.trim().parse().ok())?,
                modified: element(c, "LastModified").and_then(|t| unix_secs(&t)),
            })
        })
        .collect();
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next_token = element(xml, "NextContinuationToken").filter(|t| truncated && !t.is_empty());
    Some(ObjectList {
        objects,
        next_token,
    })
}

/// One open multipart upload of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUpload {
    /// The key it will complete into, decoded.
    pub key: String,
    /// Its upload id.
    pub upload_id: String,
    /// `Initiated`, in Unix seconds by the store's clock (`None` when absent or unreadable).
    pub initiated: Option<u64>,
}

/// One page of a `ListMultipartUploads` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadList {
    /// The open uploads on this page.
    pub uploads: Vec<ListedUpload>,
    /// `(key-marker, upload-id-marker)` of the next page, when the list is truncated.
    pub next: Option<(String, String)>,
}

/// Parses a `ListMultipartUploads` answer; `None` if it is not one.
///
/// ```
/// let xml = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>\
///     <Upload><Key>k</Key><UploadId>u-1</UploadId>\
///     <Initiated>1970-01-02T00:00:01Z</Initiated></Upload></ListMultipartUploadsResult>";
/// let page = uptask_proto::s3::list_uploads(xml).unwrap();
/// assert_eq!(page.uploads[0].key, "k");
/// assert_eq!(page.uploads[0].upload_id, "u-1");
/// assert_eq!(page.uploads[0].initiated, Some(86_401));
/// assert_eq!(page.next, None);
/// ```
#[must_use]
pub fn list_uploads(xml: &str) -> Option<UploadList> {
    if !xml.contains("<ListMultipartUploadsResult") {
        return None;
    }
    let uploads = raw_elements(xml, "Upload")
        .filter_map(|u| {
            Some(ListedUpload {
                key: element(u, "Key")?,
                upload_id: element(u, "UploadId")?,
                initiated: element(u, "Initiated").and_then(|t| unix_secs(&t)),
            })
        })
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

/// An ISO 8601 UTC time as listings give it (`2015-08-30T12:36:00.000Z`, fraction optional),
/// in Unix seconds.
fn unix_secs(text: &str) -> Option<u64> {
    let t = text.trim().as_bytes();
    let num = |from: usize, to: usize| -> Option<u64> {
        let digits = t.get(from..to)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let shape = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if shape.iter().any(|&(i, c)| t.get(i) != Some(&c)) || t.last() != Some(&b'Z') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days since 1970-01-01 (proleptic Gregorian, years starting in March, 400-year eras).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::unix_secs;

    #[test]
    fn listing_times_read_as_unix_seconds() {
        assert_eq!(unix_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_secs("2015-08-30T12:36:00.000Z"), Some(1_440_938_160));
        // A leap day, and the first second of a century year that is not a leap year.
        assert_eq!(unix_secs("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(unix_secs("2100-03-01T00:00:00Z"), Some(4_107_542_400));
        for bad in [
            "",
            "2015-08-30",
            "2015-08-30T12:36:00",
            "2015-13-01T00:00:00Z",
            "20x5-08-30T12:36:00Z",
        ] {
            assert_eq!(unix_secs(bad), None, "{bad:?}");
        }
    }
}
