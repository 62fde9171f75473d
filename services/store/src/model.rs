//! The repository interface and the values that cross it.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use repat_core::audit::AuditEntry;
use repat_core::document::{Document, DocumentKind};
use repat_core::earning::Earning;
use repat_core::facts::{FactKind, PartyFact};
use repat_core::incentive::claim::{Claim, ClaimStatus};
use repat_core::incentive::totals::LedgerEntry;
use repat_core::incentive::{Assessment, Case};
use repat_core::journey::Step;
use repat_core::metrics::stats::BucketCount;
use repat_core::party::{Party, PartyKind};
use repat_core::reconcile::{Entry, Exception, Match, Realization, StatementFormat};
use repat_core::repatriation::{Repatriation, RepatriationStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a request waits for a connection before the database is
    /// reported unavailable.
    pub acquire_timeout: Duration,
    /// Apply the migrations on connect.
    pub migrate: bool,
    /// Append every change's events to the outbox. Always on in service;
    /// off only for a benchmark's baseline.
    pub record_events: bool,
    /// Longest a statement may run (PostgreSQL's `statement_timeout`, and
    /// for transactions left idle): a connection is never held by a query
    /// that cannot finish.
    pub statement_timeout: Duration,
    /// SQLite: most write requests committed together, one fsync for the
    /// group (1: one commit per request).
    pub write_group: usize,
}

/// SQLite's most write requests per commit, unless configured.
pub const DEFAULT_WRITE_GROUP: usize = 512;

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            migrate: true,
            record_events: true,
            statement_timeout: Duration::from_secs(60),
            write_group: DEFAULT_WRITE_GROUP,
        }
    }
}

/// The idempotency key of a mutation and what it asked for. A key is
/// `(scope, method, request_id)`: one tenant's request ids never meet
/// another's, nor one method's another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The client's request id.
    pub request_id: Uuid,
    /// The tenant whose key space the request id is in (never empty; the
    /// empty scope marks keys stored before keys were scoped, which were
    /// one space for everyone).
    pub scope: String,
    /// Who asked, recorded in the audit trail.
    pub principal: String,
    /// The caller's role, recorded in the audit trail.
    pub role: String,
    /// The RPC, for example "repat.v1.PartyService/CreateParty".
    pub method: &'static str,
    /// A hash of the request without its id.
    pub fingerprint: String,
}

impl Idempotency {
    /// The key the request is stored under.
    pub fn key(&self) -> KeyId {
        KeyId {
            scope: self.scope.clone(),
            method: self.method.to_string(),
            request_id: self.request_id,
        }
    }
}

/// Where an idempotency record is stored: its tenant, method and request id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId {
    pub scope: String,
    pub method: String,
    pub request_id: Uuid,
}

/// Keyset paging: rows after `after` (an internal sequence), at most `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: i64,
    pub size: u32,
}

/// A page, and where the next one starts (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyFilter {
    pub kind: Option<PartyKind>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarningFilter {
    pub party_id: Option<Uuid>,
    pub invoice_date_from: Option<NaiveDate>,
    pub invoice_date_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepatriationFilter {
    pub party_id: Option<Uuid>,
    pub status: Option<RepatriationStatus>,
    pub earning_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub method: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// A repatriation with its steps and the invoice dates of what it pays.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub repatriation: Repatriation,
    pub steps: Vec<Step>,
    pub invoice_dates: Vec<NaiveDate>,
}

/// The connection pool at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections lent out to requests.
    pub in_use: u32,
    /// Connections open and waiting.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// A rule set as the service loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRuleSet {
    pub version: String,
    pub name: String,
    /// SHA-256 of `source_toml`, hex.
    pub sha256: String,
    pub source_toml: String,
    pub load_time: DateTime<Utc>,
}

/// An assessment of a recorded repatriation, with the case it was made on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAssessment {
    pub id: Uuid,
    pub repatriation_id: Uuid,
    pub party_id: Uuid,
    pub case: Case,
    pub assessment: Assessment,
    pub assess_time: DateTime<Utc>,
    /// The correction of its journey that superseded it (the journey's
    /// revision), if any: its figures stay as made, under their rule set
    /// version, but it is no longer the journey's current assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssessmentFilter {
    pub party_id: Option<Uuid>,
    pub repatriation_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFilter {
    pub party_id: Option<Uuid>,
    pub status: Option<ClaimStatus>,
}

