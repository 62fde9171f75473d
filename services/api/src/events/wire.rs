//! Events to the wire: the protobuf `Event` (CloudEvents attributes and
//! the payload), its JSON rendering, and the CloudEvents envelope that
//! NATS and webhooks carry.

use repat_core::Named;
use repat_core::events::{DeadlineAlert, InFlightAlert};
use repat_core::journey::StepKind;
use repat_core::time::dhaka_date;
use repat_proto::v1 as pb;
use repat_proto::v1::event::Data;
use repat_store::events::{AssessmentSuperseded, StatementSummary};
use repat_store::{CreditUnmatched, EventType, JourneyChange, StoreError, StoredEvent};
use serde::de::DeserializeOwned;

use crate::convert;
use crate::incentive::wire as incentive;
use crate::reconciliation::wire as recon;

/// CloudEvents `source` of every event.
pub const SOURCE: &str = "/repat";
/// The CloudEvents version the attributes follow.
pub const SPEC_VERSION: &str = "1.0";
/// Prefix of every CloudEvents `type`: `repat.step.recorded`.
pub const TYPE_PREFIX: &str = "repat.";

/// The CloudEvents type of an event type.
pub fn cloud_type(kind: EventType) -> String {
    format!("{TYPE_PREFIX}{}", kind.name())
}

/// An event type named as filters may name it: `step.recorded` or
/// `repat.step.recorded`.
pub fn event_type(name: &str) -> Option<EventType> {
    EventType::from_name(name.strip_prefix(TYPE_PREFIX).unwrap_or(name))
}

fn payload<T: DeserializeOwned>(e: &StoredEvent) -> Result<T, StoreError> {
    serde_json::from_str(&e.payload).map_err(|err| {
        StoreError::Internal(format!("event {} has an unreadable payload: {err}", e.id))
    })
}

fn journey_change(c: &JourneyChange) -> pb::JourneyChange {
    pb::JourneyChange {
        repatriation_id: c.repatriation_id.to_string(),
        step: Some(convert::step(&c.step, None)),
        previous_status: convert::status(c.previous_status) as i32,
        status: convert::status(c.status) as i32,
        realized_on: (c.step.kind() == StepKind::BeneficiaryCredited)
            .then(|| convert::date(dhaka_date(c.step.occurred_at()))),
    }
}

fn deadline_alert(a: &DeadlineAlert) -> pb::DeadlineAlert {
    pb::DeadlineAlert {
        party_id: a.party_id.to_string(),
        earning_id: a.earning_id.map(|e| e.to_string()).unwrap_or_default(),
        repatriation_id: a.repatriation_id.map(|r| r.to_string()).unwrap_or_default(),
        counted_from: Some(convert::date(a.counted_from)),
        deadline: Some(convert::date(a.deadline)),
        days_left: a.days_left as i32,
        threshold_days: a.threshold_days as i32,
        programme: a.programme.clone(),
        rule: a.rule.clone(),
    }
}

fn in_flight_alert(a: &InFlightAlert) -> pb::InFlightAlert {
    pb::InFlightAlert {
        party_id: a.party_id.to_string(),
        repatriation_id: a.repatriation_id.to_string(),
        initiate_time: Some(convert::timestamp(a.initiated_at)),
        threshold: Some(prost_types::Duration {
            seconds: a.threshold_secs,
            nanos: 0,
        }),
    }
}

fn statement_imported(s: &StatementSummary) -> pb::StatementImported {
    pb::StatementImported {
        statement: Some(pb::Statement {
            id: s.id.to_string(),
            party_id: s.party_id.to_string(),
            format: recon::format(s.format) as i32,
            message_id: s.message_id.clone(),
            account: s.account.clone(),
            sha256: s.sha256.clone(),
            entries: vec![],
            import_time: Some(convert::timestamp(s.import_time)),
            other_statements: vec![],
            void_time: None,
            void_reason: String::new(),
        }),
        entry_count: s.entry_count as i32,
        credit_count: s.credit_count as i32,
    }
}

/// The payload of a stored event, as the message its type carries.
fn data(e: &StoredEvent) -> Result<Data, StoreError> {
    use EventType as E;
    Ok(match e.kind {
        E::PartyCreated | E::PartyCorrected => Data::Party(convert::party(&payload(e)?)),
        E::EarningCreated | E::EarningAmended | E::EarningVoided => {
            Data::Earning(convert::earning(&payload(e)?))
        }
        E::RepatriationCreated => Data::Repatriation(convert::repatriation(&payload(e)?)),
        E::StepRecorded
        | E::StepVoided
        | E::StepCorrected
        | E::JourneyStatusChanged
        | E::JourneyRealized
        | E::JourneyReturned
        | E::JourneyRejected => Data::JourneyChange(journey_change(&payload(e)?)),
        E::AssessmentMade => Data::Assessment(incentive::stored_assessment(&payload(e)?)),
        E::AssessmentSuperseded => {
            let s: AssessmentSuperseded = payload(e)?;
            Data::AssessmentSuperseded(pb::AssessmentSuperseded {
                repatriation_id: s.repatriation_id.to_string(),
                assessment_id: s.assessment_id.to_string(),
                superseded_by: s.superseded_by.to_string(),
            })
        }
        E::ClaimFiled | E::ClaimAudited | E::ClaimDisbursed | E::ClaimRejected => {
            Data::Claim(incentive::claim(&payload(e)?))
        }
        E::StatementImported | E::StatementVoided => {
            Data::StatementImported(statement_imported(&payload(e)?))
        }
        E::CreditMatched => Data::Match(recon::stored_match(&payload(e)?)),
        E::CreditUnmatched => {
            let u: CreditUnmatched = payload(e)?;
            Data::CreditUnmatched(pb::CreditUnmatched {
                credit_id: u.credit_id.to_string(),
                removed: u.removed.iter().map(recon::stored_match).collect(),
                reason: u.reason,
            })
        }
        E::ExceptionRaised => Data::Exception(recon::exception(&payload(e)?)),
        E::RepatriationDeadlineAlert | E::ClaimWindowAlert => {
            Data::DeadlineAlert(deadline_alert(&payload(e)?))
        }
        E::InFlightAlert => Data::InFlightAlert(in_flight_alert(&payload(e)?)),
    })
}

/// A stored event as sent.
pub fn event(e: &StoredEvent) -> Result<pb::Event, StoreError> {
    Ok(pb::Event {
        id: e.id.to_string(),
        source: SOURCE.into(),
        spec_version: SPEC_VERSION.into(),
        r#type: cloud_type(e.kind),
        subject: e.subject.clone(),
        time: Some(convert::timestamp(e.time)),
        sequence: e.sequence,
        party_id: e.party_id.to_string(),
        data: Some(data(e)?),
    })
}

// The JSON rendering lives with the generated code, where repatctl reads
// it too.
pub use repat_proto::json::{cloud_event_json, rfc3339, to_json};
