//! Events and messages in JSON: protobuf's canonical JSON mapping with the
//! .proto field names, and the CloudEvents 1.0 structured form that NATS
//! subscribers, webhook receivers and `repatctl events` read.

use std::sync::OnceLock;

use crate::v1;
use crate::v1::event::Data;

/// The API's descriptors, for the JSON rendering.
fn descriptors() -> &'static prost_reflect::DescriptorPool {
    static POOL: OnceLock<prost_reflect::DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
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
pub fn cloud_event_json(e: &v1::Event) -> serde_json::Value {
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
