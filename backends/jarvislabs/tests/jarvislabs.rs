//! The JarvisLabs backend against a loopback fake of JarvisLabs' API
//! (`dstack_testkit::fakes::jarvislabs`: dstack 0.22.5's JarvisLabs test fixtures, gpuhunt
//! 0.1.34's `server_meta` fixture, JarvisLabs' SDK `jarvislabs` 0.2.19), serving the main
//! host and every region host, and a real loopback sshd standing in for the VM. The
//! conformance suite, credentials, regions and offers here; instances in
//! `jarvislabs_instances.rs`.

mod common;

use common::{KEY, config, gpu, requirements, setup, setup_with, ssh};
use dstack_catalog::{Catalog, OnlineProvider, QueryFilter, Source};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendType;
use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fakes::jarvislabs::{self, vm_row};
use dstack_testkit::sshd::{Sshd, key_pair};
use dstack_testkit::{FakeApi, Reply, fixtures};
use serde_json::json;

fn offered(offers: &[InstanceOfferWithAvailability]) -> Vec<String> {
    offers
        .iter()
        .map(|o| format!("{} {} {}", o.offer.instance.name, o.offer.region, o.offer.price))
        .collect()
}

#[tokio::test]
async fn jarvislabs_passes_the_conformance_suite_with_a_real_sshd() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let setup = setup_with(jarvislabs::server_meta(), ssh(sshd.port())).await;
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config(KEY, Some(&["india-noida-01", "europe-01"])),
        requirements: gpu("1.."),
        instance: common::instance_config(&[&keys.public]),
        keys: keys.clone(),
        unknown_instance: ("999999".to_owned(), "india-noida-01".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(
        report.record.config,
        r#"{"type":"jarvislabs","regions":["india-noida-01","europe-01"]}"#
    );
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    assert_eq!(
        offered(&report.offers),
        [
            "L4-1x india-noida-01 0.44",
            "L4-2x india-noida-01 0.88",
            "L4-3x india-noida-01 1.32",
            "A100-1x india-noida-01 1.49",
            "RTXPRO6000-1x india-noida-01 1.89",
            "H100-1x europe-01 2.99",
        ],
        "VM rows in the configured regions, cheapest first"
    );
    let provisioned = report.provisioned.expect("JarvisLabs creates instances");
    assert_eq!(provisioned.hostname.as_deref(), Some("127.0.0.1"));
    assert_eq!((provisioned.username.as_str(), provisioned.ssh_port), ("ubuntu", Some(22)));
    assert!(provisioned.internal_ip.is_some(), "a Noida VM is in the VPC");
    // The setup line and the launcher ran at the instance, the launcher last.
    assert_eq!(
        sshd.await_sudo_calls(common::expected_sudo_calls().len()),
        common::expected_sudo_calls(),
        "{}",
        sshd.log()
    );
    // The VM and its key are gone, each deleted once; the second terminate deleted nothing.
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    let id = &provisioned.instance_id;
    assert_eq!(
        setup.calls_to("/templates/vm/destroy"),
        [format!("india-noida-01 POST /templates/vm/destroy?machine_id={id}")]
    );
    assert_eq!(setup.calls_to("/ssh/").iter().filter(|c| c.contains("DELETE")).count(), 1);
    assert_eq!(
        setup.calls_to("/templates/vm/create"),
        ["india-noida-01 POST /templates/vm/create"]
    );
}

