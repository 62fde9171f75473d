//! Signed checkpoints of the audit chain: the server signs, with an Ed25519
//! key of its own (not the token key), the sequence and hash of the chain's
//! head. Whoever can rewrite the database can recompute every hash after
//! an entry they changed, but cannot sign: a checkpoint kept where they
//! cannot reach (a file an operator ships elsewhere, the logs) pins the
//! trail up to its sequence.

use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What is signed starts with this, so a checkpoint's signature is never
/// valid for anything else the key might sign.
const DOMAIN: &[u8] = b"repat audit checkpoint v1";

/// The head of the chain at a moment, signed. Serialized (JSON, one object
/// a line) as the server publishes it and `repatctl audit verify` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The sequence of the head entry.
    pub sequence: i64,
    /// That entry's hash (hex).
    pub head_hash: String,
    /// When it was signed, to the microsecond.
    pub sign_time: DateTime<Utc>,
    /// Which key signed it: the SHA-256 (hex) of the public key's 32 bytes.
    pub key_id: String,
    /// The Ed25519 signature (hex) of the fields above.
    pub signature: String,
}

/// The bytes signed: each field length-prefixed, as the chain's hashes are.
fn message(sequence: i64, head_hash: &str, sign_time: DateTime<Utc>, key_id: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(160);
    for field in [
        DOMAIN,
        &sequence.to_be_bytes(),
        head_hash.as_bytes(),
        &sign_time.timestamp_micros().to_be_bytes(),
        key_id.as_bytes(),
    ] {
        m.extend_from_slice(&(field.len() as u64).to_be_bytes());
        m.extend_from_slice(field);
    }
    m
}

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not an Ed25519 {0} key in PEM (make one with `openssl genpkey -algorithm ed25519`)")]
pub struct KeyError(&'static str);

/// Signs checkpoints.
pub struct CheckpointSigner {
    key: SigningKey,
    public: CheckpointKey,
}

impl CheckpointSigner {
    /// From a PKCS#8 PEM private key, as `openssl genpkey -algorithm
    /// ed25519` writes it.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError("private"))?;
        let public = CheckpointKey::new(key.verifying_key());
        Ok(CheckpointSigner { key, public })
    }

    /// The public half, which verifies what this signs.
    pub fn public(&self) -> &CheckpointKey {
        &self.public
    }

    /// Signs the head (`sequence`, `head_hash`) at `sign_time` (kept to
    /// the microsecond).
    pub fn sign(&self, sequence: i64, head_hash: &str, sign_time: DateTime<Utc>) -> Checkpoint {
        let sign_time =
            DateTime::from_timestamp_micros(sign_time.timestamp_micros()).unwrap_or(sign_time);
        let signature = self
            .key
            .sign(&message(sequence, head_hash, sign_time, &self.public.id));
        Checkpoint {
            sequence,
            head_hash: head_hash.to_string(),
            sign_time,
            key_id: self.public.id.clone(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// Verifies checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointKey {
    key: VerifyingKey,
    id: String,
}

impl CheckpointKey {
    fn new(key: VerifyingKey) -> Self {
        CheckpointKey {
            id: hex::encode(Sha256::digest(key.as_bytes())),
            key,
        }
    }

    /// From a PEM public key (`openssl pkey -pubout`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        VerifyingKey::from_public_key_pem(pem)
            .map(Self::new)
            .map_err(|_| KeyError("public"))
    }

    /// The key's id, as checkpoints name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `c` was signed by this key, as it stands.
    pub fn verify(&self, c: &Checkpoint) -> Result<(), String> {
        if c.key_id != self.id {
            return Err(format!(
                "signed by key {}, not this server's key {}",
                c.key_id, self.id
            ));
        }
        let bytes: [u8; 64] = hex::decode(&c.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("its signature is not 64 bytes of hex")?;
        self.key
            .verify(
                &message(c.sequence, &c.head_hash, c.sign_time, &c.key_id),
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| "its signature does not verify: it was forged or altered".to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed test key (PKCS#8 PEM), as `openssl genpkey -algorithm
    /// ed25519` writes one.
    pub(crate) const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB96ckiDKLtdgH4K9o2H/gQwFhosuWAJWPOStJ+8308/\n-----END PRIVATE KEY-----\n";

    pub(crate) fn signer() -> CheckpointSigner {
        CheckpointSigner::from_pem(TEST_KEY).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_does_not() {
        let s = signer();
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let c = s.sign(42, "ab".repeat(32).as_str(), at);
        assert_eq!(c.sign_time.timestamp_subsec_nanos(), 123_456_000);
        s.public().verify(&c).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: Checkpoint = serde_json::from_str(&json).unwrap();
        s.public().verify(&back).unwrap();

        let mut later = c.clone();
        later.sequence = 43;
        assert!(s.public().verify(&later).is_err());
        let mut other_head = c.clone();
        other_head.head_hash = "cd".repeat(32);
        assert!(s.public().verify(&other_head).is_err());
        let mut garbage = c.clone();
        garbage.signature = "00".into();
        assert!(s.public().verify(&garbage).is_err());

        let other = CheckpointSigner::from_pem(
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPTOPnUcxjp7puEvuGhSHdfvdCT8K9lRB3QkheJ+aLjC\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = s
            .public()
            .verify(&other.sign(42, &c.head_hash, at))
            .unwrap_err();
        assert!(err.contains("not this server's key"), "{err}");
    }

    #[test]
    fn keys_are_read_from_pem() {
        assert!(CheckpointSigner::from_pem("not a key").is_err());
        assert!(
            CheckpointKey::from_pem(TEST_KEY).is_err(),
            "a private key is not a public one"
        );
    }
}
