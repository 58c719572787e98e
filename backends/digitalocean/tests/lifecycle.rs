//! Droplets on the loopback fake `dstack_testkit::fakes::digitalocean`, held to DigitalOcean's
//! published OpenAPI description (`POST /v2/account/keys` and `/v2/droplets` bodies, droplets
//! with `status` and `networks.v4`, errors as `{"id", "message"}`): what dstack sends, the SSH
//! key reused, capacity errors, failures half way, droplets that never come up.

mod common;

use common::{KEY, Setup, config, requirements, setup};
use dstack_core::ErrorKind;
use dstack_core::offers::{BackendData, InstanceOfferWithAvailability, ProvisioningData};
use dstack_testkit::fixtures;
use serde_json::Value;

async fn offer(setup: &Setup, extra: &str, gpu: &str) -> InstanceOfferWithAvailability {
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let offers = compute.offers(&requirements(&format!("gpu: {gpu}\n"))).await.unwrap();
    offers.into_iter().next().expect("an offer")
}

fn created(setup: &Setup) -> Vec<Value> {
    let requests = setup.fake.api.requests().into_iter();
    requests.filter(|r| r.method == "POST" && r.path == "/v2/droplets").map(|r| r.body).collect()
}

async fn update(
    setup: &Setup,
    extra: &str,
    data: &mut ProvisioningData,
) -> dstack_core::error::Result<()> {
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    compute.update_provisioning_data(data, &fixtures::ssh_key_pair()).await
}

