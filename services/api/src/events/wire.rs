//! Events to the wire: the protobuf `Event` (CloudEvents attributes and
//! the payload), its JSON rendering, and the CloudEvents envelope that
//! NATS and webhooks carry.

use std::sync::OnceLock;

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

/// The API's descriptors, for the JSON rendering.
fn descriptors() -> &'static prost_reflect::DescriptorPool {
    static POOL: OnceLock<prost_reflect::DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(repat_proto::FILE_DESCRIPTOR_SET)
            .expect("the API's own descriptors decode")
    })
}

/// A message in protobuf's canonical JSON mapping, with the field names of
/// the .proto files (`party_id`, not `partyId`); `name` is its full name.
pub fn to_json<M: prost::Message>(m: &M, name: &str) -> serde_json::Value {
    let Some(descriptor) = descriptors().get_message_by_name(name) else {
        return serde_json::Value::Null;
    };
    let Ok(dynamic) =
        prost_reflect::DynamicMessage::decode(descriptor, m.encode_to_vec().as_slice())
    else {
        return serde_json::Value::Null;
    };
    let options = prost_reflect::SerializeOptions::new().use_proto_field_name(true);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(serde_json::Value::Null)
}

/// The event's payload in its own message's JSON rendering.
fn data_json(d: &Data) -> serde_json::Value {
    match d {
        Data::Party(m) => to_json(m, "repat.v1.Party"),
        Data::Earning(m) => to_json(m, "repat.v1.Earning"),
        Data::Repatriation(m) => to_json(m, "repat.v1.Repatriation"),
        Data::JourneyChange(m) => to_json(m, "repat.v1.JourneyChange"),
        Data::Assessment(m) => to_json(m, "repat.v1.Assessment"),
        Data::AssessmentSuperseded(m) => to_json(m, "repat.v1.AssessmentSuperseded"),
        Data::Claim(m) => to_json(m, "repat.v1.Claim"),
        Data::StatementImported(m) => to_json(m, "repat.v1.StatementImported"),
        Data::Match(m) => to_json(m, "repat.v1.Match"),
        Data::CreditUnmatched(m) => to_json(m, "repat.v1.CreditUnmatched"),
        Data::Exception(m) => to_json(m, "repat.v1.ReconciliationException"),
        Data::DeadlineAlert(m) => to_json(m, "repat.v1.DeadlineAlert"),
        Data::InFlightAlert(m) => to_json(m, "repat.v1.InFlightAlert"),
    }
}

/// The event as a CloudEvents 1.0 JSON object (structured mode): the
/// attributes, the `sequence` and `partyid` extensions, and `data` in the
/// payload's JSON rendering.
pub fn cloud_event_json(e: &pb::Event) -> serde_json::Value {
    serde_json::json!({
        "specversion": e.spec_version,
        "id": e.id,
        "source": e.source,
        "type": e.r#type,
        "subject": e.subject,
        "time": e.time.as_ref().map(rfc3339).unwrap_or_default(),
        "datacontenttype": "application/json",
        "sequence": e.sequence.to_string(),
        "partyid": e.party_id,
        "data": e.data.as_ref().map(data_json).unwrap_or(serde_json::Value::Null),
    })
}

/// A timestamp as RFC 3339 in UTC, to the microsecond.
pub fn rfc3339(t: &prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}
