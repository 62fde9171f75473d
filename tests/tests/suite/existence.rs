//! No existence oracle: every path that names a record answers another
//! tenant's record exactly as one that does not exist (the same code, the
//! same message but for the id), with tokens required.

use futures::StreamExt;
use repat_api::auth::Role;
use repat_proto::v1 as pb;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::incentive_service_client::IncentiveServiceClient;
use repat_proto::v1::metrics_service_client::MetricsServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::reconciliation_service_client::ReconciliationServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use repat_tests::fixtures::{date, earning, firm, money, rid, step};
use repat_tests::security::{Bearer, KeyDir, Minter, ed25519_pair};
use repat_tests::{Backend, spawn_with};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Ch = InterceptedService<Channel, Bearer>;

mod another_tenants_records_are_absent {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::another_tenants_records_are_absent(repat_tests::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::another_tenants_records_are_absent(repat_tests::Backend::Postgres).await;
    }
}

/// The records a probe names: firm A's, or ids nothing has.
#[derive(Debug, Clone)]
struct Ids {
    party: String,
    earning: String,
    invoice_reference: String,
    repatriation: String,
    assessment: String,
    claim: String,
    statement: String,
    entry: String,
}

impl Ids {
    fn absent() -> Self {
        Ids {
            party: rid(),
            earning: rid(),
            invoice_reference: format!("INV-{}", rid()),
            repatriation: rid(),
            assessment: rid(),
            claim: rid(),
            statement: rid(),
            entry: rid(),
        }
    }

