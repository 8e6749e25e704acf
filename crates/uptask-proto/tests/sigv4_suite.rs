//! The SigV4 signer against the AWS signing test suite that ships in the `aws-sigv4` crate's
//! package (`aws-signing-test-suite/v4`): canonical request, string to sign and signature of
//! every case that S3's rules cover (no path normalization, the path encoded once, a session
//! token signed with the request), signed both in headers and in the query string (presigned).
//!
//! The suite is read from the cargo registry (`scripts/test.sh` fetches the package), or from
//! `UPTASK_SIGV4_SUITE`. Without it the test says so loudly and skips, unless
//! `UPTASK_REQUIRE_PEERS=1`, where that is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code; a skipped suite must say so loudly"
)]

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use uptask_proto::sigv4::{self, Credentials, Request, Scope};

/// The same case signed in its query string (a presigned URL): canonical request, string to
/// sign, signature and the URL's signature parameter.
fn check_presigned(
    dir: &Path,
    name: &str,
    ctx: &serde_json::Value,
    case: &Case,
    creds: &Credentials,
    scope: &Scope,
) {
    let headers = case.signed_headers();
    let payload = sigv4::hex(&Sha256::digest(&case.body));
    let req = Request {
        method: &case.method,
        path: &case.path,
        query: &case.query,
        headers: &headers,
        payload_hash: &payload,
    };
    let expires = ctx["expiration_in_seconds"].as_u64().unwrap();
    let presigned = sigv4::presign(&req, creds, scope, expires);
    let unsigned = &presigned.query[..presigned.query.len() - 1];
    let (canonical, _) = sigv4::canonical_request(
        &Request {
            query: unsigned,
            ..req
        },
        &[],
    );
    assert_eq!(
        canonical,
        read(dir, "query-canonical-request.txt"),
        "{name}: presigned canonical request"
    );
    assert_eq!(
        sigv4::string_to_sign(scope, &canonical),
        read(dir, "query-string-to-sign.txt"),
        "{name}: presigned string to sign"
    );
    assert_eq!(
        presigned.signature,
        read(dir, "query-signature.txt").trim(),
        "{name}: presigned signature"
    );
    let url = presigned.query_string();
    assert!(
        read(dir, "query-signed-request.txt")
            .contains(&format!("X-Amz-Signature={}", presigned.signature))
            && url.ends_with(&format!("&X-Amz-Signature={}", presigned.signature)),
        "{name}: {url}"
    );
}

fn suite_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("UPTASK_SIGV4_SUITE") {
        return Some(PathBuf::from(dir));
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let src = home.join("registry/src");
    std::fs::read_dir(src).ok()?.flatten().find_map(|index| {
        let dir = index
            .path()
            .join("aws-sigv4-1.6.4/aws-signing-test-suite/v4");
        dir.is_dir().then_some(dir)
    })
}

struct Case {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Case {
    /// The request's headers but `X-Amz-Date`, which the signer adds (or puts in the query).
    fn signed_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
            .cloned()
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn parse_request(text: &str) -> Case {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let line = lines.next().unwrap();
    let method = line.split(' ').next().unwrap().to_owned();
    let target = &line[method.len() + 1..line.rfind(" HTTP/").unwrap()];
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in lines {
        if l.starts_with(' ') || l.starts_with('\t') {
            let last = headers.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(l.trim());
        } else {
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_owned(), v.to_owned()));
        }
    }
    Case {
        method,
        path: path.to_owned(),
        query,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// Whether S3's rules give the canonical path the case expects: unnormalized cases, and
/// normalized ones whose normalization and double encoding change nothing.
fn s3_applies(name: &str, ctx: &serde_json::Value, case: &Case) -> bool {
    if name == "post-sts-header-after" {
        return false; // the token is added after signing there; S3 signs it
    }
    if case.path.contains('%') {
        return false; // other services encode the path twice, S3 once
    }
    let normalize = ctx["normalize"].as_bool().unwrap_or(true);
    let plain =
        !case.path.contains("//") && !case.path.split('/').any(|seg| seg == "." || seg == "..");
    plain || !normalize
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn aws_sigv4_suite_cases_that_s3_rules_cover() {
    let Some(suite) = suite_dir() else {
        let why = "SKIPPED: the AWS SigV4 test suite (the aws-sigv4 1.6.4 package) is not in the cargo registry; scripts/test.sh fetches it";
        let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
        assert!(!required, "{why}");
        eprintln!("{why}");
        return;
    };
    let mut ran = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&suite)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for dir in entries {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(ctx) = std::fs::read_to_string(dir.join("context.json")) else {
            continue;
        };
        let ctx: serde_json::Value = serde_json::from_str(&ctx).unwrap();
        let case = parse_request(&read(&dir, "request.txt"));
        if !s3_applies(&name, &ctx, &case) {
            continue;
        }
        let c = &ctx["credentials"];
        let mut creds = Credentials::new(
            c["access_key_id"].as_str().unwrap(),
            c["secret_access_key"].as_str().unwrap(),
        );
        creds.session_token = c["token"].as_str().map(str::to_owned);
        let ts = ctx["timestamp"].as_str().unwrap().replace(['-', ':'], "");
        let scope = Scope::new(
            ctx["region"].as_str().unwrap(),
            ctx["service"].as_str().unwrap(),
            &ts,
        )
        .unwrap();
        let payload = sigv4::hex(&Sha256::digest(&case.body));
        let mut headers = case.signed_headers();
        if ctx["sign_body"].as_bool() == Some(true) {
            headers.push(("x-amz-content-sha256".into(), payload.clone()));
        }
        let req = Request {
            method: &case.method,
            path: &case.path,
            query: &case.query,
            headers: &headers,
            payload_hash: &payload,
        };
        let mut extra = vec![("x-amz-date".to_owned(), ts.clone())];
        if let Some(t) = &creds.session_token {
            extra.push(("x-amz-security-token".to_owned(), t.clone()));
        }
        let (canonical, _) = sigv4::canonical_request(&req, &extra);
        assert_eq!(
            canonical,
            read(&dir, "header-canonical-request.txt"),
            "{name}: canonical request"
        );
        let sts = sigv4::string_to_sign(&scope, &canonical);
        assert_eq!(
            sts,
            read(&dir, "header-string-to-sign.txt"),
            "{name}: string to sign"
        );
        let signed = sigv4::sign(&req, &creds, &scope);
        assert_eq!(
            signed.signature,
            read(&dir, "header-signature.txt").trim(),
            "{name}: signature"
        );
        let expected = read(&dir, "header-signed-request.txt");
        assert!(
            expected.contains(&format!("Authorization:{}", signed.authorization)),
            "{name}: {}",
            signed.authorization
        );
        check_presigned(&dir, &name, &ctx, &case, &creds, &scope);
        ran.push(name);
    }
    eprintln!("{} suite cases checked: {}", ran.len(), ran.join(", "));
    assert!(ran.len() >= 20, "too few suite cases apply: {ran:?}");
}
