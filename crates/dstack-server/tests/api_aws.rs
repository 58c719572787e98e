//! The AWS backend through the API, against moto: `create_yaml` checks the credentials with
//! STS, and the project's offers include AWS offers from a local catalog with zones from EC2.

#![cfg(feature = "aws")]

mod common;

use common::{ADMIN_TOKEN, TestServer};
use dstack_core::Registry;
use serde_json::json;

#[tokio::test]
async fn create_yaml_against_moto_then_offers() {
    let Ok(moto) = std::env::var("DSTACK_TEST_MOTO_URL") else {
        eprintln!("DSTACK_TEST_MOTO_URL is not set: skipping (run `cargo xtask test`)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("aws.csv"),
        "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data\n\
         g5.xlarge,us-east-1,1.006,4,16.0,1,A10G,24.0,False,,nvidia,,x86,{}\n\
         p4d.24xlarge,us-east-1,32.7726,96,1152.0,8,A100,40.0,False,,nvidia,,x86,{}\n",
    )
    .unwrap();
    let mut context =
        dstack_backend_kit::BackendContext::new(dstack_testkit::fixtures::catalog_in(dir.path()));
    context.endpoints.set(dstack_core::config::BackendType::Aws, &moto);
    let mut registry = Registry::new();
    dstack_backend_aws::register(&mut registry, &context);
    let server = TestServer::start_with(None, None, registry, |_| {}).await;

    let yaml = "type: aws\nregions: [us-east-1]\ncreds:\n  type: access_key\n  access_key: AKIAIOSFODNN7EXAMPLE\n  secret_key: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n";
    let created = server
        .post("/api/project/main/backends/create_yaml", ADMIN_TOKEN, &json!({"config_yaml": yaml}))
        .await;
    assert_eq!((created.status, created.body.as_str()), (200, "null"));
    let info = server
        .post("/api/project/main/backends/aws/config_info", ADMIN_TOKEN, &json!(null))
        .await
        .json();
    assert_eq!(info["regions"], json!(["us-east-1"]));
    assert_eq!(info["creds"]["access_key"], "AKIAIOSFODNN7EXAMPLE");

    let plan = server
        .post(
            "/api/project/main/runs/get_plan",
            ADMIN_TOKEN,
            &json!({"run_spec": {"configuration": {"type": "task", "commands": [":"], "resources": {"gpu": "A10G"}}, "profile": {}}}),
        )
        .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let offers = plan.json()["job_plans"][0]["offers"].clone();
    assert_eq!(offers.as_array().unwrap().len(), 1, "{offers}");
    assert_eq!(offers[0]["backend"], "aws");
    assert_eq!(offers[0]["instance"]["name"], "g5.xlarge");
    assert!(
        offers[0]["availability_zones"]
            .as_array()
            .unwrap()
            .iter()
            .all(|z| z.as_str().unwrap().starts_with("us-east-1"))
    );
    server.stop().await;
}
