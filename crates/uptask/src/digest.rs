//! The digests of tus checksums and S3 `Content-MD5` behind one face.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uptask_proto::tus::ChecksumAlgorithm;

/// The digests uptask computes: tus checksums (sha1, sha256) and S3's `Content-MD5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Md5,
}

impl From<ChecksumAlgorithm> for Algorithm {
    fn from(a: ChecksumAlgorithm) -> Self {
        match a {
            ChecksumAlgorithm::Sha1 => Self::Sha1,
            _ => Self::Sha256,
        }
    }
}

pub(crate) enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Md5(Md5),
}

impl Hasher {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
            Algorithm::Md5 => Self::Md5(Md5::new()),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
            Self::Md5(h) => h.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Md5(h) => h.finalize().to_vec(),
        }
    }

    /// The digest of `bytes`.
    pub(crate) fn of(algorithm: Algorithm, bytes: &[u8]) -> Vec<u8> {
        let mut h = Self::new(algorithm);
        h.update(bytes);
        h.finish()
    }
}
