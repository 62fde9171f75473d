//! What one tenant can learn of another, and what bad bytes get back, with
//! tokens required.

use futures::StreamExt;
use repat_api::auth::Role;
use repat_proto::v1 as pb;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use repat_tests::fixtures::{earning, firm, rid};
use repat_tests::security::{Bearer, KeyDir, Minter, ed25519_pair};
use repat_tests::{Backend, spawn_with};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;

/// Runs each `async fn(Backend)` on SQLite and on PostgreSQL (skipped
/// without a PostgreSQL server, as everywhere in the suite).
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(repat_tests::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(repat_tests::Backend::Postgres).await;
                }
            }
        )+
    };
}

on_both!(
    two_firms_racing_one_request_id_both_succeed,
    another_tenants_earning_is_not_found,
    a_firm_pages_its_parties,
    bad_bytes_are_the_clients_error
);

/// A server requiring tokens, with a minter for them.
async fn with_tokens(backend: Backend) -> Option<(repat_tests::TestApp, Minter, KeyDir)> {
    let keys = KeyDir::new();
    let (private, public) = ed25519_pair();
    let verify = keys.write("verify.pem", &public);
    let app = spawn_with(backend, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify);
    })
    .await?;
    Some((app, Minter::new(&private), keys))
}

fn as_(
    app: &repat_tests::TestApp,
    token: String,
) -> InterceptedService<tonic::transport::Channel, Bearer> {
    InterceptedService::new(app.channel.clone(), Bearer(Some(token)))
}

