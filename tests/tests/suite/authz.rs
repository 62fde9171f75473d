//! Who may do what: every role (and every kind of bad token) against every
//! RPC, on records of party A. Every method the server describes and
//! answers must be in the matrix, so a new RPC cannot go untested here.

use futures::StreamExt;
use repat_api::auth::Role;
use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_client::AuditServiceClient;
use repat_proto::v1::document_service_client::DocumentServiceClient;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::event_service_client::EventServiceClient;
use repat_proto::v1::incentive_service_client::IncentiveServiceClient;
use repat_proto::v1::metrics_service_client::MetricsServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::reconciliation_service_client::ReconciliationServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use repat_proto::v1::webhook_service_client::WebhookServiceClient;
use repat_tests::fixtures::{earning, firm, rid, step};
use repat_tests::security::{Bearer, KeyDir, Minter, alg_none_token, ed25519_pair};
use repat_tests::{Backend, spawn_with};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Ch = InterceptedService<Channel, Bearer>;

/// Records of party A that the calls touch.
struct World {
    party_a: String,
    earning_a: String,
    repatriation_a: String,
    /// A repatriation assessed and claimed before the calls: claiming it
    /// again, or disbursing its claim before the audit, is refused to
    /// anyone allowed to try (FAILED_PRECONDITION), and changes nothing.
    assessment_c: String,
    repatriation_c: String,
    /// A step of the claimed repatriation: voiding it is refused.
    step_c: String,
    claim_c: String,
    /// A statement with one credit that no call can match (its allocation
    /// is in another currency) and that has no match to remove.
    statement_c: String,
    credit_c: String,
    /// A third statement of party A, voided before the calls: voiding it
    /// again is refused to anyone allowed to try.
    statement_v: String,
    document_a: String,
    /// A deleted endpoint of party A, and one of its deliveries (dead with
    /// it): deleting it again changes nothing, replaying the delivery is
    /// refused by what is stored.
    endpoint_d: String,
    delivery_d: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    CreateParty,
    GetParty,
    ListParties,
    CreateEarning,
    BatchCreateEarnings,
    GetEarning,
    ListEarnings,
    CreateRepatriation,
    GetRepatriation,
    ListRepatriations,
    RecordStep,
    BatchRecordSteps,
    WatchRepatriation,
    ListAuditEntries,
    VerifyAuditChain,
    ListAuditCheckpoints,
    AssessRepatriation,
    ListAssessments,
    SimulateAssessment,
    ListRuleSets,
    GetIncentiveTotals,
    GetDelayStatistics,
    GetScorecard,
    ListDeadlineBreaches,
    ExportDurations,
    ImportStatement,
    RunMatching,
    ListMatches,
    ListExceptions,
    ListRealizations,
    CreatePartyFact,
    ListPartyFacts,
    CreateDocument,
    ListDocuments,
    StreamEvents,
    ListEvents,
    CreateWebhookEndpoint,
    ListWebhookEndpoints,
    ListWebhookDeliveries,
    GetWebhookEndpoint,
    DeleteWebhookEndpoint,
    GetWebhookDelivery,
    ReplayWebhookDelivery,
    GetAssessment,
    GetRuleSet,
    FileClaim,
    RecordClaimStep,
    GetClaim,
    ListClaims,
    MetricsIncentiveTotals,
    GetStatement,
    ManualMatch,
    Unmatch,
    SearchRepatriations,
    GetDocument,
    AmendEarning,
    VoidEarning,
    ListEarningRevisions,
    CorrectParty,
    ListPartyRevisions,
    VoidStep,
    ListRepatriationRevisions,
    VoidStatement,
    ListStatementRevisions,
}

const ALL: [Rpc; 64] = [
    Rpc::CreateParty,
    Rpc::GetParty,
    Rpc::ListParties,
    Rpc::CreateEarning,
    Rpc::BatchCreateEarnings,
    Rpc::GetEarning,
    Rpc::ListEarnings,
    Rpc::CreateRepatriation,
    Rpc::GetRepatriation,
    Rpc::ListRepatriations,
    Rpc::RecordStep,
    Rpc::BatchRecordSteps,
    Rpc::WatchRepatriation,
    Rpc::ListAuditEntries,
    Rpc::VerifyAuditChain,
    Rpc::ListAuditCheckpoints,
    Rpc::AssessRepatriation,
    Rpc::ListAssessments,
    Rpc::SimulateAssessment,
    Rpc::ListRuleSets,
    Rpc::GetIncentiveTotals,
    Rpc::GetDelayStatistics,
    Rpc::GetScorecard,
    Rpc::ListDeadlineBreaches,
    Rpc::ExportDurations,
    Rpc::ImportStatement,
    Rpc::RunMatching,
    Rpc::ListMatches,
    Rpc::ListExceptions,
    Rpc::ListRealizations,
    Rpc::CreatePartyFact,
    Rpc::ListPartyFacts,
    Rpc::CreateDocument,
    Rpc::ListDocuments,
    Rpc::StreamEvents,
    Rpc::ListEvents,
    Rpc::CreateWebhookEndpoint,
    Rpc::ListWebhookEndpoints,
    Rpc::ListWebhookDeliveries,
    Rpc::GetWebhookEndpoint,
    Rpc::DeleteWebhookEndpoint,
    Rpc::GetWebhookDelivery,
    Rpc::ReplayWebhookDelivery,
    Rpc::GetAssessment,
    Rpc::GetRuleSet,
    Rpc::FileClaim,
    Rpc::RecordClaimStep,
    Rpc::GetClaim,
    Rpc::ListClaims,
    Rpc::MetricsIncentiveTotals,
    Rpc::GetStatement,
    Rpc::ManualMatch,
    Rpc::Unmatch,
    Rpc::SearchRepatriations,
    Rpc::GetDocument,
    Rpc::AmendEarning,
    Rpc::VoidEarning,
    Rpc::ListEarningRevisions,
    Rpc::CorrectParty,
    Rpc::ListPartyRevisions,
    Rpc::VoidStep,
    Rpc::ListRepatriationRevisions,
    Rpc::VoidStatement,
    Rpc::ListStatementRevisions,
];

