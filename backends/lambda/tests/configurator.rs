//! The Lambda configurator against a loopback server that answers like Lambda Cloud's API
//! (`GET /api/v1/instance-types`, Bearer auth, `{"error": {...}}` bodies).

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use dstack_backend_lambda::LambdaConfigurator;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendConfigWithCreds;
use dstack_core::config::load::from_yaml;
use dstack_core::{Configurator, ErrorKind};

/// A fake Lambda API: key `GOOD` is valid, `BROKEN` makes it fail with a 500.
async fn fake_lambda() -> String {
    async fn instance_types(headers: HeaderMap) -> (StatusCode, String) {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer GOOD") => (
                StatusCode::OK,
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": 75}, "regions_with_capacity_available": []}}}"#.to_owned(),
            ),
            Some("Bearer BROKEN") => (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error": {"code": "global/unknown", "message": "Something went wrong"}}"#.to_owned(),
            ),
            _ => (
                StatusCode::UNAUTHORIZED,
                r#"{"error": {"code": "global/invalid-api-key", "message": "API key was invalid, expired, or deleted."}}"#.to_owned(),
            ),
        }
    }
    let app = Router::new().route("/api/v1/instance-types", get(instance_types));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/v1")
}

fn lambda(key: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: lambda\nregions: [us-east-1]\ncreds: {{api_key: {key}}}\n")).unwrap()
}

#[tokio::test]
async fn a_valid_key_passes_and_round_trips_through_the_record() {
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await);
    let config = lambda("GOOD");
    configurator.validate_config(&config, &ValidationContext::default()).await.unwrap();
    let record = configurator.create_backend("main", config.clone()).await.unwrap();
    assert_eq!(record.config, r#"{"type":"lambda","regions":["us-east-1"]}"#);
    assert!(!record.config.contains("GOOD"));
    assert_eq!(record.auth.expose(), r#"{"type":"api_key","api_key":"GOOD"}"#);
    assert_eq!(configurator.config_with_creds(&record).unwrap(), config);
    assert_eq!(
        configurator.config_without_creds(&record).unwrap(),
        serde_json::json!({"type": "lambda", "regions": ["us-east-1"]})
    );
    let backend = configurator.backend(&record).await.unwrap();
    let err = backend.compute().offers(&Default::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn a_refused_key_is_invalid_credentials_on_api_key() {
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await);
    let err = configurator
        .validate_config(&lambda("BAD"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
}

#[tokio::test]
async fn server_errors_and_unreachable_apis_are_temporary() {
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await);
    let err = configurator
        .validate_config(&lambda("BROKEN"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.message().contains("Something went wrong"), "{}", err.message());
    assert!(!err.message().contains("BROKEN"), "the key must not appear: {}", err.message());

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let configurator = LambdaConfigurator::with_base_url(format!("http://{closed}/api/v1"));
    let err = configurator
        .validate_config(&lambda("SECRETKEY"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(!err.message().contains("SECRETKEY"));
}
