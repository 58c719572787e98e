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
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": 75}, "regions_with_capacity_available": []}, "gpu_1x_a100": {"instance_type": {"name": "gpu_1x_a100"}, "regions_with_capacity_available": [{"name": "us-east-1", "description": "Virginia, USA"}]}}}"#.to_owned(),
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

/// A catalog with no files: offers come out empty.
fn no_catalog() -> std::sync::Arc<dstack_catalog::Catalog> {
    let dir = std::env::temp_dir().join("dstack-lambda-tests-empty-catalog");
    std::fs::create_dir_all(&dir).unwrap();
    std::sync::Arc::new(dstack_catalog::Catalog::new(
        dstack_catalog::Source::PlainDirectory(dir),
        None,
    ))
}

fn lambda(key: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: lambda\nregions: [us-east-1]\ncreds: {{api_key: {key}}}\n")).unwrap()
}

#[tokio::test]
async fn a_valid_key_passes_and_round_trips_through_the_record() {
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await, no_catalog());
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
    assert!(backend.compute().offers(&Default::default()).await.unwrap().is_empty());
    let err = backend.compute().terminate_instance("i", "us-east-1", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn a_refused_key_is_invalid_credentials_on_api_key() {
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await, no_catalog());
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
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await, no_catalog());
    let err = configurator
        .validate_config(&lambda("BROKEN"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.message().contains("Something went wrong"), "{}", err.message());
    assert!(!err.message().contains("BROKEN"), "the key must not appear: {}", err.message());

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let configurator =
        LambdaConfigurator::with_base_url(format!("http://{closed}/api/v1"), no_catalog());
    let err = configurator
        .validate_config(&lambda("SECRETKEY"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(!err.message().contains("SECRETKEY"));
}

#[tokio::test]
async fn offers_come_from_the_catalog_with_availability_from_the_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lambdalabs.csv"),
        "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data\n\
         gpu_1x_a10,us-east-1,0.75,30,200.0,1,A10,24.0,False,1400.0,nvidia,,x86,{}\n\
         gpu_1x_a100,us-east-1,1.29,30,200.0,1,A100,40.0,False,512.0,nvidia,,x86,{}\n\
         gpu_1x_a100,us-west-1,1.29,30,200.0,1,A100,40.0,False,512.0,nvidia,,x86,{}\n",
    )
    .unwrap();
    let catalog = std::sync::Arc::new(dstack_catalog::Catalog::new(
        dstack_catalog::Source::PlainDirectory(dir.path().to_owned()),
        None,
    ));
    let configurator = LambdaConfigurator::with_base_url(fake_lambda().await, catalog);
    let record = configurator.create_backend("main", lambda("GOOD")).await.unwrap();
    let compute = configurator.backend(&record).await.unwrap().compute();
    // The backend is configured for us-east-1 only.
    let a100: dstack_core::resources::Requirements = dstack_core::resources::Requirements {
        resources: from_yaml("gpu: A100\n").unwrap(),
        ..Default::default()
    };
    let offers = compute.offers(&a100).await.unwrap();
    assert_eq!(offers.len(), 1);
    let offer = serde_json::to_value(&offers[0]).unwrap();
    assert_eq!(offer["backend"], "lambda");
    assert_eq!(offer["instance"]["name"], "gpu_1x_a100");
    assert_eq!(offer["region"], "us-east-1");
    assert_eq!(offer["availability"], "available");
    assert_eq!(
        offer["instance"]["resources"]["gpus"][0],
        serde_json::json!({"name": "A100", "memory_mib": 40960, "vendor": "nvidia"})
    );
    assert_eq!(offer["instance"]["resources"]["disk"]["size_mib"], 512 * 1024);
    let keys: Vec<&String> = offer.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "backend",
            "instance",
            "region",
            "price",
            "backend_data",
            "availability",
            "availability_zones",
            "instance_runtime",
            "blocks",
            "total_blocks"
        ]
    );
    let any = dstack_core::resources::Requirements {
        resources: from_yaml("gpu: 1..\n").unwrap(),
        ..Default::default()
    };
    let offers = compute.offers(&any).await.unwrap();
    let availability: Vec<&str> =
        offers.iter().map(|o| if o.availability.is_available() { "yes" } else { "no" }).collect();
    assert_eq!(availability, ["no", "yes"], "A10 has no capacity, A100 has");

    // The conformance suite, as far as the backend goes so far.
    let offers = dstack_testkit::conformance::offers_match(&*compute, &any).await;
    let config = dstack_core::offers::InstanceConfiguration {
        project_name: "main".to_owned(),
        instance_name: "fleet-0".to_owned(),
        instance_id: "id".to_owned(),
        ssh_keys: vec![],
        user: "admin".to_owned(),
        reservation: None,
        tags: None,
    };
    dstack_testkit::conformance::create_is_unsupported(&*compute, &offers[1], &config).await;
}
