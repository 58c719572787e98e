//! JarvisLabs instances against the loopback fake (`dstack_testkit::fakes::jarvislabs`, in the
//! shapes of dstack 0.22.5's JarvisLabs fixtures and JarvisLabs' SDK) and a real sshd: the
//! create bodies and the host each goes to, the key lifecycle (each key made and deleted
//! once), failed creates leaving nothing behind, failed starts, and the shim started over
//! SSH before the hostname is known.

mod common;

use common::{KEY, Setup, config, gpu, instance_config, requirements, setup, ssh};
use dstack_core::ErrorKind;
use dstack_core::offers::{InstanceOfferWithAvailability, ProvisioningData};
use dstack_testkit::fakes::jarvislabs::NO_CAPACITY;
use dstack_testkit::fixtures;
use dstack_testkit::sshd::{Sshd, free_port, key_pair};
use serde_json::{Value, json};

fn project_key() -> String {
    fixtures::ssh_key_pair().public
}

fn backend_data(data: &ProvisioningData) -> Value {
    let text = serde_json::to_value(&data.backend_data).unwrap();
    serde_json::from_str(text.as_str().unwrap()).unwrap()
}

/// The instance name dstack sent (the VM create's `name`).
fn created_name(setup: &Setup, call: &str) -> String {
    let bodies = setup.fake.bodies(call);
    bodies.last().unwrap()["name"].as_str().unwrap().to_owned()
}

async fn create(
    setup: &Setup,
    offer: &InstanceOfferWithAvailability,
    keys: &[&str],
) -> ProvisioningData {
    let compute = setup.compute(config(KEY, None)).await;
    compute.create_instance(offer, &instance_config(keys)).await.unwrap()
}

fn deletes(setup: &Setup) -> Vec<String> {
    setup.calls_to("/ssh/").into_iter().filter(|c| c.contains(" DELETE ")).collect()
}

#[tokio::test]
async fn vms_are_created_on_their_regions_host_with_dstacks_bodies() {
    let setup = setup().await;
    let key = project_key();
    // A GPU VM in Noida: gpuhunt's create-time token, the 100 GB minimum disk.
    let a100 = setup.offer(&gpu("A100")).await;
    let data = create(&setup, &a100, &[&key]).await;
    let call = "india-noida-01 POST /templates/vm/create";
    let name = created_name(&setup, call);
    assert!(name.starts_with("dstack-main-fleet-0-") && name.len() <= 40, "{name}");
    assert_eq!(
        setup.fake.bodies(call),
        [json!({
            "gpu_type": "A100-80GB", "num_gpus": 1, "hdd": 100, "region": "india-noida-01",
            "name": name, "is_spot": false, "duration": "hour", "disk_type": "ssd",
            "http_ports": "", "script_id": null, "script_args": "", "fs_id": null, "arguments": "",
        })]
    );
    assert_eq!(
        (data.username.as_str(), data.ssh_port, data.dockerized),
        ("ubuntu", Some(22), true)
    );
    assert_eq!((data.hostname.clone(), data.region.as_str()), (None, "india-noida-01"));
    let data_json = backend_data(&data);
    assert_eq!(data_json["template"], "vm");
    assert_eq!(data_json["region"], "india-noida-01");
    assert_eq!(data_json["ssh_key_ids"].as_array().unwrap().len(), 1);
    // A GPU VM in Chennai with a bigger disk goes to Chennai's host.
    let rtx = setup.offer(&requirements("gpu: RTXPRO6000\ndisk: 250GB\n")).await;
    assert_eq!(rtx.offer.region, "india-chennai-01");
    let chennai = create(&setup, &rtx, &[&key]).await;
    let body = &setup.fake.bodies("india-chennai-01 POST /templates/vm/create")[0];
    assert_eq!((body["gpu_type"].clone(), body["hdd"].clone()), (json!("RTX-PRO6000"), json!(250)));
    // A CPU VM: the CPU template, dstack's body.
    let cpu = setup.offer(&gpu("0")).await;
    let cpu_data = create(&setup, &cpu, &[&key]).await;
    let call = "india-noida-01 POST /templates/vm/cpu/create";
    let name = created_name(&setup, call);
    assert_eq!(
        setup.fake.bodies(call),
        [json!({
            "num_cpus": 1, "vcpus": 4, "ram_gb": 16, "hdd": 100, "region": "india-noida-01",
            "name": name, "duration": "hour", "disk_type": "ssd",
        })]
    );
    assert_eq!(backend_data(&cpu_data)["template"], "vm/cpu");
    // Each is destroyed on its own host, through the endpoint of its kind.
    let compute = setup.compute(config(KEY, None)).await;
    for vm in [&data, &chennai, &cpu_data] {
        compute.terminate_instance(&vm.instance_id, &vm.region, &vm.backend_data).await.unwrap();
    }
    assert_eq!(
        setup
            .calls_to("/templates/vm/")
            .into_iter()
            .filter(|c| c.contains("destroy"))
            .collect::<Vec<_>>(),
        [
            format!("india-noida-01 POST /templates/vm/destroy?machine_id={}", data.instance_id),
            format!(
                "india-chennai-01 POST /templates/vm/destroy?machine_id={}",
                chennai.instance_id
            ),
            format!(
                "india-noida-01 POST /templates/vm/cpu/destroy?machine_id={}",
                cpu_data.instance_id
            ),
        ]
    );
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    // Everything else went to the main host.
    let regional = |c: &String| c.starts_with("india-") || c.starts_with("europe-");
    let elsewhere: Vec<String> = setup
        .fake
        .calls()
        .into_iter()
        .filter(|c| regional(c) != (c.contains("/templates/") || c.contains("/misc/status")))
        .collect();
    assert_eq!(elsewhere, Vec::<String>::new());
}

