//! Who is calling, and what they may do: the single authorization point.
//!
//! An interceptor puts the [`Caller`] into every request's extensions; each
//! handler asks [`authorize`] before touching data. A record the caller may
//! not see is reported as not found, so its existence is not revealed.

use tonic::{Request, Status};
use uuid::Uuid;

use crate::error::ApiError;

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

/// How callers are identified.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// Every caller is the local administrator. Only for a server bound to
    /// loopback; the server warns at start.
    LocalAdmin,
}

/// What a handler is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a party's records.
    Read(Uuid),
    /// Create or change a party's records.
    Write(Uuid),
    /// Read across all parties (unfiltered lists).
    ReadAll,
    /// Manage parties themselves.
    Administer,
}

/// Identifies the caller of a request; used as the services' interceptor.
pub fn authenticate(mode: &AuthMode, mut request: Request<()>) -> Result<Request<()>, Status> {
    let caller = match mode {
        AuthMode::LocalAdmin => Caller { subject: "local-admin".into(), role: Role::Admin, parties: vec![] },
    };
    request.extensions_mut().insert(caller);
    Ok(request)
}

/// The caller the interceptor identified.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    request.extensions().get::<Caller>().cloned().ok_or_else(|| ApiError::Unauthenticated("no caller identity".into()))
}

/// Allows or refuses `action`. Reads of another party's records are
/// `NOT_FOUND`; writes are `PERMISSION_DENIED`.
pub fn authorize(caller: &Caller, action: Action) -> Result<(), ApiError> {
    let own = |p: &Uuid| caller.parties.contains(p);
    let allowed = match (caller.role, action) {
        (Role::Admin, _) => true,
        (Role::Auditor, Action::Read(_) | Action::ReadAll) => true,
        (Role::Firm | Role::Integrator, Action::Read(p) | Action::Write(p)) => own(&p),
        _ => false,
    };
    match (allowed, action) {
        (true, _) => Ok(()),
        (false, Action::Read(_)) => Err(ApiError::NotFound("not found".into())),
        (false, _) => Err(ApiError::PermissionDenied(format!("role {:?} may not do this", caller.role))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let p = Uuid::new_v4();
        let other = Uuid::new_v4();
        let firm = Caller { subject: "f".into(), role: Role::Firm, parties: vec![p] };
        assert!(authorize(&firm, Action::Read(p)).is_ok());
        assert!(matches!(authorize(&firm, Action::Read(other)), Err(ApiError::NotFound(_))));
        assert!(matches!(authorize(&firm, Action::Write(other)), Err(ApiError::PermissionDenied(_))));
        assert!(matches!(authorize(&firm, Action::ReadAll), Err(ApiError::PermissionDenied(_))));
        let auditor = Caller { subject: "a".into(), role: Role::Auditor, parties: vec![] };
        assert!(authorize(&auditor, Action::Read(other)).is_ok());
        assert!(matches!(authorize(&auditor, Action::Write(other)), Err(ApiError::PermissionDenied(_))));
    }
}
