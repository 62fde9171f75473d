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
    match role {
        Role::Firm => "firm",
        Role::Integrator => "integrator",
        Role::Auditor => "auditor",
        Role::Admin => "admin",
    }
}

pub fn role_from_name(name: &str) -> Option<Role> {
    [Role::Firm, Role::Integrator, Role::Auditor, Role::Admin].into_iter().find(|r| role_name(*r) == name)
}

/// Verifies tokens.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    /// `key` is the HS256 secret, or the PEM of the EdDSA or RS256 public key.
    pub fn new(algorithm: KeyAlgorithm, key: &[u8], issuer: &str, audience: &str) -> Result<Self, String> {
        let key = match algorithm {
            KeyAlgorithm::Hs256 if key.len() < 32 => return Err("the HS256 secret must be at least 32 bytes".into()),
            KeyAlgorithm::Hs256 => DecodingKey::from_secret(key),
            KeyAlgorithm::EdDsa => DecodingKey::from_ed_pem(key).map_err(|e| format!("EdDSA public key: {e}"))?,
            KeyAlgorithm::Rs256 => DecodingKey::from_rsa_pem(key).map_err(|e| format!("RS256 public key: {e}"))?,
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
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| format!("invalid token: {e}"))?;
        let c = data.claims;
        let role = role_from_name(&c.role).ok_or_else(|| format!("invalid token: unknown role {:?}", c.role))?;
        Ok(Caller { subject: c.sub, role, parties: c.parties })
    }
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
    pub fn new(algorithm: KeyAlgorithm, key: &[u8], issuer: &str, audience: &str) -> Result<Self, String> {
        let key = match algorithm {
            KeyAlgorithm::Hs256 => EncodingKey::from_secret(key),
            KeyAlgorithm::EdDsa => EncodingKey::from_ed_pem(key).map_err(|e| format!("EdDSA private key: {e}"))?,
            KeyAlgorithm::Rs256 => EncodingKey::from_rsa_pem(key).map_err(|e| format!("RS256 private key: {e}"))?,
        };
        Ok(TokenIssuer { algorithm, key, issuer: issuer.into(), audience: audience.into() })
    }

    /// A token for `subject` valid for `ttl` from now.
    pub fn issue(&self, subject: &str, role: Role, parties: &[Uuid], ttl: Duration) -> Result<String, String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
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
        jsonwebtoken::encode(&Header::new(self.algorithm.jwt()), claims, &self.key).map_err(|e| e.to_string())
    }
}
