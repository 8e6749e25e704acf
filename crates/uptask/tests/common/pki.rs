//! A CA made for one test, and a server certificate it signed.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

pub struct Pki {
    /// The CA, to trust.
    pub ca_pem: String,
    /// The server's certificate and key, as PEM (for servers that read files).
    pub cert_pem: String,
    pub key_pem: String,
    /// The same, as DER (for rustls).
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// A CA, and a server certificate for `names` signed by it.
pub fn generate(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own: with the leaf's (rcgen's default for both), OpenSSL takes the leaf
    // for a self-signed certificate.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "uptask test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
        cert_der: leaf.der().to_vec(),
        key_der: leaf_key.serialize_der(),
    }
}
