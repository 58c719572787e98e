//! The Lambda backend against a stateful loopback fake of Lambda Cloud's API
//! (`dstack_testkit::fakes::lambda`, in the shapes of Lambda's public API reference as
//! dstack's Lambda backend reads them) and a real `sshd` standing in for the instances
//! (`dstack_testkit::sshd`): the conformance suite, credentials, offers, retries.

mod common;

use common::{KEY, expected_sudo_calls, gpu, instance, lambda, setup};
use dstack_backend_kit::BackendContext;
use dstack_core::ErrorKind;
use dstack_core::Registry;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendType;
use dstack_core::provisioning::{AgentSettings, shim_commands};
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fixtures;
use dstack_testkit::sshd::{Sshd, key_pair};
use serde_json::json;

#[tokio::test]
async fn lambda_passes_the_conformance_suite() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let setup = setup(sshd.port()).await;
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: lambda(KEY),
        requirements: gpu("A100"),
        instance: instance(&keys),
        keys: keys.clone(),
        unknown_instance: ("0920582c7ff041399e34823a0be62549".to_owned(), "us-east-1".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(report.record.config, r#"{"type":"lambda","regions":["us-east-1"]}"#);
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    assert_eq!(report.offers.len(), 1);
    let provisioned = report.provisioned.expect("Lambda creates instances");
    assert_eq!(provisioned.instance_type.name, "gpu_1x_a100");
    assert_eq!(provisioned.hostname.as_deref(), Some("127.0.0.1"));
    assert_eq!((provisioned.username.as_str(), provisioned.ssh_port), ("ubuntu", Some(22)));
    // The instance got dstack's preparation and launcher over SSH, in that order, once.
    let commands = shim_commands(&AgentSettings::default().downloads("amd64"), false);
    assert_eq!(sshd.await_sudo_calls(7), expected_sudo_calls(&commands), "{}", sshd.log());
    // The instance is gone; the project's key stays registered, as in dstack.
    let key = dstack_backend_lambda::key_name(&keys.public);
    assert_eq!(setup.fake.live(), [format!("sshkey {key}")]);
}

#[tokio::test]
async fn offers_keep_dstacks_shape() {
    let setup = setup(0).await;
    let configurator = setup.configurator();
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
    let setup = setup(0).await;
    let err = setup
        .configurator()
        .validate_config(&lambda("bad_key"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
}

#[tokio::test]
async fn server_errors_are_retried_then_temporary_naming_backend_and_operation() {
    let setup = setup(0).await;
    setup.fake.api.fail_next(1, 503, None);
    let configurator = setup.configurator();
    configurator.validate_config(&lambda(KEY), &ValidationContext::default()).await.unwrap();

    setup.fake.api.fail_next(5, 500, None);
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
