//! Hot Aisle instances against the loopback fake (`dstack_testkit::fakes::hotaisle`, held to
//! Hot Aisle's Swagger 2.0 description and dstack 0.22.5's Hot Aisle fixtures) and a real
//! sshd (`dstack_testkit::sshd`, login user `hotaisle`): VMs and bare-metal servers created,
//! started over SSH (the hostname only after the launcher ran), terminated with dstack's
//! force rule, and what is left when a create fails.

mod common;

use common::{
    KEY, REGION, TEAM, config, instance, launcher_sudo_call, offer, setup, ssh,
    with_no_force_release,
};
use dstack_core::ErrorKind;
use dstack_core::offers::ProvisioningData;
use dstack_testkit::Reply;
use dstack_testkit::fakes::hotaisle;
use dstack_testkit::sshd::{free_port, key_pair};
use serde_json::{Value, json};

const VM_CREATE: &str = "/teams/{team}/virtual_machines/";
const RESERVE: &str = "/teams/{team}/bare_metal/";

fn body_of(setup: &common::Setup, method: &str, path: &str) -> Value {
    let requests = setup.fake.api.requests();
    let request = requests.iter().rfind(|r| r.method == method && r.path == path);
    request.unwrap_or_else(|| panic!("no {method} {path}")).body.clone()
}

fn stored(data: &ProvisioningData) -> Value {
    data.backend_data.get::<Value>().unwrap().expect("backend data")
}

#[tokio::test]
async fn a_vm_gets_its_hostname_only_after_the_launcher_ran() {
    let keys = key_pair("project");
    let port = free_port();
    let setup = setup(port).await;
    let compute = setup.compute(config(KEY, TEAM, "")).await;
    let offer = offer(&*compute, "vm-mi300x-1").await;
    let mut data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    let vm = hotaisle::vm_types().remove(0);
    assert_eq!(body_of(&setup, "POST", "/teams/dstack-team/virtual_machines/"), vm.specs);
    assert_eq!(body_of(&setup, "POST", "/user/ssh_keys/"), json!({"authorized_key": keys.public}));
    assert_eq!(
        setup.calls()[2..],
        ["POST /user/ssh_keys/", "POST /teams/dstack-team/virtual_machines/"],
        "the key first, so that the VM takes it"
    );
    assert_eq!(data.instance_id, "vm-01");
    assert_eq!(
        (data.username.as_str(), data.ssh_port, data.dockerized),
        ("hotaisle", Some(22), true)
    );
    assert_eq!((data.region.as_str(), data.hostname.as_deref()), (REGION, None));
    assert_eq!(stored(&data), json!({"ip_address": "127.0.0.1", "bare_metal": false}));

    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname, None, "the VM is not running yet");
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname, None, "running, but nothing answers SSH yet");
    let Some(sshd) = common::sshd(&keys, Some(port)) else { return };
    assert_eq!(sshd.sudo_calls(), Vec::<Vec<String>>::new());
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!((data.hostname.as_deref(), data.ssh_port), (Some("127.0.0.1"), Some(22)));
    assert_eq!(sshd.await_sudo_calls(1), [launcher_sudo_call()], "dstack's launcher, as root");
    let asked = setup.calls().len();
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!((setup.calls().len(), sshd.sudo_calls().len()), (asked, 1), "started once");

    for _ in 0..2 {
        compute.terminate_instance(&data.instance_id, REGION, &data.backend_data).await.unwrap();
    }
    let deletes: Vec<String> =
        setup.calls().into_iter().filter(|c| c.starts_with("DELETE")).collect();
    assert_eq!(deletes, ["DELETE /teams/dstack-team/virtual_machines/vm-01/?force=true"; 2]);
    assert!(setup.fake.live().iter().all(|l| l.starts_with("ssh_key")));
    let mut gone = ProvisioningData { hostname: None, ..data };
    let err = compute.update_provisioning_data(&mut gone, &keys).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::ProvisioningFailed, "Hot Aisle virtual machine vm-01 no longer exists")
    );
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn bare_metal_is_reached_at_ssh_access_and_kept_while_prepaid() {
    let keys = key_pair("project");
    let Some(sshd) = common::sshd(&keys, None) else { return };
    let fake = hotaisle::start(&[KEY], &[TEAM]).await;
    fake.ssh_access("127.0.0.1", 2222);
    let setup = with_no_force_release(fake, ssh(sshd.port()), true);
    let compute = setup.compute(config(KEY, TEAM, "bare_metal: true\n")).await;
    let offer = offer(&*compute, "bm-mi300x-8").await;
    let mut data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    let server = hotaisle::bare_metal_types().remove(0);
    assert_eq!(
        body_of(&setup, "POST", "/teams/dstack-team/bare_metal/"),
        json!({"specs": server.specs, "description": "fleet-0"})
    );
    let id = data.instance_id.clone();
    assert_eq!(setup.fake.live()[0], format!("bare_metal {id}"), "the deployment ID");
    assert_eq!(stored(&data), json!({"ip_address": "10.20.0.3", "bare_metal": true}));
    assert_eq!(data.username, "hotaisle");

    for _ in 0..2 {
        compute.update_provisioning_data(&mut data, &keys).await.unwrap();
        assert_eq!(data.hostname, None, "the OS is still being installed");
    }
    assert_eq!(sshd.sudo_calls(), Vec::<Vec<String>>::new());
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    // Not the private `ip_address`: `ssh_access`, its port too.
    assert_eq!((data.hostname.as_deref(), data.ssh_port), (Some("127.0.0.1"), Some(2222)));
    assert_eq!(sshd.await_sudo_calls(1).last(), Some(&launcher_sudo_call()));
    let polls = setup.calls().iter().filter(|c| c.contains(&format!("bare_metal/{id}/"))).count();
    assert_eq!(polls, 3);
    assert!(!setup.calls().iter().any(|c| c.contains("/state/")));

    // dstack's default: no `force`, so a server in its prepaid period stays.
    let err = compute.terminate_instance(&id, REGION, &data.backend_data).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert_eq!(
        err.message(),
        format!(
            "Hot Aisle refused to release bare metal server {id} before its minimum reservation \
             period ends: Bad Request: server cannot be released due to minimum usage requirement"
        )
    );
    assert_eq!(setup.fake.live()[0], format!("bare_metal {id}"));
    setup.fake.minimum_periods_running(false);
    for _ in 0..2 {
        compute.terminate_instance(&id, REGION, &data.backend_data).await.unwrap();
    }
    let release = format!("DELETE /teams/dstack-team/bare_metal/{id}/");
    assert_eq!(setup.calls().iter().filter(|c| **c == release).count(), 3, "never forced");
    assert!(setup.fake.live().iter().all(|l| l.starts_with("ssh_key")));
    assert_eq!(setup.fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn with_the_flag_at_zero_bare_metal_is_released_with_force() {
    let fake = hotaisle::start(&[KEY], &[TEAM]).await;
    let setup = with_no_force_release(fake, ssh(free_port()), false);
    let compute = setup.compute(config(KEY, TEAM, "bare_metal: true\n")).await;
    let offer = offer(&*compute, "bm-mi300x-8").await;
    let data = compute.create_instance(&offer, &instance(&key_pair("p"))).await.unwrap();
    compute.terminate_instance(&data.instance_id, REGION, &data.backend_data).await.unwrap();
    let release = format!("DELETE /teams/dstack-team/bare_metal/{}/?force=true", data.instance_id);
    assert_eq!(setup.calls().last(), Some(&release));
    assert!(setup.fake.live().iter().all(|l| l.starts_with("ssh_key")));
}

#[tokio::test]
async fn a_failed_os_install_is_provisioning_failed() {
    let keys = key_pair("project");
    let setup = setup(free_port()).await;
    setup.fake.install_after(0);
    setup.fake.fail_next_install();
    let compute = setup.compute(config(KEY, TEAM, "bare_metal: true\n")).await;
    let offer = offer(&*compute, "bm-mi300x-8").await;
    let mut data = compute.create_instance(&offer, &instance(&keys)).await.unwrap();
    let err = compute.update_provisioning_data(&mut data, &keys).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::ProvisioningFailed, "Hot Aisle bare metal server OS installation failed")
    );
    assert_eq!(data.hostname, None);
}

