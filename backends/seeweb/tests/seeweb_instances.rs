//! Seeweb instances against the loopback fake (`dstack_testkit::fakes::seeweb`), whose shapes
//! follow Seeweb's SDK `ecsapi` 0.4.0 (`POST /servers` → `{"status", "action_id", "server"}`,
//! `GET /actions/{id}` → `{"action": {"status": "in-progress" | "completed" | "failed"}}`,
//! `Server.status` `Booting` / `Booted` / `Fail`, `SshKey {id, key, label}`) and dstack
//! 0.22.5's Seeweb fixtures (capacity and 404 bodies): create, update, terminate, and what
//! is left when a create fails.

mod common;

use common::{TOKEN, config, gpu, setup};
use dstack_core::ErrorKind;
use dstack_core::offers::{BackendData, InstanceOfferWithAvailability};
use dstack_testkit::fixtures;
use serde_json::{Value, json};

async fn offer(setup: &common::Setup, name: &str) -> InstanceOfferWithAvailability {
    let compute = setup.compute(config(TOKEN, Some(&["it-fr2"]))).await;
    let offers = compute.offers(&gpu("1..")).await.unwrap();
    offers.into_iter().find(|o| o.offer.instance.name == name).expect("the plan is offered")
}

fn create_body(setup: &common::Setup) -> Value {
    let requests = setup.fake.api.requests();
    let create = requests.iter().rfind(|r| r.method == "POST" && r.path == "/servers");
    create.expect("a POST /servers").body.clone()
}

#[tokio::test]
async fn an_instance_is_created_updated_until_it_has_an_ip_and_terminated() {
    let setup = setup().await;
    setup.fake.set_polls_until_ready(2);
    let compute = setup.compute(config(TOKEN, Some(&["it-fr2"]))).await;
    let offer = offer(&setup, "ECS1GPU7").await;
    let instance = fixtures::instance_configuration("main");
    let mut data = compute.create_instance(&offer, &instance).await.unwrap();
    let body = create_body(&setup);
    assert_eq!(
        (body["plan"].clone(), body["location"].clone()),
        (json!("ECS1GPU7"), json!("it-fr2"))
    );
    assert_eq!(body["image"], "ubuntu-2204-uefi-nvidia-driver", "dstack's first GPU image");
    let notes = body["notes"].as_str().unwrap();
    assert!(notes.starts_with("dstack-main-fleet-0-") && notes.len() <= 60, "{notes}");
    let label = body["ssh_key"].as_str().unwrap();
    assert!(label.starts_with("dstack-") && label.len() == 27, "{label}");
    let script = body["user_customize"].as_str().unwrap();
    assert!(script.starts_with("#!/bin/bash\nset -euo pipefail\n"));
    assert!(script.contains(&fixtures::ssh_key_pair().public));
    assert!(script.contains("/0.22.5/binaries/dstack-shim-linux-amd64"));
    assert!(script.ends_with("systemctl enable dstack-shim.service"));
    assert_eq!(data.instance_id, setup.fake.servers()[0]["name"].as_str().unwrap());
    assert_eq!((data.username.as_str(), data.ssh_port, data.dockerized), ("root", Some(22), true));
    assert_eq!(data.hostname, None);
    let stored: Value = data.backend_data.get().unwrap().unwrap();
    assert!(stored["action_id"].as_i64().is_some(), "{stored}");

    let keys = fixtures::ssh_key_pair();
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname, None, "the creating action is still in progress");
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert!(data.hostname.as_deref().is_some_and(|ip| ip.starts_with("192.0.2.")), "{data:?}");

    for _ in 0..2 {
        compute.terminate_instance(&data.instance_id, "it-fr2", &data.backend_data).await.unwrap();
    }
    compute.terminate_instance("ec404", "it-fr2", &BackendData::none()).await.unwrap();
    assert_eq!(setup.fake.live(), [format!("sshkey {label}")]);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_registered_key_is_reused_whatever_its_comment() {
    let setup = setup().await;
    let public = fixtures::ssh_key_pair().public;
    let blob: Vec<&str> = public.split_whitespace().take(2).collect();
    setup.fake.add_ssh_key("my-laptop", &format!("{} another-comment", blob.join(" ")));
    let compute = setup.compute(config(TOKEN, None)).await;
    let offer = offer(&setup, "ECS1GPU6").await;
    compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    assert_eq!(create_body(&setup)["ssh_key"], "my-laptop");
    assert!(!setup.calls().contains(&"POST /sshkeys".to_owned()), "{:?}", setup.calls());
}

