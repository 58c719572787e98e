//! The Seeweb backend against a loopback fake of Seeweb's ECS API
//! (`dstack_testkit::fakes::seeweb`). Seeweb publishes no machine-readable description: the
//! fake's shapes follow Seeweb's Python SDK `ecsapi` 0.4.0 (`{"status": "ok", "plans": [...]}`,
//! `Plan.available_regions[].location`, `_PlanAvailable.region_availables[].region`,
//! `os_availables[]`, `SshKey`, `Server`, `Action`) and dstack 0.22.5's Seeweb test fixtures
//! (the 401 body, the capacity message, the 404 of a missing server). Credentials, offers,
//! the offer cache and retries here; instances in `seeweb_instances.rs`.

mod common;

use common::{TOKEN, config, gpu, setup, setup_with};
use dstack_catalog::{Catalog, OnlineProvider, QueryFilter, Source};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendType;
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fakes::seeweb::Plan;
use dstack_testkit::{FakeApi, Reply, fixtures};
use serde_json::json;

fn offered(offers: &[dstack_core::offers::InstanceOfferWithAvailability]) -> Vec<String> {
    offers
        .iter()
        .map(|o| {
            let available = if o.availability.is_available() { "available" } else { "sold out" };
            format!("{} {} {}", o.offer.instance.name, o.offer.region, available)
        })
        .collect()
}