#[tokio::test]
async fn a_create_that_fails_half_way_leaves_nothing() {
    let keys = key_pair("project");
    let setup = setup(free_port()).await;
    let compute = setup.compute(config(KEY, TEAM, "bare_metal: true\n")).await;
    let vm = offer(&*compute, "vm-mi300x-1").await;
    let server = offer(&*compute, "bm-mi300x-8").await;
    let create = |offer| {
        let (compute, instance) = (compute.clone(), instance(&keys));
        async move { compute.create_instance(&offer, &instance).await }
    };

    // Refused after the key was registered: the key goes again.
    let balance = Reply::status(402, json!("Insufficient balance to provision virtual machine"));
    setup.fake.script_next("POST", VM_CREATE, balance);
    let err = create(vm.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
    assert!(err.message().ends_with("Insufficient balance to provision virtual machine"));
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    assert!(setup.calls().iter().any(|c| c.starts_with("DELETE /user/ssh_keys/SHA256:")));

    // dstack's no-capacity answers of a reservation (403, 404).
    setup.fake.bare_metal_limit(0);
    let err = create(server.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert!(err.message().ends_with("tenant limit exceeded"), "{err}");
    setup.fake.bare_metal_limit(2);
    setup.fake.script_next("POST", RESERVE, Reply::status(404, json!("no available servers")));
    let err = create(server).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert!(err.message().ends_with("no available servers"), "{err}");
    assert_eq!(setup.fake.live(), Vec::<String>::new());

    // An answer without an address: the VM it names is deleted.
    setup.fake.script_next("POST", VM_CREATE, Reply::json(json!({"name": "vm-77"})));
    let err = create(vm.clone()).await.unwrap_err();
    assert_eq!(err.message(), "Hot Aisle answered, but the created VM vm-77 has no IP address");
    let delete = "DELETE /teams/dstack-team/virtual_machines/vm-77/?force=true".to_owned();
    assert!(setup.calls().contains(&delete), "{:?}", setup.calls());
    assert_eq!(setup.fake.live(), Vec::<String>::new());

    // A key registered before (409 now) stays when a later create fails.
    let first = create(vm.clone()).await.unwrap();
    let none =
        Reply::status(404, json!("No available virtual machine matching requested specifications"));
    setup.fake.script_next("POST", VM_CREATE, none);
    assert_eq!(create(vm).await.unwrap_err().kind(), ErrorKind::NoCapacity);
    let live = setup.fake.live();
    assert!(live.len() == 2 && live[1].starts_with("ssh_key"), "{live:?}");
    compute.terminate_instance(&first.instance_id, REGION, &first.backend_data).await.unwrap();
    let misfits = setup.fake.violations();
    assert!(
        misfits.len() == 1 && misfits[0].contains("ip_address"),
        "the scripted answer: {misfits:?}"
    );
}