/// The body dstack sends (DigitalOcean's `droplet_single_create` schema), its image and user
/// data per GPU vendor and count, and the project's key registered once.
#[tokio::test]
async fn droplets_are_created_as_dstack_creates_them() {
    let setup = setup().await;
    let project = setup.fake.add_project("ml-team");
    let extra = "project_name: ml-team\nregions: [nyc2, nyc3]\n";
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let instance = fixtures::instance_configuration("main");
    let h100 = offer(&setup, extra, "H100:8").await;
    let cpu = compute.offers(&requirements("cpu: 4\ngpu: 0\n")).await.unwrap().remove(0);
    let first = compute.create_instance(&h100, &instance).await.unwrap();
    let second = compute.create_instance(&cpu, &instance).await.unwrap();
    assert_ne!(first.instance_id, second.instance_id);

    let key = &fixtures::ssh_key_pair().public;
    assert_eq!(setup.fake.ssh_keys(), [format!("dstack-main: {key}")], "registered once");
    let bodies = created(&setup);
    let body = &bodies[0];
    let name = body["name"].as_str().unwrap();
    assert!(name.starts_with("dstack-main-fleet-0-") && name.len() <= 60, "{name}");
    assert_eq!(
        (&body["region"], &body["size"], &body["image"]),
        (&"nyc2".into(), &"gpu-h100x8-640gb".into(), &"gpu-h100x8-base".into())
    );
    assert_eq!(body["project_id"], project.as_str());
    for field in ["backups", "ipv6", "monitoring"] {
        assert_eq!(body[field], false, "{field}");
    }
    assert_eq!(body["tags"], serde_json::json!([]));
    assert_eq!(body["ssh_keys"].as_array().unwrap().len(), 1);
    let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "name",
            "region",
            "size",
            "image",
            "ssh_keys",
            "backups",
            "ipv6",
            "monitoring",
            "tags",
            "user_data",
            "project_id"
        ]
    );
    let data = body["user_data"].as_str().unwrap();
    assert!(data.starts_with("#cloud-config\n") && data.contains(key.as_str()));
    assert!(data.contains("dstack-shim") && !data.contains("docker-ce"), "H100 images ship Docker");
    // The CPU image does not: Docker is installed first.
    assert_eq!(bodies[1]["image"], "ubuntu-24-04-x64");
    let cpu_data = bodies[1]["user_data"].as_str().unwrap();
    assert!(cpu_data.contains("sh\n  - -c\n  - \"export DEBIAN_FRONTEND=noninteractive && "));
    assert!(cpu_data.contains("apt-get --assume-yes install docker-ce"));

    assert_eq!(setup.fake.live().len(), 2);
    for data in [&first, &second] {
        compute
            .terminate_instance(&data.instance_id, &data.region, &BackendData::none())
            .await
            .unwrap();
    }
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// A key added in DigitalOcean's console (`sshKeys` schema) is reused, not registered again.
#[tokio::test]
async fn an_existing_key_is_found_by_its_public_key() {
    let setup = setup().await;
    let key = fixtures::ssh_key_pair().public;
    for n in 0..20 {
        setup
            .fake
            .add_ssh_key(&format!("laptop-{n}"), &format!("ssh-ed25519 AAAAkey{n} me@laptop"));
    }
    let id = setup.fake.add_ssh_key("my key", &format!("{key}\n"));
    let extra = "regions: [tor1]\n";
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let offer = offer(&setup, extra, "H100:1").await;
    compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    assert_eq!(created(&setup)[0]["ssh_keys"], serde_json::json!([id]));
    assert_eq!(setup.fake.ssh_keys().len(), 21, "no key registered");
    let calls = setup.calls();
    assert!(calls.contains(&"GET /v2/account/keys?page=2".to_owned()), "{calls:?}");
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// DigitalOcean's 422 `{"id": "unprocessable_entity", "message": ...}` to a droplet create.
#[tokio::test]
async fn a_refused_create_is_no_capacity_and_leaves_no_droplet() {
    let setup = setup().await;
    let extra = "regions: [atl1]\n";
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let offer = offer(&setup, extra, "MI300X").await;
    setup.fake.fail_next_create("Size is not available in this region.");
    let err = compute
        .create_instance(&offer, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert!(err.kind().try_next_offer());
    assert!(err.to_string().contains("Size is not available in this region."), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    // The project's key stays registered, as in dstack, and is reused by the next create.
    assert_eq!(setup.fake.ssh_keys().len(), 1);
    compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    assert_eq!(setup.fake.ssh_keys().len(), 1);
    assert_eq!(setup.fake.live().len(), 1);
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// A project removed after the backend was configured: dstack's "Project ... does not
/// exist", before anything is created.
#[tokio::test]
async fn a_failure_half_way_leaves_nothing_behind() {
    let setup = setup().await;
    setup.fake.add_project("ml-team");
    let extra = "project_name: ml-team\nregions: [tor1]\n";
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let offer = offer(&setup, extra, "H100:1").await;
    setup.fake.remove_project("ml-team");
    let err = compute
        .create_instance(&offer, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.to_string().contains("Project ml-team does not exist"), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    assert_eq!(setup.fake.ssh_keys(), Vec::<String>::new());
    assert!(created(&setup).is_empty());
}

/// Droplets as `GET /v2/droplets/{id}` shows them: `new` without networks, then `active` with
/// a public and a private IPv4; `archive` when it failed.
#[tokio::test]
async fn the_address_comes_once_active_and_a_failed_droplet_is_reported() {
    let setup = setup().await;
    let extra = "regions: [tor1]\n";
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let offer = offer(&setup, extra, "RTX4000ADA").await;
    let instance = fixtures::instance_configuration("main");

    setup.fake.boot_after(2);
    let mut data = compute.create_instance(&offer, &instance).await.unwrap();
    for _ in 0..2 {
        update(&setup, extra, &mut data).await.unwrap();
        assert_eq!(data.hostname, None, "not active yet");
    }
    update(&setup, extra, &mut data).await.unwrap();
    assert!(data.hostname.as_deref().unwrap().starts_with("203.0.113."), "the public address");
    assert_eq!(data.internal_ip, None, "as dstack");

    setup.fake.stall_droplets(true);
    let mut stalled = compute.create_instance(&offer, &instance).await.unwrap();
    for _ in 0..5 {
        update(&setup, extra, &mut stalled).await.unwrap();
    }
    assert_eq!(stalled.hostname, None, "never active, never an address");
    setup.fake.stall_droplets(false);

    setup.fake.fail_next_droplet();
    let mut failed = compute.create_instance(&offer, &instance).await.unwrap();
    let err = update(&setup, extra, &mut failed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed);
    assert!(err.to_string().contains("archive"), "{err}");

    for data in [&data, &stalled, &failed] {
        compute.terminate_instance(&data.instance_id, "tor1", &BackendData::none()).await.unwrap();
    }
    let err = update(&setup, extra, &mut failed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed, "a deleted droplet will not come up");
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    // Gone (404) is success; so is an ID that names no droplet.
    for id in [data.instance_id.as_str(), "not-a-droplet"] {
        compute.terminate_instance(id, "tor1", &BackendData::none()).await.unwrap();
    }
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// A call of a create throttled (429, DigitalOcean's rate limit) is sent again.
#[tokio::test]
async fn a_throttled_call_during_a_create_is_sent_again() {
    let setup = setup().await;
    let extra = "regions: [tor1]\n";
    let compute = setup.compute(config("digitalocean", extra, KEY)).await;
    let offer = offer(&setup, extra, "H100:1").await;
    let instance = fixtures::instance_configuration("main");
    compute.create_instance(&offer, &instance).await.unwrap();
    let before = setup.calls().len();
    // The project's key is listed (throttled, then again), then the droplet is created.
    setup.fake.api.fail_next(1, 429, Some(0));
    compute.create_instance(&offer, &instance).await.unwrap();
    assert_eq!(
        setup.calls()[before..],
        ["GET /v2/account/keys", "GET /v2/account/keys", "POST /v2/droplets"]
    );
    assert_eq!(setup.fake.live().len(), 2);
}
