//! Creating, updating and terminating Vultr machines against `dstack_testkit::fakes::vultr`
//! (shapes of Vultr's OpenAPI description `vultr/openapi.json`; the create bodies, images and
//! VPC handling of dstack 0.22.5's `vultr/api_client.py`), checking what the fake holds after
//! each step and that nothing breaks the description.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{gpu, setup};
use dstack_core::offers::{BackendData, InstanceOfferWithAvailability};
use dstack_core::{Compute, ErrorKind};
use dstack_testkit::fixtures;
use serde_json::json;

async fn offer(compute: &dyn Compute, spec: &str) -> InstanceOfferWithAvailability {
    compute.offers(&gpu(spec)).await.unwrap().into_iter().next().expect("an offer")
}

#[tokio::test]
async fn instances_get_the_vpc_user_data_and_image_dstack_gives_them() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    let a100 = offer(&*compute, "A100:20GB").await;
    assert_eq!(a100.offer.instance.name, "vcg-a100-3c-30g-20vram");
    let config = fixtures::instance_configuration("main");
    let mut data = compute.create_instance(&a100, &config).await.unwrap();
    let second = compute.create_instance(&a100, &config).await.unwrap();
    let creates: Vec<_> =
        setup.fake.api.requests().into_iter().filter(|r| r.method == "POST").collect();
    let paths: Vec<&str> = creates.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/vpcs", "/instances", "/instances"], "the VPC is made once, then reused");
    assert_eq!(creates[0].body, json!({"region": "ewr", "description": "dstack-vpc-ewr"}));
    let vpc = setup.fake.vpcs().remove(0);
    let body = &creates[1].body;
    assert_eq!((&body["os_id"], &body["image_id"]), (&json!(1743), &serde_json::Value::Null));
    assert_eq!(body["attach_vpc"], json!([vpc.id]));
    let label = body["label"].as_str().unwrap();
    assert!(label.starts_with("dstack-main-fleet-0-") && label.len() <= 64, "{label}");
    let user_data =
        String::from_utf8(BASE64.decode(body["user_data"].as_str().unwrap()).unwrap()).unwrap();
    assert!(user_data.starts_with("#cloud-config\n"));
    assert!(
        user_data.contains(&format!("ufw allow from {}/{}", vpc.subnet, vpc.mask)),
        "{user_data}"
    );
    assert!(!user_data.contains("10.0.0.0/8"), "only the VPC's subnet is let in");
    assert!(user_data.contains(&fixtures::ssh_key_pair().public));

    // Pending first (main_ip 0.0.0.0), then active with both addresses.
    compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    assert_eq!(data.hostname, None);
    compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    let machine = setup.fake.machines().into_iter().find(|m| m.id == data.instance_id).unwrap();
    assert_eq!(data.hostname.as_deref(), Some(machine.main_ip.as_str()));
    assert_eq!(data.internal_ip.as_deref(), Some(machine.internal_ip.as_str()));
    assert!(machine.internal_ip.starts_with(vpc.subnet.trim_end_matches(".0")));

    for d in [&data, &second, &data] {
        compute.terminate_instance(&d.instance_id, &d.region, &d.backend_data).await.unwrap();
    }
    assert_eq!(
        setup.fake.live(),
        [format!("vpc {} dstack-vpc-ewr", vpc.id)],
        "dstack keeps the VPC"
    );
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn bare_metal_plans_go_to_bare_metals() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    let h100 = offer(&*compute, "H100:8").await;
    let mut data =
        compute.create_instance(&h100, &fixtures::instance_configuration("main")).await.unwrap();
    assert_eq!(
        data.backend_data.get::<serde_json::Value>().unwrap(),
        Some(json!({"plan_type": "bare-metal"}))
    );
    let create = setup.fake.api.requests().into_iter().find(|r| r.path == "/bare-metals").unwrap();
    assert_eq!(
        (&create.body["image_id"], &create.body["plan"]),
        (&json!("docker"), &json!("vbm-112c-2048gb-8-h100-gpu"))
    );
    for _ in 0..2 {
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    }
    assert!(data.hostname.is_some());
    assert_eq!(data.internal_ip, None, "Vultr's bare-metal answer has no internal_ip");
    compute.terminate_instance(&data.instance_id, "ewr", &data.backend_data).await.unwrap();
    compute.terminate_instance(&data.instance_id, "ewr", &data.backend_data).await.unwrap();
    let calls = setup.fake.calls();
    let bare = format!("/bare-metals/{}", data.instance_id);
    assert_eq!(calls.iter().filter(|c| **c == format!("DELETE {bare}")).count(), 2, "{calls:?}");
    assert!(calls.contains(&format!("GET {bare}")));
    assert!(setup.fake.machines().is_empty());
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_sold_out_plan_is_no_capacity_and_leaves_nothing_behind() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    let a100 = offer(&*compute, "A100:20GB").await;
    setup.fake.fail_next_create("Plan is not available in the selected region.");
    let err = compute
        .create_instance(&a100, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity, "{err}");
    assert!(err.kind().try_next_offer());
    assert!(err.message().contains("Plan is not available in the selected region."), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "the VPC made for it is deleted");
    let calls = setup.fake.calls();
    assert!(calls.iter().any(|c| c.starts_with("DELETE /vpcs/")), "{calls:?}");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_create_with_an_unknown_outcome_is_swept_up() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    let a100 = offer(&*compute, "A100:20GB").await;
    setup.fake.create_then_fail_next();
    let err = compute
        .create_instance(&a100, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected, "not retried blindly: {err}");
    assert!(err.message().contains("may have been carried out"), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "the instance and the VPC are deleted");
    let swept =
        setup.fake.api.requests().into_iter().find(|r| r.method == "GET" && r.path == "/instances");
    let query = swept.expect("a lookup by label").query.unwrap();
    assert!(query.contains("label=dstack-main-fleet-0-"), "{query}");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_machine_is_provisioning_failed() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    let a100 = offer(&*compute, "A100:20GB").await;
    let mut data =
        compute.create_instance(&a100, &fixtures::instance_configuration("main")).await.unwrap();
    setup.fake.fail_machines();
    let err =
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::ProvisioningFailed, "VM entered FAILED state")
    );
    compute.terminate_instance(&data.instance_id, "ewr", &data.backend_data).await.unwrap();
    // Gone altogether: stop waiting too.
    let err =
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_machine_without_an_address_keeps_waiting() {
    let setup = setup().await;
    let compute = setup.compute(Some("[ewr]")).await;
    let a100 = offer(&*compute, "A100:20GB").await;
    let mut data =
        compute.create_instance(&a100, &fixtures::instance_configuration("main")).await.unwrap();
    setup.fake.never_ready();
    for _ in 0..3 {
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    }
    assert_eq!((data.hostname, data.internal_ip), (None, None));
    // A record without backend data (not written by dstack) is found under either kind.
    compute.terminate_instance(&data.instance_id, "ewr", &BackendData::none()).await.unwrap();
    assert!(setup.fake.machines().is_empty());
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}
