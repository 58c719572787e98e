#![cfg(feature = "lambda")]
//! Offers through the API: backends asked together, a failing one not failing the rest,
//! requirements applied, and bad requirements refused with their field path.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use common::{ADMIN_TOKEN, TestServer};
use dstack_core::Registry;
use dstack_core::config::BackendType;
use serde_json::{Value, json};

const CATALOG: &str = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data
gpu_1x_a100,us-east-1,1.29,30,200.0,1,A100,40.0,False,512.0,nvidia,,x86,{}
gpu_1x_a100,us-east-1,0.60,30,200.0,1,A100,40.0,True,512.0,nvidia,,x86,{}
gpu_1x_a10,us-east-1,0.75,30,200.0,1,A10,24.0,False,1400.0,nvidia,,x86,{}
";

async fn fake_lambda() -> String {
    let app = Router::new().route(
        "/api/v1/instance-types",
        get(|| async { r#"{"data": {"gpu_1x_a100": {"regions_with_capacity_available": [{"name": "us-east-1"}]}}}"# }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/v1")
}

fn plan_request(resources: Value, spot_policy: Option<&str>) -> Value {
    json!({
        "run_spec": {
            "configuration": {"type": "task", "commands": [":"], "resources": resources, "spot_policy": spot_policy},
            "profile": {"name": "default"},
        },
        "max_offers": 50,
        "for_offers_only": true,
    })
}

#[tokio::test]
async fn a_failing_backend_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lambdalabs.csv"), CATALOG).unwrap();
    let catalog = Arc::new(dstack_catalog::Catalog::new(
        dstack_catalog::Source::PlainDirectory(dir.path().to_owned()),
        None,
    ));
    let mut registry = Registry::new();
    registry.register(Arc::new(dstack_backend_lambda::LambdaConfigurator::with_base_url(
        fake_lambda().await,
        catalog,
    )));
    // The fake configurator's backends cannot be built: this backend fails to list offers.
    registry.register(Arc::new(dstack_testkit::FakeConfigurator::new(BackendType::Runpod)));
    let config = "projects:\n- name: main\n  backends:\n  - {type: lambda, creds: {api_key: GOOD}}\n  - {type: runpod, creds: {api_key: GOOD}}\n";
    let server = TestServer::start_with(None, Some(config), registry, |_| {}).await;

    let plan = server
        .post(
            "/api/project/main/runs/get_plan",
            ADMIN_TOKEN,
            &plan_request(json!({"gpu": "A100"}), None),
        )
        .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let plan = plan.json();
    let job = &plan["job_plans"][0];
    assert_eq!(job["total_offers"], 1, "on-demand by default: {job}");
    assert_eq!(job["offers"][0]["price"], 1.29);
    assert_eq!(job["max_price"], 1.29);
    assert_eq!(plan["effective_run_spec"]["configuration"]["resources"]["gpu"]["vendor"], "nvidia");
    assert_eq!(plan["run_spec"]["configuration"]["nodes"], 1);
    assert_eq!(job["job_spec"]["commands"], json!(["/bin/sh", "-i", "-c", ":"]));

    let spot = server
        .post(
            "/api/project/main/runs/get_plan",
            ADMIN_TOKEN,
            &plan_request(json!({"gpu": "A100"}), Some("auto")),
        )
        .await
        .json();
    let prices: Vec<f64> = spot["job_plans"][0]["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["price"].as_f64().unwrap())
        .collect();
    assert_eq!(prices, [0.6, 1.29], "cheapest first");

    let capped = server
        .post(
            "/api/project/main/runs/get_plan",
            ADMIN_TOKEN,
            &json!({"run_spec": plan_request(json!({"gpu": "0.."}), Some("auto"))["run_spec"], "max_offers": 1}),
        )
        .await
        .json();
    assert_eq!(capped["job_plans"][0]["total_offers"], 3);
    assert_eq!(capped["job_plans"][0]["offers"].as_array().unwrap().len(), 1);

    // Bad requirements: a 422 naming the field.
    let bad = server
        .post(
            "/api/project/main/runs/get_plan",
            ADMIN_TOKEN,
            &plan_request(json!({"gpu": "A100:H100"}), None),
        )
        .await;
    assert_eq!(bad.status, 422);
    let detail = &bad.json()["detail"][0];
    assert_eq!(detail["msg"], "GPU spec name conflict: A100:H100");
    assert_eq!(detail["loc"], json!(["body", "run_spec", "configuration", "resources", "gpu"]));

    let gpus = server
        .post(
            "/api/project/main/gpus/list",
            ADMIN_TOKEN,
            &json!({"run_spec": plan_request(json!({}), None)["run_spec"], "group_by": ["region"]}),
        )
        .await;
    assert_eq!(gpus.status, 400, "region needs backend");
    server.stop().await;
}
