//! The DigitalOcean and AMD Developer Cloud backends against the loopback fake
//! `dstack_testkit::fakes::digitalocean`, whose requests and answers are held to DigitalOcean's
//! published OpenAPI description (`digitalocean.v2.trimmed.json`: `GET /v2/account`,
//! `/v2/projects`, `/v2/account/keys`, `/v2/sizes`, `POST /v2/droplets`, ...): the conformance
//! suite for both types, the credential checks with dstack's messages, offers as gpuhunt
//! parses `GET /v2/sizes`, the offer cache, and retries.

mod common;

use common::{KEY, anything, config, names, requirements, setup};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendType;
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fixtures;
use serde_json::json;

fn fixtures_for(config: dstack_core::config::BackendConfigWithCreds, gpu: &str) -> Fixtures {
    Fixtures {
        project: "main".to_owned(),
        config,
        requirements: requirements(&format!("gpu: {gpu}\n")),
        instance: fixtures::instance_configuration("main"),
        keys: fixtures::ssh_key_pair(),
        unknown_instance: ("999999999".to_owned(), "nyc2".to_owned()),
    }
}

/// The fake's shapes: DigitalOcean's OpenAPI description (sizes with `gpu_info` and
/// `disk_info`, droplets with `networks.v4`, 404 `{"id": "not_found"}` for a deleted one).
#[tokio::test]
async fn digitalocean_passes_the_conformance_suite() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Digitalocean);
    let fixtures = fixtures_for(config("digitalocean", "regions: [nyc2, tor1]\n", KEY), "H100:1");
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(
        report.record.config,
        r#"{"type":"digitalocean","project_name":null,"regions":["nyc2","tor1"]}"#
    );
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    assert_eq!(names(&report.offers), ["gpu-h100x1-80gb nyc2", "gpu-h100x1-80gb tor1"]);
    let data = report.provisioned.unwrap();
    assert_eq!((data.username.as_str(), data.ssh_port), ("root", Some(22)));
    assert!(data.hostname.unwrap().starts_with("203.0.113."));
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "the droplet is deleted");
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// The same fake at AMD Developer Cloud's endpoint: DigitalOcean's API and shapes.
#[tokio::test]
async fn amddevcloud_passes_the_conformance_suite_at_its_own_url() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Amddevcloud);
    let fixtures = fixtures_for(config("amddevcloud", "regions: [atl1]\n", KEY), "MI300X");
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(
        report.record.config,
        r#"{"type":"amddevcloud","project_name":null,"regions":["atl1"]}"#
    );
    assert_eq!(names(&report.offers), ["gpu-mi300x1-192gb atl1"]);
    assert!(report.offers.iter().all(|o| o.offer.backend == BackendType::Amddevcloud));
    assert_eq!(report.provisioned.unwrap().backend, BackendType::Amddevcloud);
    let created = setup.fake.api.requests().into_iter().find(|r| r.path == "/v2/droplets").unwrap();
    assert_eq!(created.body["image"], "gpu-amd-base");
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// A refused key: DigitalOcean's 401 `{"id": "Unauthorized", "message": ...}` (its OpenAPI
/// `unauthorized` response), read as dstack reads it — typo included.
#[tokio::test]
async fn a_refused_key_is_dstacks_invaild_api_key_on_creds_api_key() {
    let setup = setup().await;
    for backend in ["digitalocean", "amddevcloud"] {
        let err = setup
            .configurator(backend.parse().unwrap())
            .validate_config(&config(backend, "", "dop_v1_wrong"), &ValidationContext::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
        assert_eq!(err.message(), "Invalid credentials: Invaild API key");
        assert_eq!(err.fields(), [["creds", "api_key"]]);
        assert!(!format!("{err} {err:?}").contains("dop_v1_wrong"));
    }
    assert_eq!(setup.calls(), ["GET /v2/account", "GET /v2/account"]);
}

/// Projects as `GET /v2/projects` lists them (DigitalOcean's `project` schema, paginated).
#[tokio::test]
async fn project_name_must_name_a_project_of_the_account() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Digitalocean);
    let context = ValidationContext::default();
    let missing = config("digitalocean", "project_name: ml-team\n", KEY);
    let err = configurator.validate_config(&missing, &context).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials: Project with name 'ml-team' does not exist");
    assert_eq!(err.fields(), [["project_name"]]);

    // Beyond the first page of 20: dstack reads only that one; the backend follows `next`.
    for n in 0..25 {
        setup.fake.add_project(&format!("team-{n}"));
    }
    setup.fake.add_project("ml-team");
    configurator.validate_config(&missing, &context).await.unwrap();
    let calls = setup.calls();
    assert_eq!(
        calls[calls.len() - 3..],
        ["GET /v2/account", "GET /v2/projects", "GET /v2/projects?page=2"]
    );
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// Sizes in the shape of DigitalOcean's `size` schema and GPU plans (`gpu_info`, `boot` and
/// `scratch` disks), parsed as gpuhunt 0.1.34's `DigitalOceanProvider` parses them.
#[tokio::test]
async fn offers_are_the_sizes_as_gpuhunt_reads_them() {
    let setup = setup().await;
    let compute = setup.compute(config("digitalocean", "", KEY)).await;
    let offers = compute.offers(&anything()).await.unwrap();
    assert_eq!(
        names(&offers),
        [
            "s-1vcpu-1gb nyc1",
            "s-1vcpu-1gb nyc3",
            "s-1vcpu-1gb ams3",
            "s-4vcpu-8gb nyc3",
            "s-4vcpu-8gb ams3",
            "s-4vcpu-8gb tor1",
            "gpu-4000adax1-20gb tor1",
            "gpu-4000adax1-20gb atl1",
            "gpu-mi300x1-192gb atl1",
            "gpu-h100x1-80gb nyc2",
            "gpu-h100x1-80gb tor1",
            "gpu-h100x1-80gb atl1",
            "gpu-h100x8-640gb nyc2",
            "gpu-h100x8-640gb tor1",
        ],
        "cheapest first; unknown GPU models and sizes available nowhere are left out"
    );
    assert!(offers.iter().all(|o| o.availability.is_available()));
    let h100x8 = serde_json::to_value(&offers[12]).unwrap();
    assert_eq!(h100x8["backend"], "digitalocean");
    assert_eq!(h100x8["price"], 23.92);
    assert_eq!(h100x8["availability"], "available");
    let resources = &h100x8["instance"]["resources"];
    assert_eq!(
        (resources["cpus"].clone(), resources["memory_mib"].clone()),
        (json!(160), json!(1966080))
    );
    assert_eq!(resources["gpus"].as_array().unwrap().len(), 8);
    assert_eq!(
        resources["gpus"][0],
        json!({"name": "H100", "memory_mib": 81920, "vendor": "nvidia"})
    );
    assert_eq!(resources["disk"]["size_mib"], 2046 * 1024, "the boot disk, not the scratch one");
    assert_eq!(resources["cpu_arch"], "x86");
    assert_eq!(offers[6].offer.instance.resources.gpus[0].name, "RTX4000ADA");
    let mi300x = &offers[8].offer.instance.resources.gpus[0];
    assert_eq!((mi300x.name.as_str(), mi300x.memory_mib), ("MI300X", 192 * 1024));
    assert_eq!(setup.calls(), ["GET /v2/sizes?per_page=500"]);
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn regions_filter_offers_as_given_and_requirements_per_request() {
    let setup = setup().await;
    let tor1 = setup.compute(config("digitalocean", "regions: [tor1]\n", KEY)).await;
    let offers = tor1.offers(&anything()).await.unwrap();
    assert_eq!(
        names(&offers),
        [
            "s-4vcpu-8gb tor1",
            "gpu-4000adax1-20gb tor1",
            "gpu-h100x1-80gb tor1",
            "gpu-h100x8-640gb tor1"
        ]
    );
    let h100 = tor1.offers(&requirements("gpu: H100:8\n")).await.unwrap();
    assert_eq!(names(&h100), ["gpu-h100x8-640gb tor1"]);
    let amd = tor1.offers(&requirements("gpu: amd\n")).await.unwrap();
    assert!(amd.is_empty());
    // `regions: []` is used as given, as dstack uses it: no region, no offer.
    let none = setup.compute(config("digitalocean", "regions: []\n", KEY)).await;
    assert!(none.offers(&anything()).await.unwrap().is_empty());
}

/// dstack's `ComputeWithAllOffersCached`: one `GET /v2/sizes` for many listings.
#[tokio::test]
async fn offers_are_fetched_once_and_filtered_per_request() {
    let setup = setup().await;
    let compute = setup.compute(config("digitalocean", "", KEY)).await;
    let gpus = compute.offers(&requirements("gpu: 1..\n")).await.unwrap();
    let cpus = compute.offers(&requirements("cpu: 4..\nmemory: 8GB..\ngpu: 0\n")).await.unwrap();
    assert_eq!(gpus.len(), 8);
    assert_eq!(names(&cpus), ["s-4vcpu-8gb nyc3", "s-4vcpu-8gb ams3", "s-4vcpu-8gb tor1"]);
    assert_eq!(setup.calls(), ["GET /v2/sizes?per_page=500"]);
}

#[tokio::test]
async fn a_throttled_call_is_retried() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Digitalocean);
    setup.fake.api.fail_next(1, 429, Some(0));
    configurator
        .validate_config(&config("digitalocean", "", KEY), &ValidationContext::default())
        .await
        .unwrap();
    assert_eq!(setup.calls(), ["GET /v2/account", "GET /v2/account"]);

    setup.fake.api.fail_next(2, 503, None);
    let err = configurator
        .validate_config(&config("digitalocean", "", KEY), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains("GET /v2/account: 503"), "{err}");
    assert!(!format!("{err:?}").contains(KEY));
}
