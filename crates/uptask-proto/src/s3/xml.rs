//! The little XML the multipart calls need: the upload id out, the part lists in and out,
//! errors out.

/// The text of the first `<tag>...</tag>` in `xml`, entities decoded.
pub(super) fn element(xml: &str, tag: &str) -> Option<String> {
    raw_elements(xml, tag).next().map(unescape)
}

/// The raw contents of every `<tag>...</tag>` in `xml`, in order (no nesting of the same tag).
pub(super) fn raw_elements<'x>(xml: &'x str, tag: &str) -> impl Iterator<Item = &'x str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let inner = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(inner)
    })
}

/// Decodes the five named entities and numeric ones (`&#34;`, `&#x22;`), which some stores
/// use for the quotes around ETags.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let c = match &rest[1..semi] {
                "quot" => '"',
                "apos" => '\'',
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                n => {
                    let code = match n.strip_prefix("#x").or_else(|| n.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.strip_prefix('#').and_then(|d| d.parse().ok()),
                    };
                    char::from_u32(code?)?
                }
            };
            Some((c, semi + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `UploadId` of a `CreateMultipartUpload` answer.
///
/// ```
/// let xml = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>abc-1</UploadId></InitiateMultipartUploadResult>";
/// assert_eq!(uptask_proto::s3::upload_id(xml).as_deref(), Some("abc-1"));
/// ```
#[must_use]
pub fn upload_id(xml: &str) -> Option<String> {
    element(xml, "UploadId").filter(|id| !id.is_empty())
}

/// A part as `CompleteMultipartUpload` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// The ETag the store gave the part, quotes included.
    pub etag: String,
    /// The part's CRC32C (base64), when the upload was created with that checksum algorithm:
    /// S3 then wants each part's checksum again.
    pub crc32c: Option<String>,
}

/// The `CompleteMultipartUpload` body for parts 1..=n, in order.
///
/// ```
/// use uptask_proto::s3::{CompletedPart, complete_body};
/// let parts = [
///     CompletedPart { etag: "\"e1\"".into(), crc32c: None },
///     CompletedPart { etag: "\"e2\"".into(), crc32c: Some("yZRlqg==".into()) },
/// ];
/// let body = complete_body(&parts);
/// assert!(body.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"));
/// assert!(body.contains(
///     "<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag><ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></Part>"
/// ));
/// ```
#[must_use]
pub fn complete_body(parts: &[CompletedPart]) -> String {
    let mut out = String::from("<CompleteMultipartUpload>");
    for (i, part) in parts.iter().enumerate() {
        out.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>",
            i + 1,
            escape(&part.etag)
        ));
        if let Some(crc) = &part.crc32c {
            out.push_str(&format!("<ChecksumCRC32C>{}</ChecksumCRC32C>", escape(crc)));
        }
        out.push_str("</Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// `Code` and `Message` of an S3 error document (also found in a 200 answer to
/// `CompleteMultipartUpload`, which can fail after its status line was sent).
///
/// ```
/// let xml = "<Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error>";
/// assert_eq!(uptask_proto::s3::error_of(xml), Some(("SignatureDoesNotMatch".into(), "bad sig".into())));
/// assert_eq!(uptask_proto::s3::error_of("<CompleteMultipartUploadResult/>"), None);
/// ```
#[must_use]
pub fn error_of(xml: &str) -> Option<(String, String)> {
    if !xml.contains("<Error>") {
        return None;
    }
    let code = element(xml, "Code")?;
    Some((code, element(xml, "Message").unwrap_or_default()))
}

/// The whole object's `ETag` from a `CompleteMultipartUploadResult` (quotes included, as the
/// store wrote it).
///
/// ```
/// let xml = "<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>&quot;9b2c-3&quot;</ETag></CompleteMultipartUploadResult>";
/// assert_eq!(uptask_proto::s3::completed_etag(xml).as_deref(), Some("\"9b2c-3\""));
/// assert_eq!(uptask_proto::s3::completed_etag("<Error><Code>X</Code></Error>"), None);
/// ```
#[must_use]
pub fn completed_etag(xml: &str) -> Option<String> {
    if !xml.contains("<CompleteMultipartUploadResult") {
        return None;
    }
    element(xml, "ETag").filter(|e| !e.is_empty())
}

/// A part the store already holds, from a `ListParts` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    /// 1-based part number.
    pub number: u64,
    /// The part's ETag, quotes included, as `CompleteMultipartUpload` wants it back.
    pub etag: String,
    /// Bytes in the part.
    pub size: u64,
}

/// One page of a `ListParts` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartList {
    /// The parts on this page; entries without a number, ETag or size are left out.
    pub parts: Vec<ListedPart>,
    /// Where the next page starts (`part-number-marker`), when the list is truncated.
    pub next_marker: Option<u64>,
}