#[tokio::test]
async fn seeweb_passes_the_conformance_suite() {
    let setup = setup().await;
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config(TOKEN, Some(&["it-fr2", "it-mi2"])),
        requirements: gpu("1.."),
        instance: fixtures::instance_configuration("main"),
        keys: fixtures::ssh_key_pair(),
        unknown_instance: ("ec999999".to_owned(), "it-fr2".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(report.record.config, r#"{"type":"seeweb","regions":["it-fr2","it-mi2"]}"#);
    assert_eq!(
        report.record.auth.expose(),
        format!(r#"{{"type":"api_token","api_token":"{TOKEN}"}}"#)
    );
    // GPU plans only (gpuhunt skips the CPU plan), in the configured regions, cheapest first;
    // available where `/plans/availables` lists the plan and region.
    assert_eq!(
        offered(&report.offers),
        [
            "ECS1GPU6 it-fr2 available",
            "ECS1GPU6 it-mi2 sold out",
            "ECS1GPU7 it-fr2 available",
            "ECS2GPU9 it-fr2 sold out"
        ]
    );
    let provisioned = report.provisioned.expect("Seeweb creates instances");
    assert_eq!(provisioned.instance_type.name, "ECS1GPU6");
    assert_eq!((provisioned.username.as_str(), provisioned.ssh_port), ("root", Some(22)));
    // The server is gone; the project's key stays registered, as in dstack.
    let live = setup.fake.live();
    assert!(live.len() == 1 && live[0].starts_with("sshkey dstack-"), "{live:?}");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_refused_token_is_invalid_credentials_on_api_token() {
    let setup = setup().await;
    for token in ["bad-token", ""] {
        let err = setup
            .configurator()
            .validate_config(&config(token, None), &ValidationContext::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
        assert_eq!(err.message(), "Invalid credentials");
        assert_eq!(err.fields(), [["creds", "api_token"]]);
        assert!(!format!("{err:?}").contains("bad-token"));
    }
    assert_eq!(setup.calls(), ["GET /regions", "GET /regions"], "dstack's check");
}

#[tokio::test]
async fn a_check_answered_with_a_failed_status_reports_seewebs_message() {
    // dstack reads `{"status": "KO", "message": ...}` as a failure even on a 200.
    let api = FakeApi::builder()
        .prefix("/ecs/v2")
        .route("GET", "/regions", |_| Reply::json(json!({"status": "KO", "message": "boom"})))
        .start()
        .await;
    let (_dir, catalog) = fixtures::empty_catalog();
    let mut context = dstack_backend_kit::BackendContext::new(catalog);
    context.endpoints.set(BackendType::Seeweb, api.url());
    let mut registry = dstack_core::Registry::new();
    dstack_backend_seeweb::register(&mut registry, &context);
    let err = registry
        .get(BackendType::Seeweb)
        .unwrap()
        .validate_config(&config(TOKEN, None), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Unexpected, "boom"));
}

#[tokio::test]
async fn offers_are_parsed_as_gpuhunt_parses_seeweb_plans() {
    let mut h100 = Plan::gpu("ECS1GPU14", 1, "NVIDIA H100 80GB", 2.9, &["it-mi2"], &["it-mi2"]);
    h100.regions = vec!["it-mi2".into(), " it-mi2 ".into(), "it-fr2".into()];
    let mut inactive = Plan::gpu("ECS1GPU1", 1, "L4 24GB", 0.1, &["it-fr2"], &["it-fr2"]);
    inactive.available = false;
    let plans = vec![
        h100,
        inactive,
        Plan::gpu("ECS8GPU20", 8, "RTX PRO 6000 96GB", 9.6, &["it-fr2"], &["it-fr2"]),
        Plan::gpu("ECS1MI300", 1, "AMD MI300X", 3.0, &["it-fr2"], &["it-fr2"]),
        Plan::gpu("ECS1GPUX", 1, "Quantum Q1", 1.0, &["it-fr2"], &["it-fr2"]),
        Plan::gpu("ECS1GPU2", 1, "NVIDIA A10", 0.6, &["it-fr2"], &[]),
        Plan::cpu("ECS4", 0.05, &["it-fr2"]),
    ];
    let setup = setup_with(plans).await;
    let compute = setup.compute(config(TOKEN, None)).await;
    let offers = compute.offers(&gpu("1..")).await.unwrap();
    assert_eq!(
        offered(&offers),
        [
            "ECS1GPU2 it-fr2 sold out",
            "ECS1GPU14 it-mi2 available",
            "ECS1GPU14 it-fr2 sold out",
            "ECS8GPU20 it-fr2 available"
        ],
        "inactive, AMD, unknown and CPU plans are skipped; regions once each"
    );
    let offer = serde_json::to_value(&offers[1]).unwrap();
    assert_eq!(offer["backend"], "seeweb");
    assert_eq!(offer["price"], 2.9);
    let resources = &offer["instance"]["resources"];
    assert_eq!(
        (resources["cpus"].clone(), resources["memory_mib"].clone()),
        (json!(8), json!(65536))
    );
    assert_eq!(
        resources["gpus"],
        json!([{"name": "H100", "memory_mib": 81920, "vendor": "nvidia"}])
    );
    assert_eq!(
        (resources["disk"]["size_mib"].clone(), resources["spot"].clone()),
        (json!(512000), json!(false))
    );
    // A label missing from gpuhunt's map resolves through its known GPUs.
    assert_eq!(offers[0].offer.instance.resources.gpus[0].memory_mib, 24 * 1024);
    let eight = &offers[3].offer.instance.resources.gpus;
    assert_eq!(
        (eight.len(), eight[0].name.as_str(), eight[0].memory_mib),
        (8, "RTXPRO6000", 96 * 1024)
    );
    // Requirements filter as in gpuhunt, and configured regions as in dstack.
    assert_eq!(offered(&compute.offers(&gpu("H100")).await.unwrap()).len(), 2);
    let milan = setup.compute(config(TOKEN, Some(&["it-mi2"]))).await;
    assert_eq!(offered(&milan.offers(&gpu("1..")).await.unwrap()), ["ECS1GPU14 it-mi2 available"]);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_provider_is_gpuhunts_online_seeweb_provider() {
    let setup = setup().await;
    let provider = dstack_backend_seeweb::SeewebProvider::for_token(
        setup.fake.url(),
        &dstack_core::Secret::new(TOKEN),
        &common::http(),
    );
    assert_eq!(provider.name(), "seeweb");
    let items = provider.items(&QueryFilter::default()).await.unwrap();
    assert_eq!(items.len(), 5, "two L4 regions, two L40S regions, one A100 pair");
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = Catalog::new(Source::PlainDirectory(dir.path().to_owned()), None);
    catalog.add_online_provider(std::sync::Arc::new(provider));
    let filter = QueryFilter {
        provider: Some(vec!["seeweb".into()]),
        gpu_name: Some(vec!["L40S".into()]),
        ..Default::default()
    };
    let found: Vec<String> =
        catalog.query(&filter).await.iter().map(|i| i.location.clone()).collect();
    assert_eq!(found, ["it-fr2", "ch-lug1"]);
}

#[tokio::test]
async fn offers_are_kept_per_requirements() {
    let setup = setup().await;
    let compute = setup.compute(config(TOKEN, None)).await;
    let first = compute.offers(&gpu("1..")).await.unwrap();
    assert_eq!(compute.offers(&gpu("1..")).await.unwrap(), first);
    assert_eq!(setup.calls(), ["GET /plans", "GET /plans/availables"], "one round of calls");
    // Offers depend on the requirements (dstack's filtered cache): new ones are fetched.
    let l40s = compute.offers(&gpu("L40S")).await.unwrap();
    assert_eq!(offered(&l40s), ["ECS1GPU7 it-fr2 available", "ECS1GPU7 ch-lug1 available"]);
    assert_eq!(setup.calls().len(), 4);
    compute.offers(&gpu("L40S")).await.unwrap();
    assert_eq!(setup.calls().len(), 4);
}

#[tokio::test]
async fn throttled_calls_are_retried() {
    let setup = setup().await;
    setup.fake.api.fail_next(1, 429, Some(0));
    setup
        .configurator()
        .validate_config(&config(TOKEN, None), &ValidationContext::default())
        .await
        .unwrap();
    assert_eq!(setup.calls(), ["GET /regions", "GET /regions"]);
    setup.fake.api.fail_next(1, 429, Some(0));
    let compute = setup.compute(config(TOKEN, None)).await;
    assert_eq!(compute.offers(&gpu("L4")).await.unwrap().len(), 2);
}

#[tokio::test]
async fn failing_offer_calls_are_errors_not_empty_lists() {
    let setup = setup().await;
    let compute = setup.compute(config(TOKEN, None)).await;
    setup.fake.api.fail_next(2, 503, None);
    let err = compute.offers(&gpu("1..")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains("GET /plans: 503"), "{err}");
    let revoked = setup.compute(config("revoked", None)).await;
    let err = revoked.offers(&gpu("1..")).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.fields()),
        (ErrorKind::InvalidCredentials, &[vec!["creds".to_owned(), "api_token".to_owned()]][..])
    );
    // A failure is not kept: the next listing asks again.
    assert_eq!(compute.offers(&gpu("1..")).await.unwrap().len(), 5);
}
