use repat_api::auth::Role;
use repat_proto::v1 as pb;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_tests::security::{Bearer, KeyDir, Minter, TestCa, ed25519_pair};
use repat_tests::{Backend, spawn_with};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

async fn connect(
    addr: std::net::SocketAddr,
    tls: ClientTlsConfig,
) -> Result<Vec<pb::Party>, String> {
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))?;
    PartyServiceClient::new(channel)
        .list_parties(pb::ListPartiesRequest::default())
        .await
        .map(|r| r.into_inner().parties)
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    let keys = KeyDir::new();
    let ca = TestCa::new("repat test CA");
    let (cert, key) = ca.issue("localhost", &["localhost", "127.0.0.1"]);
    let (cert, key, ca_file) = (
        keys.write("server.pem", &cert),
        keys.write("server.key", &key),
        keys.write("ca.pem", &ca.cert_pem),
    );

    // TLS: a client that trusts the CA connects; one that does not is refused.
    let app = spawn_with(Backend::Sqlite, |s| {
        s.tls_cert_file = Some(cert.clone());
        s.tls_key_file = Some(key.clone());
    })
    .await
    .unwrap();
    let trusted = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.cert_pem))
        .domain_name("localhost");
    connect(app.server.addr, trusted.clone())
        .await
        .expect("a client trusting the CA connects");
    let stranger = TestCa::new("another CA");
    let untrusted = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&stranger.cert_pem))
        .domain_name("localhost");
    assert!(
        connect(app.server.addr, untrusted).await.is_err(),
        "a client not trusting the CA is refused"
    );
    // Plain TCP to a TLS server gets nowhere.
    let plain = Channel::from_shared(format!("http://{}", app.server.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(ch) = plain {
        assert!(
            PartyServiceClient::new(ch)
                .list_parties(pb::ListPartiesRequest::default())
                .await
                .is_err()
        );
    }
    app.finish().await;

    // Mutual TLS: a client without a certificate is refused; one with a
    // certificate from the client CA is served.
    let client_ca = TestCa::new("integrators CA");
    let client_ca_file = keys.write("client-ca.pem", &client_ca.cert_pem);
    let app = spawn_with(Backend::Sqlite, |s| {
        s.tls_cert_file = Some(cert);
        s.tls_key_file = Some(key);
        s.tls_client_ca_file = Some(client_ca_file);
    })
    .await
    .unwrap();
    assert!(
        connect(app.server.addr, trusted.clone()).await.is_err(),
        "no client certificate, no service"
    );
    let (client_cert, client_key) = client_ca.issue("integrator-bank-1", &["integrator-bank-1"]);
    let with_identity = trusted
        .clone()
        .identity(Identity::from_pem(&client_cert, &client_key));
    connect(app.server.addr, with_identity)
        .await
        .expect("a client with a certificate from the client CA connects");
    let _ = ca_file;
    app.finish().await;

    // With tokens over mutual TLS, a token is honoured only from the client
    // its subject names.
    let (private, public) = ed25519_pair();
    let verify = keys.write("verify.pem", &public);
    let (cert, key) = (keys.dir.join("server.pem"), keys.dir.join("server.key"));
    let client_ca_file = keys.dir.join("client-ca.pem");
    let app = spawn_with(Backend::Sqlite, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify);
        s.tls_cert_file = Some(cert);
        s.tls_key_file = Some(key);
        s.tls_client_ca_file = Some(client_ca_file);
    })
    .await
    .unwrap();
    let minter = Minter::new(&private);
    let tls = trusted.identity(Identity::from_pem(&client_cert, &client_key));
    let channel = Channel::from_shared(format!("https://{}", app.server.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let call = |token: String| {
        let channel = channel.clone();
        async move {
            let mut client = PartyServiceClient::with_interceptor(channel, Bearer(Some(token)));
            client
                .list_parties(pb::ListPartiesRequest::default())
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    };
    assert_eq!(
        call(minter.token("integrator-bank-1", Role::Auditor, &[])).await,
        Ok(())
    );
    assert_eq!(
        call(minter.token("someone-else", Role::Auditor, &[])).await,
        Err(tonic::Code::Unauthenticated)
    );
    app.finish().await;
}

/// A server serving TLS answers probes on its plaintext health-only
/// listener, which serves health and nothing else; `repatd health-check`
/// asks there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_reach_a_tls_server_on_the_plaintext_health_listener() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let keys = KeyDir::new();
    let ca = TestCa::new("repat test CA");
    let (cert, key) = ca.issue("localhost", &["localhost", "127.0.0.1"]);
    let (cert, key) = (
        keys.write("server.pem", &cert),
        keys.write("server.key", &key),
    );
    let mut settings = None;
    let app = spawn_with(Backend::Sqlite, |s| {
        s.tls_cert_file = Some(cert);
        s.tls_key_file = Some(key);
        s.health_listen = Some("127.0.0.1:0".parse().unwrap());
        settings = Some(s.clone());
    })
    .await
    .unwrap();
    let health_addr = app
        .server
        .health_addr
        .expect("the health listener is bound");
    assert_ne!(health_addr, app.server.addr);

    let plain = Channel::from_shared(format!("http://{health_addr}"))
        .unwrap()
        .connect()
        .await
        .expect("plaintext to the health port");
    for service in ["", "liveness", "repat.v1.PartyService"] {
        let status = HealthClient::new(plain.clone())
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    let other = PartyServiceClient::new(plain.clone())
        .list_parties(pb::ListPartiesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        other.code(),
        tonic::Code::Unimplemented,
        "the health port serves nothing else"
    );

    // `repatd health-check` with the server's settings asks the health port.
    let mut settings = settings.unwrap();
    settings.health_listen = Some(health_addr);
    repatd::health::check(&settings, std::time::Duration::from_secs(3))
        .await
        .expect("health-check over the health listener");
    settings.health_listen = None;
    let refused = repatd::health::check(&settings, std::time::Duration::from_secs(3))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("health_listen"), "{refused}");
    app.finish().await;
}