async fn create_party(
    admin: &InterceptedService<tonic::transport::Channel, Bearer>,
    name: &str,
) -> pb::Party {
    PartyServiceClient::new(admin.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm(name)),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Request ids are scoped by tenant: two firms sending the same derived
/// request id at once (as `repatctl` derives them from public parts) each
/// create their own records, and a colleague of a firm repeating its
/// request gets the firm's record back.
async fn two_firms_racing_one_request_id_both_succeed(backend: Backend) {
    let Some((app, minter, _keys)) = with_tokens(backend).await else {
        return;
    };
    let admin = as_(&app, minter.token("ops@bank", Role::Admin, &[]));
    let (a, b) = (
        create_party(&admin, "A Ltd").await,
        create_party(&admin, "B Ltd").await,
    );
    let firm_a = as_(
        &app,
        minter.token("a@firm", Role::Firm, &[a.id.parse().unwrap()]),
    );
    let firm_b = as_(
        &app,
        minter.token("b@firm", Role::Firm, &[b.id.parse().unwrap()]),
    );
    let shared = rid();
    let create = |ch: InterceptedService<tonic::transport::Channel, Bearer>, party: String| {
        let request_id = shared.clone();
        async move {
            EarningServiceClient::new(ch)
                .create_earning(pb::CreateEarningRequest {
                    request_id,
                    earning: Some(earning(&party, "INV-2026-0042", "100.00", "USD")),
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    // Several racing sends of each firm's request, interleaved.
    let calls = (0..8).map(|n| {
        let (ch, party) = if n % 2 == 0 {
            (firm_a.clone(), a.id.clone())
        } else {
            (firm_b.clone(), b.id.clone())
        };
        create(ch, party)
    });
    let results = futures::future::join_all(calls).await;
    let mut of_a = Vec::new();
    let mut of_b = Vec::new();
    for (n, r) in results.into_iter().enumerate() {
        let e = r.unwrap_or_else(|s| panic!("call {n}: {s:?}"));
        if n % 2 == 0 {
            of_a.push(e)
        } else {
            of_b.push(e)
        }
    }
    assert!(of_a.iter().all(|e| *e == of_a[0] && e.party_id == a.id));
    assert!(of_b.iter().all(|e| *e == of_b[0] && e.party_id == b.id));
    assert_ne!(of_a[0].id, of_b[0].id);

    // B having taken the id first does not stop A's later request either.
    let later = rid();
    for (ch, party) in [(&firm_b, &b.id), (&firm_a, &a.id)] {
        EarningServiceClient::new(ch.clone())
            .create_earning(pb::CreateEarningRequest {
                request_id: later.clone(),
                earning: Some(earning(party, "INV-2026-0043", "50.00", "USD")),
            })
            .await
            .unwrap();
    }

    // A colleague at A repeating A's request is a retry: A's record.
    let colleague = as_(
        &app,
        minter.token("books@firm", Role::Firm, &[a.id.parse().unwrap()]),
    );
    let again = create(colleague, a.id.clone()).await.unwrap();
    assert_eq!(again, of_a[0]);

    // Steps too: each firm's journey gets its step under the one id.
    let step_id = rid();
    for (ch, party, e) in [(&firm_a, &a.id, &of_a[0]), (&firm_b, &b.id, &of_b[0])] {
        let r = RepatriationServiceClient::new(ch.clone())
            .create_repatriation(pb::CreateRepatriationRequest {
                request_id: shared.clone(),
                party_id: party.clone(),
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
        RepatriationServiceClient::new(ch.clone())
            .record_step(pb::RecordStepRequest {
                request_id: step_id.clone(),
                step: Some(repat_tests::fixtures::step(
                    &r.id,
                    pb::StepKind::PaymentInitiated,
                    "2024-03-02T09:00:00Z",
                )),
            })
            .await
            .unwrap();
    }
    app.finish().await;
}

/// Allocating another firm's earning is answered exactly as allocating one
/// that does not exist.
async fn another_tenants_earning_is_not_found(backend: Backend) {
    let Some((app, minter, _keys)) = with_tokens(backend).await else {
        return;
    };
    let admin = as_(&app, minter.token("ops@bank", Role::Admin, &[]));
    let (a, b) = (
        create_party(&admin, "A Ltd").await,
        create_party(&admin, "B Ltd").await,
    );
    let a_earning = EarningServiceClient::new(admin.clone())
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&a.id, "A-1", "100.00", "USD")),
        })
        .await
        .unwrap()
        .into_inner();
    let firm_b = as_(
        &app,
        minter.token("b@firm", Role::Firm, &[b.id.parse().unwrap()]),
    );
    let open = |earning_id: String| {
        let mut c = RepatriationServiceClient::new(firm_b.clone());
        let party_id = b.id.clone();
        async move {
            c.create_repatriation(pb::CreateRepatriationRequest {
                request_id: rid(),
                party_id,
                allocations: vec![pb::Allocation {
                    earning_id,
                    amount: None,
                }],
                channel: pb::Channel::Bank as i32,
                payer_country: String::new(),
            })
            .await
            .unwrap_err()
        }
    };
    let theirs = open(a_earning.id.clone()).await;
    let absent_id = uuid::Uuid::new_v4().to_string();
    let absent = open(absent_id.clone()).await;
    assert_eq!(
        (theirs.code(), absent.code()),
        (Code::NotFound, Code::NotFound),
        "{theirs:?} {absent:?}"
    );
    assert_eq!(
        theirs.message().replace(&a_earning.id, "ID"),
        absent.message().replace(&absent_id, "ID")
    );
    app.finish().await;
}

/// A firm's list of its parties honours page_size and page_token, like an
/// administrator's, and refuses a bad one.
async fn a_firm_pages_its_parties(backend: Backend) {
    let Some((app, minter, _keys)) = with_tokens(backend).await else {
        return;
    };
    let admin = as_(&app, minter.token("ops@bank", Role::Admin, &[]));
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            create_party(&admin, &format!("Group {n} Ltd"))
                .await
                .id
                .parse::<uuid::Uuid>()
                .unwrap(),
        );
    }
    let integrator = as_(&app, minter.token("mw@bank", Role::Integrator, &ids));
    let mut client = PartyServiceClient::new(integrator);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_parties(pb::ListPartiesRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.parties.len() <= 2);
        seen.extend(page.parties.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut want: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
    let bad = client
        .list_parties(pb::ListPartiesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let bad = client
        .list_parties(pb::ListPartiesRequest {
            page_token: "forged".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    app.finish().await;
}

/// A NUL byte is INVALID_ARGUMENT on both backends, and in a batch only
/// its item fails; a huge bad value is not echoed back whole, and many bad
/// values are reported up to a bound.
async fn bad_bytes_are_the_clients_error(backend: Backend) {
    let Some((app, minter, _keys)) = with_tokens(backend).await else {
        return;
    };
    let admin = as_(&app, minter.token("ops@bank", Role::Admin, &[]));
    let party = create_party(&admin, "Bytes Ltd").await;
    let mut earnings = EarningServiceClient::new(admin.clone());

    let mut nul = earning(&party.id, "INV-\0-1", "100.00", "USD");
    let err = earnings
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(nul.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("earning.invoice_reference") && err.message().contains("NUL"),
        "{}",
        err.message()
    );

    nul.client_name = "Nul\0 AB".into();
    let items = vec![
        pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&party.id, "INV-OK-1", "100.00", "USD")),
        },
        pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(nul),
        },
        pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&party.id, "INV-OK-2", "100.00", "USD")),
        },
    ];
    let results: Vec<pb::BatchItemResult> = earnings
        .batch_create_earnings(futures::stream::iter(items))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(
        results.iter().map(|r| r.code).collect::<Vec<_>>(),
        [0, Code::InvalidArgument as i32, 0]
    );

    let mut huge = earning(&party.id, "INV-BIG", "100.00", "USD");
    huge.client_country = "X".repeat(1 << 20);
    let err = earnings
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(huge),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().len() < 1024,
        "{} bytes of message",
        err.message().len()
    );

    let mut many = pb::CreatePartyRequest {
        request_id: rid(),
        party: Some(firm("Many Ltd")),
    };
    many.party.as_mut().unwrap().bank_accounts = (0..10_000)
        .map(|_| pb::BankAccount {
            bank_bic: "?".repeat(200),
            account_number: String::new(),
            currency: "???".into(),
            ..Default::default()
        })
        .collect();
    let err = PartyServiceClient::new(admin.clone())
        .create_party(many)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    use tonic_types::StatusExt;
    let details = err
        .get_details_bad_request()
        .expect("field violations in the details");
    assert!(
        details.field_violations.len() <= repat_api::MAX_VIOLATIONS + 1,
        "{}",
        details.field_violations.len()
    );
    assert!(
        details
            .field_violations
            .last()
            .unwrap()
            .description
            .contains("more violations not listed")
    );
    app.finish().await;
}

/// Bytes that are not a protobuf message of the request's type are the
/// client's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_requests_are_invalid_argument() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(app.channel.clone());
    grpc.ready().await.unwrap();
    // A length-delimited field 1 that claims more bytes than follow.
    let garbage: Vec<u8> = vec![0x0a, 0x7f, 0x01, 0x02];
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/repat.v1.PartyService/CreateParty");
    let err = grpc
        .unary::<Vec<u8>, Vec<u8>, _>(tonic::Request::new(garbage), path, RawCodec)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    app.finish().await;
}

/// Sends and receives raw bytes, whatever they are.
#[derive(Clone, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
