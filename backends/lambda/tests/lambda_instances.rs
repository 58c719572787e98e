//! Lambda instances against the fake of Lambda's API (`dstack_testkit::fakes::lambda`, in the
//! shapes of Lambda's API reference: `POST /instance-operations/launch` → `{"data":
//! {"instance_ids": [...]}}`, instances `booting` → `active`, errors `{"error": {"code",
//! "message"}}` with `instance-operations/launch/insufficient-capacity`) and a real `sshd`
//! (`dstack_testkit::sshd`): what is launched, when the hostname is known, what a failed
//! launch leaves, and terminate.

mod common;

use common::{KEY, expected_sudo_calls, gpu, instance, lambda, setup};
use dstack_core::Compute;
use dstack_core::ErrorKind;
use dstack_core::backend::SshKeyPair;
use dstack_core::offers::{BackendData, InstanceConfiguration, InstanceOfferWithAvailability};
use dstack_core::provisioning::{AgentSettings, shim_commands};
use dstack_testkit::sshd::{Sshd, free_port, key_pair};
use serde_json::{Value, json};

async fn a100(compute: &dyn Compute) -> InstanceOfferWithAvailability {
    let offers = compute.offers(&gpu("A100")).await.unwrap();
    offers.into_iter().find(|o| o.availability.is_available()).expect("an available A100")
}

fn launch_bodies(setup: &common::Setup) -> Vec<Value> {
    let requests = setup.fake.api.requests();
    let launches = requests.iter().filter(|r| r.path == "/instance-operations/launch");
    launches.map(|r| r.body.clone()).collect()
}

fn shim() -> Vec<String> {
    shim_commands(&AgentSettings::default().downloads("amd64"), false)
}

#[tokio::test]
async fn a_launch_registers_the_project_key_once_and_asks_for_dstacks_instance() {
    let keys = key_pair("project");
    let setup = setup(free_port()).await;
    let compute = setup.compute(lambda(KEY)).await;
    let offer = a100(&*compute).await;
    let data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    let second = InstanceConfiguration { instance_id: "second".to_owned(), ..instance(&keys) };
    compute.create_instance(&offer, &second).await.unwrap();
    // The same instance again (a retry after the server stopped mid-call): taken, not launched.
    let again = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    assert_eq!(again.instance_id, data.instance_id);

    let key = dstack_backend_lambda::key_name(&keys.public);
    let bodies = launch_bodies(&setup);
    assert_eq!(bodies.len(), 2);
    let name = bodies[0]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("dstack-main-fleet-0-") && name.len() <= 60, "{name}");
    assert_ne!(bodies[1]["name"], name, "another instance, another name");
    assert_eq!(
        bodies[0],
        json!({
            "region_name": "us-east-1",
            "instance_type_name": "gpu_1x_a100",
            "ssh_key_names": [key],
            "file_system_names": [],
            "quantity": 1,
            "name": name,
        })
    );
    let registrations = setup.calls().iter().filter(|c| *c == "POST /ssh-keys").count();
    assert_eq!(registrations, 1, "the second launch reuses the key: {:?}", setup.calls());
    assert_eq!(data.instance_id, setup.fake.instances()[0]["id"].as_str().unwrap());
    assert_eq!(
        (data.username.as_str(), data.ssh_port, data.dockerized),
        ("ubuntu", Some(22), true)
    );
    assert_eq!((data.hostname.as_deref(), data.region.as_str()), (None, "us-east-1"));
}

#[tokio::test]
async fn the_hostname_is_known_only_after_the_shim_launcher_ran_over_ssh() {
    let keys = key_pair("project");
    // The instance is up before its sshd is: the port is chosen now, the server started later.
    let port = free_port();
    let setup = setup(port).await;
    setup.fake.set_polls_until_active(2);
    let compute = setup.compute(lambda(KEY)).await;
    let offer = a100(&*compute).await;
    let mut data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();

    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname, None, "booting");
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname, None, "active at 127.0.0.1, but nothing answers SSH yet");

    let Some(sshd) = Sshd::start_on(port, "ubuntu", &keys.public) else { return };
    assert!(sshd.sudo_calls().is_empty());
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname.as_deref(), Some("127.0.0.1"), "{}", sshd.log());
    assert_eq!(sshd.await_sudo_calls(7), expected_sudo_calls(&shim()));
}

#[tokio::test]
async fn a_key_the_instance_does_not_accept_keeps_the_hostname_unknown() {
    let keys = key_pair("project");
    let other = key_pair("someone-else");
    let Some(sshd) = Sshd::start("ubuntu", &other.public) else { return };
    let setup = setup(sshd.port()).await;
    let compute = setup.compute(lambda(KEY)).await;
    let offer = a100(&*compute).await;
    let mut data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    for _ in 0..2 {
        compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    }
    assert_eq!(data.hostname, None, "refused: the key may not be installed yet");
    assert!(sshd.sudo_calls().is_empty());
}

#[tokio::test]
async fn no_capacity_moves_on_and_leaves_no_key_it_added() {
    let keys = key_pair("project");
    let setup = setup(free_port()).await;
    let compute = setup.compute(lambda(KEY)).await;
    let offer = a100(&*compute).await;
    setup.fake.next_launch_no_capacity();
    let err = compute.create_instance(&offer, &instance(&keys)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity, "{err}");
    assert!(err.message().contains("Not enough capacity"), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new());
}

#[tokio::test]
async fn a_lost_launch_answer_leaves_no_instance_and_keeps_a_key_it_did_not_add() {
    let keys = key_pair("project");
    let setup = setup(free_port()).await;
    let key = dstack_backend_lambda::key_name(&keys.public);
    setup.fake.add_ssh_key(&key, &keys.public);
    let compute = setup.compute(lambda(KEY)).await;
    let offer = a100(&*compute).await;
    setup.fake.next_launch_answer_lost();
    let err = compute.create_instance(&offer, &instance(&keys)).await.unwrap_err();
    assert!(err.message().contains("may have been carried out"), "{err}");
    assert_eq!(setup.fake.instances().len(), 1, "the launch did happen");
    assert_eq!(setup.fake.live(), [format!("sshkey {key}")], "it was found and terminated");
}

#[tokio::test]
async fn terminate_is_idempotent_and_a_vanished_instance_fails_provisioning() {
    let keys: SshKeyPair = key_pair("project");
    let setup = setup(free_port()).await;
    let compute = setup.compute(lambda(KEY)).await;
    let offer = a100(&*compute).await;
    let mut data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    setup.fake.set_status(&data.instance_id, "preempted");
    let err = compute.update_provisioning_data(&mut data, &keys).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed);
    assert!(err.message().ends_with("is preempted"), "{err}");

    let fresh = InstanceConfiguration { instance_id: "fresh".to_owned(), ..instance(&keys) };
    let data = compute.create_instance(&offer, &fresh).await.unwrap();
    for _ in 0..2 {
        compute
            .terminate_instance(&data.instance_id, "us-east-1", &BackendData::none())
            .await
            .unwrap();
    }
    compute
        .terminate_instance("00000000deadbeef", "us-east-1", &BackendData::none())
        .await
        .unwrap();
    let live = setup.fake.live();
    let instances: Vec<&String> = live.iter().filter(|l| l.starts_with("instance ")).collect();
    assert!(instances.len() == 1 && instances[0].ends_with(" preempted"), "{live:?}");
    let terminates =
        setup.calls().iter().filter(|c| *c == "POST /instance-operations/terminate").count();
    assert_eq!(terminates, 3);
}