#[tokio::test]
async fn a_capacity_error_is_no_capacity_and_leaves_nothing() {
    let setup = setup().await;
    let compute = setup.compute(config(TOKEN, None)).await;
    let offer = offer(&setup, "ECS1GPU6").await;
    setup.fake.next_create_no_capacity();
    let err = compute
        .create_instance(&offer, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity, "{err}");
    assert!(err.message().contains("Plan is not available in this region"), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "the key this create made is deleted");

    // Sold out since the offers were listed: dstack's check before creating.
    setup.fake.set_capacity("ECS1GPU6", &[]);
    let err = compute
        .create_instance(&offer, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::NoCapacity, "Seeweb plan ECS1GPU6 is not available in region it-fr2")
    );
    let creates = setup.calls().iter().filter(|c| *c == "POST /servers").count();
    assert_eq!(creates, 1, "no second POST /servers");
}

#[tokio::test]
async fn a_failed_create_leaves_nothing_behind() {
    let setup = setup().await;
    let compute = setup.compute(config(TOKEN, None)).await;
    let offer = offer(&setup, "ECS1GPU7").await;
    let instance = fixtures::instance_configuration("main");

    setup.fake.next_create_refused(500, "internal failure");
    let err = compute.create_instance(&offer, &instance).await.unwrap_err();
    assert!(err.message().contains("internal failure"), "{err}");
    assert_ne!(err.kind(), ErrorKind::NoCapacity);
    assert_eq!(setup.fake.live(), Vec::<String>::new());

    // The server was made but the answer lost: it is found by its notes and deleted.
    setup.fake.next_create_answer_lost();
    let err = compute.create_instance(&offer, &instance).await.unwrap_err();
    assert!(!err.kind().is_temporary(), "a create that may have happened is not retried: {err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    assert!(setup.calls().contains(&"GET /servers".to_owned()));
    assert!(!format!("{err:?} {err}").contains(TOKEN));
}

#[tokio::test]
async fn an_instance_that_fails_to_start_is_provisioning_failed() {
    let setup = setup().await;
    let compute = setup.compute(config(TOKEN, None)).await;
    let offer = offer(&setup, "ECS1GPU7").await;
    let keys = fixtures::ssh_key_pair();
    setup.fake.next_instance_fails();
    let mut data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    let err = compute.update_provisioning_data(&mut data, &keys).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed);
    let stored: Value = data.backend_data.get().unwrap().unwrap();
    assert_eq!(
        err.message(),
        format!("Seeweb action {} entered status 'failed'", stored["action_id"])
    );
    // Without the action, the server's own status tells.
    let mut without_action = data.clone();
    without_action.backend_data = BackendData::none();
    let err = compute.update_provisioning_data(&mut without_action, &keys).await.unwrap_err();
    assert_eq!(err.message(), format!("Seeweb server {} entered status 'fail'", data.instance_id));
    compute.terminate_instance(&data.instance_id, "it-fr2", &data.backend_data).await.unwrap();
    assert!(setup.fake.servers().is_empty());
}

#[tokio::test]
async fn an_instance_that_never_starts_has_no_address() {
    let setup = setup().await;
    let compute = setup.compute(config(TOKEN, None)).await;
    let offer = offer(&setup, "ECS1GPU6").await;
    setup.fake.next_instance_never_ready();
    let mut data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    for _ in 0..3 {
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    }
    assert_eq!(data.hostname, None);
    assert!(
        !setup.calls().iter().any(|c| c.starts_with("GET /servers/")),
        "the action comes first"
    );
}
