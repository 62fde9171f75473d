//! Domain values to wire messages, and wire enums to domain enums. Wire
//! types stop here.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use repat_core::Money;
use repat_core::document::{Attachment, Document, DocumentKind};
use repat_core::durations::{self, FeeSummary, Spans};
use repat_core::earning::{Earning, ServiceCategory};
use repat_core::facts::{FactKind, FactValue, PartyFact};
use repat_core::journey::{GpiStatus, Step, StepKind};
use repat_core::party::{BankAccount, Membership, Party, PartyKind, Zone};
use repat_core::repatriation::{Channel, Repatriation, RepatriationStatus};
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use repat_store::Journey;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// An exact duration: seconds and nanoseconds with the same sign.
pub fn duration(d: Duration) -> prost_types::Duration {
    let seconds = d.num_seconds();
    let nanos = (d - Duration::seconds(seconds))
        .num_nanoseconds()
        .unwrap_or(0) as i32;
    prost_types::Duration { seconds, nanos }
}

pub fn date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

pub fn money(m: Money) -> pb::Money {
    pb::Money {
        amount: m.amount_string(),
        currency: m.currency().code().to_string(),
    }
}

/// Pairs of (wire enum, domain enum); `None` for UNSPECIFIED.
macro_rules! enum_map {
    ($to_wire:ident, $from_wire:ident, $wire:ty, $domain:ty, { $($w:ident <=> $d:ident),+ $(,)? }) => {
        pub fn $to_wire(v: $domain) -> $wire {
            match v { $(<$domain>::$d => <$wire>::$w),+ }
        }
        // Some enums are only ever sent, never read.
        #[allow(dead_code)]
        pub fn $from_wire(v: i32) -> Option<$domain> {
            match <$wire>::try_from(v).ok()? { $(<$wire>::$w => Some(<$domain>::$d),)+ _ => None }
        }
    };
}

pub(crate) use enum_map;

enum_map!(party_kind, party_kind_from, pb::PartyKind, PartyKind, { Firm <=> Firm, Freelancer <=> Freelancer });
enum_map!(zone, zone_from, pb::Zone, Zone, { None <=> None, Epz <=> Epz, EconomicZone <=> EconomicZone, HiTechPark <=> HiTechPark });
enum_map!(service_category, service_category_from, pb::ServiceCategory, ServiceCategory, {
    Software <=> Software, Ites <=> Ites, Hardware <=> Hardware
});
enum_map!(channel, channel_from, pb::Channel, Channel, {
    Bank <=> Bank, Platform <=> Platform, MobileFinancialService <=> MobileFinancialService
});
enum_map!(gpi_status, gpi_status_from, pb::GpiStatus, GpiStatus, { Acsp <=> Acsp, Accc <=> Accc, Rjct <=> Rjct });
enum_map!(status, status_from, pb::RepatriationStatus, RepatriationStatus, {
    AwaitingPayment <=> AwaitingPayment, InTransit <=> InTransit, FundsAvailable <=> FundsAvailable,
    Realized <=> Realized, IncentiveClaimed <=> IncentiveClaimed, IncentiveDisbursed <=> IncentiveDisbursed,
    Returned <=> Returned, Rejected <=> Rejected,
});
enum_map!(step_kind, step_kind_from, pb::StepKind, StepKind, {
    InvoiceIssued <=> InvoiceIssued, PaymentInitiated <=> PaymentInitiated, PlatformReceived <=> PlatformReceived,
    PlatformWithdrawn <=> PlatformWithdrawn, IntermediaryProcessed <=> IntermediaryProcessed, NostroCredited <=> NostroCredited,
    BeneficiaryCredited <=> BeneficiaryCredited, ConvertedToBdt <=> ConvertedToBdt, PrcIssued <=> PrcIssued,
    IncentiveClaimFiled <=> IncentiveClaimFiled, IncentiveAudited <=> IncentiveAudited, IncentiveDisbursed <=> IncentiveDisbursed,
    Returned <=> Returned, Rejected <=> Rejected,
});

