//! The rows of the tables as read (one `FromRow` struct per shape of
//! result, the same on both backends), and their conversion to the
//! domain's values. Money is stored as amount and currency, enums by name,
//! nested lists as JSON text.

use chrono::NaiveDate;
use repat_core::Money;
use repat_core::Named;
use repat_core::audit::{AuditEntry, AuditRecord};
use repat_core::document::{Attachment, Document, NewDocument};
use repat_core::earning::{Earning, NewEarning, Void};
use repat_core::facts::{FactKind, FactValue, NewPartyFact, PartyFact};
use repat_core::incentive::claim::{ClaimItem, ClaimStep};
use repat_core::journey::{NewStep, Step};
use repat_core::party::{NewParty, Party};
use repat_core::repatriation::{Allocation, NewRepatriation, Repatriation};
use uuid::Uuid;

use crate::codec::{self, from_name};
use crate::metrics_rows::JourneyDims;
use crate::types::{DbDecimal, DbTime};
use crate::{Breach, DelayObservation, ScorecardRow, StoreError, StoredRuleSet};

fn money(amount: DbDecimal, currency: &str) -> Result<Money, StoreError> {
    codec::money(amount.0, currency)
}

fn bdt(amount: DbDecimal) -> Result<Money, StoreError> {
    codec::money(amount.0, "BDT")
}

/// A stored idempotency record: who, what, and the response.
#[derive(Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub request_id: Uuid,
    /// Empty for a key stored before keys were scoped by tenant.
    pub scope: String,
    pub principal: String,
    pub method: String,
    pub fingerprint: String,
    pub response: Option<String>,
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub sequence: i64,
    pub time: DbTime,
    pub subject: String,
    pub role: String,
    pub method: String,
    pub resource: String,
    pub request_hash: String,
    pub request_id: Uuid,
    pub previous_hash: String,
    pub hash: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            record: AuditRecord {
                sequence: r.sequence,
                time: r.time.0,
                subject: r.subject,
                role: r.role,
                method: r.method,
                resource: r.resource,
                request_hash: r.request_hash,
                request_id: r.request_id,
            },
            previous_hash: r.previous_hash,
            hash: r.hash,
        }
    }
}

/// A signed checkpoint of the audit chain.
#[derive(sqlx::FromRow)]
pub struct CheckpointRow {
    pub sequence: i64,
    pub head_hash: String,
    pub sign_time: DbTime,
    pub key_id: String,
    pub signature: String,
}

impl From<CheckpointRow> for repat_core::audit::checkpoint::Checkpoint {
    fn from(r: CheckpointRow) -> Self {
        repat_core::audit::checkpoint::Checkpoint {
            sequence: r.sequence,
            head_hash: r.head_hash,
            sign_time: r.sign_time.0,
            key_id: r.key_id,
            signature: r.signature,
        }
    }
}

/// The newest entry of the audit chain.
#[derive(sqlx::FromRow)]
pub struct ChainHead {
    pub sequence: i64,
    pub hash: String,
}

#[derive(sqlx::FromRow)]
pub struct PartyRow {
    pub seq: i64,
    pub id: Uuid,
    pub kind: String,
    pub legal_name: String,
    pub country: String,
    pub zone: String,
    pub memberships: String,
    pub bank_accounts: String,
    pub create_time: DbTime,
}

