//! AssessRepatriation: what cash incentive a realized repatriation earns
//! under the rule set in force, explained; stored unless only looked at.

use chrono::NaiveDate;
use repat_core::incentive::{Assessment, Case, JourneyFacts, Overflow, Supplied, assess, case_of};
use repat_core::time::dhaka_date;
use repat_store::{
    EventType, Idempotency, NewEvent, StoredAssessment, derive_id, events::AssessmentSuperseded,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller};
use crate::error::{Error, Result};
use crate::rules::ActiveRules;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessRequest {
    pub repatriation_id: Uuid,
    /// The day the assessment is made as of (default: today in Dhaka).
    pub as_of: Option<NaiveDate>,
    /// Documents held beyond an association membership.
    pub documents: Vec<String>,
    /// BDT per unit, when no CONVERTED_TO_BDT step carries a rate.
    pub fx_rate: Option<Decimal>,
    /// Only look: nothing is stored, and reading is enough.
    pub validate_only: bool,
}

pub enum Assessed {
    /// What an assessment would say (`validate_only`).
    Looked {
        repatriation_id: Uuid,
        party_id: Uuid,
        assessment: Assessment,
        case: Case,
    },
    Stored(StoredAssessment),
}

pub async fn assess_repatriation(
    app: &App,
    rules: &ActiveRules,
    caller: &Caller,
    idem: &Idempotency,
    req: &AssessRequest,
) -> Result<Assessed> {
    let rid = req.repatriation_id;
    let looking = req.validate_only;
    let (_, permit) = app
        .repatriation_party(
            caller,
            rid,
            if looking { Action::Read } else { Action::Write },
        )
        .await?;
    let store = app.store(&permit);
    let journey = store.get_journey(rid).await?;
    let party_id = journey.repatriation.details.party_id;
    let history = store.party_history(party_id).await?;
    let documents = store.party_documents(party_id).await?;
    let party = history.party;
    let mut earnings = Vec::with_capacity(journey.repatriation.details.allocations.len());
    for a in &journey.repatriation.details.allocations {
        earnings.push(store.get_earning(a.earning_id).await?);
    }
    let facts = JourneyFacts {
        repatriation_id: rid,
        party: &party,
        party_facts: &history.facts,
        earnings: &earnings,
        steps: &journey.steps,
        documents: &documents,
    };
    let supplied = Supplied {
        documents: req.documents.clone(),
        fx_rate: req.fx_rate,
    };
    let as_of = req.as_of.unwrap_or_else(|| dhaka_date(chrono::Utc::now()));
    let case = case_of(&rules.rules, &facts, &supplied, as_of)
        .ok_or_else(|| Error::internal(format!("repatriation {rid} pays no earning")))?;
    // Figures too large to compute exactly come from the rate, supplied
    // or the journey's own.
    let field = if case.fx_rate.is_some() && req.fx_rate.is_none() {
        "repatriation_id"
    } else {
        "fx_rate"
    };
    let assessment = assess(&rules.rules, &case).map_err(|e| overflow(field, e))?;
    if looking {
        return Ok(Assessed::Looked {
            repatriation_id: rid,
            party_id: party.id,
            assessment,
            case,
        });
    }
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(Assessed::Stored(stored));
    }
    let previous = tx.current_assessment(rid).await?.map(|a| a.id);
    let stored = StoredAssessment {
        id: derive_id(idem),
        repatriation_id: rid,
        party_id: party.id,
        case,
        assessment,
        assess_time: tx.time(),
        superseded_by: None,
    };
    tx.insert_assessment(&stored).await?;
    tx.audit(&[(idem, format!("assessments/{}", stored.id))])
        .await?;
    let mut events = vec![NewEvent::new(
        EventType::AssessmentMade,
        stored.party_id,
        format!("assessments/{}", stored.id),
        "",
        &stored,
    )?];
    if let Some(old) = previous {
        events.push(NewEvent::new(
            EventType::AssessmentSuperseded,
            stored.party_id,
            format!("assessments/{old}"),
            "",
            &AssessmentSuperseded {
                repatriation_id: stored.repatriation_id,
                assessment_id: old,
                superseded_by: stored.id,
            },
        )?);
    }
    tx.emit(events).await?;
    tx.respond(idem, &stored).await?;
    tx.commit().await?;
    Ok(Assessed::Stored(stored))
}

/// An assessment whose figures cannot be computed exactly is refused on
/// the input that made them so large.
pub fn overflow(field: &str, e: Overflow) -> Error {
    Error::invalid(field, e.to_string())
}
