//! Whether a remembered tus upload is still worth continuing.

use uptask_proto::tus::Entry;

/// Whether the server said the upload is gone by now.
pub(super) fn expired(entry: &Entry) -> bool {
    entry
        .expires
        .as_deref()
        .and_then(|e| httpdate::parse_http_date(e).ok())
        .is_some_and(|at| at <= std::time::UNIX_EPOCH + crate::backend::unix_time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_http_date() {
        let past = Entry::new("", Some("Wed, 21 Oct 2015 07:28:00 GMT".into()));
        assert!(expired(&past));
        let unknown = Entry::new("", Some("soon".into()));
        assert!(!expired(&unknown));
        assert!(!expired(&Entry::new("", None)));
    }
}
