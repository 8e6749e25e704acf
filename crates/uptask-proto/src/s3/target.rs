//! `s3://bucket/key` targets and the URL of the object on an endpoint.

use super::S3Error;
use crate::sigv4::uri_encode;

/// How the bucket appears in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Addressing {
    /// `http://endpoint/bucket/key` (most S3-compatible stores).
    Path,
    /// `http://bucket.endpoint/key` (AWS's default).
    VirtualHost,
}

/// A bucket and an object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bucket.
    pub bucket: String,
    /// The object key (not encoded).
    pub key: String,
}

impl Target {
    /// Parses `s3://bucket/key`; the key may hold slashes and any UTF-8 up to 1024 bytes.
    ///
    /// # Errors
    /// [`S3Error::Target`] or [`S3Error::Bucket`].
    ///
    /// ```
    /// use uptask_proto::s3::Target;
    /// let t = Target::parse("s3://my-bucket/a/b.txt")?;
    /// assert_eq!((t.bucket.as_str(), t.key.as_str()), ("my-bucket", "a/b.txt"));
    /// assert!(Target::parse("s3://my-bucket/").is_err());
    /// assert!(Target::parse("http://my-bucket/k").is_err());
    /// # Ok::<(), uptask_proto::s3::S3Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, S3Error> {
        let bad = || S3Error::Target(text.to_owned());
        let rest = text.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if key.is_empty() || key.len() > 1024 || key.chars().any(char::is_control) {
            return Err(bad());
        }
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && bucket
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && !bucket.contains("..");
        if !ok {
            return Err(S3Error::Bucket(bucket.to_owned()));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The object's URL on `endpoint` (`scheme://host[:port][/prefix]`), key encoded as SigV4
    /// signs it (so the signed path and the sent path are the same bytes).
    ///
    /// # Errors
    /// [`S3Error::Endpoint`] when `endpoint` is not `http(s)://host...`.
    ///
    /// ```
    /// use uptask_proto::s3::{Addressing, Target};
    /// let t = Target::parse("s3://b-1/x y")?;
    /// assert_eq!(t.object_url("https://s3.us-east-1.amazonaws.com", Addressing::VirtualHost)?,
    ///            "https://b-1.s3.us-east-1.amazonaws.com/x%20y");
    /// # Ok::<(), uptask_proto::s3::S3Error>(())
    /// ```
    pub fn object_url(&self, endpoint: &str, addressing: Addressing) -> Result<String, S3Error> {
        let bad = || S3Error::Endpoint(endpoint.to_owned());
        let (scheme, rest) = endpoint.split_once("://").ok_or_else(bad)?;
        if !matches!(scheme, "http" | "https") {
            return Err(bad());
        }
        let rest = rest.trim_end_matches('/');
        let (host, prefix) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        if host.is_empty() || host.contains(['@', '?', '#', ' ']) {
            return Err(bad());
        }
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        };
        let key = uri_encode(&self.key, true);
        Ok(match addressing {
            Addressing::Path => format!("{scheme}://{host}{prefix}/{}/{key}", self.bucket),
            Addressing::VirtualHost => format!("{scheme}://{}.{host}{prefix}/{key}", self.bucket),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        for bad in [
            "ab",
            "Bucket",
            "-abc",
            "abc-",
            "a..b",
            "under_score",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(
                    Target::parse(&format!("s3://{bad}/k")),
                    Err(S3Error::Bucket(_))
                ),
                "{bad}"
            );
        }
        assert!(Target::parse("s3://a.b-c/k").is_ok());
        assert!(Target::parse("s3://abc/k\nx").is_err());
        assert!(Target::parse(&format!("s3://abc/{}", "k".repeat(1025))).is_err());
    }

    #[test]
    fn endpoints_with_ports_and_prefixes() {
        let t = Target::parse("s3://abc/d/e").unwrap();
        assert_eq!(
            t.object_url("http://127.0.0.1:8333/", Addressing::Path)
                .unwrap(),
            "http://127.0.0.1:8333/abc/d/e"
        );
        assert_eq!(
            t.object_url("http://h/base", Addressing::Path).unwrap(),
            "http://h/base/abc/d/e"
        );
        assert!(t.object_url("ftp://h", Addressing::Path).is_err());
        assert!(t.object_url("http://user@h", Addressing::Path).is_err());
    }
}