/// One interface over PostgreSQL and SQLite: reads, and the write
/// transaction ([`crate::Write`]) every mutation is made in, all or
/// nothing.
#[async_trait]
pub trait Repository:
    crate::CheckpointRepository
    + PartyFactRepository
    + DocumentRepository
    + IncentiveRepository
    + MetricsRepository
    + ReconciliationRepository
    + crate::RevisionRepository
    + crate::SearchRepository
    + crate::EventRepository
    + crate::WebhookRepository
    + Send
    + Sync
    + 'static
{
    /// "postgres" or "sqlite".
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Opens a write transaction (SQLite's one writer waits its turn).
    async fn begin(&self) -> Result<crate::Write, StoreError>;
    /// How busy the connection pool is.
    fn pool_usage(&self) -> PoolUsage;
    /// Tells every replica on this database that these repatriations
    /// changed (PostgreSQL `NOTIFY`; nothing on SQLite, which has one
    /// process).
    async fn publish_changes(&self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// The changes other replicas announce, where the database carries them
    /// (PostgreSQL `LISTEN`); `None` on SQLite.
    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError>;

    async fn get_party(&self, id: Uuid) -> Result<Party, StoreError>;
    async fn list_parties(
        &self,
        filter: &PartyFilter,
        page: PageRequest,
    ) -> Result<Page<Party>, StoreError>;

    async fn get_earning(&self, id: Uuid) -> Result<Earning, StoreError>;
    async fn list_earnings(
        &self,
        filter: &EarningFilter,
        page: PageRequest,
    ) -> Result<Page<Earning>, StoreError>;

    async fn get_journey(&self, id: Uuid) -> Result<Journey, StoreError>;
    /// The party a repatriation pays (what authorizing a step needs).
    async fn repatriation_party(&self, id: Uuid) -> Result<Uuid, StoreError>;
    /// Up to `limit` repatriations after `after` (in id order) whose
    /// deadline is not stored.
    async fn undated_repatriations(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<UndatedRepatriation>, StoreError>;
    async fn list_repatriations(
        &self,
        filter: &RepatriationFilter,
        page: PageRequest,
    ) -> Result<Page<Repatriation>, StoreError>;

    /// Audit entries matching `filter`, in chain order.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
    /// Up to `limit` entries after sequence `after`, unfiltered, for
    /// verifying the chain.
    async fn audit_chain(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// A party as registered and every change of its facts, in the order
/// recorded: what [`repat_core::facts::party_on`] reads the party of any
/// day from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyHistory {
    pub party: Party,
    pub facts: Vec<PartyFact>,
}

/// Facts about parties that change over time (zone, memberships, bank
/// accounts). The party a read returns ([`Repository::get_party`],
/// [`Repository::list_parties`]) holds the facts in force today (Dhaka).
#[async_trait]
pub trait PartyFactRepository: Send + Sync {
    async fn party_history(&self, party_id: Uuid) -> Result<PartyHistory, StoreError>;
    /// A party's changes of one kind or all, in the order recorded.
    async fn list_party_facts(
        &self,
        party_id: Uuid,
        kind: Option<FactKind>,
        page: PageRequest,
    ) -> Result<Page<PartyFact>, StoreError>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentFilter {
    pub party_id: Option<Uuid>,
    pub earning_id: Option<Uuid>,
    pub repatriation_id: Option<Uuid>,
    pub kind: Option<DocumentKind>,
}

/// The documents firms hold.
#[async_trait]
pub trait DocumentRepository: Send + Sync {
    async fn get_document(&self, id: Uuid) -> Result<Document, StoreError>;
    /// Oldest first.
    async fn list_documents(
        &self,
        filter: &DocumentFilter,
        page: PageRequest,
    ) -> Result<Page<Document>, StoreError>;
    /// Every document of a party, oldest first: what an assessment reads.
    async fn party_documents(&self, party_id: Uuid) -> Result<Vec<Document>, StoreError>;
}

/// The cash incentive's records: rule sets, assessments, claims.
#[async_trait]
pub trait IncentiveRepository: Send + Sync {
    /// Stores a rule set the first time its version is loaded; loading the
    /// same version with other content is refused, so a version always
    /// names one set of rules.
    async fn register_rule_set(
        &self,
        rule_set: &StoredRuleSet,
    ) -> Result<StoredRuleSet, StoreError>;
    /// Newest first.
    async fn list_rule_sets(&self) -> Result<Vec<StoredRuleSet>, StoreError>;
    async fn get_rule_set(&self, version: &str) -> Result<StoredRuleSet, StoreError>;

    async fn get_assessment(&self, id: Uuid) -> Result<StoredAssessment, StoreError>;
    async fn list_assessments(
        &self,
        filter: &AssessmentFilter,
        page: PageRequest,
    ) -> Result<Page<StoredAssessment>, StoreError>;

    async fn get_claim(&self, id: Uuid) -> Result<Claim, StoreError>;
    async fn list_claims(
        &self,
        filter: &ClaimFilter,
        page: PageRequest,
    ) -> Result<Page<Claim>, StoreError>;

    /// Every amount the incentive totals sum: current eligible assessments,
    /// claimed items and disbursements, of one party or all.
    async fn incentive_ledger(
        &self,
        party_id: Option<Uuid>,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
}

/// What delay statistics can be grouped by, beside the measure itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The payer's country.
    Corridor,
    /// Bank, platform or mobile financial service.
    Channel,
    /// The BIC of the step waited for (waits only).
    Institution,
    PartyKind,
    /// The Dhaka month the wait or span ended in.
    Month,
}

impl Dimension {
    /// The column holding it, in delay_observations.
    pub fn column(self) -> &'static str {
        match self {
            Dimension::Corridor => "corridor",
            Dimension::Channel => "channel",
            Dimension::Institution => "institution",
            Dimension::PartyKind => "party_kind",
            Dimension::Month => "month",
        }
    }
}

/// Which observations a delay query covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelayFilter {
    /// "YYYY-MM", inclusive.
    pub start_month: Option<String>,
    pub end_month: Option<String>,
    pub party_id: Option<Uuid>,
    /// A step kind or span name.
    pub measure: Option<String>,
}

/// A group's key: the measure, then the requested dimensions in order.
pub type GroupKey = Vec<Option<String>>;

/// The observations of one group, by duration bucket (each bucket once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBuckets {
    pub key: GroupKey,
    pub buckets: Vec<BucketCount>,
}

/// One observation, as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayObservation {
    pub repatriation_id: Uuid,
    pub position: i32,
    pub measure: String,
    pub end_at: DateTime<Utc>,
    pub micros: i64,
    pub institution: Option<String>,
    pub corridor: String,
    pub channel: String,
    pub party_kind: String,
    pub party_id: Uuid,
    pub month: String,
}

/// The scorecard's counts for one corridor and month of initiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScorecardRow {
    pub corridor: String,
    pub month: String,
    /// Initiated payments whose funds became available.
    pub completed: i64,
    pub within_hour: i64,
    pub within_business_day: i64,
    /// Payments with a known fee share, and the sum of their shares in
    /// parts per million.
    pub costed: i64,
    pub fee_share_ppm_sum: i64,
}