#[tokio::test]
async fn each_key_is_created_found_and_deleted_exactly_once() {
    let setup = setup().await;
    setup.fake.add_ssh_key("laptop", "ssh-ed25519 AAAAlaptop me@laptop");
    let (first, second) = (project_key(), key_pair("user").public);
    let l4 = setup.offer(&gpu("L4")).await;
    let data = create(&setup, &l4, &[&first, &second]).await;
    let name = created_name(&setup, "india-noida-01 POST /templates/vm/create");
    assert_eq!(
        setup.calls_to("/ssh/"),
        ["main POST /ssh/", "main GET /ssh/", "main POST /ssh/", "main GET /ssh/"],
        "each key is added, then its ID looked up"
    );
    assert_eq!(
        setup.fake.bodies("main POST /ssh/"),
        [
            json!({"ssh_key": first, "key_name": format!("{name}-0.key")}),
            json!({"ssh_key": second, "key_name": format!("{name}-1.key")}),
        ]
    );
    let ids = backend_data(&data)["ssh_key_ids"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 2);
    let compute = setup.compute(config(KEY, None)).await;
    for _ in 0..2 {
        compute
            .terminate_instance(&data.instance_id, &data.region, &data.backend_data)
            .await
            .unwrap();
    }
    let expected: Vec<String> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|id| format!("main DELETE /ssh/{}", id.as_str().unwrap()))
        .collect();
    assert_eq!(deletes(&setup), expected, "each key once, over both terminates");
    assert_eq!(
        setup.calls_to("/templates/vm/destroy").len(),
        1,
        "the gone VM is not destroyed again"
    );
    assert_eq!(setup.fake.live(), ["sshkey laptop"], "the account's own key stays");
}

#[tokio::test]
async fn a_refused_create_deletes_its_keys_and_says_why() {
    let setup = setup().await;
    let l4 = setup.offer(&gpu("L4")).await;
    let compute = setup.compute(config(KEY, None)).await;
    let config = instance_config(&[&project_key()]);
    for (status, message, kind) in [
        (400, NO_CAPACITY, ErrorKind::NoCapacity),
        (409, "Out of stock", ErrorKind::NoCapacity),
        (400, "Invalid image", ErrorKind::InvalidConfig),
    ] {
        setup.fake.next_create_refused(status, message);
        let err = compute.create_instance(&l4, &config).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.message().ends_with(message), "{err}");
        assert_eq!(setup.fake.live(), Vec::<String>::new(), "{message}: nothing is left");
    }
    assert_eq!(deletes(&setup).len(), 3, "one key per create, deleted once");
    assert_eq!(setup.calls_to("/users/fetch"), Vec::<String>::new(), "a refusal made no VM");
    assert_eq!(setup.calls_to("/templates/vm/destroy"), Vec::<String>::new());
}

