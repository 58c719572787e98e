//! Offers through the API: backends asked together, a failing one not failing the rest,
//! requirements applied, and bad requirements refused with their field path.

#![cfg(feature = "lambda")]

mod common;

use std::sync::Arc;

use common::{ADMIN_TOKEN, TestServer};
use dstack_core::config::BackendType;
use dstack_testkit::fixtures;
use serde_json::{Value, json};

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
    let spot_a100 = "gpu_1x_a100,us-east-1,0.60,30,200.0,1,A100,40.0,True,512.0,nvidia,,x86,{}";
    let arm_gh200 = "gpu_1x_gh200,us-east-1,1.49,64,432.0,1,GH200,96.0,False,4000.0,nvidia,,arm,{}";
    let rows = [fixtures::LAMBDA_ROWS[1], spot_a100, fixtures::LAMBDA_ROWS[0], arm_gh200];
    fixtures::write_catalog(dir.path(), "lambdalabs", &rows);
    let capacity: &[(&str, &[&str])] =
        &[("gpu_1x_a100", &["us-east-1"]), ("gpu_1x_gh200", &["us-east-1"])];
    let lambda = fixtures::fake_lambda(&["GOOD"], capacity).await;
    let mut registry = common::registry_with_lambda(lambda.url(), dir.path());
    // The fake configurator's backends cannot be built: this backend fails to list offers.
    registry.register_configurator(Arc::new(dstack_testkit::FakeConfigurator::new(
        BackendType::Runpod,
    )));
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
    // dstack's own image runs bash with its venv bootstrap before the commands.
    let spec = &job["job_spec"];
    assert_eq!(spec["image_name"], "dstackai/base:0.16-base-ubuntu24.04");
    assert_eq!(spec["commands"][0], "/bin/bash");
    let script = spec["commands"][3].as_str().unwrap();
    assert!(script.contains("uv venv") && script.ends_with("&& :"), "{script}");

    // A task with nothing to run is refused as dstack's model refuses it.
    let mut nothing = plan_request(json!({}), None);
    nothing["run_spec"]["configuration"].as_object_mut().unwrap().remove("commands");
    let refused = server.post("/api/project/main/runs/get_plan", ADMIN_TOKEN, &nothing).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.json()["detail"][0]["msg"],
        "Value error, Either `commands` or `image` must be set"
    );

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
    // dstack's own image has no ARM build: the GH200 (ARM) is not offered, and the job asks
    // for x86 while the effective configuration keeps the architecture unset.
    assert_eq!(capped["job_plans"][0]["total_offers"], 3);
    assert_eq!(capped["job_plans"][0]["offers"].as_array().unwrap().len(), 1);
    let job_cpu = &capped["job_plans"][0]["job_spec"]["requirements"]["resources"]["cpu"];
    assert_eq!(job_cpu["arch"], "x86");
    assert_eq!(
        capped["effective_run_spec"]["configuration"]["resources"]["cpu"]["arch"],
        Value::Null
    );
    // The offers-only image (what `dstack offer` sends) leaves every architecture in.
    let mut offers_only = plan_request(json!({"gpu": "0.."}), Some("auto"));
    offers_only["run_spec"]["configuration"]["image"] = json!("scratch");
    offers_only["run_spec"]["configuration"].as_object_mut().unwrap().remove("commands");
    let every_arch =
        server.post("/api/project/main/runs/get_plan", ADMIN_TOKEN, &offers_only).await.json();
    assert_eq!(every_arch["job_plans"][0]["total_offers"], 4, "{every_arch}");
    assert_eq!(every_arch["job_plans"][0]["job_spec"]["commands"], json!([":"]));

    // A dev environment idles after its IDE's setup, cloning the whole repo.
    let dev = json!({"run_spec": {
        "run_name": "quiet-fox",
        "configuration": {"type": "dev-environment", "ide": "cursor", "version": "1.7"},
    }});
    let dev = server.post("/api/project/main/runs/get_plan", ADMIN_TOKEN, &dev).await.json();
    let dev_spec = &dev["job_plans"][0]["job_spec"];
    let script = dev_spec["commands"][3].as_str().unwrap();
    assert!(script.contains("cursor-server --install-extension"), "{script}");
    assert!(script.contains("cursor://vscode-remote/ssh-remote+quiet-fox"), "{script}");
    assert!(script.ends_with("&& tail -f /dev/null"), "{script}");
    assert_eq!(dev_spec["single_branch"], false);

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

#[tokio::test]
async fn built_backends_are_reused_until_their_record_changes() {
    let fake = dstack_testkit::FakeConfigurator::new(BackendType::Runpod).buildable();
    let mut registry = dstack_core::Registry::new();
    registry.register_configurator(Arc::new(fake.clone()));
    let server = TestServer::start_with(None, None, registry, |_| {}).await;
    let save = async |path: &str, key: &str| {
        let yaml = format!("type: runpod\ncreds:\n  api_key: {key}\n");
        let answer = server
            .post(
                &format!("/api/project/main/backends/{path}"),
                ADMIN_TOKEN,
                &json!({"config_yaml": yaml}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    };
    let plan = async || {
        let answer = server
            .post("/api/project/main/runs/get_plan", ADMIN_TOKEN, &plan_request(json!({}), None))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    };
    save("create_yaml", "GOOD-1").await;
    plan().await;
    plan().await;
    assert_eq!(fake.builds(), 1, "the second plan reuses the built backend");
    save("update_yaml", "GOOD-2").await;
    plan().await;
    assert_eq!(fake.builds(), 2, "a changed record is built again");
    let deleted = server
        .post(
            "/api/project/main/backends/delete",
            ADMIN_TOKEN,
            &json!({"backends_names": ["runpod"]}),
        )
        .await;
    assert_eq!(deleted.status, 200);
    assert!(server.state.computes.is_empty(), "a deleted backend leaves the cache");
    server.stop().await;
}
