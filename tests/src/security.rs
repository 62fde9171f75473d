//! Keys, tokens and certificates made fresh for each test.

use std::path::PathBuf;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ED25519};
use repat_api::auth::Role;
use repat_api::token::{Claims, KeyAlgorithm, TokenIssuer};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};
use uuid::Uuid;

/// A directory of key files, removed on drop.
pub struct KeyDir {
    pub dir: PathBuf,
}

impl KeyDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("repat-keys-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("key dir");
        KeyDir { dir }
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, content).expect("write key file");
        path
    }
}

impl Default for KeyDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KeyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An Ed25519 signing pair for tokens: (private PEM, public PEM).
pub fn ed25519_pair() -> (String, String) {
    let key = KeyPair::generate_for(&PKCS_ED25519).expect("ed25519 key");
    (key.serialize_pem(), key.public_key_pem())
}

/// Mints tokens with `private_pem` (EdDSA), issuer and audience "repat".
pub struct Minter(TokenIssuer);

impl Minter {
    pub fn new(private_pem: &str) -> Self {
        Minter(
            TokenIssuer::new(
                KeyAlgorithm::EdDsa,
                private_pem.as_bytes(),
                "repat",
                "repat",
            )
            .expect("issuer"),
        )
    }

    pub fn token(&self, subject: &str, role: Role, parties: &[Uuid]) -> String {
        self.0
            .issue(subject, role, parties, Duration::from_secs(600))
            .expect("token")
    }

    /// A token that expired an hour ago.
    pub fn expired(&self, subject: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.0
            .issue_claims(&Claims {
                sub: subject.into(),
                role: "admin".into(),
                parties: vec![],
                iss: "repat".into(),
                aud: "repat".into(),
                exp: now - 3600,
                nbf: now - 7200,
                iat: now - 7200,
            })
            .expect("token")
    }
}

/// An unsigned token (`alg: none`) claiming to be an administrator.
pub fn alg_none_token() -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64.encode(format!(r#"{{"sub":"mallory","role":"admin","parties":[],"iss":"repat","aud":"repat","exp":{},"nbf":{},"iat":{}}}"#, now + 600, now, now));
    format!("{header}.{claims}.")
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            let value: MetadataValue<_> = format!("Bearer {token}")
                .parse()
                .map_err(|_| Status::internal("bad token"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// A test certificate authority and certificates it signs.
pub struct TestCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA cert");
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, private key PEM) for `names` (DNS names or IPs).
    pub fn issue(&self, common_name: &str, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }
}