impl TryFrom<PartyRow> for Party {
    type Error = StoreError;
    fn try_from(r: PartyRow) -> Result<Self, StoreError> {
        Ok(Party {
            id: r.id,
            details: NewParty {
                kind: from_name("party kind", &r.kind)?,
                legal_name: r.legal_name,
                country: r.country,
                memberships: codec::from_json(&r.memberships)?,
                zone: from_name("zone", &r.zone)?,
                bank_accounts: codec::from_json(&r.bank_accounts)?,
            },
            create_time: r.create_time.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PartyFactRow {
    pub seq: i64,
    pub id: Uuid,
    pub party_id: Uuid,
    pub kind: String,
    pub effective_from: NaiveDate,
    pub value: String,
    pub previous: String,
    pub reason: String,
    pub recorded_by: String,
    pub record_time: DbTime,
}

impl TryFrom<PartyFactRow> for PartyFact {
    type Error = StoreError;
    fn try_from(r: PartyFactRow) -> Result<Self, StoreError> {
        let value: FactValue = codec::from_json(&r.value)?;
        let kind: FactKind = from_name("fact kind", &r.kind)?;
        if value.kind() != kind {
            return Err(StoreError::Internal(format!(
                "party fact {} is a {} holding a {} value",
                r.id,
                r.kind,
                value.kind().name()
            )));
        }
        Ok(PartyFact {
            id: r.id,
            details: NewPartyFact {
                party_id: r.party_id,
                effective_from: r.effective_from,
                value,
                reason: r.reason,
            },
            previous: codec::from_json(&r.previous)?,
            recorded_by: r.recorded_by,
            record_time: r.record_time.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DocumentRow {
    pub seq: i64,
    pub id: Uuid,
    pub party_id: Uuid,
    pub earning_id: Option<Uuid>,
    pub repatriation_id: Option<Uuid>,
    pub kind: String,
    pub reference: String,
    pub issue_date: NaiveDate,
    pub issuer: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub content_sha256: Option<String>,
    pub recorded_by: String,
    pub record_time: DbTime,
}

impl TryFrom<DocumentRow> for Document {
    type Error = StoreError;
    fn try_from(r: DocumentRow) -> Result<Self, StoreError> {
        let attached_to = match (r.earning_id, r.repatriation_id) {
            (None, None) => Attachment::Party,
            (Some(e), None) => Attachment::Earning(e),
            (None, Some(rid)) => Attachment::Repatriation(rid),
            (Some(_), Some(_)) => {
                return Err(StoreError::Internal(format!(
                    "document {} is attached to an earning and a repatriation",
                    r.id
                )));
            }
        };
        Ok(Document {
            id: r.id,
            details: NewDocument {
                party_id: r.party_id,
                attached_to,
                kind: from_name("document kind", &r.kind)?,
                reference: r.reference,
                issue_date: r.issue_date,
                issuer: r.issuer,
                valid_from: r.valid_from,
                valid_until: r.valid_until,
                content_sha256: r.content_sha256,
            },
            recorded_by: r.recorded_by,
            record_time: r.record_time.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EarningRow {
    pub seq: i64,
    pub id: Uuid,
    pub party_id: Uuid,
    pub client_name: String,
    pub client_country: String,
    pub service_category: String,
    pub amount: DbDecimal,
    pub currency: String,
    pub allocated: DbDecimal,
    pub invoice_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub invoice_reference: String,
    pub marketplace: String,
    pub create_time: DbTime,
    pub revision: i32,
    pub void_time: Option<DbTime>,
    pub void_reason: Option<String>,
}

impl TryFrom<EarningRow> for Earning {
    type Error = StoreError;
    fn try_from(r: EarningRow) -> Result<Self, StoreError> {
        Ok(Earning {
            id: r.id,
            details: NewEarning {
                party_id: r.party_id,
                client_name: r.client_name,
                client_country: r.client_country,
                service_category: from_name("service category", &r.service_category)?,
                amount: money(r.amount, &r.currency)?,
                invoice_date: r.invoice_date,
                due_date: r.due_date,
                invoice_reference: r.invoice_reference,
                marketplace: r.marketplace,
            },
            allocated: money(r.allocated, &r.currency)?,
            create_time: r.create_time.0,
            revision: u32::try_from(r.revision)
                .map_err(|_| StoreError::Internal(format!("earning {} revision", r.id)))?,
            void: r.void_time.map(|t| Void {
                time: t.0,
                reason: r.void_reason.unwrap_or_default(),
            }),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RepatriationRow {
    pub seq: i64,
    pub id: Uuid,
    pub party_id: Uuid,
    pub channel: String,
    pub payer_country: String,
    pub expected_amount: DbDecimal,
    pub currency: String,
    pub status: String,
    pub step_count: i32,
    pub create_time: DbTime,
    pub update_time: DbTime,
}

impl RepatriationRow {
    pub fn into_repatriation(
        self,
        allocations: Vec<Allocation>,
    ) -> Result<Repatriation, StoreError> {
        Ok(Repatriation {
            id: self.id,
            details: NewRepatriation {
                party_id: self.party_id,
                allocations,
                channel: from_name("channel", &self.channel)?,
                payer_country: self.payer_country,
            },
            expected_amount: money(self.expected_amount, &self.currency)?,
            status: from_name("status", &self.status)?,
            step_count: self.step_count,
            create_time: self.create_time.0,
            update_time: self.update_time.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AllocationRow {
    pub repatriation_id: Uuid,
    pub earning_id: Uuid,
    pub amount: DbDecimal,
    pub currency: String,
}

impl AllocationRow {
    pub fn into_allocation(self) -> Result<(Uuid, Allocation), StoreError> {
        Ok((
            self.repatriation_id,
            Allocation {
                earning_id: self.earning_id,
                amount: money(self.amount, &self.currency)?,
            },
        ))
    }
}

/// A repatriation's id and step count, as locked for a change.
#[derive(sqlx::FromRow)]
pub struct StepCount {
    pub id: Uuid,
    pub step_count: i32,
}

#[derive(sqlx::FromRow)]
pub struct StepRow {
    pub id: Uuid,
    pub repatriation_id: Uuid,
    pub kind: String,
    pub occurred_at: DbTime,
    pub recorded_at: DbTime,
    pub institution_bic: Option<String>,
    pub amount: Option<DbDecimal>,
    pub currency: Option<String>,
    pub fees: String,
    pub fx_source: Option<String>,
    pub fx_target: Option<String>,
    pub fx_rate: Option<DbDecimal>,
    pub end_to_end_id: Option<String>,
    pub uetr: Option<Uuid>,
    pub gpi_status: Option<String>,
    pub reason_code: Option<String>,
    pub note: String,
}

impl TryFrom<StepRow> for Step {
    type Error = StoreError;
    fn try_from(r: StepRow) -> Result<Self, StoreError> {
        let amount = match (r.amount, r.currency) {
            (Some(a), Some(c)) => Some(money(a, &c)?),
            _ => None,
        };
        Ok(Step {
            id: r.id,
            details: NewStep {
                repatriation_id: r.repatriation_id,
                kind: from_name("step kind", &r.kind)?,
                occurred_at: r.occurred_at.0,
                institution_bic: r.institution_bic,
                amount,
                fees: codec::from_json(&r.fees)?,
                fx_rate: codec::fx(r.fx_source, r.fx_target, r.fx_rate.map(|d| d.0))?,
                end_to_end_id: r.end_to_end_id,
                uetr: r.uetr,
                gpi_status: r
                    .gpi_status
                    .as_deref()
                    .map(|g| from_name("gpi status", g))
                    .transpose()?,
                reason_code: r.reason_code,
                note: r.note,
            },
            recorded_at: r.recorded_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RuleSetRow {
    pub version: String,
    pub name: String,
    pub sha256: String,
    pub source_toml: String,
    pub load_time: DbTime,
}

impl From<RuleSetRow> for StoredRuleSet {
    fn from(r: RuleSetRow) -> Self {
        StoredRuleSet {
            version: r.version,
            name: r.name,
            sha256: r.sha256,
            source_toml: r.source_toml,
            load_time: r.load_time.0,
        }
    }
}

/// A record kept whole as JSON (assessments, matches, exceptions), with
/// its place in its table's order.
#[derive(sqlx::FromRow)]
pub struct DetailRow {
    pub seq: i64,
    pub detail: String,
}

impl DetailRow {
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        codec::from_json(&self.detail)
    }
}

#[derive(sqlx::FromRow)]
pub struct ClaimRow {
    pub seq: i64,
    pub id: Uuid,
    pub party_id: Uuid,
    pub programme: String,
    pub status: String,
    pub claimed: DbDecimal,
    pub disbursed: Option<DbDecimal>,
}

impl ClaimRow {
    pub fn into_claim(
        self,
        items: Vec<ClaimItem>,
        steps: Vec<ClaimStep>,
    ) -> Result<repat_core::incentive::claim::Claim, StoreError> {
        Ok(repat_core::incentive::claim::Claim {
            id: self.id,
            party_id: self.party_id,
            programme: self.programme,
            status: from_name("claim status", &self.status)?,
            items,
            claimed: bdt(self.claimed)?,
            disbursed: self.disbursed.map(bdt).transpose()?,
            steps,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ClaimItemRow {
    pub repatriation_id: Uuid,
    pub assessment_id: Uuid,
    pub incentive_bdt: DbDecimal,
}

impl TryFrom<ClaimItemRow> for ClaimItem {
    type Error = StoreError;
    fn try_from(r: ClaimItemRow) -> Result<Self, StoreError> {
        Ok(ClaimItem {
            repatriation_id: r.repatriation_id,
            assessment_id: r.assessment_id,
            incentive: bdt(r.incentive_bdt)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ClaimStepRow {
    pub kind: String,
    pub occurred_at: DbTime,
    pub recorded_at: DbTime,
    pub reason: Option<String>,
    pub amount: Option<DbDecimal>,
}

impl TryFrom<ClaimStepRow> for ClaimStep {
    type Error = StoreError;
    fn try_from(r: ClaimStepRow) -> Result<Self, StoreError> {
        Ok(ClaimStep {
            kind: from_name("claim step kind", &r.kind)?,
            occurred_at: r.occurred_at.0,
            recorded_at: r.recorded_at.0,
            reason: r.reason,
            amount: r.amount.map(bdt).transpose()?,
        })
    }
}

/// An amount of the incentive ledger: what, when, under which programme.
#[derive(sqlx::FromRow)]
pub struct LedgerRow {
    pub party_id: Uuid,
    pub programme: Option<String>,
    pub amount: DbDecimal,
}

/// An assessed amount, with the date its money was realized.
#[derive(sqlx::FromRow)]
pub struct AssessedRow {
    #[sqlx(flatten)]
    pub ledger: LedgerRow,
    pub realized_on: Option<NaiveDate>,
}

/// A claimed or disbursed amount, with when the claim step happened.
#[derive(sqlx::FromRow)]
pub struct ClaimedRow {
    #[sqlx(flatten)]
    pub ledger: LedgerRow,
    pub occurred_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub struct StatementRow {
    pub part: i32,
    pub party_id: Uuid,
    pub format: String,
    pub sha256: String,
    pub message_id: String,
    pub account: String,
    pub import_time: DbTime,
    pub void_time: Option<DbTime>,
    pub void_reason: Option<String>,
}

/// A statement entry, with whether it has an open exception.
#[derive(sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub state: String,
    pub detail: String,
    pub excepted: bool,
}

/// A credit as the matcher sees it.
#[derive(sqlx::FromRow)]
pub struct CreditRow {
    pub id: Uuid,
    pub state: String,
    pub detail: String,
}

/// An amount a match covers.
#[derive(sqlx::FromRow)]
pub struct CoveredRow {
    pub earning_id: Uuid,
    pub covered: DbDecimal,
    pub currency: String,
}

impl CoveredRow {
    pub fn money(&self) -> Result<Money, StoreError> {
        money(self.covered, &self.currency)
    }
}

/// A step of one of a party's journeys that names a payment or a rate.
#[derive(sqlx::FromRow)]
pub struct ReferenceRow {
    pub earning_id: Uuid,
    pub kind: String,
    pub end_to_end_id: Option<String>,
    pub uetr: Option<Uuid>,
    pub fx_source: Option<String>,
    pub fx_target: Option<String>,
    pub fx_rate: Option<DbDecimal>,
}

/// A repatriation paying an earning, with its status.
#[derive(sqlx::FromRow)]
pub struct PayingRow {
    pub id: Uuid,
    pub status: String,
}

/// A journey's grouping dimensions.
#[derive(sqlx::FromRow)]
pub struct JourneyDimsRow {
    pub id: Uuid,
    pub channel: String,
    pub payer_country: String,
    pub party_id: Uuid,
    pub kind: String,
    pub invoice_date: NaiveDate,
}

impl From<JourneyDimsRow> for (Uuid, JourneyDims) {
    fn from(r: JourneyDimsRow) -> Self {
        (
            r.id,
            JourneyDims {
                corridor: r.payer_country,
                channel: r.channel,
                party_kind: r.kind,
                party_id: r.party_id,
                invoice_date: r.invoice_date,
            },
        )
    }
}

/// An observation as removed: where it counted in the delay rollups, and
/// its duration.
#[derive(sqlx::FromRow)]
pub struct RemovedObservation {
    pub measure: String,
    pub corridor: String,
    pub channel: String,
    pub institution: Option<String>,
    pub party_kind: String,
    pub month: String,
    pub bucket: i32,
    pub micros: i64,
}

/// A journey summary as removed: what it counted for in the scorecard.
#[derive(sqlx::FromRow)]
pub struct RemovedSummary {
    pub repatriation_id: Uuid,
    pub corridor: String,
    pub month: Option<String>,
    pub funds_at: Option<DbTime>,
    pub initiation_to_funds: Option<i64>,
    pub within_business_day: Option<bool>,
    pub fee_share_ppm: Option<i64>,
}

/// The group key of a delay query: the measure and every dimension, NULL
/// where the query does not group by it.
#[derive(sqlx::FromRow)]
pub struct GroupKeyRow {
    pub measure: String,
    pub corridor: Option<String>,
    pub channel: Option<String>,
    pub institution: Option<String>,
    pub party_kind: Option<String>,
    pub month: Option<String>,
}

/// One observation's duration, with its group key.
#[derive(sqlx::FromRow)]
pub struct ValueRow {
    #[sqlx(flatten)]
    pub key: GroupKeyRow,
    pub micros: i64,
}

#[derive(sqlx::FromRow)]
pub struct ObservationRow {
    pub repatriation_id: Uuid,
    pub position: i32,
    pub measure: String,
    pub end_at: DbTime,
    pub micros: i64,
    pub institution: Option<String>,
    pub corridor: String,
    pub channel: String,
    pub party_kind: String,
    pub party_id: Uuid,
    pub month: String,
}

impl From<ObservationRow> for DelayObservation {
    fn from(r: ObservationRow) -> Self {
        DelayObservation {
            repatriation_id: r.repatriation_id,
            position: r.position,
            measure: r.measure,
            end_at: r.end_at.0,
            micros: r.micros,
            institution: r.institution,
            corridor: r.corridor,
            channel: r.channel,
            party_kind: r.party_kind,
            party_id: r.party_id,
            month: r.month,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ScorecardCounts {
    pub corridor: String,
    pub month: String,
    pub completed: i64,
    pub within_hour: i64,
    pub within_business_day: i64,
    pub costed: i64,
    pub fee_share_ppm_sum: i64,
}

impl From<ScorecardCounts> for ScorecardRow {
    fn from(r: ScorecardCounts) -> Self {
        ScorecardRow {
            corridor: r.corridor,
            month: r.month,
            completed: r.completed,
            within_hour: r.within_hour,
            within_business_day: r.within_business_day,
            costed: r.costed,
            fee_share_ppm_sum: r.fee_share_ppm_sum,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct UndatedRow {
    pub id: Uuid,
    pub party_kind: String,
    pub service_category: Option<String>,
    pub invoice_date: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
pub struct BreachRow {
    pub repatriation_id: Uuid,
    pub party_id: Uuid,
    pub party_kind: String,
    pub service_category: Option<String>,
    pub corridor: String,
    pub invoice_date: NaiveDate,
    pub initiated_at: Option<DbTime>,
    pub funds_at: Option<DbTime>,
    pub claim_filed_at: Option<DbTime>,
    pub realized_on: Option<NaiveDate>,
    pub repatriation_deadline: Option<NaiveDate>,
}

impl From<BreachRow> for Breach {
    fn from(r: BreachRow) -> Self {
        Breach {
            repatriation_id: r.repatriation_id,
            party_id: r.party_id,
            party_kind: r.party_kind,
            service_category: r.service_category.unwrap_or_default(),
            corridor: r.corridor,
            invoice_date: r.invoice_date,
            initiated_at: r.initiated_at.map(|t| t.0),
            funds_at: r.funds_at.map(|t| t.0),
            claim_filed_at: r.claim_filed_at.map(|t| t.0),
            realized_on: r.realized_on,
            repatriation_deadline: r.repatriation_deadline,
        }
    }
}
