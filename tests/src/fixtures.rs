//! Builders of valid requests, so each test states only what it is about.

use chrono::{DateTime, Utc};
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use uuid::Uuid;

use crate::TestApp;

pub fn rid() -> String {
    Uuid::new_v4().to_string()
}

pub fn money(amount: &str, currency: &str) -> Option<pb::Money> {
    Some(pb::Money {
        amount: amount.into(),
        currency: currency.into(),
    })
}

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub fn ts(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t: DateTime<Utc> = rfc3339.parse().expect("test timestamp");
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

pub fn firm(name: &str) -> pb::Party {
    pb::Party {
        kind: pb::PartyKind::Firm as i32,
        legal_name: name.into(),
        country: "BD".into(),
        zone: pb::Zone::None as i32,
        memberships: vec![pb::AssociationMembership {
            association: "BASIS".into(),
            membership_number: "G-1024".into(),
        }],
        bank_accounts: vec![
            pb::BankAccount {
                bank_bic: "BRAKBDDH".into(),
                account_number: "1501202900001".into(),
                currency: "USD".into(),
                ..Default::default()
            },
            pb::BankAccount {
                bank_bic: "CIBLBDDH".into(),
                account_number: "BD00CIBL1234567890123456".into(),
                currency: "BDT".into(),
                ..Default::default()
            },
            pb::BankAccount {
                bank_bic: "DBBLBDDH".into(),
                account_number: "1051100023456".into(),
                currency: "USD".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

pub fn earning(party_id: &str, reference: &str, amount: &str, currency: &str) -> pb::Earning {
    pb::Earning {
        party_id: party_id.into(),
        client_name: "Nordic Retail AB".into(),
        client_country: "SE".into(),
        service_category: pb::ServiceCategory::Software as i32,
        amount: money(amount, currency),
        invoice_date: date(2024, 3, 1),
        due_date: date(2024, 3, 31),
        invoice_reference: reference.into(),
        ..Default::default()
    }
}

pub fn step(repatriation_id: &str, kind: pb::StepKind, at: &str) -> pb::Step {
    pb::Step {
        repatriation_id: repatriation_id.into(),
        kind: kind as i32,
        occurred_at: ts(at),
        ..Default::default()
    }
}

/// A document of `kind` for a record: set one of `party_id`, `earning_id`
/// or `repatriation_id` on it.
pub fn document(kind: pb::DocumentKind, reference: &str) -> pb::Document {
    pb::Document {
        kind: kind as i32,
        reference: reference.into(),
        issue_date: date(2024, 3, 1),
        issuer: "Nordic Retail AB".into(),
        ..Default::default()
    }
}

impl TestApp {
    pub async fn add_document(&self, document: pb::Document) -> pb::Document {
        self.documents()
            .create_document(pb::CreateDocumentRequest {
                request_id: rid(),
                document: Some(document),
            })
            .await
            .expect("create document")
            .into_inner()
    }

    /// The papers a claim needs on the normal route: the contract and the
    /// invoice of each earning, the PRC of the repatriation.
    pub async fn add_claim_papers(&self, repatriation: &pb::Repatriation) {
        for a in &repatriation.allocations {
            for (kind, prefix) in [
                (pb::DocumentKind::ContractOrWorkOrder, "WO"),
                (pb::DocumentKind::Invoice, "INV"),
            ] {
                self.add_document(pb::Document {
                    earning_id: a.earning_id.clone(),
                    ..document(kind, &format!("{prefix}-{}", a.earning_id))
                })
                .await;
            }
        }
        self.add_document(pb::Document {
            repatriation_id: repatriation.id.clone(),
            ..document(
                pb::DocumentKind::ProceedsRealizationCertificate,
                &format!("PRC-{}", repatriation.id),
            )
        })
        .await;
    }

    pub async fn create_firm(&self, name: &str) -> pb::Party {
        self.parties()
            .create_party(pb::CreatePartyRequest {
                request_id: rid(),
                party: Some(firm(name)),
            })
            .await
            .expect("create party")
            .into_inner()
    }

    pub async fn create_earning(
        &self,
        party_id: &str,
        reference: &str,
        amount: &str,
        currency: &str,
    ) -> pb::Earning {
        self.earnings()
            .create_earning(pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(earning(party_id, reference, amount, currency)),
            })
            .await
            .expect("create earning")
            .into_inner()
    }

    /// Opens a repatriation paying the whole of each earning.
    pub async fn open_repatriation(
        &self,
        party_id: &str,
        earning_ids: &[&str],
    ) -> pb::Repatriation {
        self.repatriations()
            .create_repatriation(pb::CreateRepatriationRequest {
                request_id: rid(),
                party_id: party_id.into(),
                allocations: earning_ids
                    .iter()
                    .map(|e| pb::Allocation {
                        earning_id: (*e).into(),
                        amount: None,
                    })
                    .collect(),
                channel: pb::Channel::Bank as i32,
                payer_country: String::new(),
            })
            .await
            .expect("create repatriation")
            .into_inner()
    }

    pub async fn record(&self, step: pb::Step) -> Result<pb::RecordStepResponse, tonic::Status> {
        self.repatriations()
            .record_step(pb::RecordStepRequest {
                request_id: rid(),
                step: Some(step),
            })
            .await
            .map(|r| r.into_inner())
    }
}
