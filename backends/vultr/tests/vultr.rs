//! The Vultr backend against `dstack_testkit::fakes::vultr`, a stateful loopback fake held to
//! Vultr's published OpenAPI description (`vultr/openapi.json`: Bearer keys, errors as
//! `{"error", "status"}`, `meta.links.next` cursors), with the plan fields gpuhunt 0.1.34 reads
//! (`hourly_cost`, `gpu_type`, `gpu_vram_gb`, `deploy_ondemand`, `plans_metal`) and the VDM
//! availability of dstack's `test_compute.py`. Every test ends with no violations of the
//! description.

mod common;

use common::{KEY, anything, config, gpu, setup};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fixtures;
use serde_json::json;

#[tokio::test]
async fn vultr_passes_the_conformance_suite() {
    let setup = setup().await;
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config(KEY, Some("[ewr]")),
        requirements: gpu("1.."),
        instance: fixtures::instance_configuration("main"),
        keys: fixtures::ssh_key_pair(),
        unknown_instance: ("4f0f6b1c-2b51-4c1e-9a53-5d6c8f0e2a77".to_owned(), "ewr".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(report.record.config, r#"{"type":"vultr","regions":["ewr"]}"#);
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    let offers: Vec<(&str, &str)> = report
        .offers
        .iter()
        .map(|o| (o.offer.instance.name.as_str(), o.offer.region.as_str()))
        .collect();
    assert_eq!(
        offers,
        [
            ("vcg-a100-3c-30g-20vram", "ewr"),
            ("vcg-a40-24c-120g-48vram", "ewr"),
            ("vcg-a100-24c-240g-160vram", "ewr"),
            ("vbm-112c-2048gb-8-h100-gpu", "ewr"),
        ],
        "GPU offers in ewr, cheapest first; GH200 is not a family dstack supports"
    );
    assert!(report.offers.iter().all(|o| o.availability.is_available()));
    let data = report.provisioned.expect("Vultr creates instances");
    assert_eq!((data.username.as_str(), data.ssh_port), ("root", Some(22)));
    assert_eq!(
        data.backend_data.get::<serde_json::Value>().unwrap(),
        Some(json!({"plan_type": "vm_instance"}))
    );
    let unknown = "/instances/4f0f6b1c-2b51-4c1e-9a53-5d6c8f0e2a77";
    let calls = setup.fake.calls();
    assert!(calls.contains(&format!("DELETE {unknown}")), "{calls:?}");
    assert!(calls.contains(&format!("DELETE /bare-metals{}", &unknown["/instances".len()..])));
    let left: Vec<String> = setup.fake.live();
    assert!(left.len() == 1 && left[0].ends_with("dstack-vpc-ewr"), "only the VPC stays: {left:?}");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn omitted_regions_are_stored_as_all() {
    let setup = setup().await;
    let record = setup.configurator().create_backend("main", config(KEY, None)).await.unwrap();
    assert_eq!(record.config, r#"{"type":"vultr","regions":[]}"#);
    assert!(setup.fake.calls().is_empty(), "storing calls nothing");
}

#[tokio::test]
async fn a_refused_key_is_invalid_credentials_on_api_key() {
    let setup = setup().await;
    let err = setup
        .configurator()
        .validate_config(&config("bad_key", None), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
    assert!(!format!("{err} {err:?}").contains("bad_key"));
    assert_eq!(setup.fake.calls(), ["GET /ssh-keys"]);
    setup
        .configurator()
        .validate_config(&config(KEY, None), &ValidationContext::default())
        .await
        .unwrap();
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_throttled_call_is_retried() {
    let setup = setup().await;
    setup.fake.api.fail_next(1, 429, Some(0));
    setup
        .configurator()
        .validate_config(&config(KEY, None), &ValidationContext::default())
        .await
        .unwrap();
    assert_eq!(setup.fake.calls(), ["GET /ssh-keys", "GET /ssh-keys"]);

    let compute = setup.compute(Some("[ewr]")).await;
    setup.fake.api.fail_next(1, 429, Some(0));
    assert_eq!(compute.offers(&gpu("A40")).await.unwrap().len(), 1);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn offers_are_parsed_as_gpuhunt_parses_plans() {
    let setup = setup().await;
    let compute = setup.compute(None).await;
    let offers = compute.offers(&anything()).await.unwrap();
    let got: Vec<(&str, &str, f64, u32, u64, usize, u64)> = offers
        .iter()
        .map(|o| {
            let r = &o.offer.instance.resources;
            let name = o.offer.instance.name.as_str();
            (
                name,
                o.offer.region.as_str(),
                o.offer.price,
                r.cpus,
                r.memory_mib / 1024,
                r.gpus.len(),
                r.disk.size_mib / 1024,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("vc2-1c-1gb", "ewr", 0.007, 1, 1, 0, 25),
            ("vc2-1c-1gb", "fra", 0.007, 1, 1, 0, 25),
            ("vhf-2c-4gb", "fra", 0.036, 2, 4, 0, 128),
            ("voc-g-2c-8gb-50s-amd", "ewr", 0.089, 2, 8, 0, 50),
            ("vcg-a100-3c-30g-20vram", "ewr", 0.397, 3, 30, 1, 350),
            ("vcg-a100-3c-30g-20vram", "fra", 0.397, 3, 30, 1, 350),
            ("vbm-8c-132gb", "fra", 0.518, 16, 128, 0, 1920),
            ("vcg-l40s-16c-180g-48vram", "fra", 1.671, 16, 180, 1, 1200),
            ("vcg-a40-24c-120g-48vram", "ewr", 1.712, 24, 120, 1, 1400),
            ("vcg-a100-24c-240g-160vram", "ewr", 3.58, 24, 240, 2, 1400),
            ("vbm-112c-2048gb-8-h100-gpu", "ewr", 23.92, 224, 2048, 8, 960),
        ],
        "dropped: the free plan, a plan not on demand, an empty location, vdc, vbm-4c-32gb, GH200"
    );
    let gpus = |name: &str| {
        let offer = offers.iter().find(|o| o.offer.instance.name == name).unwrap();
        serde_json::to_value(&offer.offer.instance.resources.gpus[0]).unwrap()
    };
    assert_eq!(
        gpus("vcg-a100-3c-30g-20vram"),
        json!({"name": "A100", "memory_mib": 20480, "vendor": "nvidia"})
    );
    assert_eq!(
        gpus("vcg-a100-24c-240g-160vram"),
        json!({"name": "A100", "memory_mib": 81920, "vendor": "nvidia"})
    );
    assert_eq!(
        gpus("vcg-a40-24c-120g-48vram"),
        json!({"name": "A40", "memory_mib": 49152, "vendor": "nvidia"})
    );
    assert_eq!(
        gpus("vbm-112c-2048gb-8-h100-gpu"),
        json!({"name": "H100", "memory_mib": 81920, "vendor": "nvidia"})
    );
    let offer = serde_json::to_value(&offers[0]).unwrap();
    assert_eq!((&offer["backend"], &offer["availability"]), (&json!("vultr"), &json!("available")));
    assert_eq!(offer["instance"]["resources"]["cpu_arch"], "x86");
    // No regions configured: gpuhunt lists them for the VDM availability.
    // The regions' availability is asked for concurrently, in no fixed order.
    let mut calls = setup.fake.calls();
    calls[3..].sort();
    assert_eq!(
        calls,
        [
            "GET /plans-metal",
            "GET /plans",
            "GET /regions",
            "GET /regions/ewr/availability",
            "GET /regions/fra/availability"
        ]
    );
    let queries: Vec<Option<String>> =
        setup.fake.api.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(
        queries[..3],
        [
            Some("per_page=500".into()),
            Some("type=all&per_page=500".into()),
            Some("per_page=500".into())
        ]
    );
    assert_eq!(queries[3].as_deref(), Some("type=vdm"));
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn configured_regions_filter_offers_and_vdm_availability() {
    let setup = setup().await;
    let names =
        |offers: Vec<dstack_core::offers::InstanceOfferWithAvailability>| -> Vec<(String, String)> {
            offers.into_iter().map(|o| (o.offer.instance.name, o.offer.region)).collect()
        };
    let fra = setup.compute(Some("[fra]")).await;
    let offers = names(fra.offers(&gpu("1..")).await.unwrap());
    assert_eq!(
        offers,
        [
            ("vcg-a100-3c-30g-20vram".into(), "fra".into()),
            ("vcg-l40s-16c-180g-48vram".into(), "fra".into())
        ]
    );
    assert_eq!(
        setup.fake.calls()[2..],
        ["GET /regions/fra/availability"],
        "only the configured region"
    );

    // As gpuhunt: one failed availability call leaves every VDM plan without locations.
    let broken = setup.compute(Some("[ewr, xyz]")).await;
    let offers = names(broken.offers(&gpu("A40")).await.unwrap());
    assert!(offers.is_empty(), "{offers:?}");
    let offers = names(broken.offers(&gpu("A100")).await.unwrap());
    assert_eq!(offers.len(), 2, "the other plans stay: {offers:?}");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn offers_are_cached_for_every_request() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    assert!(!format!("{compute:?}").contains(KEY), "the key stays out of Debug output");
    let gpus = compute.offers(&gpu("1..")).await.unwrap();
    let h100 = compute.offers(&gpu("H100:8")).await.unwrap();
    assert_eq!((gpus.len(), h100.len()), (4, 1));
    assert_eq!(
        setup.fake.calls(),
        ["GET /plans-metal", "GET /plans", "GET /regions/ewr/availability"],
        "one round of calls for two listings"
    );
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_provider_serves_a_catalog_as_gpuhunts_online_provider() {
    use dstack_backend_kit::{Auth, HttpSettings, RestClient};
    use dstack_catalog::{Catalog, CatalogItem, QueryFilter, Source};
    use dstack_core::config::BackendType;
    use dstack_core::offers::CpuArchitecture;

    let setup = setup().await;
    let auth = Auth::Bearer(dstack_core::Secret::new(KEY));
    let client =
        RestClient::new(BackendType::Vultr, setup.fake.url(), auth, &HttpSettings::default());
    let provider = dstack_backend_vultr::VultrProvider::new(client, Some(vec!["ewr".into()]), true);
    let mut catalog = Catalog::new(Source::PlainDirectory("/nonexistent".into()), None);
    catalog.add_online_provider(std::sync::Arc::new(provider));
    let filter = QueryFilter { provider: Some(vec!["vultr".into()]), ..QueryFilter::default() };
    let items = catalog.query(&filter).await;
    let find = |name: &str| -> Vec<&CatalogItem> {
        items.iter().map(|i| &**i).filter(|i| i.instance_name == name).collect()
    };
    // gpuhunt's items, before dstack's family filter: the GH200 machine is an ARM superchip.
    let gh200 = find("vbm-72c-480gb-gh200-gpu");
    assert_eq!(gh200.len(), 1);
    assert_eq!(
        (gh200[0].cpu_arch, gh200[0].gpu_name.as_deref()),
        (CpuArchitecture::Arm, Some("GH200"))
    );
    assert_eq!(find("vbm-4c-32gb").len(), 1);
    assert_eq!(find("vcg-a40-24c-120g-48vram")[0].location, "ewr", "placed by VDM availability");
    assert!(find("vc2-1c-0gb").is_empty() && find("vhp-1c-1gb-amd").is_empty());
    assert!(items.windows(2).all(|w| w[0].price <= w[1].price), "cheapest first");
    assert!(items.iter().all(|i| i.provider == "vultr" && !i.spot));
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn listings_follow_vultrs_cursors() {
    let setup = setup().await;
    setup.fake.max_per_page(2);
    let compute = setup.compute(None).await;
    assert_eq!(compute.offers(&anything()).await.unwrap().len(), 11, "as with one page");
    let calls = setup.fake.calls();
    let count = |call: &str| calls.iter().filter(|c| *c == call).count();
    assert_eq!((count("GET /plans-metal"), count("GET /plans"), count("GET /regions")), (2, 5, 1));
    let queries: Vec<String> =
        setup.fake.api.requests().into_iter().filter_map(|r| r.query).collect();
    assert!(queries.contains(&"type=all&per_page=500&cursor=next__8".to_owned()), "{queries:?}");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}
