//! Creating, updating and terminating Verda instances against `dstack_testkit::fakes::verda`
//! (shapes from the `verda` SDK 1.25.0 and dstack 0.22.5's `verda/test_compute.py`): capacity
//! errors, clean-up after a failure half way, "provisioning" instances, failed instances, and
//! the OAuth token's renewal.

mod common;

use common::*;
use dstack_core::ErrorKind;
use dstack_core::config::BackendType;
use dstack_testkit::fixtures;
use serde_json::Value;

#[tokio::test]
async fn a_refused_deploy_is_no_capacity_and_leaves_nothing() {
    let setup = setup().await;
    let compute = setup.compute(BackendType::Verda).await;
    let offer = cpu_offer(&*compute).await;
    setup.fake.fail_next_deploy(400, "invalid_request", "Not enough resources available");
    let err = compute
        .create_instance(&offer, &fixtures::instance_configuration("main"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert_eq!(err.message(), "Verda API error: Not enough resources available");
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "script and key deleted");
    setup.finish();
}

#[tokio::test]
async fn a_failure_half_way_deletes_what_was_made() {
    let setup = setup().await;
    let compute = setup.compute(BackendType::Verda).await;
    let offer = cpu_offer(&*compute).await;
    let mut config = fixtures::instance_configuration("main");
    config.ssh_keys.push(dstack_core::offers::SshKey { public: "ssh-ed25519 AAAAsecond".into() });
    setup.fake.fail_ssh_key_after(1);
    let err = compute.create_instance(&offer, &config).await.unwrap_err();
    assert_eq!(err.message(), "Verda API error while creating SSH key: Invalid public key");
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "the first key is deleted");
    setup.fake.fail_next_script();
    let err = compute.create_instance(&offer, &config).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Verda API error while creating startup script: Invalid startup script"
    );
    assert_eq!(setup.fake.live(), Vec::<String>::new(), "both keys are deleted");
    setup.finish();
}

#[tokio::test]
async fn a_provisioning_instance_is_not_yet_terminated() {
    let setup = setup().await;
    let compute = setup.compute(BackendType::Verda).await;
    let offer = cpu_offer(&*compute).await;
    setup.fake.hold_provisioning(true);
    let keys = fixtures::ssh_key_pair();
    let mut data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert_eq!(data.hostname, None, "no IP while provisioning");
    let err = compute
        .terminate_instance(&data.instance_id, &data.region, &data.backend_data)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotYetTerminated);
    assert_eq!(
        err.message(),
        "Waiting for Verda instance to leave provisioning state. Verda forbids terminating provisioning instances"
    );
    assert_eq!(setup.fake.live().len(), 3, "key, script and instance are kept until then");
    setup.fake.hold_provisioning(false);
    compute.update_provisioning_data(&mut data, &keys).await.unwrap();
    assert!(data.hostname.as_deref().is_some_and(|ip| ip.starts_with("192.0.2.")));
    compute.terminate_instance(&data.instance_id, &data.region, &data.backend_data).await.unwrap();
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    setup.finish();
}

#[tokio::test]
async fn a_failed_or_missing_instance_is_provisioning_failed() {
    let setup = setup().await;
    let compute = setup.compute(BackendType::Verda).await;
    let offer = cpu_offer(&*compute).await;
    let keys = fixtures::ssh_key_pair();
    let mut data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    setup.fake.set_status(&data.instance_id, "error");
    let err = compute.update_provisioning_data(&mut data, &keys).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::ProvisioningFailed, "Unexpected Verda instance status: 'error'")
    );
    compute.terminate_instance(&data.instance_id, &data.region, &data.backend_data).await.unwrap();
    let mut missing = data.clone();
    missing.instance_id = "0920582c-7ff0-4139-9e34-823a0be62549".to_owned();
    let err = compute.update_provisioning_data(&mut missing, &keys).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::ProvisioningFailed, "Verda instance not found")
    );
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    setup.finish();
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_call_goes_through() {
    let setup = setup().await;
    let compute = setup.compute(BackendType::Verda).await;
    let offer = cpu_offer(&*compute).await;
    assert_eq!(setup.fake.tokens_issued(), 1);
    setup.fake.expire_tokens();
    // A creation (text answer) and a read (JSON answer) each meet a 401 first.
    let mut data =
        compute.create_instance(&offer, &fixtures::instance_configuration("main")).await.unwrap();
    assert_eq!(setup.fake.tokens_issued(), 2);
    setup.fake.expire_tokens();
    compute.update_provisioning_data(&mut data, &fixtures::ssh_key_pair()).await.unwrap();
    assert_eq!(setup.fake.tokens_issued(), 3);
    let grants: Vec<Value> = setup
        .fake
        .api
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .map(|r| r.body["grant_type"].clone())
        .collect();
    assert_eq!(grants, ["client_credentials", "refresh_token", "refresh_token"]);
    compute.terminate_instance(&data.instance_id, &data.region, &data.backend_data).await.unwrap();
    assert_eq!(setup.fake.live(), Vec::<String>::new());
    setup.finish();
}

#[tokio::test]
async fn an_expiring_token_is_renewed_before_use() {
    let setup = setup().await;
    setup.fake.set_token_lifetime(0);
    let compute = setup.compute(BackendType::Verda).await;
    compute.offers(&requirements("gpu: 0..8\n", None)).await.unwrap();
    let calls = setup.calls();
    assert_eq!(
        calls,
        [
            "POST /oauth2/token",
            "GET /instance-availability?isSpot=false",
            "POST /oauth2/token",
            "GET /instance-availability?isSpot=true"
        ]
    );
    setup.finish();
}
