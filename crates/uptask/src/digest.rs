//! The digests of the tus checksum extension behind one face.

use sha1::Sha1;
use sha2::{Digest, Sha256};
use uptask_proto::tus::ChecksumAlgorithm;

pub(crate) enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub(crate) fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(Sha1::new()),
            _ => Self::Sha256(Sha256::new()),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The digest of `bytes`.
    pub(crate) fn of(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> Vec<u8> {
        let mut h = Self::new(algorithm);
        h.update(bytes);
        h.finish()
    }
}
