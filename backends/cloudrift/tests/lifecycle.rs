//! CloudRift instances against the loopback fake (`dstack_testkit::fakes::cloudrift`, held to
//! CloudRift's published OpenAPI description: `RentInstanceRequestProto`,
//! `ListInstancesRequestProto`, `InstanceAndUsageInfo`, `TerminateInstancesRequestProto`):
//! the rental dstack 0.22.5 sends, the SSH port from its three sources (as dstack's
//! `test_compute.py` lays them out), capacity errors, failures, and termination.

mod common;

use common::{KEY, Setup, config, gpu, setup};
use dstack_core::offers::{BackendData, InstanceOfferWithAvailability, ProvisioningData};
use dstack_core::{Compute, ErrorKind};
use dstack_testkit::fakes::cloudrift::SshPublished;
use dstack_testkit::fixtures;
use serde_json::json;

const NVIDIA_IMAGE: &str =
    "https://storage.googleapis.com/cloudrift-vm-disks/disks/ubuntu/24.04/noble-nvidia.img";

async fn offer(compute: &dyn Compute, spec: &str) -> InstanceOfferWithAvailability {
    compute.offers(&gpu(spec)).await.unwrap().into_iter().next().expect("an offer")
}

async fn create(compute: &dyn Compute, spec: &str) -> dstack_core::error::Result<ProvisioningData> {
    let offer = offer(compute, spec).await;
    compute.create_instance(&offer, &fixtures::instance_configuration("main")).await
}

/// Updates until the hostname is known (at most `polls` times).
async fn update(compute: &dyn Compute, data: &mut ProvisioningData, polls: u32) {
    for _ in 0..polls {
        compute.update_provisioning_data(data, &fixtures::ssh_key_pair()).await.unwrap();
        if data.hostname.is_some() {
            return;
        }
    }
}

async fn terminate(
    compute: &dyn Compute,
    data: &ProvisioningData,
) -> dstack_core::error::Result<()> {
    compute.terminate_instance(&data.instance_id, &data.region, &BackendData::none()).await
}

fn done(setup: &Setup) {
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_vm_is_rented_as_dstack_rents_it_and_reached_on_its_mapped_port() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    let mut data = create(&*compute, "RTX4090:1").await.unwrap();
    assert_eq!((data.hostname.as_deref(), data.ssh_port), (None, None));
    assert_eq!(data.username, "riftuser");
    let rent = &setup.sent("instances/rent")[0];
    let vm = &rent["config"]["VirtualMachine"];
    assert_eq!(vm["image_url"], NVIDIA_IMAGE, "the newest Ubuntu with NVIDIA's driver");
    assert_eq!(vm["ssh_key"], json!({"PublicKeys": [fixtures::ssh_key_pair().public]}));
    let commands = vm["cloudinit_commands"].as_str().unwrap();
    assert!(commands.starts_with("timeout 60 bash -c 'while ! timedatectl"), "{commands}");
    assert!(commands.contains("|| true && /bin/sh -c 'grep -q nvidia"), "{commands}");
    assert!(commands.contains("/0.22.5/binaries/dstack-shim-linux-amd64"), "{commands}");
    assert_eq!(
        rent["selector"],
        json!({"ByInstanceTypeAndLocation": {"datacenters": ["us-east-nc-nr-1"], "instance_type": "rtx49-7-50-500-nr.1"}})
    );
    assert_eq!(rent["with_public_ip"], true);

    compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    assert_eq!(data.hostname, None, "not ready at the first poll");
    update(&*compute, &mut data, 1).await;
    assert_eq!((data.hostname.as_deref(), data.ssh_port), (Some("203.0.113.3"), Some(57001)));
    assert_eq!(
        setup.sent("instances/list")[0],
        json!({"selector": {"ById": [data.instance_id]}, "mask": {"with_connection_info": true, "with_credentials": true}})
    );
    terminate(&*compute, &data).await.unwrap();
    terminate(&*compute, &data).await.unwrap();
    assert_eq!(
        setup.sent("instances/terminate")[0],
        json!({"selector": {"ById": [data.instance_id]}})
    );
    done(&setup);
}

