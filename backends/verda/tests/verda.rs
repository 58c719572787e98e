//! The Verda backend (and its `datacrunch` alias) against `dstack_testkit::fakes::verda`, a
//! loopback fake of Verda's API. Verda publishes no machine-readable description: the fake's
//! shapes follow the `verda` Python SDK 1.25.0 (the token request and answer, `POST` answering
//! the new ID, `GET /instance-availability?isSpot=` answering `[{location_code,
//! availabilities}]`, the instance payload, `{"code", "message"}` errors), its unit-test
//! fixtures, and dstack 0.22.5's `verda/test_compute.py` (the messages dstack reads).

mod common;

use common::*;
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendType;
use dstack_core::offers::BackendData;
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fixtures;
use serde_json::{Value, json};

#[tokio::test]
async fn verda_passes_the_conformance_suite() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Verda);
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config("verda", ID, SECRET),
        requirements: requirements("cpu: 4\n", Some(false)),
        instance: fixtures::instance_configuration("main"),
        keys: fixtures::ssh_key_pair(),
        unknown_instance: ("0920582c-7ff0-4139-9e34-823a0be62549".to_owned(), "FIN-01".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(report.record.config, r#"{"type":"verda","regions":["FIN-01","FIN-02"]}"#);
    assert_eq!(
        report.record.auth.expose(),
        format!(r#"{{"type":"api_key","client_id":"{ID}","client_secret":"{SECRET}"}}"#)
    );
    let data = report.provisioned.expect("Verda creates instances");
    assert_eq!((data.username.as_str(), data.ssh_port, data.dockerized), ("root", Some(22), true));
    let kept = serde_json::to_value(&data.backend_data).unwrap();
    let kept: Value = serde_json::from_str(kept.as_str().unwrap()).unwrap();
    assert_eq!(kept["ssh_key_ids"].as_array().map(Vec::len), Some(1));
    assert!(kept["startup_script_id"].is_string());
    // The deploy as the SDK sends it, with dstack's choices.
    let requests = setup.fake.api.requests();
    let deploy = requests.iter().find(|r| r.method == "POST" && r.path == "/instances").unwrap();
    let hostname = deploy.body["hostname"].as_str().unwrap().to_owned();
    assert!(hostname.starts_with("dstack-main-fleet-0-") && hostname.len() <= 60, "{hostname}");
    assert_eq!(
        deploy.body,
        json!({
            "instance_type": "CPU.4V.16G", "image": "2404f580-1300-1111-82b3-f199fb9b701b",
            "ssh_key_ids": kept["ssh_key_ids"], "startup_script_id": kept["startup_script_id"],
            "hostname": hostname, "description": hostname, "location_code": "FIN-01",
            "os_volume": {"name": "OS volume", "size": 100}, "volumes": [],
            "existing_volumes": [], "is_spot": false, "coupon": null, "pricing": "FIXED_PRICE",
        })
    );
    let key = requests.iter().find(|r| r.path == "/sshkeys" && r.method == "POST").unwrap();
    assert_eq!(key.body["name"], format!("{hostname}-0.key"));
    assert_eq!(key.body["key"], fixtures::ssh_key_pair().public);
    let script = requests.iter().find(|r| r.path == "/scripts" && r.method == "POST").unwrap();
    assert_eq!(script.body["name"], format!("{hostname}.sh"));
    let text = script.body["script"].as_str().unwrap();
    assert!(text.contains("dstack-shim-linux-amd64") && !text.contains("cloud-config"));
    let token = &requests[0];
    assert_eq!(
        (token.path.as_str(), &token.body),
        (
            "/oauth2/token",
            &json!({"grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET})
        )
    );
    let delete = requests.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(
        delete.body,
        json!({"id": [data.instance_id], "action": "delete", "volume_ids": null, "delete_permanently": true})
    );
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "the instance, script and key are gone");
    setup.finish();
}

#[tokio::test]
async fn datacrunch_is_verda_under_the_old_name() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Datacrunch);
    assert_eq!(configurator.backend_type(), BackendType::Datacrunch);
    configurator
        .validate_config(&config("datacrunch", ID, SECRET), &ValidationContext::default())
        .await
        .unwrap();
    let record =
        configurator.create_backend("main", config("datacrunch", ID, SECRET)).await.unwrap();
    assert_eq!(record.config, r#"{"type":"datacrunch","regions":["FIN-01","FIN-02"]}"#);
    let compute = configurator.compute(&record).await.unwrap();
    let offer = cpu_offer(&*compute).await;
    assert_eq!(offer.offer.backend, BackendType::Datacrunch, "the verda catalog, as datacrunch");
    let data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    assert_eq!(data.backend, BackendType::Datacrunch);
    assert_eq!(data.region, "FIN-01");
    compute.update_provisioning_data(&mut data.clone(), &fixtures::ssh_key_pair()).await.unwrap();
    compute.terminate_instance(&data.instance_id, &data.region, &data.backend_data).await.unwrap();
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    setup.finish();
}

#[tokio::test]
async fn refused_credentials_are_invalid_on_api_key_and_stay_secret() {
    let setup = setup().await;
    for backend in [BackendType::Verda, BackendType::Datacrunch] {
        let err = setup
            .configurator(backend)
            .validate_config(
                &config(backend.as_str(), ID, "wrong-secret-xyz"),
                &ValidationContext::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
        assert_eq!(err.message(), "Invalid credentials");
        assert_eq!(err.fields(), [["creds", "api_key"]]);
        assert!(!format!("{err} {err:?}").contains("wrong-secret-xyz"));
    }
    let err = setup
        .configurator(BackendType::Verda)
        .validate_config(&config("verda", "''", "s"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::InvalidConfig, "client_id and client_secret must be provided")
    );
    setup.finish();
}

#[tokio::test]
async fn offers_are_the_catalog_in_the_regions_with_verdas_availability() {
    let setup = setup().await;
    let compute = setup.compute(BackendType::Verda).await;
    let offers = compute.offers(&requirements("gpu: 0..8\n", None)).await.unwrap();
    let seen: Vec<(&str, &str, bool, f64, bool)> = offers
        .iter()
        .map(|o| {
            let i = &o.offer.instance;
            (
                i.name.as_str(),
                o.offer.region.as_str(),
                i.resources.spot,
                o.offer.price,
                o.availability.is_available(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("CPU.4V.16G", "FIN-01", true, 0.0093, false),
            ("CPU.4V.16G", "FIN-01", false, 0.0279, true),
            ("1V100.6V", "FIN-01", false, 0.39, true),
            ("1H100.80S.30V", "FIN-02", true, 1.1, true),
            ("1H100.80S.30V", "FIN-02", false, 2.19, false),
        ],
        "ICE-01 is not configured; availability is per location and pricing"
    );
    let h100 = serde_json::to_value(&offers[3]).unwrap();
    assert_eq!(h100["backend"], "verda");
    assert_eq!(
        h100["instance"]["resources"]["gpus"][0],
        json!({"name": "H100", "memory_mib": 80 * 1024, "vendor": "nvidia"})
    );
    assert_eq!(h100["instance"]["resources"]["cpus"], 30);
    assert_eq!(h100["instance"]["resources"]["memory_mib"], 120 * 1024);
    assert!(offers.iter().all(|o| o.offer.instance.resources.disk.size_mib == 100 * 1024));
    // The disk: at least the 50 GB image, else as asked; below the image, no offers.
    let small = compute.offers(&requirements("disk: 20GB..\n", None)).await.unwrap();
    assert!(
        !small.is_empty()
            && small.iter().all(|o| o.offer.instance.resources.disk.size_mib == 50 * 1024)
    );
    assert!(compute.offers(&requirements("disk: ..40GB\n", None)).await.unwrap().is_empty());
    let calls = setup.calls();
    assert_eq!(
        calls,
        [
            "POST /oauth2/token",
            "GET /instance-availability?isSpot=false",
            "GET /instance-availability?isSpot=true"
        ],
        "three listings, one round of calls (the 180 s offer cache)"
    );
    setup.finish();
}

#[tokio::test]
async fn throttled_calls_are_retried() {
    let setup = setup().await;
    let configurator = setup.configurator(BackendType::Verda);
    setup.fake.api.fail_next(1, 429, Some(0));
    configurator
        .validate_config(&config("verda", ID, SECRET), &ValidationContext::default())
        .await
        .unwrap();
    let compute = setup.compute(BackendType::Verda).await;
    let offer = cpu_offer(&*compute).await;
    // The next call is the SSH key's creation, sent outside `RestClient`.
    setup.fake.api.fail_next(1, 429, Some(0));
    let mut data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    let keys = setup.calls().iter().filter(|c| *c == "POST /sshkeys").count();
    assert_eq!(keys, 2, "the throttled creation is sent again");
    compute
        .terminate_instance(&data.instance_id, &data.region, &BackendData::none())
        .await
        .unwrap();
    // Without backend data the script and key are not known: they stay, as in dstack.
    assert_eq!(setup.fake.live().len(), 2);
    setup.finish();
}
