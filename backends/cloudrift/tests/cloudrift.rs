//! The CloudRift backend against a loopback fake of CloudRift's API
//! (`dstack_testkit::fakes::cloudrift`): the conformance suite, the credential check, offers
//! and their cache, retries. The fake's requests and answers are held to CloudRift's published
//! OpenAPI description (rift-server 0.61.0: `MeResponseProto`, `ListInstanceTypesRequestProto`
//! / `...ResponseProto`, `RentInstanceRequestProto`, `ListInstancesRequestProto`, ...); the
//! envelope version and the SSH port sources follow dstack 0.22.5's `test_api_client.py` and
//! `test_compute.py`.

mod common;

use common::{KEY, config, gpu, setup};
use dstack_backend_kit::BackendContext;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendType;
use dstack_core::{ErrorKind, Registry};
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fixtures;
use serde_json::json;

fn offer_rows(offers: &[dstack_core::offers::InstanceOfferWithAvailability]) -> Vec<String> {
    let row = |o: &dstack_core::offers::InstanceOfferWithAvailability| {
        let state = if o.availability.is_available() { "available" } else { "not available" };
        format!("{} {} {state}", o.offer.instance.name, o.offer.region)
    };
    offers.iter().map(row).collect()
}

#[tokio::test]
async fn cloudrift_passes_the_conformance_suite() {
    let setup = setup().await;
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config(KEY, Some(&["us-east-nc-nr-1"])),
        requirements: gpu("1.."),
        instance: fixtures::instance_configuration("main"),
        keys: fixtures::ssh_key_pair(),
        unknown_instance: (
            "0000dead-4b3b-4b3b-8b3b-4b3b4b3b4b3b".to_owned(),
            "us-east-nc-nr-1".to_owned(),
        ),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(report.record.config, r#"{"type":"cloudrift","regions":["us-east-nc-nr-1"]}"#);
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    assert_eq!(
        offer_rows(&report.offers),
        [
            "rtx49-7-50-500-nr.1 us-east-nc-nr-1 available",
            "rtx49-7-50-500-nr.2 us-east-nc-nr-1 available"
        ]
    );
    let data = report.provisioned.expect("CloudRift creates instances");
    assert_eq!(data.username, "riftuser");
    assert_eq!(data.hostname.as_deref(), Some("203.0.113.3"));
    assert_eq!(data.ssh_port, Some(57001), "the host port mapped to the VM's 22");
    assert!(data.dockerized);
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_key_is_checked_with_auth_me_in_the_current_envelope() {
    let setup = setup().await;
    let configurator = setup.configurator();
    configurator.validate_config(&config(KEY, None), &ValidationContext::default()).await.unwrap();
    let request = &setup.fake.api.requests()[0];
    assert_eq!(request.path, "/api/v1/auth/me");
    assert_eq!(request.body, json!({"version": "2026-10-12", "data": null}));
    assert!(!format!("{request:?}").contains(KEY), "the key header is kept out of the log");

    let err = configurator
        .validate_config(&config("bad_key", None), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn any_failure_of_the_check_is_invalid_credentials_as_in_dstack() {
    let setup = setup().await;
    let configurator = setup.configurator();
    setup.fake.api.fail_next(1, 500, None);
    let err = configurator
        .validate_config(&config(KEY, None), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::InvalidCredentials, "Invalid credentials"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_dir, catalog) = fixtures::empty_catalog();
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Cloudrift, format!("http://{closed}"));
    let mut registry = Registry::new();
    dstack_backend_cloudrift::register(&mut registry, &context);
    let err = registry
        .get(BackendType::Cloudrift)
        .unwrap()
        .validate_config(&config("SECRETKEY", None), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.fields(), [["creds", "api_key"]]);
    assert!(!format!("{err} {err:?}").contains("SECRETKEY"));
}

#[tokio::test]
async fn offers_are_the_catalogs_with_availability_from_free_nodes() {
    let setup = setup().await;
    // No regions: all of them.
    let compute = setup.compute(config(KEY, None)).await;
    let offers = compute.offers(&gpu("1..")).await.unwrap();
    assert_eq!(
        offer_rows(&offers),
        [
            "rtx49-7-50-500-nr.1 us-east-nc-nr-1 available",
            "rtx59-16-64-1000-kr.1 ap-northeast-kr-se-1 not available",
            "rtx49-7-50-500-nr.2 us-east-nc-nr-1 available",
            "mi350x-8-1024.1 us-central-tx-nr-1 available",
        ]
    );
    assert_eq!(
        setup.sent("instance-types/list"),
        [json!({"selector": {"ByServiceAndLocation": {"services": ["vm"]}}})]
    );
    // As gpuhunt writes CloudRift's catalog: GPU names, counts and memory, disk, price.
    let two = serde_json::to_value(&offers[2]).unwrap();
    assert_eq!(two["backend"], "cloudrift");
    assert_eq!(two["price"], 0.78);
    let resources = &two["instance"]["resources"];
    assert_eq!(
        (resources["cpus"].clone(), resources["memory_mib"].clone()),
        (json!(14), json!(102400))
    );
    assert_eq!(resources["gpus"].as_array().unwrap().len(), 2);
    assert_eq!(
        resources["gpus"][0],
        json!({"name": "RTX4090", "memory_mib": 24576, "vendor": "nvidia"})
    );
    assert_eq!(resources["disk"]["size_mib"], 500 * 1024);
    let amd = serde_json::to_value(&offers[3]).unwrap();
    assert_eq!(amd["instance"]["resources"]["gpus"][0]["vendor"], "amd");

    // The configured regions filter the catalog; `[]` is all of them.
    let setup = common::setup().await;
    let east = setup.compute(config(KEY, Some(&["us-east-nc-nr-1"]))).await;
    let rows = offer_rows(&east.offers(&gpu("RTX4090:2")).await.unwrap());
    assert_eq!(rows, ["rtx49-7-50-500-nr.2 us-east-nc-nr-1 available"]);
    let all = setup.compute(config(KEY, Some(&[]))).await;
    assert_eq!(all.offers(&gpu("1..")).await.unwrap().len(), 4);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn offers_are_cached_whole_and_filtered_per_request() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    assert_eq!(compute.offers(&gpu("1..")).await.unwrap().len(), 4);
    setup.fake.set_free("rtx49-7-50-500-nr.1", "us-east-nc-nr-1", 0);
    let amd = compute.offers(&gpu("MI350X")).await.unwrap();
    assert_eq!(offer_rows(&amd), ["mi350x-8-1024.1 us-central-tx-nr-1 available"]);
    let again = compute.offers(&gpu("RTX4090:1")).await.unwrap();
    assert_eq!(
        offer_rows(&again),
        ["rtx49-7-50-500-nr.1 us-east-nc-nr-1 available"],
        "the kept availability, until it expires"
    );
    assert_eq!(setup.calls(), ["POST /api/v1/instance-types/list"], "one round of calls");
}

#[tokio::test]
async fn throttled_calls_are_retried() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    setup.fake.api.fail_next(1, 429, Some(0));
    assert_eq!(compute.offers(&gpu("1..")).await.unwrap().len(), 4);
    assert_eq!(setup.calls(), ["POST /api/v1/instance-types/list"; 2]);

    // A 5xx on a POST is not sent again, and a failed listing is not kept.
    setup.fake.api.fail_next(1, 503, None);
    let fresh = setup.compute(config(KEY, None)).await;
    let err = fresh.offers(&gpu("1..")).await.unwrap_err();
    assert_eq!(err.backend(), Some(BackendType::Cloudrift));
    assert_eq!(fresh.offers(&gpu("1..")).await.unwrap().len(), 4);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_fake_refuses_an_old_envelope_on_provisioning_calls() {
    // dstack's test_api_client.py: CloudRift takes the old version on auth and instance
    // types, not on provisioning calls.
    let setup = setup().await;
    let http = reqwest::Client::new();
    let post = |method: &str, version: &str| {
        http.post(format!("{}/api/v1/{method}", setup.fake.url()))
            .header("X-API-Key", KEY)
            .json(&json!({"version": version, "data": {"selector": {"ById": []}}}))
            .send()
    };
    assert_eq!(post("instances/list", "2025-05-29").await.unwrap().status(), 400);
    assert_eq!(post("instances/list", "2026-10-12").await.unwrap().status(), 201);
    assert_eq!(post("auth/me", "2025-05-29").await.unwrap().status(), 200);
    // A body the description does not accept is refused, and kept as a violation.
    if dstack_testkit::openapi::Spec::load("cloudrift", "openapi.json").is_some() {
        assert_eq!(post("instances/rent", "2026-10-12").await.unwrap().status(), 400);
        let violations = setup.fake.api.violations();
        assert!(violations[0].contains("\"config\" is a required property"), "{violations:?}");
    }
}
