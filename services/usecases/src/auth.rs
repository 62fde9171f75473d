//! Who is calling, and what they may do: the single authorization point.
//!
//! Every use case takes the [`Caller`] and asks [`authorize`] before it
//! touches data: the store is handed out only against the [`Permit`] that
//! [`authorize`] returns (see [`crate::App`]). A record the caller may not
//! see is reported as not found, so its existence is not revealed.

use uuid::Uuid;

use crate::error::{Error, Violation};

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

impl Role {
    /// Its name in tokens and in the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Role::Firm => "firm",
            Role::Integrator => "integrator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
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
            role => format!("{}:{}", role.name(), self.subject),
        }
    }
}

/// What a use case is about to do.
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
    /// Read the incentive rule sets and ask what-ifs of them: no party's
    /// records, so every caller may.
    ReadRules,
}

/// Proof that a caller was authorized: the store is reached only with one
/// (see [`crate::App`]), and only [`authorize`] makes them.
#[derive(Debug)]
pub struct Permit(());

/// Allows or refuses `action`. Reads of another party's records are
/// `NotFound`; anything else refused is `PermissionDenied`.
pub fn authorize(caller: &Caller, action: Action) -> Result<Permit, Error> {
    let own = |p: &Uuid| caller.parties.contains(p);
    let allowed = match (caller.role, action) {
        (_, Action::ReadRules) => true,
        (Role::Admin, _) => true,
        (Role::Auditor, Action::Read(_) | Action::ReadAll | Action::Audit) => true,
        (Role::Firm | Role::Integrator, Action::Read(p) | Action::Write(p)) => own(&p),
        (Role::Integrator, Action::Settle(p)) => own(&p),
        _ => false,
    };
    match (allowed, action) {
        (true, _) => Ok(Permit(())),
        (false, Action::Read(_)) => Err(Error::NotFound("not found".into())),
        (false, _) => Err(Error::PermissionDenied(format!(
            "role {:?} may not do this",
            caller.role
        ))),
    }
}

/// Allows `action` on the record `kind` `id`, found to be of the action's
/// party. A record the caller may not see is answered exactly as an absent
/// one: the same code, the same message.
pub fn authorize_record(
    caller: &Caller,
    action: Action,
    kind: &'static str,
    id: Uuid,
) -> Result<Permit, Error> {
    authorize(caller, action).map_err(|e| match e {
        Error::NotFound(_) => hidden(kind, id),
        e => e,
    })
}

/// What an absent record `kind` `id` is answered with.
pub fn hidden(kind: &'static str, id: Uuid) -> Error {
    Error::Store(repat_store::StoreError::NotFound {
        kind,
        id: id.to_string(),
    })
}

/// The party filter of a list, given the one asked for (`None`: every
/// party), with the permit to read it. Firms and integrators see only
/// their parties: without a filter a caller acting for one party gets that
/// party's records; one acting for several must choose.
pub fn list_scope(
    caller: &Caller,
    requested: Option<Uuid>,
) -> Result<(Option<Uuid>, Permit), Error> {
    match (caller.role, requested) {
        (_, Some(p)) => {
            authorize_record(caller, Action::Read(p), "party", p).map(|permit| (Some(p), permit))
        }
        (Role::Admin | Role::Auditor, None) => {
            authorize(caller, Action::ReadAll).map(|permit| (None, permit))
        }
        (_, None) => match caller.parties.as_slice() {
            [only] => authorize(caller, Action::Read(*only)).map(|permit| (Some(*only), permit)),
            [] => Err(Error::PermissionDenied(
                "the token names no party to act for".into(),
            )),
            _ => Err(Error::Invalid(vec![Violation::new(
                "party_id",
                "is required when the caller acts for several parties",
            )])),
        },
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
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            authorize(&firm, Action::Write(other)),
            Err(Error::PermissionDenied(_))
        ));
        assert!(matches!(
            authorize(&firm, Action::ReadAll),
            Err(Error::PermissionDenied(_))
        ));
        assert!(authorize(&firm, Action::ReadRules).is_ok());
        let auditor = Caller {
            subject: "a".into(),
            role: Role::Auditor,
            parties: vec![],
        };
        assert!(authorize(&auditor, Action::Read(other)).is_ok());
        assert!(matches!(
            authorize(&auditor, Action::Write(other)),
            Err(Error::PermissionDenied(_))
        ));
        assert!(matches!(
            authorize(&firm, Action::Settle(p)),
            Err(Error::PermissionDenied(_))
        ));
        let bank = Caller {
            subject: "b".into(),
            role: Role::Integrator,
            parties: vec![p],
        };
        assert!(authorize(&bank, Action::Settle(p)).is_ok());
        assert!(matches!(
            authorize(&bank, Action::Settle(other)),
            Err(Error::PermissionDenied(_))
        ));
    }

    #[test]
    fn lists_are_scoped() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let firm = Caller {
            subject: "f".into(),
            role: Role::Firm,
            parties: vec![a],
        };
        assert_eq!(list_scope(&firm, None).unwrap().0, Some(a));
        // Another party's records are answered as absent ones.
        assert!(matches!(
            list_scope(&firm, Some(b)),
            Err(Error::Store(repat_store::StoreError::NotFound { .. }))
        ));
        let bank = Caller {
            subject: "b".into(),
            role: Role::Integrator,
            parties: vec![a, b],
        };
        assert!(matches!(list_scope(&bank, None), Err(Error::Invalid(_))));
        let auditor = Caller {
            subject: "a".into(),
            role: Role::Auditor,
            parties: vec![],
        };
        assert_eq!(list_scope(&auditor, None).unwrap().0, None);
    }
}