/// The full name of the method an [`Rpc`] calls.
fn method(rpc: Rpc) -> &'static str {
    match rpc {
        Rpc::CreateParty => "repat.v1.PartyService/CreateParty",
        Rpc::GetParty => "repat.v1.PartyService/GetParty",
        Rpc::ListParties => "repat.v1.PartyService/ListParties",
        Rpc::CreatePartyFact => "repat.v1.PartyService/CreatePartyFact",
        Rpc::ListPartyFacts => "repat.v1.PartyService/ListPartyFacts",
        Rpc::CreateEarning => "repat.v1.EarningService/CreateEarning",
        Rpc::BatchCreateEarnings => "repat.v1.EarningService/BatchCreateEarnings",
        Rpc::GetEarning => "repat.v1.EarningService/GetEarning",
        Rpc::ListEarnings => "repat.v1.EarningService/ListEarnings",
        Rpc::AmendEarning => "repat.v1.EarningService/AmendEarning",
        Rpc::VoidEarning => "repat.v1.EarningService/VoidEarning",
        Rpc::ListEarningRevisions => "repat.v1.EarningService/ListEarningRevisions",
        Rpc::CorrectParty => "repat.v1.PartyService/CorrectParty",
        Rpc::ListPartyRevisions => "repat.v1.PartyService/ListPartyRevisions",
        Rpc::VoidStep => "repat.v1.RepatriationService/VoidStep",
        Rpc::VoidStatement => "repat.v1.ReconciliationService/VoidStatement",
        Rpc::ListStatementRevisions => "repat.v1.ReconciliationService/ListStatementRevisions",
        Rpc::ListRepatriationRevisions => "repat.v1.RepatriationService/ListRepatriationRevisions",
        Rpc::CreateRepatriation => "repat.v1.RepatriationService/CreateRepatriation",
        Rpc::GetRepatriation => "repat.v1.RepatriationService/GetRepatriation",
        Rpc::ListRepatriations => "repat.v1.RepatriationService/ListRepatriations",
        Rpc::SearchRepatriations => "repat.v1.RepatriationService/SearchRepatriations",
        Rpc::RecordStep => "repat.v1.RepatriationService/RecordStep",
        Rpc::BatchRecordSteps => "repat.v1.RepatriationService/BatchRecordSteps",
        Rpc::WatchRepatriation => "repat.v1.RepatriationService/WatchRepatriation",
        Rpc::ListAuditEntries => "repat.v1.AuditService/ListAuditEntries",
        Rpc::VerifyAuditChain => "repat.v1.AuditService/VerifyAuditChain",
        Rpc::AssessRepatriation => "repat.v1.IncentiveService/AssessRepatriation",
        Rpc::GetAssessment => "repat.v1.IncentiveService/GetAssessment",
        Rpc::ListAssessments => "repat.v1.IncentiveService/ListAssessments",
        Rpc::SimulateAssessment => "repat.v1.IncentiveService/SimulateAssessment",
        Rpc::ListRuleSets => "repat.v1.IncentiveService/ListRuleSets",
        Rpc::GetRuleSet => "repat.v1.IncentiveService/GetRuleSet",
        Rpc::FileClaim => "repat.v1.IncentiveService/FileClaim",
        Rpc::RecordClaimStep => "repat.v1.IncentiveService/RecordClaimStep",
        Rpc::GetClaim => "repat.v1.IncentiveService/GetClaim",
        Rpc::ListClaims => "repat.v1.IncentiveService/ListClaims",
        Rpc::GetIncentiveTotals => "repat.v1.IncentiveService/GetIncentiveTotals",
        Rpc::MetricsIncentiveTotals => "repat.v1.MetricsService/GetIncentiveTotals",
        Rpc::GetDelayStatistics => "repat.v1.MetricsService/GetDelayStatistics",
        Rpc::GetScorecard => "repat.v1.MetricsService/GetScorecard",
        Rpc::ListDeadlineBreaches => "repat.v1.MetricsService/ListDeadlineBreaches",
        Rpc::ExportDurations => "repat.v1.MetricsService/ExportDurations",
        Rpc::ImportStatement => "repat.v1.ReconciliationService/ImportStatement",
        Rpc::GetStatement => "repat.v1.ReconciliationService/GetStatement",
        Rpc::RunMatching => "repat.v1.ReconciliationService/RunMatching",
        Rpc::ListMatches => "repat.v1.ReconciliationService/ListMatches",
        Rpc::ListExceptions => "repat.v1.ReconciliationService/ListExceptions",
        Rpc::ListRealizations => "repat.v1.ReconciliationService/ListRealizations",
        Rpc::ManualMatch => "repat.v1.ReconciliationService/ManualMatch",
        Rpc::Unmatch => "repat.v1.ReconciliationService/Unmatch",
        Rpc::CreateDocument => "repat.v1.DocumentService/CreateDocument",
        Rpc::GetDocument => "repat.v1.DocumentService/GetDocument",
        Rpc::ListAuditCheckpoints => "repat.v1.AuditService/ListAuditCheckpoints",
        Rpc::StreamEvents => "repat.v1.EventService/StreamEvents",
        Rpc::ListEvents => "repat.v1.EventService/ListEvents",
        Rpc::CreateWebhookEndpoint => "repat.v1.WebhookService/CreateWebhookEndpoint",
        Rpc::GetWebhookEndpoint => "repat.v1.WebhookService/GetWebhookEndpoint",
        Rpc::ListWebhookEndpoints => "repat.v1.WebhookService/ListWebhookEndpoints",
        Rpc::DeleteWebhookEndpoint => "repat.v1.WebhookService/DeleteWebhookEndpoint",
        Rpc::GetWebhookDelivery => "repat.v1.WebhookService/GetWebhookDelivery",
        Rpc::ListWebhookDeliveries => "repat.v1.WebhookService/ListWebhookDeliveries",
        Rpc::ReplayWebhookDelivery => "repat.v1.WebhookService/ReplayWebhookDelivery",
        Rpc::ListDocuments => "repat.v1.DocumentService/ListDocuments",
    }
}