/// Which deadline a breach is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachKind {
    /// Realized after, or not realized by, the repatriation deadline.
    RepatriationLate,
    /// Claimed after, or not claimed by, the end of the claim window.
    ClaimWindowExpired,
    /// Initiated, neither credited nor ended, for longer than a threshold.
    InFlight,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachFilter {
    pub kind: BreachKind,
    pub party_id: Option<Uuid>,
    /// The Dhaka day judged: unrealized repatriations whose stored deadline
    /// is before it are late.
    pub today: NaiveDate,
    /// Candidates only: the fewest days any programme allows from
    /// realization to the claim (each candidate is then held to its own
    /// programme's window, computed by the rules).
    pub claim_days: i32,
    /// Candidates only: unclaimed realizations dated before this.
    pub realization_cutoff: NaiveDate,
    /// In-flight payments initiated before this are reported.
    pub initiated_before: DateTime<Utc>,
}

/// A repatriation past a deadline, with what the deadline concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub repatriation_id: Uuid,
    pub party_id: Uuid,
    /// The party's kind and the earliest invoice's service category: what
    /// chooses the programme whose deadlines apply.
    pub party_kind: String,
    pub service_category: String,
    pub corridor: String,
    pub invoice_date: NaiveDate,
    pub initiated_at: Option<DateTime<Utc>>,
    pub funds_at: Option<DateTime<Utc>>,
    pub claim_filed_at: Option<DateTime<Utc>>,
    pub realized_on: Option<NaiveDate>,
    /// The last day it may be realized, as stored when it was opened.
    pub repatriation_deadline: Option<NaiveDate>,
}

/// A repatriation whose deadline is not stored yet, with what chooses its
/// programme: the party's kind and its earliest invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndatedRepatriation {
    pub id: Uuid,
    pub party_kind: String,
    pub service_category: String,
    pub invoice_date: NaiveDate,
}

