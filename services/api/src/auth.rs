//! Who is calling, and what they may do: the single authorization point.
//!
//! An interceptor puts the [`Caller`] into every request's extensions; each
//! handler asks [`authorize`] before touching data. A record the caller may
//! not see is reported as not found, so its existence is not revealed.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::error::ApiError;
use crate::token::TokenVerifier;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Its own party's records.
    Firm,
    /// The parties linked to it.
    Integrator,
    /// Reads everything, writes nothing.
    Auditor,
    /// Manages parties; reads and writes everything.
    Admin,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable identity, recorded with every change.
    pub subject: String,
    pub role: Role,
    /// The parties a firm or integrator acts for.
    pub parties: Vec<Uuid>,
}

impl Caller {
    /// The tenant whose key space the caller's request ids are in: a
    /// firm's people share their party's (a retry by a colleague is a
    /// retry); an integrator, auditor or administrator has its own, by
    /// subject. No tenant can take another's request id.
    pub fn tenant(&self) -> String {
        match self.role {
            Role::Firm => {
                let mut parties = self.parties.clone();
                parties.sort();
                parties.dedup();
                let ids: Vec<String> = parties.iter().map(Uuid::to_string).collect();
                format!("firm:{}", ids.join(","))
            }
            role => format!("{}:{}", crate::token::role_name(role), self.subject),
        }
    }
}

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

/// What a handler is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a party's records.
    Read(Uuid),
    /// Create or change a party's records.
    Write(Uuid),
    /// Record what the bank did with a party's incentive claim (audited,
    /// disbursed, rejected): the bank's integrator or an administrator,
    /// never the claimant.
    Settle(Uuid),
    /// Read across all parties (unfiltered lists).
    ReadAll,
    /// Manage parties themselves.
    Administer,
    /// Read the audit trail.
    Audit,
}

/// The party filter of a list, given the one asked for (`None`: every
/// party). Firms and integrators see only their parties: without a filter a
/// caller acting for one party gets that party's records; one acting for
/// several must choose.
pub fn list_scope(caller: &Caller, requested: Option<Uuid>) -> Result<Option<Uuid>, ApiError> {
    match (caller.role, requested) {
        (_, Some(p)) => authorize_record(caller, Action::Read(p), "party", p).map(|()| Some(p)),
        (Role::Admin | Role::Auditor, None) => Ok(None),
        (_, None) => match caller.parties.as_slice() {
            [only] => Ok(Some(*only)),
            [] => Err(ApiError::PermissionDenied(
                "the token names no party to act for".into(),
            )),
            _ => Err(ApiError::Invalid(vec![tonic_types::FieldViolation::new(
                "party_id",
                "is required when the caller acts for several parties",
            )])),
        },
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

/// Allows `action` on the record `kind` `id`, found to be of the action's
/// party. A record the caller may not see is answered exactly as an absent
/// one: the same code, the same message.
pub fn authorize_record(
    caller: &Caller,
    action: Action,
    kind: &'static str,
    id: Uuid,
) -> Result<(), ApiError> {
    authorize(caller, action).map_err(|e| match e {
        ApiError::NotFound(_) => hidden(kind, id),
        e => e,
    })
}

/// What an absent record `kind` `id` is answered with.
pub fn hidden(kind: &'static str, id: Uuid) -> ApiError {
    ApiError::Store(repat_store::StoreError::NotFound {
        kind,
        id: id.to_string(),
    })
}

/// The caller the interceptor identified.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated("no caller identity".into()))
}

/// Allows or refuses `action`. Reads of another party's records are
/// `NOT_FOUND`; writes are `PERMISSION_DENIED`.
pub fn authorize(caller: &Caller, action: Action) -> Result<(), ApiError> {
    let own = |p: &Uuid| caller.parties.contains(p);
    let allowed = match (caller.role, action) {
        (Role::Admin, _) => true,
        (Role::Auditor, Action::Read(_) | Action::ReadAll | Action::Audit) => true,
        (Role::Firm | Role::Integrator, Action::Read(p) | Action::Write(p)) => own(&p),
        (Role::Integrator, Action::Settle(p)) => own(&p),
        _ => false,
    };
    match (allowed, action) {
        (true, _) => Ok(()),
        (false, Action::Read(_)) => Err(ApiError::NotFound("not found".into())),
        (false, _) => Err(ApiError::PermissionDenied(format!(
            "role {:?} may not do this",
            caller.role
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let p = Uuid::new_v4();
        let other = Uuid::new_v4();
        let firm = Caller {
            subject: "f".into(),
            role: Role::Firm,
            parties: vec![p],
        };
        assert!(authorize(&firm, Action::Read(p)).is_ok());
        assert!(matches!(
            authorize(&firm, Action::Read(other)),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            authorize(&firm, Action::Write(other)),
            Err(ApiError::PermissionDenied(_))
        ));
        assert!(matches!(
            authorize(&firm, Action::ReadAll),
            Err(ApiError::PermissionDenied(_))
        ));
        let auditor = Caller {
            subject: "a".into(),
            role: Role::Auditor,
            parties: vec![],
        };
        assert!(authorize(&auditor, Action::Read(other)).is_ok());
        assert!(matches!(
            authorize(&auditor, Action::Write(other)),
            Err(ApiError::PermissionDenied(_))
        ));
        assert!(matches!(
            authorize(&firm, Action::Settle(p)),
            Err(ApiError::PermissionDenied(_))
        ));
        let bank = Caller {
            subject: "b".into(),
            role: Role::Integrator,
            parties: vec![p],
        };
        assert!(authorize(&bank, Action::Settle(p)).is_ok());
        assert!(matches!(
            authorize(&bank, Action::Settle(other)),
            Err(ApiError::PermissionDenied(_))
        ));
    }
}