    /// `text` with each id replaced by its name, so answers about
    /// different ids compare.
    fn anonymize(&self, text: &str) -> String {
        [
            (&self.party, "PARTY"),
            (&self.earning, "EARNING"),
            (&self.invoice_reference, "REFERENCE"),
            (&self.repatriation, "REPATRIATION"),
            (&self.assessment, "ASSESSMENT"),
            (&self.claim, "CLAIM"),
            (&self.statement, "STATEMENT"),
            (&self.entry, "ENTRY"),
        ]
        .iter()
        .fold(text.to_string(), |t, (id, name)| {
            t.replace(id.as_str(), name)
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Probe {
    GetParty,
    CreateEarning,
    BatchCreateEarnings,
    GetEarning,
    ListEarnings,
    CreateRepatriation,
    GetRepatriation,
    ListRepatriationsByParty,
    ListRepatriationsByEarning,
    SearchRepatriations,
    RecordStep,
    BatchRecordSteps,
    WatchRepatriation,
    LookAtAssessment,
    AssessRepatriation,
    GetAssessment,
    ListAssessments,
    FileClaim,
    RecordClaimStep,
    GetClaim,
    ListClaims,
    GetIncentiveTotals,
    GetDelayStatistics,
    GetScorecard,
    ListDeadlineBreaches,
    ExportDurations,
    ImportStatement,
    GetStatement,
    RunMatching,
    ListMatchesByParty,
    ListMatchesByEarning,
    ListExceptions,
    ListRealizations,
    ManualMatch,
    Unmatch,
}

const PROBES: [Probe; 35] = [
    Probe::GetParty,
    Probe::CreateEarning,
    Probe::BatchCreateEarnings,
    Probe::GetEarning,
    Probe::ListEarnings,
    Probe::CreateRepatriation,
    Probe::GetRepatriation,
    Probe::ListRepatriationsByParty,
    Probe::ListRepatriationsByEarning,
    Probe::SearchRepatriations,
    Probe::RecordStep,
    Probe::BatchRecordSteps,
    Probe::WatchRepatriation,
    Probe::LookAtAssessment,
    Probe::AssessRepatriation,
    Probe::GetAssessment,
    Probe::ListAssessments,
    Probe::FileClaim,
    Probe::RecordClaimStep,
    Probe::GetClaim,
    Probe::ListClaims,
    Probe::GetIncentiveTotals,
    Probe::GetDelayStatistics,
    Probe::GetScorecard,
    Probe::ListDeadlineBreaches,
    Probe::ExportDurations,
    Probe::ImportStatement,
    Probe::GetStatement,
    Probe::RunMatching,
    Probe::ListMatchesByParty,
    Probe::ListMatchesByEarning,
    Probe::ListExceptions,
    Probe::ListRealizations,
    Probe::ManualMatch,
    Probe::Unmatch,
];

/// A statement of one credit, in the CSV format.
const STATEMENT: &str =
    "booking_date,direction,amount,currency,remittance\n2024-03-20,CREDIT,100.00,USD,payout\n";

/// The answer to a probe: its code and message, or on success what came
/// back (how many records).
type Answer = (Code, String);

fn answer<T>(r: Result<T, tonic::Status>, ok: impl FnOnce(T) -> String) -> Answer {
    match r {
        Ok(v) => (Code::Ok, ok(v)),
        Err(s) => (s.code(), s.message().to_string()),
    }
}

/// The answer to the first item of a batch.
async fn first_item(
    r: Result<tonic::Response<tonic::Streaming<pb::BatchItemResult>>, tonic::Status>,
) -> Answer {
    match r {
        Ok(stream) => match stream.into_inner().next().await {
            Some(Ok(i)) => (Code::from(i.code), i.message),
            Some(Err(s)) => (s.code(), s.message().to_string()),
            None => (Code::Ok, "no result".into()),
        },
        Err(s) => (s.code(), s.message().to_string()),
    }
}

/// Asks, as `ch` (firm B, acting for `own`), about the records `ids`.
async fn ask(probe: Probe, ch: &Ch, own: &str, ids: &Ids) -> Answer {
    let parties = || PartyServiceClient::new(ch.clone());
    let earnings = || EarningServiceClient::new(ch.clone());
    let reps = || RepatriationServiceClient::new(ch.clone());
    let incentives = || IncentiveServiceClient::new(ch.clone());
    let metrics = || MetricsServiceClient::new(ch.clone());
    let recon = || ReconciliationServiceClient::new(ch.clone());
    let count = |n: usize| format!("{n} records");
    let new_step = || pb::RecordStepRequest {
        request_id: rid(),
        step: Some(step(
            &ids.repatriation,
            pb::StepKind::IntermediaryProcessed,
            "2024-03-05T00:00:00Z",
        )),
    };
    let new_earning = || pb::CreateEarningRequest {
        request_id: rid(),
        earning: Some(earning(&ids.party, "PROBE-1", "10.00", "USD")),
    };
    match probe {
        Probe::GetParty => answer(
            parties()
                .get_party(pb::GetPartyRequest {
                    id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |_| "a party".into(),
        ),
        Probe::CreateEarning => answer(earnings().create_earning(new_earning()).await, |_| {
            "created".into()
        }),
        Probe::BatchCreateEarnings => {
            first_item(
                earnings()
                    .batch_create_earnings(futures::stream::iter(vec![new_earning()]))
                    .await,
            )
            .await
        }
        Probe::GetEarning => answer(
            earnings()
                .get_earning(pb::GetEarningRequest {
                    id: ids.earning.clone(),
                })
                .await,
            |_| "an earning".into(),
        ),
        Probe::ListEarnings => answer(
            earnings()
                .list_earnings(pb::ListEarningsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().earnings.len()),
        ),
        Probe::CreateRepatriation => answer(
            reps()
                .create_repatriation(pb::CreateRepatriationRequest {
                    request_id: rid(),
                    party_id: own.into(),
                    allocations: vec![pb::Allocation {
                        earning_id: ids.earning.clone(),
                        amount: None,
                    }],
                    channel: pb::Channel::Bank as i32,
                    payer_country: String::new(),
                })
                .await,
            |_| "created".into(),
        ),
        Probe::GetRepatriation => answer(
            reps()
                .get_repatriation(pb::GetRepatriationRequest {
                    id: ids.repatriation.clone(),
                })
                .await,
            |_| "a repatriation".into(),
        ),
        Probe::ListRepatriationsByParty => answer(
            reps()
                .list_repatriations(pb::ListRepatriationsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().repatriations.len()),
        ),
        Probe::ListRepatriationsByEarning => answer(
            reps()
                .list_repatriations(pb::ListRepatriationsRequest {
                    earning_id: ids.earning.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().repatriations.len()),
        ),
        Probe::SearchRepatriations => answer(
            reps()
                .search_repatriations(pb::SearchRepatriationsRequest {
                    invoice_reference: ids.invoice_reference.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().repatriations.len()),
        ),
        Probe::RecordStep => answer(reps().record_step(new_step()).await, |_| "recorded".into()),
        Probe::BatchRecordSteps => {
            first_item(
                reps()
                    .batch_record_steps(futures::stream::iter(vec![new_step()]))
                    .await,
            )
            .await
        }
        Probe::WatchRepatriation => match reps()
            .watch_repatriation(pb::WatchRepatriationRequest {
                id: ids.repatriation.clone(),
            })
            .await
        {
            Ok(stream) => match stream.into_inner().next().await {
                Some(Ok(_)) => (Code::Ok, "an event".into()),
                Some(Err(s)) => (s.code(), s.message().to_string()),
                None => (Code::Ok, "no event".into()),
            },
            Err(s) => (s.code(), s.message().to_string()),
        },
        Probe::LookAtAssessment | Probe::AssessRepatriation => answer(
            incentives()
                .assess_repatriation(pb::AssessRepatriationRequest {
                    request_id: rid(),
                    repatriation_id: ids.repatriation.clone(),
                    validate_only: matches!(probe, Probe::LookAtAssessment),
                    ..Default::default()
                })
                .await,
            |_| "an assessment".into(),
        ),
        Probe::GetAssessment => answer(
            incentives()
                .get_assessment(pb::GetAssessmentRequest {
                    id: ids.assessment.clone(),
                })
                .await,
            |_| "an assessment".into(),
        ),
        Probe::ListAssessments => answer(
            incentives()
                .list_assessments(pb::ListAssessmentsRequest {
                    repatriation_id: ids.repatriation.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().assessments.len()),
        ),
        Probe::FileClaim => answer(
            incentives()
                .file_claim(pb::FileClaimRequest {
                    request_id: rid(),
                    party_id: own.into(),
                    repatriation_ids: vec![ids.repatriation.clone()],
                    file_time: repat_tests::fixtures::ts("2024-03-26T00:00:00Z"),
                })
                .await,
            |_| "filed".into(),
        ),
        Probe::RecordClaimStep => answer(
            incentives()
                .record_claim_step(pb::RecordClaimStepRequest {
                    request_id: rid(),
                    claim_id: ids.claim.clone(),
                    kind: pb::ClaimStepKind::Audited as i32,
                    occur_time: repat_tests::fixtures::ts("2024-03-27T00:00:00Z"),
                    ..Default::default()
                })
                .await,
            |_| "recorded".into(),
        ),
        Probe::GetClaim => answer(
            incentives()
                .get_claim(pb::GetClaimRequest {
                    id: ids.claim.clone(),
                })
                .await,
            |_| "a claim".into(),
        ),
        Probe::ListClaims => answer(
            incentives()
                .list_claims(pb::ListClaimsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().claims.len()),
        ),
        Probe::GetIncentiveTotals => answer(
            incentives()
                .get_incentive_totals(pb::GetIncentiveTotalsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().totals.len()),
        ),
        Probe::GetDelayStatistics => answer(
            metrics()
                .get_delay_statistics(pb::GetDelayStatisticsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().groups.len()),
        ),
        Probe::GetScorecard => answer(
            metrics()
                .get_scorecard(pb::GetScorecardRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().entries.len()),
        ),
        Probe::ListDeadlineBreaches => answer(
            metrics()
                .list_deadline_breaches(pb::ListDeadlineBreachesRequest {
                    kind: pb::BreachKind::RepatriationLate as i32,
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().breaches.len()),
        ),
        Probe::ExportDurations => match metrics()
            .export_durations(pb::ExportDurationsRequest {
                party_id: ids.party.clone(),
                ..Default::default()
            })
            .await
        {
            Ok(stream) => {
                let items: Vec<_> = stream.into_inner().collect().await;
                match items.into_iter().find_map(Result::err) {
                    Some(s) => (s.code(), s.message().to_string()),
                    None => (Code::Ok, "exported".into()),
                }
            }
            Err(s) => (s.code(), s.message().to_string()),
        },
        Probe::ImportStatement => answer(
            recon()
                .import_statement(pb::ImportStatementRequest {
                    request_id: rid(),
                    party_id: ids.party.clone(),
                    format: pb::StatementFormat::Csv as i32,
                    content: STATEMENT.into(),
                    ..Default::default()
                })
                .await,
            |_| "imported".into(),
        ),
        Probe::GetStatement => answer(
            recon()
                .get_statement(pb::GetStatementRequest {
                    id: ids.statement.clone(),
                })
                .await,
            |_| "a statement".into(),
        ),
        Probe::RunMatching => answer(
            recon()
                .run_matching(pb::RunMatchingRequest {
                    request_id: rid(),
                    party_id: ids.party.clone(),
                })
                .await,
            |_| "ran".into(),
        ),
        Probe::ListMatchesByParty | Probe::ListMatchesByEarning => {
            let by_party = matches!(probe, Probe::ListMatchesByParty);
            answer(
                recon()
                    .list_matches(pb::ListMatchesRequest {
                        party_id: if by_party {
                            ids.party.clone()
                        } else {
                            String::new()
                        },
                        earning_id: if by_party {
                            String::new()
                        } else {
                            ids.earning.clone()
                        },
                        ..Default::default()
                    })
                    .await,
                |r| count(r.into_inner().matches.len()),
            )
        }
        Probe::ListExceptions => answer(
            recon()
                .list_exceptions(pb::ListExceptionsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().exceptions.len()),
        ),
        Probe::ListRealizations => answer(
            recon()
                .list_realizations(pb::ListRealizationsRequest {
                    party_id: ids.party.clone(),
                    ..Default::default()
                })
                .await,
            |r| count(r.into_inner().realizations.len()),
        ),
        Probe::ManualMatch => answer(
            recon()
                .manual_match(pb::ManualMatchRequest {
                    request_id: rid(),
                    credit_id: ids.entry.clone(),
                    allocations: vec![pb::ManualAllocation {
                        earning_id: ids.earning.clone(),
                        amount: money("100.00", "USD"),
                    }],
                    note: "probe".into(),
                })
                .await,
            |_| "matched".into(),
        ),
        Probe::Unmatch => answer(
            recon()
                .unmatch(pb::UnmatchRequest {
                    request_id: rid(),
                    credit_id: ids.entry.clone(),
                    note: "probe".into(),
                })
                .await,
            |_| "unmatched".into(),
        ),
    }
}

/// Firm A's records, every kind a path can name, made by an administrator.
async fn firm_a_records(admin: &Ch) -> Ids {
    let party = PartyServiceClient::new(admin.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("A Ltd")),
        })
        .await
        .unwrap()
        .into_inner();
    let reference = format!("A-{}", rid());
    let e = EarningServiceClient::new(admin.clone())
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&party.id, &reference, "100.00", "USD")),
        })
        .await
        .unwrap()
        .into_inner();
    let mut reps = RepatriationServiceClient::new(admin.clone());
    let r = reps
        .create_repatriation(pb::CreateRepatriationRequest {
            request_id: rid(),
            party_id: party.id.clone(),
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
    let mut credited = step(
        &r.id,
        pb::StepKind::BeneficiaryCredited,
        "2024-03-20T04:00:00Z",
    );
    credited.amount = money("100.00", "USD");
    let mut converted = step(&r.id, pb::StepKind::ConvertedToBdt, "2024-03-20T05:00:00Z");
    converted.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110.00".into(),
    });
    for s in [credited, converted] {
        reps.record_step(pb::RecordStepRequest {
            request_id: rid(),
            step: Some(s),
        })
        .await
        .unwrap();
    }
    let mut incentives = IncentiveServiceClient::new(admin.clone());
    let assessment = incentives
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of: date(2024, 3, 25),
            // The papers a claim needs, held by the firm.
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
        .file_claim(pb::FileClaimRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            repatriation_ids: vec![r.id.clone()],
            file_time: repat_tests::fixtures::ts("2024-03-25T00:00:00Z"),
        })
        .await
        .unwrap()
        .into_inner();
    let statement = ReconciliationServiceClient::new(admin.clone())
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: STATEMENT.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    Ids {
        party: party.id,
        earning: e.id,
        invoice_reference: reference,
        repatriation: r.id,
        assessment: assessment.id,
        claim: claim.id,
        statement: statement.id,
        entry: statement.entries[0].id.clone(),
    }
}

async fn another_tenants_records_are_absent(backend: Backend) {
    let keys = KeyDir::new();
    let (private, public) = ed25519_pair();
    let verify = keys.write("verify.pem", &public);
    let Some(app) = spawn_with(backend, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify);
    })
    .await
    else {
        return;
    };
    let minter = Minter::new(&private);
    let as_ = |token: String| InterceptedService::new(app.channel.clone(), Bearer(Some(token)));
    let admin = as_(minter.token("ops@bank", Role::Admin, &[]));
    let theirs = firm_a_records(&admin).await;
    let b = PartyServiceClient::new(admin.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("B Ltd")),
        })
        .await
        .unwrap()
        .into_inner();
    let firm_b = as_(minter.token("b@firm", Role::Firm, &[b.id.parse().unwrap()]));

    let mut not_found = 0;
    for probe in PROBES {
        let absent = Ids::absent();
        let (code_a, message_a) = ask(probe, &firm_b, &b.id, &theirs).await;
        let (code_x, message_x) = ask(probe, &firm_b, &b.id, &absent).await;
        assert_eq!(
            (code_a, theirs.anonymize(&message_a)),
            (code_x, absent.anonymize(&message_x)),
            "{probe:?}: firm A's records answered otherwise than absent ones"
        );
        if code_a == Code::NotFound {
            not_found += 1;
        }
    }
    // The paths that name one record by its id say it is not found.
    assert!(not_found >= 17, "{not_found} paths answered NOT_FOUND");
    app.finish().await;
}
