//! The little XML the multipart calls need: the upload id out, the part list in, errors out.

/// The text of the first `<tag>...</tag>` in `xml`, entities decoded.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
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

/// The `CompleteMultipartUpload` body for parts 1..=n with these ETags, in order.
///
/// ```
/// let body = uptask_proto::s3::complete_body(&["\"e1\"".to_owned(), "\"e2\"".to_owned()]);
/// assert!(body.contains("<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"));
/// ```
#[must_use]
pub fn complete_body(etags: &[String]) -> String {
    let mut out = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        out.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            i + 1,
            escape(etag)
        ));
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
