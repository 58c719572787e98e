//! The Hot Aisle backend against a loopback fake of Hot Aisle's API
//! (`dstack_testkit::fakes::hotaisle`, held to Hot Aisle's published Swagger 2.0 description,
//! with the figures of dstack 0.22.5's Hot Aisle tests) and a real sshd
//! (`dstack_testkit::sshd`) standing in for the instances: the conformance suite,
//! credentials, and offers parsed as gpuhunt 0.1.34 parses them. Instances in
//! `hotaisle_instances.rs`.

mod common;

use common::{KEY, REGION, TEAM, config, gpu, instance, launcher_sudo_call, registered, setup};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_testkit::Reply;
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fakes::hotaisle::{self, MachineType};
use dstack_testkit::sshd::{free_port, key_pair};
use serde_json::{Value, json};

fn names(offers: &[InstanceOfferWithAvailability]) -> Vec<String> {
    offers.iter().map(|o| o.offer.instance.name.clone()).collect()
}

#[tokio::test]
async fn hotaisle_passes_the_conformance_suite() {
    let keys = key_pair("project");
    let Some(sshd) = common::sshd(&keys, None) else { return };
    let setup = setup(sshd.port()).await;
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config(KEY, TEAM, "regions: [us-michigan-1]\n"),
        requirements: gpu("1.."),
        instance: instance(&keys),
        keys: keys.clone(),
        unknown_instance: ("vm-99".to_owned(), REGION.to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(
        report.record.config,
        r#"{"type":"hotaisle","team_handle":"dstack-team","regions":["us-michigan-1"],"bare_metal":null}"#
    );
    assert_eq!(report.record.auth.expose(), format!(r#"{{"type":"api_key","api_key":"{KEY}"}}"#));
    assert_eq!(names(&report.offers), ["vm-mi300x-1"], "no bare metal unless asked for");
    let provisioned = report.provisioned.expect("Hot Aisle creates instances");
    assert_eq!(provisioned.instance_id, "vm-01");
    assert_eq!((provisioned.username.as_str(), provisioned.ssh_port), ("hotaisle", Some(22)));
    assert_eq!(provisioned.hostname.as_deref(), Some("127.0.0.1"));
    let sudo = sshd.await_sudo_calls(1);
    assert_eq!(sudo.last(), Some(&launcher_sudo_call()), "dstack's launcher ran as root");
    // The VM is gone; the project's key stays registered with the user, as in dstack.
    let live = setup.fake.live();
    assert!(live.len() == 1 && live[0].starts_with("ssh_key SHA256:"), "{live:?}");
    assert_eq!(setup.fake.ssh_keys(), [keys.public.as_str()]);
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn credentials_and_the_team_are_checked_as_dstack_checks_them() {
    let setup = setup(free_port()).await;
    let configurator = setup.configurator();
    let check = |key: &'static str, team: &'static str| {
        let configurator = configurator.clone();
        async move {
            configurator
                .validate_config(&config(key, team, ""), &ValidationContext::default())
                .await
        }
    };
    check(KEY, TEAM).await.expect("a good key of a member of the team");
    let refused = |err: dstack_core::BackendError, message: &str, field: &[&str]| {
        assert_eq!(err.kind(), ErrorKind::InvalidCredentials, "{err}");
        assert_eq!(err.message(), message);
        assert_eq!(err.fields(), [field.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>()]);
    };
    let err = check("bad-key", TEAM).await.unwrap_err();
    assert!(!format!("{err:?}").contains("bad-key"), "no secret in errors");
    refused(err, "Invalid credentials: Invalid API key", &["creds", "api_key"]);
    setup.fake.script_next("GET", "/user/", Reply::status(403, json!("Forbidden")));
    refused(
        check(KEY, TEAM).await.unwrap_err(),
        "Invalid credentials: Authenticated user does not have required permissions",
        &["creds", "api_key"],
    );
    refused(
        check(KEY, "other-team").await.unwrap_err(),
        "Invalid credentials: Team handle 'other-team' not found",
        &["team_handle"],
    );
    setup.fake.set_teams(&[]);
    refused(
        check(KEY, TEAM).await.unwrap_err(),
        "Invalid credentials: Valid API key but no teams found for this user",
        &["creds", "api_key"],
    );
    // Anything else is Hot Aisle's failure, not the config's (dstack raises it).
    setup.fake.set_teams(&[TEAM]);
    setup.fake.api.fail_next(2, 503, None);
    assert_eq!(check(KEY, TEAM).await.unwrap_err().kind(), ErrorKind::Transient);
    setup.fake.script_next("GET", "/user/", Reply::status(404, json!("Not Found")));
    assert_eq!(check(KEY, TEAM).await.unwrap_err().kind(), ErrorKind::Unexpected);
    assert!(setup.calls().iter().all(|c| c == "GET /user/"), "{:?}", setup.calls());
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

/// Hot Aisle's types plus a 2×MI300X VM, an MI355X VM (not a GPU dstack offers here) and one
/// of a model gpuhunt does not know.
async fn offered_types() -> common::Setup {
    let vms = vec![
        MachineType::vm("MI300X", 1, 199),
        MachineType::vm("MI300X", 2, 398),
        MachineType::vm("MI355X", 1, 249),
        MachineType::vm("MI999", 1, 99),
    ];
    let fake = hotaisle::start_with(&[KEY], &[TEAM], vms, hotaisle::bare_metal_types()).await;
    registered(fake, common::ssh(free_port()))
}

#[tokio::test]
async fn offers_are_gpuhunts_items_kept_as_dstack_keeps_them() {
    let setup = offered_types().await;
    for extra in ["", "bare_metal: false\n"] {
        let compute = setup.compute(config(KEY, TEAM, extra)).await;
        let offers = compute.offers(&gpu("1..")).await.unwrap();
        assert_eq!(names(&offers), ["vm-mi300x-1", "vm-mi300x-2"], "MI300X VMs only: {extra}");
    }
    let compute = setup.compute(config(KEY, TEAM, "bare_metal: true\n")).await;
    let offers = compute.offers(&gpu("1..")).await.unwrap();
    assert_eq!(names(&offers), ["vm-mi300x-1", "vm-mi300x-2", "bm-mi300x-8"], "cheapest first");
    assert!(offers.iter().all(|o| o.availability.is_available() && o.offer.region == REGION));
    // Each offer carries the specs exactly as listed: create sends them back.
    let (vm, bm) = (hotaisle::vm_types().remove(0), hotaisle::bare_metal_types().remove(0));
    assert_eq!(Value::Object(offers[0].offer.backend_data.clone()), json!({"vm_specs": vm.specs}));
    assert_eq!(
        Value::Object(offers[2].offer.backend_data.clone()),
        json!({"bare_metal_specs": bm.specs})
    );
    let offer = serde_json::to_value(&offers[0].offer).unwrap();
    assert_eq!(offer["price"], 1.99);
    let resources = &offer["instance"]["resources"];
    assert_eq!(
        (resources["cpus"].clone(), resources["memory_mib"].clone()),
        (json!(13), json!(224 * 1024))
    );
    assert_eq!(resources["disk"]["size_mib"], 12288 * 1024);
    assert_eq!(
        resources["gpus"],
        json!([{"name": "MI300X", "memory_mib": 192 * 1024, "vendor": "amd"}])
    );
    let server = &offers[2].offer;
    assert_eq!(server.price, 27.12);
    assert_eq!((server.instance.resources.cpus, server.instance.resources.gpus.len()), (104, 8));
    assert_eq!(server.instance.resources.memory_mib, 2048 * 1024);
    // Requirements filter as gpuhunt filters, regions as dstack (`[]` is all).
    assert_eq!(names(&compute.offers(&gpu("MI300X:8")).await.unwrap()), ["bm-mi300x-8"]);
    let michigan = setup.compute(config(KEY, TEAM, "regions: []\n")).await;
    assert_eq!(names(&michigan.offers(&gpu("1..")).await.unwrap()).len(), 2);
    let elsewhere = setup.compute(config(KEY, TEAM, "regions: [eu-west-1]\n")).await;
    assert_eq!(names(&elsewhere.offers(&gpu("1..")).await.unwrap()), Vec::<String>::new());
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn offers_are_kept_for_a_while() {
    let setup = offered_types().await;
    let compute = setup.compute(config(KEY, TEAM, "")).await;
    compute.offers(&gpu("1..")).await.unwrap();
    compute.offers(&gpu("MI300X:2")).await.unwrap();
    let listings = setup.calls().iter().filter(|c| c.ends_with("/available/")).count();
    assert_eq!(listings, 2, "both listings once, then filtered per request: {:?}", setup.calls());
}

#[tokio::test]
async fn one_listing_may_fail_but_not_both() {
    let setup = offered_types().await;
    let bare_metal = config(KEY, TEAM, "bare_metal: true\n");
    let (vms, servers) =
        ("/teams/{team}/virtual_machines/available/", "/teams/{team}/bare_metal/available/");
    setup.fake.script_next("GET", servers, Reply::status(403, json!("Forbidden")));
    let offers = setup.compute(bare_metal.clone()).await.offers(&gpu("1..")).await.unwrap();
    assert_eq!(names(&offers), ["vm-mi300x-1", "vm-mi300x-2"], "the VMs are still offered");
    setup.fake.script_next("GET", vms, Reply::status(404, json!("Not Found")));
    let offers = setup.compute(bare_metal.clone()).await.offers(&gpu("1..")).await.unwrap();
    assert_eq!(names(&offers), ["bm-mi300x-8"]);
    setup.fake.script_next("GET", vms, Reply::status(404, json!("Not Found")));
    setup.fake.script_next("GET", servers, Reply::status(403, json!("Forbidden")));
    let err = setup.compute(bare_metal.clone()).await.offers(&gpu("1..")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "the first failure, the VMs': {err}");
    // An item gpuhunt cannot read fails its listing only.
    let broken = Reply::json(json!([{"OnDemandPrice": 1, "Specs": {"cpu_cores": 1}}]));
    setup.fake.script_next("GET", servers, broken);
    let offers = setup.compute(bare_metal.clone()).await.offers(&gpu("1..")).await.unwrap();
    assert_eq!(names(&offers), ["vm-mi300x-1", "vm-mi300x-2"]);
    // Hot Aisle answers `null` when nothing is available (gpuhunt's note; its description
    // says a list).
    setup.fake.script_next("GET", vms, Reply::json(Value::Null));
    let offers = setup.compute(bare_metal).await.offers(&gpu("1..")).await.unwrap();
    assert_eq!(names(&offers), ["bm-mi300x-8"]);
    let misfits = setup.fake.violations();
    assert!(misfits.len() == 2 && misfits.iter().all(|v| v.contains("available/")), "{misfits:?}");
}