#[tokio::test]
async fn a_key_refused_half_way_deletes_the_keys_made_before_it() {
    let setup = setup().await;
    setup.fake.set_key_limit(1);
    let l4 = setup.offer(&gpu("L4")).await;
    let compute = setup.compute(config(KEY, None)).await;
    let config = instance_config(&[&project_key(), &key_pair("user").public]);
    let err = compute.create_instance(&l4, &config).await.unwrap_err();
    assert!(err.message().contains("SSH key limit reached (1)"), "{err}");
    assert_eq!(setup.calls_to("/templates/"), Vec::<String>::new(), "no VM was asked for");
    assert_eq!(deletes(&setup).len(), 1);
    assert_eq!(setup.fake.live(), Vec::<String>::new());
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_destroys_the_vm_it_made() {
    let setup = setup().await;
    setup.fake.next_create_answer_lost();
    let l4 = setup.offer(&gpu("L4")).await;
    let compute = setup.compute(config(KEY, None)).await;
    let err = compute.create_instance(&l4, &instance_config(&[&project_key()])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected, "{err}");
    assert_eq!(setup.calls_to("/users/fetch"), ["main GET /users/fetch"], "found by its name");
    assert_eq!(setup.calls_to("/templates/vm/destroy").len(), 1);
    assert_eq!(deletes(&setup).len(), 1);
    assert_eq!(setup.fake.live(), Vec::<String>::new());
}

#[tokio::test]
async fn an_offer_in_a_region_without_a_host_is_refused_before_anything_is_made() {
    let setup = setup().await;
    let mut offer = setup.offer(&gpu("L4")).await;
    offer.offer.region = "mars-01".to_owned();
    let calls = setup.fake.calls().len();
    let compute = setup.compute(config(KEY, None)).await;
    let err =
        compute.create_instance(&offer, &instance_config(&[&project_key()])).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Unsupported JarvisLabs region 'mars-01'. \
         JarvisLabs does not expose provisioning endpoint discovery."
    );
    assert_eq!(setup.fake.calls().len(), calls);
}

#[tokio::test]
async fn a_vm_that_failed_to_start_is_provisioning_failed() {
    let setup = setup().await;
    setup.fake.next_instance_fails(NO_CAPACITY, 404);
    let l4 = setup.offer(&gpu("L4")).await;
    let mut data = create(&setup, &l4, &[&project_key()]).await;
    let compute = setup.compute(config(KEY, None)).await;
    let err =
        compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProvisioningFailed);
    assert_eq!(
        err.message(),
        "JarvisLabs instance creation failed: \
         L4 not available at this moment, please try again later (code=404)"
    );
    let id = &data.instance_id;
    assert_eq!(
        setup.fake.calls()[setup.fake.calls().len() - 2..],
        [
            format!("main GET /users/fetch/{id}"),
            format!("india-noida-01 GET /misc/status?machine_id={id}")
        ]
    );
    compute.terminate_instance(id, &data.region, &data.backend_data).await.unwrap();
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "its key is deleted");
    // An instance nobody knows of yet is waited for, not failed.
    let mut unknown = data.clone();
    unknown.instance_id = "123456".to_owned();
    compute.update_provisioning_data(&mut unknown, &fixtures::ssh_key_pair()).await.unwrap();
    assert_eq!(unknown.hostname, None);
}

#[tokio::test]
async fn the_hostname_is_set_only_after_the_launcher_ran() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let setup = setup().await;
    setup.fake.set_fetches_until_running(2);
    let noida = setup.offer(&gpu("L4")).await;
    let europe = setup.offer(&gpu("H100")).await;
    let mut vpc = create(&setup, &noida, &[&keys.public]).await;
    let mut no_vpc = create(&setup, &europe, &[&keys.public]).await;
    // Creating: no SSH yet. Running, but SSH not up (a closed port): still no hostname.
    let closed = setup.compute_with_ssh(config(KEY, None), ssh(free_port())).await;
    for round in ["creating", "ssh down"] {
        closed.update_provisioning_data(&mut vpc, &keys).await.unwrap();
        assert_eq!(vpc.hostname, None, "{round}");
    }
    assert_eq!(sshd.sudo_calls(), Vec::<Vec<String>>::new(), "nothing ran");
    // SSH up: the setup line, then the launcher, then the hostname.
    let reachable = setup.compute_with_ssh(config(KEY, None), ssh(sshd.port())).await;
    reachable.update_provisioning_data(&mut vpc, &keys).await.unwrap();
    assert_eq!(vpc.hostname.as_deref(), Some("127.0.0.1"), "{}", sshd.log());
    assert_eq!(vpc.username, "ubuntu", "the user of the VM's ssh_str");
    let expected = common::expected_sudo_calls();
    assert_eq!(sshd.await_sudo_calls(expected.len()), expected);
    assert_eq!(
        sshd.sudo_calls().last().unwrap(),
        &vec!["sh".to_owned(), "-c".to_owned(), common::launcher_commands().join(" && ")]
    );
    let id: u64 = vpc.instance_id.parse().unwrap();
    let machines = setup.fake.machines();
    let machine = machines.iter().find(|m| m["machine_id"] == id).unwrap();
    assert!(machine["vpc_id"].is_string());
    let private = machine["private_ip"].as_str().unwrap().to_owned();
    assert_eq!(vpc.internal_ip, Some(private), "a VPC region's private IP");
    // Outside the VPC regions the private IP does not route: none is kept.
    for _ in 0..2 {
        reachable.update_provisioning_data(&mut no_vpc, &keys).await.unwrap();
    }
    assert_eq!(no_vpc.hostname.as_deref(), Some("127.0.0.1"));
    assert_eq!(no_vpc.internal_ip, None);
}