#[tokio::test]
async fn the_ssh_port_comes_from_instructions_or_defaults_to_22() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    for (published, port) in [
        (SshPublished::Instructions("-p 57002".to_owned()), 57002),
        (SshPublished::Instructions(String::new()), 22),
        (SshPublished::Nothing, 22),
    ] {
        setup.fake.publish_ssh(published.clone());
        let mut data = create(&*compute, "RTX4090:1").await.unwrap();
        update(&*compute, &mut data, 5).await;
        assert_eq!(data.ssh_port, Some(port), "{published:?}");
        assert!(data.hostname.is_some());
        terminate(&*compute, &data).await.unwrap();
    }
    // An SSH_PORT instruction that names no port: the port is waited for.
    setup.fake.publish_ssh(SshPublished::Instructions("-p not-a-port".to_owned()));
    let mut data = create(&*compute, "RTX4090:1").await.unwrap();
    update(&*compute, &mut data, 5).await;
    assert_eq!((data.hostname.as_deref(), data.ssh_port), (None, None));
    terminate(&*compute, &data).await.unwrap();
    done(&setup);
}

#[tokio::test]
async fn amd_gpus_boot_the_amd_image() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    let data = create(&*compute, "MI350X").await.unwrap();
    let vm = &setup.sent("instances/rent")[0]["config"]["VirtualMachine"];
    assert!(vm["image_url"].as_str().unwrap().ends_with("/24.04/noble-amd.img"), "{vm}");
    terminate(&*compute, &data).await.unwrap();
    done(&setup);
}

#[tokio::test]
async fn a_refused_rental_is_no_capacity_and_leaves_nothing() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    let offer = offer(&*compute, "RTX4090:1").await;
    // The node went to someone else after the offers were listed.
    setup.fake.set_free("rtx49-7-50-500-nr.1", "us-east-nc-nr-1", 0);
    let instance = fixtures::instance_configuration("main");
    let err = compute.create_instance(&offer, &instance).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity, "{err}");
    assert!(err.message().contains("No available nodes"), "{err}");

    setup.fake.set_free("rtx49-7-50-500-nr.1", "us-east-nc-nr-1", 2);
    setup.fake.rent_nothing_next();
    let err = compute.create_instance(&offer, &instance).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert_eq!(
        err.message(),
        "Failed to create instance for offer rtx49-7-50-500-nr.1 in region us-east-nc-nr-1."
    );
    done(&setup);
}

#[tokio::test]
async fn without_a_vm_image_nothing_is_rented() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    setup.fake.set_recipes(json!({"groups": [], "other_recipes": []}));
    let err = create(&*compute, "RTX4090:1").await.unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::NoCapacity, "No suitable VM image found."));
    assert!(setup.sent("instances/rent").is_empty());
    done(&setup);
}

#[tokio::test]
async fn a_vm_that_fails_to_boot_is_a_provisioning_failure() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    setup.fake.fail_next_instance();
    let mut data = create(&*compute, "RTX4090:1").await.unwrap();
    let err =
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed);
    assert!(err.message().ends_with("is Failed: The VM failed to boot"), "{err}");
    terminate(&*compute, &data).await.unwrap();
    done(&setup);
}

#[tokio::test]
async fn a_termination_in_progress_is_not_yet_terminated() {
    let setup = setup().await;
    let compute = setup.compute(config(KEY, None)).await;
    let data = create(&*compute, "RTX4090:1").await.unwrap();
    setup.fake.hold_next_terminate();
    let err = terminate(&*compute, &data).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotYetTerminated);
    assert!(err.message().starts_with(&format!(
        "Failed to terminate instance {} in region us-east-nc-nr-1.",
        data.instance_id
    )));
    assert_eq!(setup.fake.live().len(), 1);
    terminate(&*compute, &data).await.unwrap();
    // One CloudRift never issued is gone too.
    let unknown = ProvisioningData { instance_id: "0000beef-4b3b".to_owned(), ..data };
    terminate(&*compute, &unknown).await.unwrap();
    done(&setup);
}