#[tokio::test]
async fn a_refused_key_is_invalid_credentials_on_api_key() {
    let setup = setup().await;
    let err = setup
        .configurator()
        .validate_config(&config("bad-key", None), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
    assert!(!format!("{err:?}").contains("bad-key"));
    assert_eq!(setup.fake.calls(), ["main GET /users/user_info"], "dstack's check");
    setup
        .configurator()
        .validate_config(&config(KEY, None), &ValidationContext::default())
        .await
        .unwrap();
}

/// A 403 is refused credentials too (dstack's test), and an answer that is not an object
/// is dstack's "Unexpected JarvisLabs user_info response".
#[tokio::test]
async fn forbidden_and_odd_user_info_answers() {
    for (reply, kind, message) in [
        (
            Reply::status(403, json!({"detail": "Forbidden"})),
            ErrorKind::InvalidCredentials,
            "Invalid credentials",
        ),
        (
            Reply::json(json!(["not", "a", "user"])),
            ErrorKind::Unexpected,
            "Unexpected JarvisLabs user_info response",
        ),
    ] {
        let api = FakeApi::builder()
            .route("GET", "/users/user_info", move |_| reply.clone())
            .start()
            .await;
        let (_dir, catalog) = fixtures::empty_catalog();
        let mut context = dstack_backend_kit::BackendContext::new(catalog);
        context.endpoints.set(BackendType::Jarvislabs, api.url());
        let mut registry = dstack_core::Registry::new();
        dstack_backend_jarvislabs::register(&mut registry, &context);
        let err = registry
            .get(BackendType::Jarvislabs)
            .unwrap()
            .validate_config(&config(KEY, None), &ValidationContext::default())
            .await
            .unwrap_err();
        assert_eq!((err.kind(), err.message()), (kind, message));
    }
}

#[tokio::test]
async fn regions_must_be_known_after_the_key_is_checked() {
    let setup = setup().await;
    let check = |key: &'static str, regions: &'static [&'static str]| {
        let configurator = setup.configurator();
        async move {
            configurator
                .validate_config(&config(key, Some(regions)), &ValidationContext::default())
                .await
        }
    };
    let err = check(KEY, &["unknown-region", "india-noida-01", "mars-01"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert_eq!(
        err.message(),
        "Unsupported JarvisLabs regions: ['mars-01', 'unknown-region']. Supported regions: \
         ['europe-01', 'india-01', 'india-chennai-01', 'india-noida-01']. \
         JarvisLabs does not expose provisioning endpoint discovery."
    );
    let err = check("bad-key", &["mars-01"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials, "the key is checked first, as in dstack");
    check(KEY, &["india-01", "india-chennai-01", "india-noida-01", "europe-01"]).await.unwrap();
    assert_eq!(setup.fake.calls(), ["main GET /users/user_info"; 3]);
}

#[tokio::test]
async fn offers_are_gpuhunts_server_meta_items_with_a_configurable_disk() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    let offers =
        compute.offers(&requirements("cpu: 1..\nmemory: 1GB..\ngpu: 0..\n")).await.unwrap();
    assert_eq!(
        offered(&offers),
        [
            "cpu-4x16 india-noida-01 0.0992",
            "L4-1x india-noida-01 0.44",
            "L4-2x india-noida-01 0.88",
            "L4-3x india-noida-01 1.32",
            "A100-1x india-noida-01 1.49",
            "RTXPRO6000-1x india-chennai-01 1.89",
            "RTXPRO6000-1x india-noida-01 1.89",
            "H100-1x europe-01 2.99",
            "RTXPRO6000-2x india-chennai-01 3.78",
        ],
        "no container rows, no unknown regions, no unavailable CPU regions; all available"
    );
    assert!(offers.iter().all(|o| o.availability.is_available()));
    let a100 = serde_json::to_value(&offers[4]).unwrap();
    assert_eq!(a100["backend"], "jarvislabs");
    assert_eq!(a100["backend_data"], json!({"gpu_type": "A100-80GB"}), "the create-time token");
    let resources = &a100["instance"]["resources"];
    assert_eq!(
        resources["gpus"],
        json!([{"name": "A100", "memory_mib": 81920, "vendor": "nvidia"}])
    );
    assert_eq!(
        (resources["cpus"].clone(), resources["memory_mib"].clone()),
        (json!(28), json!(114688))
    );
    assert_eq!(
        (resources["disk"]["size_mib"].clone(), resources["spot"].clone()),
        (json!(102400), json!(false))
    );
    assert_eq!(serde_json::to_value(&offers[1]).unwrap()["backend_data"], json!({}));
    let cpu = &offers[0].offer.instance.resources;
    assert_eq!((cpu.cpus, cpu.memory_mib, cpu.gpus.len()), (4, 16384, 0));
    // The disk is what is asked, from JarvisLabs' 100 GB up; below that there is no offer.
    let disk = |spec: &str| requirements(&format!("gpu: A100\ndisk: {spec}\n"));
    let sized = compute.offers(&disk("250GB")).await.unwrap();
    assert_eq!(sized[0].offer.instance.resources.disk.size_mib, 250 * 1024);
    let at_least = compute.offers(&disk("50GB..")).await.unwrap();
    assert_eq!(at_least[0].offer.instance.resources.disk.size_mib, 100 * 1024);
    assert_eq!(compute.offers(&disk("50GB")).await.unwrap(), Vec::new());
    // One `server_meta` call for all of them (dstack's all-offers cache), on the main host.
    assert_eq!(setup.fake.calls(), ["main GET /misc/server_meta"]);
}

#[tokio::test]
async fn configured_regions_filter_offers() {
    let setup = setup().await;
    let chennai = setup.compute(config(KEY, Some(&["india-chennai-01"]))).await;
    assert_eq!(
        offered(&chennai.offers(&gpu("1..")).await.unwrap()),
        ["RTXPRO6000-1x india-chennai-01 1.89", "RTXPRO6000-2x india-chennai-01 3.78"]
    );
    let all = setup.compute(config(KEY, Some(&[]))).await;
    assert_eq!(all.offers(&gpu("1..")).await.unwrap().len(), 8, "`regions: []` is all regions");
}

#[tokio::test]
async fn multinode_requirements_keep_the_vpc_regions_only() {
    let mut meta = jarvislabs::server_meta();
    meta["server_meta"].as_array_mut().unwrap().push(vm_row("L40S", "india-01", 1, 0.99, "48"));
    let setup = setup_with(meta, ssh(dstack_testkit::sshd::free_port())).await;
    assert!(setup.configurator().capabilities().multinode, "declared, as dstack declares it");
    let compute = setup.compute(config(KEY, None)).await;
    let regions = |offers: Vec<InstanceOfferWithAvailability>| {
        let mut regions: Vec<String> = offers.into_iter().map(|o| o.offer.region).collect();
        regions.dedup();
        regions.sort();
        regions.dedup();
        regions
    };
    let single = compute.offers(&gpu("1..")).await.unwrap();
    assert_eq!(regions(single), ["europe-01", "india-01", "india-chennai-01", "india-noida-01"]);
    let mut cluster = gpu("1..");
    cluster.multinode = Some(true);
    assert_eq!(
        regions(compute.offers(&cluster).await.unwrap()),
        ["india-chennai-01", "india-noida-01"]
    );
    cluster.multinode = Some(false);
    assert_eq!(regions(compute.offers(&cluster).await.unwrap()).len(), 4);
}

/// gpuhunt's `test_catalog_query`, against the fake: the provider in a catalog.
#[tokio::test]
async fn the_provider_is_gpuhunts_online_jarvislabs_provider() {
    let setup = setup().await;
    let provider = dstack_backend_jarvislabs::JarvisLabsProvider::for_key(
        setup.fake.url(),
        &dstack_core::Secret::new(KEY),
        &common::http(),
    );
    assert_eq!(provider.name(), "jarvislabs");
    let items = provider.items(&QueryFilter::default()).await.unwrap();
    assert_eq!(items.len(), 9);
    assert!(items.iter().all(|i| i.disk_size.is_none() && !i.spot));
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = Catalog::new(Source::PlainDirectory(dir.path().to_owned()), None);
    catalog.add_online_provider(std::sync::Arc::new(provider));
    let count = |filter: QueryFilter| {
        let catalog = &catalog;
        async move {
            let filter = QueryFilter { provider: Some(vec!["jarvislabs".into()]), ..filter };
            catalog.query(&filter).await.len()
        }
    };
    let name = |n: &str| Some(vec![n.to_owned()]);
    assert_eq!(
        count(QueryFilter { min_gpu_count: Some(2), gpu_name: name("L4"), ..Default::default() })
            .await,
        2
    );
    assert_eq!(
        count(QueryFilter {
            gpu_name: name("A100"),
            min_gpu_memory: Some(80.0),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(count(QueryFilter { gpu_name: name("RTXPRO6000"), ..Default::default() }).await, 3);
    assert_eq!(count(QueryFilter { max_gpu_count: Some(0), ..Default::default() }).await, 1);
    assert_eq!(count(QueryFilter { min_disk_size: Some(250.0), ..Default::default() }).await, 9);
    assert_eq!(count(QueryFilter { max_disk_size: Some(50.0), ..Default::default() }).await, 9);
    assert_eq!(
        count(QueryFilter { gpu_name: name("L4"), spot: Some(false), ..Default::default() }).await,
        3
    );
    assert_eq!(
        count(QueryFilter { gpu_name: name("L4"), spot: Some(true), ..Default::default() }).await,
        0
    );
}

/// gpuhunt's `test_convert_response_skips_*`: unmapped spaced tokens and malformed rows.
#[test]
fn malformed_rows_are_skipped_as_gpuhunt_skips_them() {
    let items = |meta: serde_json::Value| {
        dstack_backend_jarvislabs::server_meta_items(meta.as_object().unwrap()).len()
    };
    let spaced = json!({"server_meta": [{"gpu_type": "RTX A6000", "region": "india-noida-01",
        "num_free_devices": 1, "price_per_hour": 0.79, "vram": "48", "cpus_per_gpu": 16,
        "ram_per_gpu": 100, "workload_type": "vm"}]});
    assert_eq!(items(spaced), 0);
    let malformed = json!({
        "server_meta": [
            {"gpu_type": "L4", "region": "india-noida-01", "num_free_devices": "bad",
             "price_per_hour": "bad", "vram": "24", "cpus_per_gpu": 28, "ram_per_gpu": 124,
             "workload_type": "vm"},
            {"gpu_type": "H100", "region": "india-noida-01", "num_free_devices": 1,
             "price_per_hour": 2.69, "vram": "bad", "cpus_per_gpu": 16, "ram_per_gpu": 200,
             "workload_type": "vm"},
        ],
        "cpu_meta": {"combinations": [{"vcpus": "bad", "ram_gb": 16, "price": 0.0992,
            "available": true, "regions": {"india-noida-01": true}}]},
    });
    assert_eq!(items(malformed), 0);
    let one_free = json!({"server_meta": [{"gpu_type": "H100", "region": "india-noida-01",
        "num_free_devices": 2, "effective_num_free_devices": 0, "price_per_hour": "2.5",
        "vram": "80", "cpus_per_gpu": "16", "ram_per_gpu": "200.5", "workload_type": "vm"}]});
    assert_eq!(items(one_free), 1, "no `num_gpus`: one GPU per instance");
}

#[tokio::test]
async fn failing_offer_calls_are_errors_not_empty_lists() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    setup.fake.api.fail_next(2, 503, None);
    let err = compute.offers(&gpu("1..")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains("GET /misc/server_meta: 503"), "{err}");
    let revoked = setup.compute(config("revoked", None)).await;
    let err = revoked.offers(&gpu("1..")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.fields(), [["creds", "api_key"]]);
    assert_eq!(compute.offers(&gpu("1..")).await.unwrap().len(), 8, "a failure is not kept");
}