/// Parses a `ListParts` answer; `None` if it is not one.
///
/// ```
/// let xml = "<ListPartsResult><IsTruncated>true</IsTruncated>\
///     <NextPartNumberMarker>1</NextPartNumberMarker>\
///     <Part><ETag>&#34;9b2c&#34;</ETag><PartNumber>1</PartNumber><Size>5242880</Size></Part>\
///     </ListPartsResult>";
/// let list = uptask_proto::s3::list_parts(xml).unwrap();
/// assert_eq!(list.parts[0].etag, "\"9b2c\"");
/// assert_eq!(list.parts[0].size, 5 << 20);
/// assert_eq!(list.next_marker, Some(1));
/// ```
#[must_use]
pub fn list_parts(xml: &str) -> Option<PartList> {
    if !xml.contains("<ListPartsResult") {
        return None;
    }
    let parts = raw_elements(xml, "Part")
        .filter_map(|p| {
            Some(ListedPart {
                number: element(p, "PartNumber")?.trim().parse().ok()?,
                etag: element(p, "ETag")?,
                size: element(p, "Size")?.trim().parse().ok()?,
            })
        })
        .collect();
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next_marker = if truncated {
        element(xml, "NextPartNumberMarker").and_then(|m| m.trim().parse().ok())
    } else {
        None
    };
    Some(PartList { parts, next_marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_named_numeric_and_broken() {
        assert_eq!(unescape("&#34;a&#x22;&amp;&lt;"), "\"a\"&<");
        assert_eq!(unescape("a & b &bogus; &#xZZ;"), "a & b &bogus; &#xZZ;");
        assert_eq!(unescape("&#1114112;"), "&#1114112;");
    }

    #[test]
    fn a_seaweedfs_part_list() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt1</Bucket><IsTruncated>false</IsTruncated><Key>k</Key><MaxParts>1</MaxParts><PartNumberMarker>0</PartNumberMarker><Part><ETag>&#34;11197fc9219c304e618084741a6dd8a8&#34;</ETag><LastModified>2026-11-26T01:48:44Z</LastModified><PartNumber>1</PartNumber><Size>5242880</Size></Part><Part><ETag>"e2"</ETag><PartNumber>2</PartNumber><Size>7</Size></Part><Part><PartNumber>x</PartNumber></Part><StorageClass>STANDARD</StorageClass><UploadId>u</UploadId></ListPartsResult>"#;
        let list = list_parts(xml).unwrap();
        assert_eq!(
            list.parts,
            vec![
                ListedPart {
                    number: 1,
                    etag: "\"11197fc9219c304e618084741a6dd8a8\"".into(),
                    size: 5 << 20
                },
                ListedPart {
                    number: 2,
                    etag: "\"e2\"".into(),
                    size: 7
                },
            ]
        );
        assert_eq!(list.next_marker, None);
        assert_eq!(list_parts("<Error><Code>NoSuchUpload</Code></Error>"), None);
    }
}