enum_map!(fact_kind, fact_kind_from, pb::PartyFactKind, FactKind, {
    Zone <=> Zone, Memberships <=> Memberships, BankAccounts <=> BankAccounts,
});
enum_map!(document_kind, document_kind_from, pb::DocumentKind, DocumentKind, {
    ContractOrWorkOrder <=> ContractOrWorkOrder, Invoice <=> Invoice,
    ProceedsRealizationCertificate <=> ProceedsRealizationCertificate,
    AssociationCertificate <=> AssociationCertificate,
    MarketplaceEarningsStatement <=> MarketplaceEarningsStatement,
});

fn memberships(ms: &[Membership]) -> Vec<pb::AssociationMembership> {
    ms.iter()
        .map(|m| pb::AssociationMembership {
            association: m.association.clone(),
            membership_number: m.membership_number.clone(),
        })
        .collect()
}

fn bank_accounts(accounts: &[BankAccount]) -> Vec<pb::BankAccount> {
    accounts
        .iter()
        .map(|a| pb::BankAccount {
            bank_bic: a.bank_bic.clone(),
            account_number: a.account_number.clone(),
            currency: a.currency.code().into(),
            utc_offset: a.utc_offset.clone().unwrap_or_default(),
        })
        .collect()
}

pub fn party(p: &Party) -> pb::Party {
    let d = &p.details;
    pb::Party {
        id: p.id.to_string(),
        kind: party_kind(d.kind) as i32,
        legal_name: d.legal_name.clone(),
        country: d.country.clone(),
        memberships: memberships(&d.memberships),
        zone: zone(d.zone) as i32,
        bank_accounts: bank_accounts(&d.bank_accounts),
        create_time: Some(timestamp(p.create_time)),
    }
}

pub fn fact_value(v: &FactValue) -> pb::PartyFactValue {
    let mut out = pb::PartyFactValue {
        kind: fact_kind(v.kind()) as i32,
        ..Default::default()
    };
    match v {
        FactValue::Zone(z) => out.zone = zone(*z) as i32,
        FactValue::Memberships(m) => out.memberships = memberships(m),
        FactValue::BankAccounts(a) => out.bank_accounts = bank_accounts(a),
    }
    out
}

pub fn party_fact(f: &PartyFact) -> pb::PartyFact {
    pb::PartyFact {
        id: f.id.to_string(),
        party_id: f.details.party_id.to_string(),
        effective_from: Some(date(f.details.effective_from)),
        value: Some(fact_value(&f.details.value)),
        previous: Some(fact_value(&f.previous)),
        reason: f.details.reason.clone(),
        recorded_by: f.recorded_by.clone(),
        record_time: Some(timestamp(f.record_time)),
    }
}

pub fn document(d: &Document) -> pb::Document {
    let n = &d.details;
    let (earning_id, repatriation_id) = match n.attached_to {
        Attachment::Party => (String::new(), String::new()),
        Attachment::Earning(e) => (e.to_string(), String::new()),
        Attachment::Repatriation(r) => (String::new(), r.to_string()),
    };
    pb::Document {
        id: d.id.to_string(),
        party_id: n.party_id.to_string(),
        earning_id,
        repatriation_id,
        kind: document_kind(n.kind) as i32,
        reference: n.reference.clone(),
        issue_date: Some(date(n.issue_date)),
        issuer: n.issuer.clone(),
        valid_from: n.valid_from.map(date),
        valid_until: n.valid_until.map(date),
        content_sha256: n.content_sha256.clone().unwrap_or_default(),
        recorded_by: d.recorded_by.clone(),
        record_time: Some(timestamp(d.record_time)),
    }
}

pub fn earning(e: &Earning) -> pb::Earning {
    let d = &e.details;
    pb::Earning {
        id: e.id.to_string(),
        party_id: d.party_id.to_string(),
        client_name: d.client_name.clone(),
        client_country: d.client_country.clone(),
        service_category: service_category(d.service_category) as i32,
        amount: Some(money(d.amount)),
        invoice_date: Some(date(d.invoice_date)),
        due_date: d.due_date.map(date),
        invoice_reference: d.invoice_reference.clone(),
        marketplace: d.marketplace.clone(),
        allocated: Some(money(e.allocated)),
        create_time: Some(timestamp(e.create_time)),
        revision: i64::from(e.revision),
        void_time: e.void.as_ref().map(|v| timestamp(v.time)),
        void_reason: e
            .void
            .as_ref()
            .map(|v| v.reason.clone())
            .unwrap_or_default(),
    }
}

