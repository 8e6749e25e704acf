//! The digests of tus checksums and S3 part checksums behind one face.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uptask_proto::engine::DigestAlgorithm;

use crate::{ErrorKind, UploadError};

/// The digests uptask computes: tus checksums (sha1, sha256), S3's `Content-MD5` and
/// `x-amz-checksum-crc32c` (big-endian, as S3 encodes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Md5,
    Crc32c,
}

impl TryFrom<DigestAlgorithm> for Algorithm {
    type Error = UploadError;

    fn try_from(a: DigestAlgorithm) -> Result<Self, UploadError> {
        Ok(match a {
            DigestAlgorithm::Sha1 => Self::Sha1,
            DigestAlgorithm::Sha256 => Self::Sha256,
            DigestAlgorithm::Md5 => Self::Md5,
            DigestAlgorithm::Crc32c => Self::Crc32c,
            other => {
                return Err(UploadError::new(
                    ErrorKind::Internal,
                    format!("no {other:?} digest here"),
                ));
            }
        })
    }
}

pub(crate) enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Md5(Md5),
    Crc32c(u32),
}

impl Hasher {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
            Algorithm::Md5 => Self::Md5(Md5::new()),
            Algorithm::Crc32c => Self::Crc32c(0),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
            Self::Md5(h) => h.update(bytes),
            Self::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, bytes),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Md5(h) => h.finalize().to_vec(),
            Self::Crc32c(crc) => crc.to_be_bytes().to_vec(),
        }
    }

    /// The digest of `bytes`.
    pub(crate) fn of(algorithm: Algorithm, bytes: &[u8]) -> Vec<u8> {
        let mut h = Self::new(algorithm);
        h.update(bytes);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_the_castagnoli_check_value_big_endian_and_appends() {
        // The standard check value of CRC-32C over "123456789".
        assert_eq!(
            Hasher::of(Algorithm::Crc32c, b"123456789"),
            0xe306_9283u32.to_be_bytes()
        );
        let mut h = Hasher::new(Algorithm::Crc32c);
        h.update(b"1234");
        h.update(b"56789");
        assert_eq!(h.finish(), 0xe306_9283u32.to_be_bytes());
    }
}
