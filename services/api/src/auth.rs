//! Who is calling: an interceptor identifies the caller of every request
//! (a bearer token, bound to the client certificate over mutual TLS) and
//! puts the [`Caller`] into its extensions. What a caller may do is decided
//! by the use cases, in one place (`repat_usecases::auth`).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::{Request, Status};

use crate::error::ApiError;
use crate::token::TokenVerifier;

pub use repat_usecases::auth::{Action, Caller, Role};

/// How callers are identified.
#[derive(Clone)]
pub enum AuthMode {
    /// Every caller is the local administrator. Only for a server bound to
    /// loopback, asked for explicitly; the server warns at start.
    LocalAdmin,
    /// Bearer JWTs in the `authorization` metadata.
    Tokens(Arc<TokenVerifier>),
}

/// Identifies callers and holds each to its request rate.
#[derive(Clone)]
pub struct Gate {
    mode: AuthMode,
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    rate: u32,
}

impl Gate {
    /// `rate` requests per second per caller, with bursts of `burst`; no
    /// limit when `rate` is 0.
    pub fn new(mode: AuthMode, rate: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(rate).map(|r| {
            let burst = NonZeroU32::new(burst.max(rate)).unwrap_or(r);
            Arc::new(RateLimiter::keyed(Quota::per_second(r).allow_burst(burst)))
        });
        Gate {
            mode,
            limiter,
            rate,
        }
    }

    /// The interceptor of every service: puts the [`Caller`] into the
    /// request, or refuses it.
    pub fn admit(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = match &self.mode {
            AuthMode::LocalAdmin => Caller {
                subject: "local-admin".into(),
                role: Role::Admin,
                parties: vec![],
            },
            AuthMode::Tokens(verifier) => {
                let header = request.metadata().get("authorization").ok_or_else(|| {
                    Status::unauthenticated(
                        "missing authorization metadata: send \"authorization: Bearer <token>\"",
                    )
                })?;
                let token = header
                    .to_str()
                    .ok()
                    .and_then(|h| {
                        h.strip_prefix("Bearer ")
                            .or_else(|| h.strip_prefix("bearer "))
                    })
                    .ok_or_else(|| {
                        Status::unauthenticated("authorization metadata must be \"Bearer <token>\"")
                    })?;
                let caller = verifier
                    .verify(token.trim())
                    .map_err(Status::unauthenticated)?;
                bind_to_certificate(&request, &caller)?;
                caller
            }
        };
        crate::observe::note_subject(&caller.subject);
        if let Some(limiter) = &self.limiter
            && limiter.check_key(&caller.subject).is_err()
        {
            return Err(Status::resource_exhausted(format!(
                "more than {} requests per second from {}; retry later",
                self.rate, caller.subject
            )));
        }
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// Over mutual TLS the client certificate identifies the caller: a token is
/// accepted only from the client its subject names (the certificate's
/// common name), so a stolen token is useless without the key.
fn bind_to_certificate(request: &Request<()>, caller: &Caller) -> Result<(), Status> {
    let Some(certs) = request.peer_certs() else {
        return Ok(());
    };
    let Some(leaf) = certs.first() else {
        return Ok(());
    };
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|_| Status::unauthenticated("unreadable client certificate"))?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default();
    if cn != caller.subject {
        return Err(Status::unauthenticated(format!(
            "the token's subject {:?} is not the client certificate's common name {cn:?}",
            caller.subject
        )));
    }
    Ok(())
}

/// The caller the interceptor identified.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated("no caller identity".into()))
}
