use repat_tests::{TestApp, on_both_backends};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

on_both_backends!(health_reports_serving);

async fn health_reports_serving(app: &TestApp) {
    let mut health = HealthClient::new(app.channel.clone());
    for service in [
        "",
        "repat.v1.RepatriationService",
        "repat.v1.ReconciliationService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}