pub fn revision(r: &repat_store::Revision) -> pb::Revision {
    pb::Revision {
        resource: r.resource.clone(),
        revision: i64::from(r.revision),
        action: r.action.clone(),
        reason: r.reason.clone(),
        subject: r.subject.clone(),
        role: r.role.clone(),
        request_id: r.request_id.to_string(),
        time: Some(timestamp(r.time)),
        before_json: r.before.clone(),
        after_json: r.after.clone(),
        changed_fields: r.fields.clone(),
    }
}

pub fn step(s: &Step, wait_before: Option<Duration>) -> pb::Step {
    let d = &s.details;
    pb::Step {
        id: s.id.to_string(),
        repatriation_id: d.repatriation_id.to_string(),
        kind: step_kind(d.kind) as i32,
        occurred_at: Some(timestamp(d.occurred_at)),
        recorded_at: Some(timestamp(s.recorded_at)),
        institution_bic: d.institution_bic.clone().unwrap_or_default(),
        amount: d.amount.map(money),
        fees: d
            .fees
            .iter()
            .map(|f| pb::Fee {
                amount: Some(money(f.amount)),
                charged_by: f.charged_by.clone(),
                kind: f.kind.clone(),
            })
            .collect(),
        fx_rate: d.fx_rate.as_ref().map(|f| pb::FxRate {
            source_currency: f.source.code().into(),
            target_currency: f.target.code().into(),
            rate: f.rate.to_string(),
        }),
        end_to_end_id: d.end_to_end_id.clone().unwrap_or_default(),
        uetr: d.uetr.map(|u| u.to_string()).unwrap_or_default(),
        gpi_status: d.gpi_status.map_or(pb::GpiStatus::Unspecified, gpi_status) as i32,
        reason_code: d.reason_code.clone().unwrap_or_default(),
        note: d.note.clone(),
        wait_before: wait_before.map(duration),
    }
}

/// A repatriation without its timeline (as lists return it).
pub fn repatriation(r: &Repatriation) -> pb::Repatriation {
    let d = &r.details;
    pb::Repatriation {
        id: r.id.to_string(),
        party_id: d.party_id.to_string(),
        allocations: d
            .allocations
            .iter()
            .map(|a| pb::Allocation {
                earning_id: a.earning_id.to_string(),
                amount: Some(money(a.amount)),
            })
            .collect(),
        expected_amount: Some(money(r.expected_amount)),
        channel: channel(d.channel) as i32,
        payer_country: d.payer_country.clone(),
        status: status(r.status) as i32,
        step_count: r.step_count,
        timeline: vec![],
        durations: None,
        fees: None,
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
    }
}

fn spans(s: Spans) -> pb::JourneyDurations {
    pb::JourneyDurations {
        initiation_to_funds_available: s.initiation_to_funds_available.map(duration),
        invoice_to_realization: s.invoice_to_realization.map(duration),
        invoice_to_realization_days: s.invoice_to_realization_days.map_or(0, |d| d as i32),
        total: s.total.map(duration),
    }
}

fn fee_summary(f: FeeSummary) -> pb::FeeSummary {
    pb::FeeSummary {
        total_fees: f.total_fees.into_iter().map(money).collect(),
        fee_share_of_initiated: f
            .fee_share_of_initiated
            .map(|d| d.to_string())
            .unwrap_or_default(),
        initiated_minus_credited: f.initiated_minus_credited.map(money),
    }
}

/// A repatriation with its timeline, waits, spans and fees.
pub fn journey(j: &Journey) -> pb::Repatriation {
    let mut out = repatriation(&j.repatriation);
    out.timeline = durations::waits(&j.steps)
        .into_iter()
        .map(|e| step(e.step, e.wait_before))
        .collect();
    out.durations = Some(spans(durations::spans(&j.steps, &j.invoice_dates)));
    out.fees = Some(fee_summary(durations::fees(&j.steps)));
    out
}
