//! Bearer tokens: JWTs verified with jsonwebtoken against one configured key
//! and algorithm (EdDSA or RS256 public key, or an HS256 secret). The
//! algorithm is fixed by configuration, never taken from the token, so
//! `alg: none` and algorithm confusion are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Caller, Role};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// What a token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default)]
    pub parties: Vec<Uuid>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
}

/// The key material of the configured algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Hs256,
    EdDsa,
    Rs256,
}

impl KeyAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::Hs256 => Algorithm::HS256,
            KeyAlgorithm::EdDsa => Algorithm::EdDSA,
            KeyAlgorithm::Rs256 => Algorithm::RS256,
        }
    }
}

pub fn role_name(role: Role) -> &'static str {
    role.name()
}

pub fn role_from_name(name: &str) -> Option<Role> {
    [Role::Firm, Role::Integrator, Role::Auditor, Role::Admin]
        .into_iter()
        .find(|r| role_name(*r) == name)
}

/// Verifies tokens.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    /// `key` is the HS256 secret, or the PEM of the EdDSA or RS256 public key.
    pub fn new(
        algorithm: KeyAlgorithm,
        key: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, String> {
        let key = match algorithm {
            KeyAlgorithm::Hs256 if key.len() < 32 => {
                return Err("the HS256 secret must be at least 32 bytes".into());
            }
            KeyAlgorithm::Hs256 => DecodingKey::from_secret(key),
            KeyAlgorithm::EdDsa => {
                DecodingKey::from_ed_pem(key).map_err(|e| format!("EdDSA public key: {e}"))?
            }
            KeyAlgorithm::Rs256 => {
                DecodingKey::from_rsa_pem(key).map_err(|e| format!("RS256 public key: {e}"))?
            }
        };
        let mut validation = Validation::new(algorithm.jwt());
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(TokenVerifier { key, validation })
    }

    /// The caller a token names, or why it is refused (never echoing the
    /// token itself).
    pub fn verify(&self, token: &str) -> Result<Caller, String> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| format!("invalid token: {e}"))?;
        let c = data.claims;
        check_subject(&c.sub).map_err(|e| format!("invalid token: {e}"))?;
        let role = role_from_name(&c.role)
            .ok_or_else(|| format!("invalid token: unknown role {:?}", c.role))?;
        Ok(Caller {
            subject: c.sub,
            role,
            parties: c.parties,
        })
    }
}

/// Longest subject accepted: an identity, not a document.
const MAX_SUBJECT: usize = 256;

/// A subject names who made every change in the audit trail: it must be
/// there, printable, and short.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.trim().is_empty() {
        return Err("the subject (sub) is empty; it must name the caller".into());
    }
    if subject.len() > MAX_SUBJECT {
        return Err(format!(
            "the subject (sub) is {} bytes long; at most {MAX_SUBJECT} are allowed",
            subject.len()
        ));
    }
    if subject.chars().any(char::is_control) {
        return Err("the subject (sub) contains control characters".into());
    }
    Ok(())
}

/// Mints tokens (for local use and tests).
pub struct TokenIssuer {
    algorithm: KeyAlgorithm,
    key: EncodingKey,
    issuer: String,
    audience: String,
}

