//! RunMatching: the party's open credits matched to its earnings by the
//! core's matcher (deterministic, re-runnable); each match linked to the
//! journey of its earning, which records BENEFICIARY_CREDITED from the
//! credit when it has none.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::journey::{self, NewStep, Step};
use repat_core::reconcile::{self as recon, Exception, Subject, Tolerances};
use repat_core::repatriation::RepatriationStatus;
use repat_store::{
    CreditUnmatched, EventType, Idempotency, JourneyChange, NewEvent, StoredMatch, Write,
    derive_id, journey_change_events,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result};
use crate::record_steps::journey_update;

/// What a matching run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchingRun {
    pub party_id: Uuid,
    pub matches: Vec<StoredMatch>,
    pub exception_count: usize,
    pub run_time: DateTime<Utc>,
}

/// Matches the party's open credits, stores the new matches (and the
/// journey steps they record), and replaces the party's exceptions.
pub async fn run_matching(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    party: Uuid,
    tolerances: &Tolerances,
) -> Result<MatchingRun> {
    let permit = authorize(caller, Action::Write(party))?;
    let run = run(app.store(&permit), idem, party, tolerances).await?;
    announce_journeys(app, &run.matches).await;
    Ok(run)
}

async fn run(
    store: &dyn repat_store::Repository,
    idem: &Idempotency,
    party: Uuid,
    tolerances: &Tolerances,
) -> Result<MatchingRun> {
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    tx.lock_reconciliation(party).await?;
    let mut credits = tx.credits(party).await?;
    let mut events = Vec::new();
    let taken_back = recon::matcher::taken_back(&credits);
    if !taken_back.is_empty() {
        events = release_taken_back(&mut tx, idem, party, &taken_back).await?;
        credits = tx.credits(party).await?;
    }
    let invoices = tx.invoices(party).await?;
    let outcome = recon::reconcile(&invoices, &credits, tolerances);
    let entries: HashMap<Uuid, recon::Entry> =
        credits.into_iter().map(|c| (c.id, c.entry)).collect();
    let (matches, journeys) = store_matches(&mut tx, idem, outcome.matches, &entries, None).await?;
    let held: std::collections::HashSet<String> = tx
        .exceptions(party)
        .await?
        .iter()
        .map(exception_key)
        .collect();
    tx.replace_exceptions(party, &outcome.exceptions).await?;
    let run = MatchingRun {
        party_id: party,
        matches,
        exception_count: outcome.exceptions.len(),
        run_time: tx.time(),
    };
    tx.audit(&[(idem, format!("parties/{party}/reconciliation"))])
        .await?;
    events.extend(match_events(&run.matches, &journeys)?);
    // An exception is raised when the party's exceptions did not hold it
    // already.
    for x in outcome
        .exceptions
        .iter()
        .filter(|x| !held.contains(&exception_key(x)))
    {
        let key = exception_key(x);
        let (subject, _) = key.split_once(' ').unwrap_or((key.as_str(), ""));
        events.push(NewEvent::new(
            EventType::ExceptionRaised,
            party,
            format!("reconciliation/{subject}"),
            &idem.request_id.to_string(),
            x,
        )?);
    }
    tx.emit(events).await?;
    tx.respond(idem, &run).await?;
    tx.commit().await?;
    Ok(run)
}

/// Unmatches the credits a booked reversal took back after they were
/// matched (the money would otherwise count twice): their matches go, in
/// the trail and as `credit.unmatched` events with the reason, and each
/// stays open for the run to explain as REVERSED. The journeys keep their
/// BENEFICIARY_CREDITED: the money did arrive before it was taken back.
async fn release_taken_back(
    tx: &mut Write,
    idem: &Idempotency,
    party: Uuid,
    credits: &[Uuid],
) -> Result<Vec<NewEvent>> {
    let mut events = Vec::with_capacity(credits.len());
    let mut audited = Vec::with_capacity(credits.len());
    for &credit in credits {
        let removed = tx.matches_of_credit(credit).await?;
        tx.release_credit(credit).await?;
        let resource = format!("reconciliation/credits/{credit}");
        events.push(NewEvent::new(
            EventType::CreditUnmatched,
            party,
            resource.clone(),
            &idem.request_id.to_string(),
            &CreditUnmatched {
                credit_id: credit,
                party_id: party,
                removed,
                reason: "a booked reversal on the account took the credit back".into(),
            },
        )?);
        audited.push((idem, resource));
    }
    tx.audit(&audited).await?;
    Ok(events)
}

/// Journeys a match extended have changed: their watchers hear of it.
pub(crate) async fn announce_journeys(app: &App, matches: &[StoredMatch]) {
    app.announce(matches.iter().filter_map(|m| m.repatriation_id).collect())
        .await;
}

