//! Domain values to store, and the writes most tests start from.

use chrono::{DateTime, NaiveDate, Utc};
use repat_core::Money;
use repat_core::earning::{Earning, NewEarning, ServiceCategory};
use repat_core::journey::{NewStep, StepKind};
use repat_core::money::{parse_currency, parse_decimal};
use repat_core::party::{Membership, NewParty, Party, PartyKind, Zone};
use repat_core::repatriation::{Channel, Repatriation, RequestedAllocation};
use repat_store::{Idempotency, RepatriationRequest, Repository, StepRecorded};
use repat_tests::store::TestStore;
use uuid::Uuid;

/// A fresh idempotency key of `method`, by the conformance suite's caller.
pub fn key(method: &'static str) -> Idempotency {
    Idempotency {
        request_id: Uuid::new_v4(),
        scope: "admin:conformance@repat".into(),
        principal: "conformance@repat".into(),
        role: "admin".into(),
        method,
        fingerprint: Uuid::new_v4().simple().to_string(),
    }
}

pub fn money(amount: &str, currency: &str) -> Money {
    Money::new(
        parse_decimal(amount).unwrap(),
        parse_currency(currency).unwrap(),
    )
    .unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

pub fn new_party(name: &str) -> NewParty {
    NewParty {
        kind: PartyKind::Firm,
        legal_name: name.into(),
        country: "BD".into(),
        memberships: vec![Membership {
            association: "BASIS".into(),
            membership_number: "G-1024".into(),
        }],
        zone: Zone::None,
        bank_accounts: vec![],
    }
}

pub async fn party(store: &TestStore, name: &str) -> Party {
    store
        .repo
        .create_party(&key("repat.v1.PartyService/CreateParty"), &new_party(name))
        .await
        .unwrap()
}

pub fn new_earning(party: Uuid, reference: &str, amount: &str, invoiced: NaiveDate) -> NewEarning {
    NewEarning {
        party_id: party,
        client_name: "Nordic Retail AB".into(),
        client_country: "SE".into(),
        service_category: ServiceCategory::Software,
        amount: money(amount, "USD"),
        invoice_date: invoiced,
        due_date: None,
        invoice_reference: reference.into(),
        marketplace: String::new(),
    }
}

pub async fn earning(
    store: &TestStore,
    party: Uuid,
    reference: &str,
    amount: &str,
    invoiced: NaiveDate,
) -> Earning {
    store
        .repo
        .create_earning(
            &key("repat.v1.EarningService/CreateEarning"),
            &new_earning(party, reference, amount, invoiced),
        )
        .await
        .unwrap()
}

/// A repatriation paying what is left of each earning.
pub async fn repatriation(store: &TestStore, party: Uuid, earnings: &[Uuid]) -> Repatriation {
    let request = RepatriationRequest {
        party_id: party,
        allocations: earnings
            .iter()
            .map(|e| RequestedAllocation {
                earning_id: *e,
                amount: None,
            })
            .collect(),
        channel: Channel::Bank,
        payer_country: None,
    };
    store
        .repo
        .create_repatriation(
            &key("repat.v1.RepatriationService/CreateRepatriation"),
            &request,
        )
        .await
        .unwrap()
}

pub const RECORD_STEP: &str = "repat.v1.RepatriationService/RecordStep";

/// Records one step, which must be accepted.
pub async fn step(store: &TestStore, new: NewStep) -> StepRecorded {
    let mut results = store
        .repo
        .record_steps(&[(key(RECORD_STEP), new)])
        .await
        .unwrap();
    results.pop().unwrap().unwrap()
}

/// The steps of a payment credited at `credited_at` with `credited` USD
/// and converted an hour later at `fx` taka.
pub async fn realize(
    store: &TestStore,
    repatriation: Uuid,
    credited: &str,
    credited_at: &str,
    fx: &str,
) {
    let when = at(credited_at);
    let mut credit = NewStep::new(repatriation, StepKind::BeneficiaryCredited, when);
    credit.amount = Some(money(credited, "USD"));
    step(store, credit).await;
    let mut convert = NewStep::new(
        repatriation,
        StepKind::ConvertedToBdt,
        when + chrono::Duration::hours(1),
    );
    convert.fx_rate = Some(repat_core::journey::FxRate {
        source: parse_currency("USD").unwrap(),
        target: parse_currency("BDT").unwrap(),
        rate: parse_decimal(fx).unwrap(),
    });
    step(store, convert).await;
}

/// Every entry of the audit chain, in order.
pub async fn chain(repo: &dyn Repository) -> Vec<repat_core::audit::AuditEntry> {
    repo.audit_chain(0, 100_000).await.unwrap()
}
