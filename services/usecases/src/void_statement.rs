//! VoidStatement: a statement imported for the wrong party or by mistake
//! set aside, with the reason. It is kept, but its entries are no longer
//! matched; its matches are removed, and the BENEFICIARY_CREDITED steps
//! they recorded are voided as VoidStep voids a step (journeys recomputed,
//! assessments superseded). A step a match only linked to (recorded
//! otherwise) stays: the money's arrival did not come from this file.

use repat_store::events::StatementSummary;
use repat_store::{
    CreditUnmatched, EventType, Idempotency, NewEvent, Revision, StoredMatch, StoredStatement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize, authorize_record};
use crate::error::{Error, Result};
use crate::void_step::{StepCorrection, correct};

/// What voiding a statement did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementVoided {
    pub statement: StoredStatement,
    pub removed: Vec<StoredMatch>,
    pub voided_steps: Vec<Uuid>,
}

pub async fn void_statement(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    id: Uuid,
    reason: &str,
) -> Result<StatementVoided> {
    let party = app.statement_party(id).await?;
    authorize_record(caller, Action::Read(party), "statement", id)?;
    let permit = authorize(caller, Action::Write(party))?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    tx.lock_reconciliation(party).await?;
    let (_, voided) = tx.statement_state(id).await?;
    if let Some(why) = voided {
        return Err(Error::Precondition(format!(
            "statement {id} is voided already ({why})"
        )));
    }
    let before = tx.statement(id).await?;
    let mut removed = Vec::new();
    for credit in tx.statement_entry_ids(id).await? {
        removed.extend(tx.matches_of_credit(credit).await?);
    }
    tx.void_statement(id, tx.time(), reason).await?;
    // The steps these matches recorded from the credits, voided.
    let mut voided_steps = Vec::new();
    let mut touched = Vec::new();
    for m in &removed {
        let (Some(rid), Some(step)) = (m.repatriation_id, m.step_id) else {
            continue;
        };
        let recorded_here = format!("reconciled from statement entry {}", m.detail.credit);
        let steps = tx.load_steps(&[rid]).await?;
        let ours = steps
            .get(&rid)
            .and_then(|s| s.iter().find(|s| s.id == step))
            .is_some_and(|s| s.details.note == recorded_here);
        if !ours {
            continue;
        }
        let correction = StepCorrection {
            repatriation_id: rid,
            step_id: step,
            reason: format!("statement {id} voided: {reason}"),
            replacement: None,
        };
        correct(&mut tx, idem, party, &correction).await?;
        voided_steps.push(step);
        touched.push(rid);
    }
    let after = tx.statement(id).await?;
    let resource = format!("statements/{id}");
    let revision = tx.revision_count(&resource).await? + 2;
    let summary = |s: &StoredStatement| {
        serde_json::to_string(&StoredStatement {
            entries: vec![],
            ..s.clone()
        })
        .map_err(|e| Error::internal(e.to_string()))
    };
    tx.insert_revision(&Revision::new(
        idem,
        resource.clone(),
        party,
        revision,
        "voided",
        reason,
        tx.time(),
        (summary(&before)?, summary(&after)?),
        vec!["void".to_string()],
    ))
    .await?;
    tx.audit(&[(idem, format!("{resource}/revisions/{revision}"))])
        .await?;
    let mut events = vec![NewEvent::new(
        EventType::StatementVoided,
        party,
        resource,
        &revision.to_string(),
        &StatementSummary::from(&after),
    )?];
    let mut credits: Vec<Uuid> = removed.iter().map(|m| m.detail.credit).collect();
    credits.sort();
    credits.dedup();
    for credit in credits {
        events.push(NewEvent::new(
            EventType::CreditUnmatched,
            party,
            format!("reconciliation/credits/{credit}"),
            &idem.request_id.to_string(),
            &CreditUnmatched {
                credit_id: credit,
                party_id: party,
                removed: removed
                    .iter()
                    .filter(|m| m.detail.credit == credit)
                    .cloned()
                    .collect(),
                reason: format!("statement {id} was voided: {reason}"),
            },
        )?);
    }
    tx.emit(events).await?;
    let out = StatementVoided {
        statement: after,
        removed,
        voided_steps,
    };
    tx.respond(idem, &out).await?;
    tx.commit().await?;
    app.announce(touched).await;
    Ok(out)
}
