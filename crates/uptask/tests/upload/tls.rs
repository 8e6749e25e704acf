//! HTTPS: verification on by default, an extra root CA on request.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use uptask::{ErrorKind, upload_file};

use crate::support::{Behavior, TestServer};
use crate::{opts, payload};

struct Pki {
    ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

/// A CA made for this test, and a server certificate it signed for `names`.
fn pki(names: &[&str]) -> Pki {
    let made = crate::common::pki::generate(names);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_der));
    let chain: Vec<CertificateDer<'static>> = vec![CertificateDer::from(made.cert_der)];
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Pki {
        ca_pem: made.ca_pem,
        acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
    }
}

fn https(url: &str) -> String {
    url.replacen("http://", "https://", 1)
}

#[tokio::test]
async fn https_with_an_extra_root_ca_round_trips() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let server = TestServer::start_with(Behavior::Echo, Some(pki.acceptor)).await;
    let data = payload(500_000);
    let done =
        upload_file(opts(&https(&server.url), data.clone()).add_root_certificate_pem(pki.ca_pem))
            .await
            .unwrap();
    assert_eq!(done.status_code, 200);
    let body = server.seen.body.lock().unwrap().clone();
    crate::support::assert_body_carries(&body, &done.data, &data);
    // The profile places the handshake inside the connection's setup.
    let p = done.profile.unwrap();
    let (start, end) = (
        p.ssl_connection_start.unwrap(),
        p.ssl_connection_end.unwrap(),
    );
    let (connect_start, connect_end) = (p.connect_start.unwrap(), p.connect_end.unwrap());
    assert!(
        connect_start <= start && start <= end && end <= connect_end,
        "{p:?}"
    );
    assert!(end <= p.request_start, "{p:?}");
}

#[tokio::test]
async fn https_verifies_certificates_by_default() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let server = TestServer::start_with(Behavior::Echo, Some(pki.acceptor)).await;
    let err = upload_file(opts(&https(&server.url), payload(10)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert!(err.err_msg().contains("certificate"), "{}", err.err_msg());
    assert_eq!(server.seen.body.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn https_rejects_a_certificate_for_another_host() {
    let pki = pki(&["other.example"]);
    let server = TestServer::start_with(Behavior::Echo, Some(pki.acceptor)).await;
    let err =
        upload_file(opts(&https(&server.url), payload(10)).add_root_certificate_pem(pki.ca_pem))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert!(
        err.err_msg().to_lowercase().contains("not valid for name")
            || err.err_msg().contains("NotValidForName"),
        "{}",
        err.err_msg()
    );
}

#[tokio::test]
async fn http2_asked_of_a_server_without_it_falls_back_to_http1() {
    let pki = pki(&["127.0.0.1"]);
    let server = TestServer::start_with(Behavior::Echo, Some(pki.acceptor)).await;
    let done = upload_file(
        opts(&https(&server.url), payload(100_000))
            .add_root_certificate_pem(pki.ca_pem)
            .enable_http2(true),
    )
    .await
    .unwrap();
    assert_eq!(done.status_code, 200);
    assert_eq!(done.profile.unwrap().protocol.as_deref(), Some("http/1.1"));
}
