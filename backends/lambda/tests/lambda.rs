//! The Lambda backend against a loopback fake of Lambda Cloud's API
//! (`dstack_testkit::fixtures::fake_lambda`). The fake's shapes follow Lambda's public API
//! reference (`GET /api/v1/instance-types`: `{"data": {<name>: {"instance_type": {...},
//! "regions_with_capacity_available": [{"name", "description"}]}}}`, Bearer auth, errors as
//! `{"error": {"code", "message"}}`), as dstack's Lambda backend reads them.

use std::sync::Arc;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::Registry;
use dstack_core::backend::ValidationContext;
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{Configurator, ErrorKind};
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::{FakeApi, fixtures};
use serde_json::json;

const KEY: &str = "secret_lambda_key_1";

struct Setup {
    api: FakeApi,
    registry: Registry,
    _catalog: tempfile::TempDir,
}

async fn setup() -> Setup {
    let api =
        fixtures::fake_lambda(&[KEY], &[("gpu_1x_a10", &[]), ("gpu_1x_a100", &["us-east-1"])])
            .await;
    let catalog = tempfile::tempdir().unwrap();
    fixtures::write_catalog(catalog.path(), "lambdalabs", fixtures::LAMBDA_ROWS);
    let mut context = BackendContext::new(fixtures::catalog_in(catalog.path()));
    context.endpoints.set(BackendType::Lambda, api.url());
    context.http = HttpSettings { max_attempts: 2, ..HttpSettings::default() };
    let mut registry = Registry::new();
    dstack_backend_lambda::register(&mut registry, &context);
    Setup { api, registry, _catalog: catalog }
}

fn lambda(key: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: lambda\nregions: [us-east-1]\ncreds: {{api_key: {key}}}\n")).unwrap()
}

fn gpu(spec: &str) -> dstack_core::resources::Requirements {
    dstack_core::resources::Requirements {
        resources: from_yaml(&format!("gpu: {spec}\n")).unwrap(),
        ..Default::default()
    }
}

fn lambda_configurator(setup: &Setup) -> Arc<dyn Configurator> {
    setup.registry.get(BackendType::Lambda).unwrap()
}

#[tokio::test]
async fn lambda_passes_the_conformance_suite() {
    let setup = setup().await;
    let configurator = lambda_configurator(&setup);
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: lambda(KEY),
        requirements: gpu("1.."),
        instance: fixtures::instance_configuration("main"),
        keys: fixtures::ssh_key_pair(),
        unknown_instance: ("0920582c7ff041399e34823a0be62549".to_owned(), "us-east-1".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(report.record.config, r#"{"type":"lambda","regions":["us-east-1"]}"#);
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    // Offers in the configured region only, available where Lambda has capacity.
    let offers: Vec<(String, String, bool)> = report
        .offers
        .iter()
        .map(|o| {
            (o.offer.instance.name.clone(), o.offer.region.clone(), o.availability.is_available())
        })
        .collect();
    assert_eq!(
        offers,
        [
            ("gpu_1x_a10".into(), "us-east-1".into(), false),
            ("gpu_1x_a100".into(), "us-east-1".into(), true)
        ]
    );
    assert!(report.provisioned.is_none(), "Lambda declares no instances yet");
    let calls: Vec<String> =
        setup.api.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert!(calls.iter().all(|c| c == "GET /instance-types"), "{calls:?}");
}

#[tokio::test]
async fn offers_keep_dstacks_shape() {
    let setup = setup().await;
    let configurator = lambda_configurator(&setup);
    let record = configurator.create_backend("main", lambda(KEY)).await.unwrap();
    let compute = configurator.compute(&record).await.unwrap();
    let offers = compute.offers(&gpu("A100")).await.unwrap();
    assert_eq!(offers.len(), 1);
    let offer = serde_json::to_value(&offers[0]).unwrap();
    assert_eq!(offer["backend"], "lambda");
    assert_eq!(offer["availability"], "available");
    assert_eq!(
        offer["instance"]["resources"]["gpus"][0],
        json!({"name": "A100", "memory_mib": 40960, "vendor": "nvidia"})
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
}

#[tokio::test]
async fn a_refused_key_is_invalid_credentials_on_api_key() {
    let setup = setup().await;
    let err = lambda_configurator(&setup)
        .validate_config(&lambda("bad_key"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
}

#[tokio::test]
async fn server_errors_are_retried_then_temporary_naming_backend_and_operation() {
    let setup = setup().await;
    setup.api.fail_next(1, 503, None);
    let configurator = lambda_configurator(&setup);
    configurator.validate_config(&lambda(KEY), &ValidationContext::default()).await.unwrap();

    setup.api.fail_next(5, 500, None);
    let err = configurator
        .validate_config(&lambda(KEY), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(
        err.to_string(),
        "lambda check: GET /instance-types: 500 Internal Server Error: {\"error\":\"injected fault\"} (after 2 attempts)"
    );
    assert!(!format!("{err:?}").contains(KEY), "the key must not appear: {err:?}");
}

#[tokio::test]
async fn an_unreachable_api_is_temporary_and_keeps_the_key_out() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_dir, catalog) = fixtures::empty_catalog();
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Lambda, format!("http://{closed}/api/v1"));
    let mut registry = Registry::new();
    dstack_backend_lambda::register(&mut registry, &context);
    let err = registry
        .get(BackendType::Lambda)
        .unwrap()
        .validate_config(&lambda("SECRETKEY"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(!format!("{err} {err:?}").contains("SECRETKEY"));
}