/// The delay metrics' records, kept in step with the journeys.
#[async_trait]
pub trait MetricsRepository: Send + Sync {
    /// Journeys whose metrics are behind their steps.
    async fn pending_metrics(&self) -> Result<i64, StoreError>;
    /// How many observations each group has in each duration bucket:
    /// each group once, each of its buckets once, in no order.
    async fn delay_buckets(
        &self,
        filter: &DelayFilter,
        dims: &[Dimension],
    ) -> Result<Vec<GroupBuckets>, StoreError>;
    /// Every observation's duration with its group key, ordered by key.
    async fn delay_values(
        &self,
        filter: &DelayFilter,
        dims: &[Dimension],
    ) -> Result<Vec<(GroupKey, i64)>, StoreError>;
    /// Up to `limit` observations after `(repatriation_id, position)`, in
    /// that order.
    async fn export_observations(
        &self,
        filter: &DelayFilter,
        after: Option<(Uuid, i32)>,
        limit: u32,
    ) -> Result<Vec<DelayObservation>, StoreError>;
    async fn scorecard(
        &self,
        start_month: Option<&str>,
        end_month: Option<&str>,
        party_id: Option<Uuid>,
    ) -> Result<Vec<ScorecardRow>, StoreError>;
    /// Breaches in repatriation order, after `after` (keyset), at most `limit`.
    async fn breaches(
        &self,
        filter: &BreachFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Breach>, StoreError>;
    /// Recomputes the metrics rows of up to `limit` journeys after `after`
    /// (in id order), each batch in one transaction; returns the last id
    /// done, `None` when there were none. For data loaded behind the
    /// service's back, or after the observations' definition changes.
    async fn rebuild_metrics(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Option<Uuid>, StoreError>;
    /// Brings the metrics rows of up to `limit` journeys marked pending up
    /// to date, in one transaction; returns how many.
    async fn drain_pending_metrics(&self, limit: u32) -> Result<usize, StoreError>;
    /// Clears the rollups' keys whose sums all came back to zero.
    async fn compact_delay_rollup(&self) -> Result<(), StoreError>;
}

/// One account's statement for one period, of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementPart {
    pub message_id: String,
    pub account: String,
    pub entries: Vec<Entry>,
}

/// Where a stored entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryStatus {
    Open,
    Matched,
    Exception,
    NotACredit,
    /// Not booked yet (or for information): never matched.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEntry {
    pub id: Uuid,
    pub entry: Entry,
    pub status: EntryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredStatement {
    pub id: Uuid,
    /// Its place among the statements of its file, from 0.
    #[serde(default)]
    pub part: u32,
    pub party_id: Uuid,
    pub format: StatementFormat,
    pub sha256: String,
    pub message_id: String,
    pub account: String,
    pub entries: Vec<StoredEntry>,
    pub import_time: DateTime<Utc>,
    /// When and why it was voided, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void: Option<repat_core::earning::Void>,
}

/// A match as stored, with the journey it was linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMatch {
    pub id: Uuid,
    #[serde(flatten)]
    pub detail: Match,
    /// The repatriation of the earning the credit was linked to.
    pub repatriation_id: Option<Uuid>,
    /// Its BENEFICIARY_CREDITED step (recorded from the credit, or found).
    pub step_id: Option<Uuid>,
    /// Why no step was recorded, when none could be.
    pub journey_note: Option<String>,
    /// Why a person made it, for a manual match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub create_time: DateTime<Utc>,
}

/// An earning and how much of it came home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarningRealization {
    pub earning: Earning,
    pub realization: Realization,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchFilter {
    pub party_id: Option<Uuid>,
    pub earning_id: Option<Uuid>,
}

/// Statements, matches and exceptions.
#[async_trait]
pub trait ReconciliationRepository: Send + Sync {
    async fn get_statement(&self, id: Uuid) -> Result<StoredStatement, StoreError>;
    /// The party a statement entry belongs to (what authorizing needs).
    async fn entry_party(&self, id: Uuid) -> Result<Uuid, StoreError>;
    async fn list_matches(
        &self,
        filter: &MatchFilter,
        page: PageRequest,
    ) -> Result<Page<StoredMatch>, StoreError>;
    async fn list_exceptions(
        &self,
        party_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<Exception>, StoreError>;
    async fn list_realizations(
        &self,
        party_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<EarningRealization>, StoreError>;
}

/// Repatriations changed by any replica, as the database announces them.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next ids announced; `Ok(None)` when the feed reconnected and
    /// announcements may have been missed (everything may have changed).
    async fn next(&mut self) -> Result<Option<Vec<Uuid>>, StoreError>;
}