/// When the credit's money became available, for the journey: the bank's
/// booking instant if it gives one, else noon in Dhaka on the value (or
/// booking) date.
fn credited_at(e: &recon::Entry) -> Option<DateTime<Utc>> {
    e.booked_at.or_else(|| {
        let noon = e.date()?.and_hms_opt(12, 0, 0)?;
        noon.and_local_timezone(repat_core::time::DHAKA)
            .single()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// What an exception is about and why.
fn exception_key(x: &Exception) -> String {
    let subject = match x.subject {
        Subject::Credit(c) => format!("credits/{c}"),
        Subject::Invoice(e) => format!("earnings/{e}"),
    };
    format!("{subject} {}", x.reason.name())
}

/// The events of matches made: each credit matched, and what the steps
/// recorded from them did to their journeys.
pub(crate) fn match_events(
    matches: &[StoredMatch],
    journeys: &[JourneyChange],
) -> Result<Vec<NewEvent>> {
    let mut out = Vec::with_capacity(matches.len() + journeys.len());
    for m in matches {
        out.push(NewEvent::new(
            EventType::CreditMatched,
            m.detail.party,
            format!("reconciliation/matches/{}", m.id),
            "",
            m,
        )?);
    }
    let mut parties = HashMap::new();
    for m in matches {
        if let Some(rid) = m.repatriation_id {
            parties.insert(rid, m.detail.party);
        }
    }
    let journeys = journeys
        .iter()
        .filter_map(|j| Some((*parties.get(&j.repatriation_id)?, j.clone())))
        .collect::<Vec<_>>();
    out.extend(journey_change_events(&journeys)?);
    Ok(out)
}

/// Stores matches, links each to its earning's repatriation and, where
/// that journey has no BENEFICIARY_CREDITED yet, records it from the
/// credit (same transaction, same ordering rules as any step). `credits`
/// gives each credit's entry. Returns the matches and what the steps
/// recorded did to their journeys.
pub(crate) async fn store_matches(
    tx: &mut Write,
    idem: &Idempotency,
    matches: Vec<recon::Match>,
    credits: &HashMap<Uuid, recon::Entry>,
    note: Option<&str>,
) -> Result<(Vec<StoredMatch>, Vec<JourneyChange>)> {
    let at = tx.time();
    let mut changes = Vec::new();
    let base = derive_id(idem);
    let mut journeys: HashMap<Uuid, Vec<Step>> = HashMap::new();
    let mut new_steps: Vec<Step> = Vec::new();
    let mut stored = Vec::with_capacity(matches.len());
    for m in matches {
        let entry = credits.get(&m.credit).ok_or_else(|| {
            Error::internal(format!("credit {} of a match is not loaded", m.credit))
        })?;
        let mut pair = [0u8; 32];
        pair[..16].copy_from_slice(m.credit.as_bytes());
        pair[16..].copy_from_slice(m.invoice.as_bytes());
        let mut sm = StoredMatch {
            id: Uuid::new_v5(&base, &pair),
            detail: m,
            repatriation_id: None,
            step_id: None,
            journey_note: None,
            note: note.map(str::to_string),
            create_time: at,
        };
        let paying = tx.paying_repatriations(sm.detail.invoice).await?;
        let open = paying
            .iter()
            .find(|(_, status)| !status.is_terminal())
            .map(|(id, _)| *id);
        if let Some(rid) = open {
            sm.repatriation_id = Some(rid);
            let steps = match journeys.entry(rid) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    tx.lock_journeys(&[rid]).await?;
                    let steps = tx.load_steps(&[rid]).await?.remove(&rid);
                    slot.insert(steps.unwrap_or_default())
                }
            };
            if let Some(s) = steps
                .iter()
                .find(|s| s.kind() == journey::StepKind::BeneficiaryCredited)
            {
                sm.step_id = Some(s.id);
            } else if let Some(when) = credited_at(entry) {
                let mut new = NewStep::new(rid, journey::StepKind::BeneficiaryCredited, when);
                new.amount = Some(entry.amount);
                new.end_to_end_id = entry.end_to_end_id.clone();
                new.uetr = entry.uetr;
                new.note = format!("reconciled from statement entry {}", sm.detail.credit);
                match journey::admit(steps, &new) {
                    Ok(()) => {
                        let step = Step {
                            id: Uuid::new_v5(&base, rid.as_bytes()),
                            details: new,
                            recorded_at: at,
                        };
                        sm.step_id = Some(step.id);
                        let previous_status = RepatriationStatus::of(steps);
                        steps.push(step.clone());
                        changes.push(JourneyChange {
                            repatriation_id: rid,
                            step: step.clone(),
                            previous_status,
                            status: RepatriationStatus::of(steps),
                        });
                        new_steps.push(step);
                    }
                    Err(v) => {
                        sm.journey_note = Some(format!("BENEFICIARY_CREDITED not recorded: {v}"))
                    }
                }
            }
        }
        tx.insert_match(&sm).await?;
        stored.push(sm);
    }
    let mut settled: Vec<Uuid> = stored.iter().map(|m| m.detail.credit).collect();
    settled.sort();
    settled.dedup();
    tx.settle_credits(&settled).await?;
    if !new_steps.is_empty() {
        let mut extended: Vec<Uuid> = new_steps
            .iter()
            .map(|s| s.details.repatriation_id)
            .collect();
        extended.sort();
        extended.dedup();
        let updates: Vec<_> = extended
            .iter()
            .map(|rid| journey_update(*rid, &journeys[rid]))
            .collect();
        tx.extend_journeys(&new_steps, &updates).await?;
    }
    Ok((stored, changes))
}
