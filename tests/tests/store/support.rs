//! Domain values to store, the use cases every write goes through (called
//! by an administrator), and the writes most tests start from.

use chrono::{DateTime, NaiveDate, Utc};
use repat_core::Money;
use repat_core::earning::{Earning, NewEarning, ServiceCategory};
use repat_core::incentive::rules::{BANGLADESH, RuleSet};
use repat_core::journey::{NewStep, StepKind};
use repat_core::money::{parse_currency, parse_decimal};
use repat_core::party::{Membership, NewParty, Party, PartyKind, Zone};
use repat_core::repatriation::{Channel, Repatriation, RequestedAllocation};
use repat_store::{Idempotency, Repository, StoredRuleSet};
use repat_tests::store::TestStore;
use repat_usecases::create_repatriation::RepatriationRequest;
use repat_usecases::record_steps::{self, StepRecorded};
use repat_usecases::rules::ActiveRules;
use repat_usecases::{App, Caller, Error, Role};
use uuid::Uuid;

/// The use cases over a test's store, called by an administrator under
/// the shipped rules: writes are made only through them.
#[derive(Clone)]
pub struct Admin {
    pub app: App,
    pub caller: Caller,
    pub rules: std::sync::Arc<ActiveRules>,
}

pub fn admin(store: &TestStore) -> Admin {
    Admin {
        app: App::new(store.repo.clone()),
        caller: Caller {
            subject: "conformance@repat".into(),
            role: Role::Admin,
            parties: vec![],
        },
        rules: std::sync::Arc::new(shipped_rules()),
    }
}

/// The shipped rule set, as if loaded.
pub fn shipped_rules() -> ActiveRules {
    let rules = RuleSet::from_toml(BANGLADESH).unwrap();
    ActiveRules {
        stored: StoredRuleSet {
            version: rules.version.clone(),
            name: rules.name.clone(),
            sha256: "sha-of-the-shipped-rules".into(),
            source_toml: BANGLADESH.into(),
            load_time: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
        },
        rules,
    }
}

impl Admin {
    pub async fn create_party(&self, idem: &Idempotency, new: &NewParty) -> Result<Party, Error> {
        repat_usecases::create_party::create_party(&self.app, &self.caller, idem, new).await
    }

    pub async fn create_earning(
        &self,
        idem: &Idempotency,
        new: &NewEarning,
    ) -> Result<Earning, Error> {
        repat_usecases::create_earning::create_earning(&self.app, &self.caller, idem, new).await
    }

    pub async fn create_repatriation(
        &self,
        idem: &Idempotency,
        req: &RepatriationRequest,
    ) -> Result<Repatriation, Error> {
        repat_usecases::create_repatriation::create_repatriation(
            &self.app,
            &self.rules,
            &self.caller,
            idem,
            req,
        )
        .await
    }

    pub async fn record_party_fact(
        &self,
        idem: &Idempotency,
        fact: &repat_core::facts::NewPartyFact,
    ) -> Result<repat_core::facts::PartyFact, Error> {
        repat_usecases::create_party_fact::create_party_fact(&self.app, &self.caller, idem, fact)
            .await
    }

    /// Records a document of the party it names.
    pub async fn create_document(
        &self,
        idem: &Idempotency,
        document: &repat_core::document::NewDocument,
    ) -> Result<repat_core::document::Document, Error> {
        repat_usecases::create_document::create_document(
            &self.app,
            &self.caller,
            idem,
            document,
            Some(document.party_id),
        )
        .await
    }

    /// Records a batch of steps in one transaction.
    pub async fn record_steps(
        &self,
        items: &[(Idempotency, NewStep)],
    ) -> Result<Vec<Result<StepRecorded, Error>>, Error> {
        let mut authorized = Vec::new();
        for (idem, step) in items {
            authorized.push(
                record_steps::authorize_step(&self.app, &self.caller, idem.clone(), step.clone())
                    .await?,
            );
        }
        record_steps::record_steps(&self.app, &authorized).await
    }
}

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
    admin(store)
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
    admin(store)
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
    admin(store)
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
    let mut results = admin(store)
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