impl TokenIssuer {
    /// `key` is the HS256 secret, or the PEM of the EdDSA or RS256 private key.
    pub fn new(
        algorithm: KeyAlgorithm,
        key: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, String> {
        let key = match algorithm {
            KeyAlgorithm::Hs256 => EncodingKey::from_secret(key),
            KeyAlgorithm::EdDsa => {
                EncodingKey::from_ed_pem(key).map_err(|e| format!("EdDSA private key: {e}"))?
            }
            KeyAlgorithm::Rs256 => {
                EncodingKey::from_rsa_pem(key).map_err(|e| format!("RS256 private key: {e}"))?
            }
        };
        Ok(TokenIssuer {
            algorithm,
            key,
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    /// A token for `subject` valid for `ttl` from now.
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
        parties: &[Uuid],
        ttl: Duration,
    ) -> Result<String, String> {
        check_subject(subject)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        self.issue_claims(&Claims {
            sub: subject.into(),
            role: role_name(role).into(),
            parties: parties.to_vec(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
        })
    }

    /// A token with exactly these claims.
    pub fn issue_claims(&self, claims: &Claims) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(self.algorithm.jwt()), claims, &self.key)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key pair made for these tests only.
    const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAwinpBNhCS++nf+CUi36MvWSgaxObcMnchp9BxjwELO0=\n-----END PUBLIC KEY-----\n";
    const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEICTk83Ij2TCkfNm6oqBhc9nkNdwDU9zYATkp+N9QZkfN\n-----END PRIVATE KEY-----\n";
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn ed_verifier() -> TokenVerifier {
        TokenVerifier::new(KeyAlgorithm::EdDsa, ED_PUBLIC.as_bytes(), "repat", "repat").unwrap()
    }

    #[test]
    fn eddsa_and_hs256_tokens_round_trip() {
        let party = Uuid::new_v4();
        let token = TokenIssuer::new(KeyAlgorithm::EdDsa, ED_PRIVATE.as_bytes(), "repat", "repat")
            .unwrap()
            .issue("a@firm", Role::Firm, &[party], Duration::from_secs(60))
            .unwrap();
        let caller = ed_verifier().verify(&token).unwrap();
        assert_eq!(
            (caller.subject.as_str(), caller.role, caller.parties),
            ("a@firm", Role::Firm, vec![party])
        );

        let hs = TokenIssuer::new(KeyAlgorithm::Hs256, SECRET, "repat", "repat")
            .unwrap()
            .issue("ops", Role::Admin, &[], Duration::from_secs(60))
            .unwrap();
        let verifier = TokenVerifier::new(KeyAlgorithm::Hs256, SECRET, "repat", "repat").unwrap();
        assert_eq!(verifier.verify(&hs).unwrap().role, Role::Admin);
    }

    #[test]
    fn algorithm_confusion_is_refused() {
        // The classic attack: HMAC-sign with the server's public key as the secret.
        let forged = TokenIssuer::new(KeyAlgorithm::Hs256, ED_PUBLIC.as_bytes(), "repat", "repat")
            .unwrap()
            .issue("mallory", Role::Admin, &[], Duration::from_secs(60))
            .unwrap();
        assert!(ed_verifier().verify(&forged).is_err());
    }

    #[test]
    fn issuer_audience_and_secrets_are_checked() {
        let other_aud = TokenIssuer::new(
            KeyAlgorithm::EdDsa,
            ED_PRIVATE.as_bytes(),
            "repat",
            "someone-else",
        )
        .unwrap()
        .issue("a", Role::Admin, &[], Duration::from_secs(60))
        .unwrap();
        assert!(ed_verifier().verify(&other_aud).is_err());
        let other_iss =
            TokenIssuer::new(KeyAlgorithm::EdDsa, ED_PRIVATE.as_bytes(), "evil", "repat")
                .unwrap()
                .issue("a", Role::Admin, &[], Duration::from_secs(60))
                .unwrap();
        assert!(ed_verifier().verify(&other_iss).is_err());
        assert!(TokenVerifier::new(KeyAlgorithm::Hs256, b"short", "repat", "repat").is_err());
        let unknown_role = TokenIssuer::new(KeyAlgorithm::Hs256, SECRET, "repat", "repat")
            .unwrap()
            .issue_claims(&Claims {
                sub: "x".into(),
                role: "root".into(),
                parties: vec![],
                iss: "repat".into(),
                aud: "repat".into(),
                exp: u64::MAX / 2,
                nbf: 0,
                iat: 0,
            })
            .unwrap();
        assert!(
            TokenVerifier::new(KeyAlgorithm::Hs256, SECRET, "repat", "repat")
                .unwrap()
                .verify(&unknown_role)
                .is_err()
        );
    }

    #[test]
    fn an_empty_or_unprintable_subject_is_refused() {
        let issuer = TokenIssuer::new(KeyAlgorithm::Hs256, SECRET, "repat", "repat").unwrap();
        for bad in ["", "  ", "a\nb"] {
            assert!(
                issuer
                    .issue(bad, Role::Admin, &[], Duration::from_secs(60))
                    .is_err(),
                "{bad:?}"
            );
        }
        let verifier = TokenVerifier::new(KeyAlgorithm::Hs256, SECRET, "repat", "repat").unwrap();
        for bad in ["", " ", "\u{0}"] {
            let token = issuer
                .issue_claims(&Claims {
                    sub: bad.into(),
                    role: "admin".into(),
                    parties: vec![],
                    iss: "repat".into(),
                    aud: "repat".into(),
                    exp: u64::MAX / 2,
                    nbf: 0,
                    iat: 0,
                })
                .unwrap();
            let err = verifier.verify(&token).unwrap_err();
            assert!(err.contains("subject"), "{err}");
        }
    }
}