/// Every method of the `repat.v1` services the server describes
/// (reflection's descriptors).
fn served_methods() -> std::collections::BTreeSet<String> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(repat_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptors decode");
    let mut methods = std::collections::BTreeSet::new();
    for file in set.file.iter().filter(|f| f.package() == "repat.v1") {
        for service in &file.service {
            for m in &service.method {
                methods.insert(format!("repat.v1.{}/{}", service.name(), m.name()));
            }
        }
    }
    methods
}

/// Every RPC listed is one the server describes, once.
#[test]
fn the_matrix_lists_described_rpcs() {
    let covered: std::collections::BTreeSet<String> =
        ALL.iter().map(|r| method(*r).to_string()).collect();
    assert_eq!(covered.len(), ALL.len(), "an RPC is listed twice");
    let described = served_methods();
    let unknown: Vec<_> = covered.difference(&described).collect();
    assert!(unknown.is_empty(), "listed but not described: {unknown:?}");
}

/// The described methods missing from the matrix that the server answers
/// (anything but UNIMPLEMENTED, asked as an administrator with an empty
/// request): forgetting a new RPC here is a failing test, not a gap in
/// who may call what.
async fn served_but_untested(ch: &Ch) -> Vec<String> {
    let covered: std::collections::BTreeSet<String> =
        ALL.iter().map(|r| method(*r).to_string()).collect();
    let mut untested = Vec::new();
    for m in served_methods().difference(&covered) {
        let mut grpc = tonic::client::Grpc::new(ch.clone());
        grpc.ready().await.expect("the channel is ready");
        let path = tonic::codegen::http::uri::PathAndQuery::try_from(format!("/{m}"))
            .expect("a method path");
        let answer = grpc
            .unary::<(), (), _>(
                tonic::Request::new(()),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await;
        if !matches!(answer, Err(ref s) if s.code() == Code::Unimplemented) {
            untested.push(m.clone());
        }
    }
    untested
}

/// A statement of party A's account.
const STATEMENT_A: &str =
    "booking_date,direction,amount,currency,remittance\n2024-03-20,CREDIT,500.00,USD,payout\n";

/// The outcome of one call: its code (for batches, the first item's), and
/// for lists how many records of party A came back.
async fn call(rpc: Rpc, ch: &Ch, w: &World, n: usize) -> (Code, usize) {
    let parties = || PartyServiceClient::new(ch.clone());
    let earnings = || EarningServiceClient::new(ch.clone());
    let reps = || RepatriationServiceClient::new(ch.clone());
    let incentives = || IncentiveServiceClient::new(ch.clone());
    let metrics = || MetricsServiceClient::new(ch.clone());
    let recon = || ReconciliationServiceClient::new(ch.clone());
    let events = || EventServiceClient::new(ch.clone());
    let webhooks = || WebhookServiceClient::new(ch.clone());
    let documents = || DocumentServiceClient::new(ch.clone());
    let code = |r: Result<usize, tonic::Status>| match r {
        Ok(k) => (Code::Ok, k),
        Err(s) => (s.code(), 0),
    };
    let new_earning = || pb::CreateEarningRequest {
        request_id: rid(),
        earning: Some(earning(
            &w.party_a,
            &format!("M-{n}-{}", rid()),
            "10.00",
            "USD",
        )),
    };
    let new_step = || pb::RecordStepRequest {
        request_id: rid(),
        step: Some(step(
            &w.repatriation_a,
            pb::StepKind::IntermediaryProcessed,
            "2024-03-02T00:00:00Z",
        )),
    };
    match rpc {
        Rpc::CreateParty => code(
            parties()
                .create_party(pb::CreatePartyRequest {
                    request_id: rid(),
                    party: Some(firm("New Ltd")),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::GetParty => code(
            parties()
                .get_party(pb::GetPartyRequest {
                    id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListParties => code(
            parties()
                .list_parties(pb::ListPartiesRequest::default())
                .await
                .map(|r| {
                    r.into_inner()
                        .parties
                        .iter()
                        .filter(|p| p.id == w.party_a)
                        .count()
                }),
        ),
        Rpc::CreateEarning => code(earnings().create_earning(new_earning()).await.map(|_| 1)),
        Rpc::BatchCreateEarnings => match earnings()
            .batch_create_earnings(futures::stream::iter(vec![new_earning()]))
            .await
        {
            Ok(r) => {
                let first = r
                    .into_inner()
                    .next()
                    .await
                    .expect("a result")
                    .expect("an item");
                (Code::from(first.code), 1)
            }
            Err(s) => (s.code(), 0),
        },
        Rpc::GetEarning => code(
            earnings()
                .get_earning(pb::GetEarningRequest {
                    id: w.earning_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListEarnings => code(
            earnings()
                .list_earnings(pb::ListEarningsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().earnings.len()),
        ),
        Rpc::CreateRepatriation => code(
            reps()
                .create_repatriation(pb::CreateRepatriationRequest {
                    request_id: rid(),
                    party_id: w.party_a.clone(),
                    allocations: vec![pb::Allocation {
                        earning_id: w.earning_a.clone(),
                        amount: repat_tests::fixtures::money("0.01", "USD"),
                    }],
                    channel: pb::Channel::Bank as i32,
                    payer_country: String::new(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::GetRepatriation => code(
            reps()
                .get_repatriation(pb::GetRepatriationRequest {
                    id: w.repatriation_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListRepatriations => code(
            reps()
                .list_repatriations(pb::ListRepatriationsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().repatriations.len()),
        ),
        Rpc::RecordStep => code(reps().record_step(new_step()).await.map(|_| 1)),
        Rpc::BatchRecordSteps => match reps()
            .batch_record_steps(futures::stream::iter(vec![new_step()]))
            .await
        {
            Ok(r) => {
                let first = r
                    .into_inner()
                    .next()
                    .await
                    .expect("a result")
                    .expect("an item");
                (Code::from(first.code), 1)
            }
            Err(s) => (s.code(), 0),
        },
        Rpc::WatchRepatriation => match reps()
            .watch_repatriation(pb::WatchRepatriationRequest {
                id: w.repatriation_a.clone(),
            })
            .await
        {
            Ok(r) => match r.into_inner().next().await {
                Some(Ok(_)) => (Code::Ok, 1),
                Some(Err(s)) => (s.code(), 0),
                None => (Code::Unknown, 0),
            },
            Err(s) => (s.code(), 0),
        },
        Rpc::ListAuditEntries => code(
            AuditServiceClient::new(ch.clone())
                .list_audit_entries(pb::ListAuditEntriesRequest::default())
                .await
                .map(|r| r.into_inner().entries.len()),
        ),
        Rpc::VerifyAuditChain => code(
            AuditServiceClient::new(ch.clone())
                .verify_audit_chain(pb::VerifyAuditChainRequest::default())
                .await
                .map(|_| 1),
        ),
        Rpc::ListAuditCheckpoints => code(
            AuditServiceClient::new(ch.clone())
                .list_audit_checkpoints(pb::ListAuditCheckpointsRequest::default())
                .await
                .map(|r| r.into_inner().checkpoints.len()),
        ),
        Rpc::AssessRepatriation => code(
            incentives()
                .assess_repatriation(pb::AssessRepatriationRequest {
                    request_id: rid(),
                    repatriation_id: w.repatriation_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListAssessments => code(
            incentives()
                .list_assessments(pb::ListAssessmentsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().assessments.len()),
        ),
        Rpc::SimulateAssessment => code(
            incentives()
                .simulate_assessment(pb::SimulateAssessmentRequest {
                    inputs: Some(pb::AssessmentInputs {
                        party_kind: pb::PartyKind::Freelancer as i32,
                        service_category: pb::ServiceCategory::Software as i32,
                        invoice_date: repat_tests::fixtures::date(2024, 1, 1),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListRuleSets => code(
            incentives()
                .list_rule_sets(pb::ListRuleSetsRequest {})
                .await
                .map(|r| r.into_inner().rule_sets.len()),
        ),
        Rpc::GetIncentiveTotals => code(
            incentives()
                .get_incentive_totals(pb::GetIncentiveTotalsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().totals.len()),
        ),
        Rpc::GetDelayStatistics => code(
            metrics()
                .get_delay_statistics(pb::GetDelayStatisticsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().groups.len()),
        ),
        Rpc::GetScorecard => code(
            metrics()
                .get_scorecard(pb::GetScorecardRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().entries.len()),
        ),
        Rpc::ListDeadlineBreaches => code(
            metrics()
                .list_deadline_breaches(pb::ListDeadlineBreachesRequest {
                    kind: pb::BreachKind::RepatriationLate as i32,
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().breaches.len()),
        ),
        Rpc::ExportDurations => match metrics()
            .export_durations(pb::ExportDurationsRequest {
                party_id: w.party_a.clone(),
                ..Default::default()
            })
            .await
        {
            Ok(r) => match r.into_inner().next().await {
                Some(Err(s)) => (s.code(), 0),
                _ => (Code::Ok, 1),
            },
            Err(s) => (s.code(), 0),
        },
        Rpc::ImportStatement => code(
            recon()
                .import_statement(pb::ImportStatementRequest {
                    request_id: rid(),
                    party_id: w.party_a.clone(),
                    format: pb::StatementFormat::Csv as i32,
                    content: STATEMENT_A.into(),
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::RunMatching => code(
            recon()
                .run_matching(pb::RunMatchingRequest {
                    request_id: rid(),
                    party_id: w.party_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListMatches => code(
            recon()
                .list_matches(pb::ListMatchesRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().matches.len()),
        ),
        Rpc::ListExceptions => code(
            recon()
                .list_exceptions(pb::ListExceptionsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().exceptions.len()),
        ),
        Rpc::ListRealizations => code(
            recon()
                .list_realizations(pb::ListRealizationsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().realizations.len()),
        ),
        Rpc::CreatePartyFact => code(
            parties()
                .create_party_fact(pb::CreatePartyFactRequest {
                    request_id: rid(),
                    party_id: w.party_a.clone(),
                    effective_from: repat_tests::fixtures::date(2024, 3, 1),
                    value: Some(pb::PartyFactValue {
                        kind: pb::PartyFactKind::Zone as i32,
                        zone: pb::Zone::None as i32,
                        ..Default::default()
                    }),
                    reason: "confirmed".into(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListPartyFacts => code(
            parties()
                .list_party_facts(pb::ListPartyFactsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().facts.len()),
        ),
        Rpc::CreateDocument => code(
            documents()
                .create_document(pb::CreateDocumentRequest {
                    request_id: rid(),
                    document: Some(pb::Document {
                        earning_id: w.earning_a.clone(),
                        ..repat_tests::fixtures::document(
                            pb::DocumentKind::Invoice,
                            &format!("INV-{n}"),
                        )
                    }),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListDocuments => code(
            documents()
                .list_documents(pb::ListDocumentsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().documents.len()),
        ),
        Rpc::StreamEvents => match events()
            .stream_events(pb::StreamEventsRequest {
                party_id: w.party_a.clone(),
                ..Default::default()
            })
            .await
        {
            Ok(r) => match r.into_inner().next().await {
                Some(Ok(_)) => (Code::Ok, 1),
                Some(Err(s)) => (s.code(), 0),
                None => (Code::Unknown, 0),
            },
            Err(s) => (s.code(), 0),
        },
        Rpc::ListEvents => code(
            events()
                .list_events(pb::ListEventsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().events.len()),
        ),
        Rpc::CreateWebhookEndpoint => code(
            webhooks()
                .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                    request_id: rid(),
                    party_id: w.party_a.clone(),
                    url: "https://hooks.invalid/a".into(),
                    types: vec!["claim.filed".into()],
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListWebhookEndpoints => code(
            webhooks()
                .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().endpoints.len()),
        ),
        Rpc::ListWebhookDeliveries => code(
            webhooks()
                .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().deliveries.len()),
        ),
        Rpc::GetWebhookEndpoint => code(
            webhooks()
                .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
                    id: w.endpoint_d.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::DeleteWebhookEndpoint => code(
            webhooks()
                .delete_webhook_endpoint(pb::DeleteWebhookEndpointRequest {
                    request_id: rid(),
                    id: w.endpoint_d.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::GetWebhookDelivery => code(
            webhooks()
                .get_webhook_delivery(pb::GetWebhookDeliveryRequest {
                    id: w.delivery_d.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ReplayWebhookDelivery => code(
            webhooks()
                .replay_webhook_delivery(pb::ReplayWebhookDeliveryRequest {
                    request_id: rid(),
                    id: w.delivery_d.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::GetAssessment => code(
            incentives()
                .get_assessment(pb::GetAssessmentRequest {
                    id: w.assessment_c.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::GetRuleSet => code(
            incentives()
                .get_rule_set(pb::GetRuleSetRequest::default())
                .await
                .map(|_| 1),
        ),
        Rpc::FileClaim => code(
            incentives()
                .file_claim(pb::FileClaimRequest {
                    request_id: rid(),
                    party_id: w.party_a.clone(),
                    repatriation_ids: vec![w.repatriation_c.clone()],
                    file_time: repat_tests::fixtures::ts("2024-03-23T04:00:00Z"),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::RecordClaimStep => code(
            incentives()
                .record_claim_step(pb::RecordClaimStepRequest {
                    request_id: rid(),
                    claim_id: w.claim_c.clone(),
                    kind: pb::ClaimStepKind::Disbursed as i32,
                    occur_time: repat_tests::fixtures::ts("2024-04-01T04:00:00Z"),
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::GetClaim => code(
            incentives()
                .get_claim(pb::GetClaimRequest {
                    id: w.claim_c.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListClaims => code(
            incentives()
                .list_claims(pb::ListClaimsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().claims.len()),
        ),
        Rpc::MetricsIncentiveTotals => code(
            metrics()
                .get_incentive_totals(pb::GetIncentiveTotalsRequest {
                    party_id: w.party_a.clone(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().totals.len()),
        ),
        Rpc::GetStatement => code(
            recon()
                .get_statement(pb::GetStatementRequest {
                    id: w.statement_c.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ManualMatch => code(
            recon()
                .manual_match(pb::ManualMatchRequest {
                    request_id: rid(),
                    credit_id: w.credit_c.clone(),
                    allocations: vec![pb::ManualAllocation {
                        earning_id: w.earning_a.clone(),
                        amount: repat_tests::fixtures::money("0.01", "EUR"),
                    }],
                    note: String::new(),
                })
                .await
                .map(|r| r.into_inner().matches.len()),
        ),
        Rpc::Unmatch => code(
            recon()
                .unmatch(pb::UnmatchRequest {
                    request_id: rid(),
                    credit_id: w.credit_c.clone(),
                    note: String::new(),
                })
                .await
                .map(|r| r.into_inner().removed.len()),
        ),
        Rpc::SearchRepatriations => code(
            reps()
                .search_repatriations(pb::SearchRepatriationsRequest {
                    party_id: w.party_a.clone(),
                    invoice_reference: "A-1".into(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().repatriations.len()),
        ),
        Rpc::GetDocument => code(
            documents()
                .get_document(pb::GetDocumentRequest {
                    id: w.document_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        // A correction its repatriation allows (the client's name).
        Rpc::AmendEarning => code(
            earnings()
                .amend_earning(pb::AmendEarningRequest {
                    request_id: rid(),
                    id: w.earning_a.clone(),
                    earning: Some(pb::Earning {
                        client_name: format!("Nordic Retail AB {n}-{}", rid()),
                        ..earning(&w.party_a, "A-1", "1000.00", "USD")
                    }),
                    reason: "the client's name was misspelt".into(),
                    expected_revision: 0,
                })
                .await
                .map(|_| 1),
        ),
        // Refused to anyone allowed to try: a repatriation allocates it.
        Rpc::VoidEarning => code(
            earnings()
                .void_earning(pb::VoidEarningRequest {
                    request_id: rid(),
                    id: w.earning_a.clone(),
                    reason: "recorded by mistake".into(),
                    expected_revision: 0,
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListEarningRevisions => code(
            earnings()
                .list_earning_revisions(pb::ListEarningRevisionsRequest {
                    id: w.earning_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::CorrectParty => code(
            parties()
                .correct_party(pb::CorrectPartyRequest {
                    request_id: rid(),
                    id: w.party_a.clone(),
                    legal_name: format!("A Ltd {n}-{}", rid()),
                    reason: "registered under a misspelt name".into(),
                    ..Default::default()
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListPartyRevisions => code(
            parties()
                .list_party_revisions(pb::ListPartyRevisionsRequest {
                    id: w.party_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        // Refused to anyone allowed to try: the journey is claimed.
        Rpc::VoidStep => code(
            reps()
                .void_step(pb::VoidStepRequest {
                    request_id: rid(),
                    repatriation_id: w.repatriation_c.clone(),
                    step_id: w.step_c.clone(),
                    reason: "recorded by mistake".into(),
                    replacement: None,
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListRepatriationRevisions => code(
            reps()
                .list_repatriation_revisions(pb::ListRepatriationRevisionsRequest {
                    id: w.repatriation_a.clone(),
                })
                .await
                .map(|_| 1),
        ),
        // Refused to anyone allowed to try: it is voided already.
        Rpc::VoidStatement => code(
            recon()
                .void_statement(pb::VoidStatementRequest {
                    request_id: rid(),
                    statement_id: w.statement_v.clone(),
                    reason: "imported by mistake".into(),
                })
                .await
                .map(|_| 1),
        ),
        Rpc::ListStatementRevisions => code(
            recon()
                .list_statement_revisions(pb::ListStatementRevisionsRequest {
                    statement_id: w.statement_v.clone(),
                })
                .await
                .map(|_| 1),
        ),
    }
}

fn is_write(rpc: Rpc) -> bool {
    matches!(
        rpc,
        Rpc::CreateParty
            | Rpc::CreateEarning
            | Rpc::BatchCreateEarnings
            | Rpc::CreateRepatriation
            | Rpc::RecordStep
            | Rpc::BatchRecordSteps
            | Rpc::AssessRepatriation
            | Rpc::ImportStatement
            | Rpc::RunMatching
            | Rpc::CreatePartyFact
            | Rpc::CreateDocument
            | Rpc::CreateWebhookEndpoint
            | Rpc::DeleteWebhookEndpoint
            | Rpc::ReplayWebhookDelivery
            | Rpc::FileClaim
            | Rpc::RecordClaimStep
            | Rpc::ManualMatch
            | Rpc::Unmatch
            | Rpc::AmendEarning
            | Rpc::VoidEarning
            | Rpc::CorrectParty
            | Rpc::VoidStep
            | Rpc::VoidStatement
    )
}

/// What a caller allowed to make the call gets: the calls on the claimed
/// repatriation and the unmatchable credit are refused by what is stored,
/// after authorization, and change nothing.
fn when_allowed(rpc: Rpc) -> Code {
    match rpc {
        Rpc::FileClaim
        | Rpc::RecordClaimStep
        | Rpc::ManualMatch
        | Rpc::Unmatch
        | Rpc::VoidEarning
        | Rpc::VoidStep
        | Rpc::VoidStatement
        | Rpc::ReplayWebhookDelivery => Code::FailedPrecondition,
        _ => Code::Ok,
    }
}

fn is_audit(rpc: Rpc) -> bool {
    matches!(
        rpc,
        Rpc::ListAuditEntries | Rpc::VerifyAuditChain | Rpc::ListAuditCheckpoints
    )
}

/// What each caller must get.
fn expected(caller: &str, rpc: Rpc) -> Code {
    match caller {
        "admin" => when_allowed(rpc),
        // What-ifs and the rules themselves are open to every authenticated caller.
        "auditor" | "firm_a" | "integrator_a" | "firm_b" | "integrator_b"
            if matches!(
                rpc,
                Rpc::SimulateAssessment | Rpc::ListRuleSets | Rpc::GetRuleSet
            ) =>
        {
            Code::Ok
        }
        "auditor" if is_write(rpc) => Code::PermissionDenied,
        "auditor" => Code::Ok,
        "firm_a" | "integrator_a" if rpc == Rpc::CreateParty || is_audit(rpc) => {
            Code::PermissionDenied
        }
        // Claim steps are the bank's to record, never the claimant's.
        "firm_a" if rpc == Rpc::RecordClaimStep => Code::PermissionDenied,
        "firm_a" | "integrator_a" => when_allowed(rpc),
        // Another firm: no rights, and A's records do not exist for it.
        "firm_b" | "integrator_b" => match rpc {
            Rpc::CreateParty
            | Rpc::CreateEarning
            | Rpc::BatchCreateEarnings
            | Rpc::CreateRepatriation
            | Rpc::ListAuditEntries
            | Rpc::VerifyAuditChain
            | Rpc::ListAuditCheckpoints
            | Rpc::ImportStatement
            | Rpc::RunMatching
            | Rpc::CreatePartyFact
            | Rpc::CreateWebhookEndpoint
            | Rpc::FileClaim => Code::PermissionDenied,
            Rpc::ListParties => Code::Ok,
            _ => Code::NotFound,
        },
        _ => Code::Unauthenticated,
    }
}

/// A third statement of party A, voided.
const STATEMENT_V: &str =
    "booking_date,direction,amount,currency,remittance\n2024-03-26,CREDIT,12.00,USD,mistake\n";

/// A second statement of party A: one credit nothing matches.
const STATEMENT_C: &str =
    "booking_date,direction,amount,currency,remittance\n2024-03-25,CREDIT,77.00,USD,unrelated\n";

/// An endpoint of `party`, once it has a delivery, deleted: its delivery
/// is dead with it.
async fn dead_delivery(admin: &Ch, party: &str) -> (String, String) {
    let mut hooks = WebhookServiceClient::new(admin.clone());
    let endpoint = hooks
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            request_id: rid(),
            party_id: party.to_string(),
            url: "https://hooks.invalid/d".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    EarningServiceClient::new(admin.clone())
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(party, "D-1", "1.00", "USD")),
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let delivery = loop {
        let found = hooks
            .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
                endpoint_id: endpoint.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .deliveries;
        if let Some(d) = found.into_iter().next() {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery was fanned out to the endpoint"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    hooks
        .delete_webhook_endpoint(pb::DeleteWebhookEndpointRequest {
            request_id: rid(),
            id: endpoint.id.clone(),
        })
        .await
        .unwrap();
    (endpoint.id, delivery.id)
}

/// A repatriation of party A, realized, assessed and claimed by `admin`.
struct Claimed {
    repatriation: String,
    /// Its BENEFICIARY_CREDITED step.
    step: String,
    assessment: String,
    claim: String,
}

async fn claimed_repatriation(admin: &Ch, party: &str) -> Claimed {
    let e = EarningServiceClient::new(admin.clone())
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(party, "C-1", "1000.00", "USD")),
        })
        .await
        .unwrap()
        .into_inner();
    let reps = RepatriationServiceClient::new(admin.clone());
    let r = reps
        .clone()
        .create_repatriation(pb::CreateRepatriationRequest {
            request_id: rid(),
            party_id: party.into(),
            allocations: vec![pb::Allocation {
                earning_id: e.id.clone(),
                amount: None,
            }],
            channel: pb::Channel::Bank as i32,
            payer_country: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut credit = step(
        &r.id,
        pb::StepKind::BeneficiaryCredited,
        "2024-03-20T04:00:00Z",
    );
    credit.amount = repat_tests::fixtures::money("1000.00", "USD");
    let mut convert = step(&r.id, pb::StepKind::ConvertedToBdt, "2024-03-20T05:00:00Z");
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110".into(),
    });
    let mut recorded = Vec::new();
    for s in [credit, convert] {
        let r = reps
            .clone()
            .record_step(pb::RecordStepRequest {
                request_id: rid(),
                step: Some(s),
            })
            .await
            .unwrap()
            .into_inner();
        recorded.push(r.step.unwrap().id);
    }
    let incentives = IncentiveServiceClient::new(admin.clone());
    let assessment = incentives
        .clone()
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of: repat_tests::fixtures::date(2024, 3, 21),
            documents: [
                "CONTRACT_OR_WORK_ORDER",
                "INVOICE",
                "PROCEEDS_REALIZATION_CERTIFICATE",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let claim = incentives
        .clone()
        .file_claim(pb::FileClaimRequest {
            request_id: rid(),
            party_id: party.into(),
            repatriation_ids: vec![r.id.clone()],
            file_time: repat_tests::fixtures::ts("2024-03-22T04:00:00Z"),
        })
        .await
        .unwrap()
        .into_inner();
    Claimed {
        repatriation: r.id,
        step: recorded.swap_remove(0),
        assessment: assessment.id,
        claim: claim.id,
    }
}

async fn matrix(backend: Backend) {
    let keys = KeyDir::new();
    let (private, public) = ed25519_pair();
    let verify = keys.write("verify.pem", &public);
    let Some(app) = spawn_with(backend, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify);
    })
    .await
    else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let minter = Minter::new(&private);
    let (wrong_private, _) = ed25519_pair();
    let wrong = Minter::new(&wrong_private);
    let bearer = |t: Option<String>| InterceptedService::new(app.channel.clone(), Bearer(t));

    let admin = bearer(Some(minter.token("ops@bank", Role::Admin, &[])));
    let party_a = PartyServiceClient::new(admin.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("A Ltd")),
        })
        .await
        .unwrap()
        .into_inner();
    let party_b = PartyServiceClient::new(admin.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("B Ltd")),
        })
        .await
        .unwrap()
        .into_inner();
    let a: uuid::Uuid = party_a.id.parse().unwrap();
    let b: uuid::Uuid = party_b.id.parse().unwrap();
    let e = EarningServiceClient::new(admin.clone())
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&party_a.id, "A-1", "1000.00", "USD")),
        })
        .await
        .unwrap()
        .into_inner();
    let r = RepatriationServiceClient::new(admin.clone())
        .create_repatriation(pb::CreateRepatriationRequest {
            request_id: rid(),
            party_id: party_a.id.clone(),
            allocations: vec![pb::Allocation {
                earning_id: e.id.clone(),
                amount: repat_tests::fixtures::money("500.00", "USD"),
            }],
            channel: pb::Channel::Bank as i32,
            payer_country: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let c = claimed_repatriation(&admin, &party_a.id).await;
    let statement_c = ReconciliationServiceClient::new(admin.clone())
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party_a.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: STATEMENT_C.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let statement_v = ReconciliationServiceClient::new(admin.clone())
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party_a.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: STATEMENT_V.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    ReconciliationServiceClient::new(admin.clone())
        .void_statement(pb::VoidStatementRequest {
            request_id: rid(),
            statement_id: statement_v.id.clone(),
            reason: "imported by mistake".into(),
        })
        .await
        .unwrap();
    let document_a = DocumentServiceClient::new(admin.clone())
        .create_document(pb::CreateDocumentRequest {
            request_id: rid(),
            document: Some(pb::Document {
                party_id: party_a.id.clone(),
                ..repat_tests::fixtures::document(pb::DocumentKind::ContractOrWorkOrder, "WO-A")
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let (endpoint_d, delivery_d) = dead_delivery(&admin, &party_a.id).await;
    let w = World {
        party_a: party_a.id.clone(),
        earning_a: e.id,
        repatriation_a: r.id,
        assessment_c: c.assessment,
        repatriation_c: c.repatriation,
        step_c: c.step,
        claim_c: c.claim,
        credit_c: statement_c.entries[0].id.clone(),
        statement_c: statement_c.id,
        statement_v: statement_v.id,
        document_a: document_a.id,
        endpoint_d,
        delivery_d,
    };

    let callers: Vec<(&str, Ch)> = vec![
        ("admin", admin.clone()),
        (
            "auditor",
            bearer(Some(minter.token("audit@firm", Role::Auditor, &[]))),
        ),
        (
            "firm_a",
            bearer(Some(minter.token("a@firm", Role::Firm, &[a]))),
        ),
        (
            "integrator_a",
            bearer(Some(minter.token("mw@bank", Role::Integrator, &[a, b]))),
        ),
        (
            "firm_b",
            bearer(Some(minter.token("b@firm", Role::Firm, &[b]))),
        ),
        (
            "integrator_b",
            bearer(Some(minter.token("other@bank", Role::Integrator, &[b]))),
        ),
        ("no token", bearer(None)),
        ("expired", bearer(Some(minter.expired("ops@bank")))),
        (
            "wrong key",
            bearer(Some(wrong.token("ops@bank", Role::Admin, &[]))),
        ),
        ("alg none", bearer(Some(alg_none_token()))),
    ];
    let mut failures = Vec::new();
    let mut n = 0;
    for (name, ch) in &callers {
        for rpc in ALL {
            n += 1;
            let (got, seen_of_a) = call(rpc, ch, &w, n).await;
            let want = expected(name, rpc);
            if got != want {
                failures.push(format!("{name} {rpc:?}: got {got:?}, want {want:?}"));
            }
            // A firm or integrator of B never sees A's records in a list.
            if name.ends_with("_b") && seen_of_a > 0 && matches!(rpc, Rpc::ListParties) {
                failures.push(format!("{name} {rpc:?} listed {seen_of_a} records of A"));
            }
        }
    }
    for m in served_but_untested(&admin).await {
        failures.push(format!(
            "{m} is served but missing from the authorization matrix"
        ));
    }
    assert!(
        failures.is_empty(),
        "authorization matrix on {backend:?}:\n{}",
        failures.join("\n")
    );

    // Lists without a filter are scoped to the caller's own party.
    let firm_b = bearer(Some(minter.token("b@firm", Role::Firm, &[b])));
    let mine = EarningServiceClient::new(firm_b.clone())
        .list_earnings(pb::ListEarningsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(mine.earnings.iter().all(|e| e.party_id == party_b.id));
    let mine = RepatriationServiceClient::new(firm_b)
        .list_repatriations(pb::ListRepatriationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(mine.repatriations.is_empty());

    // Claim steps are the bank's to record, never the claimant's.
    let reps = RepatriationServiceClient::new(admin.clone());
    let mut credit = step(
        &w.repatriation_a,
        pb::StepKind::BeneficiaryCredited,
        "2024-03-20T04:00:00Z",
    );
    credit.amount = repat_tests::fixtures::money("500.00", "USD");
    let mut convert = step(
        &w.repatriation_a,
        pb::StepKind::ConvertedToBdt,
        "2024-03-20T05:00:00Z",
    );
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110".into(),
    });
    for s in [credit, convert] {
        reps.clone()
            .record_step(pb::RecordStepRequest {
                request_id: rid(),
                step: Some(s),
            })
            .await
            .unwrap();
    }
    let incentives = |ch: &Ch| IncentiveServiceClient::new(ch.clone());
    incentives(&admin)
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: w.repatriation_a.clone(),
            as_of: repat_tests::fixtures::date(2024, 3, 21),
            documents: [
                "CONTRACT_OR_WORK_ORDER",
                "INVOICE",
                "PROCEEDS_REALIZATION_CERTIFICATE",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let firm_a = bearer(Some(minter.token("a@firm", Role::Firm, &[a])));
    let claim = incentives(&firm_a)
        .file_claim(pb::FileClaimRequest {
            request_id: rid(),
            party_id: party_a.id.clone(),
            repatriation_ids: vec![w.repatriation_a.clone()],
            file_time: repat_tests::fixtures::ts("2024-03-22T04:00:00Z"),
        })
        .await
        .expect("the firm files its own claim")
        .into_inner();
    let audited = || pb::RecordClaimStepRequest {
        request_id: rid(),
        claim_id: claim.id.clone(),
        kind: pb::ClaimStepKind::Audited as i32,
        occur_time: repat_tests::fixtures::ts("2024-04-01T04:00:00Z"),
        ..Default::default()
    };
    for (name, ch, want) in [
        ("firm_a", firm_a.clone(), Code::PermissionDenied),
        (
            "auditor",
            bearer(Some(minter.token("audit@firm", Role::Auditor, &[]))),
            Code::PermissionDenied,
        ),
        (
            "integrator_b",
            bearer(Some(minter.token("other@bank", Role::Integrator, &[b]))),
            Code::NotFound,
        ),
    ] {
        let got = incentives(&ch)
            .record_claim_step(audited())
            .await
            .unwrap_err()
            .code();
        assert_eq!(got, want, "{name} recording a claim step");
    }
    let bank = bearer(Some(minter.token("mw@bank", Role::Integrator, &[a, b])));
    let done = incentives(&bank)
        .record_claim_step(audited())
        .await
        .expect("the bank records the audit")
        .into_inner();
    assert_eq!(done.status, pb::ClaimStatus::Audited as i32);

    // A credit of A is matched and unmatched by hand only by those who act
    // for A; to others it does not exist.
    let recon = |ch: &Ch| ReconciliationServiceClient::new(ch.clone());
    let statement = recon(&admin)
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: w.party_a.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: STATEMENT_A.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let credit = statement.entries[0].id.clone();
    let manual = || pb::ManualMatchRequest {
        request_id: rid(),
        credit_id: credit.clone(),
        allocations: vec![pb::ManualAllocation {
            earning_id: w.earning_a.clone(),
            amount: repat_tests::fixtures::money("500.00", "USD"),
        }],
        note: String::new(),
    };
    let unmatch = || pb::UnmatchRequest {
        request_id: rid(),
        credit_id: credit.clone(),
        note: String::new(),
    };
    let auditor = bearer(Some(minter.token("audit@firm", Role::Auditor, &[])));
    let firm_b = bearer(Some(minter.token("b@firm", Role::Firm, &[b])));
    for (name, ch, want) in [
        ("auditor", auditor.clone(), Code::PermissionDenied),
        ("firm_b", firm_b.clone(), Code::NotFound),
    ] {
        assert_eq!(
            recon(&ch).manual_match(manual()).await.unwrap_err().code(),
            want,
            "{name} matching by hand"
        );
        assert_eq!(
            recon(&ch).unmatch(unmatch()).await.unwrap_err().code(),
            want,
            "{name} unmatching"
        );
    }
    recon(&firm_a)
        .manual_match(manual())
        .await
        .expect("the firm matches its own credit");
    recon(&bank)
        .unmatch(unmatch())
        .await
        .expect("its bank unmatches it");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_sqlite() {
    matrix(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_postgres() {
    matrix(Backend::Postgres).await;
}
