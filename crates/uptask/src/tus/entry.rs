//! What a tus upload leaves in the resume store.

/// What is remembered of an upload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    pub(crate) upload_url: String,
    /// `Upload-Expires` as the server sent it, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires: Option<String>,
}

impl Entry {
    /// Whether the server said the upload is gone by now.
    pub(crate) fn expired(&self) -> bool {
        self.expires
            .as_deref()
            .and_then(|e| httpdate::parse_http_date(e).ok())
            .is_some_and(|at| at <= std::time::UNIX_EPOCH + crate::backend::unix_time())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_http_date() {
        let past = Entry {
            upload_url: String::new(),
            expires: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        };
        assert!(past.expired());
        let unknown = Entry {
            expires: Some("soon".into()),
            ..past
        };
        assert!(!unknown.expired());
    }
}
