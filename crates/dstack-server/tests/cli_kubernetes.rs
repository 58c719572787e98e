//! The Kubernetes backend through the real server and the real `dstack` CLI: a cluster
//! configured at start from `config.yml` (the kubeconfig read from its `filename`), its GPU
//! nodes offered through `dstack offer -b kubernetes --json`, good and refused kubeconfigs
//! through `create_yaml`, and the kubeconfig never stored in plain text. The cluster is the
//! testkit's loopback fake of Kubernetes' core/v1 API (`dstack_testkit::fakes::kubernetes`),
//! held to Kubernetes' published OpenAPI.

#![cfg(feature = "kubernetes")]

mod common;

use common::cli::{cli, cli_home, dstack, offers_json};
use dstack_testkit::fakes::kubernetes::{self, NodeShape, TOKEN, node};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_configured_at_start_and_offers_its_gpu_nodes() {
    let Some(cli) = cli() else { return };
    let fake = kubernetes::start().await;
    fake.add_node(node(&NodeShape {
        name: "cpu-1",
        cpu: "16",
        memory: "64Gi",
        ..NodeShape::default()
    }));
    let taint = [json!({"key": "nvidia.com/gpu", "effect": "NoSchedule"})];
    fake.add_node(node(&NodeShape {
        name: "gpu-1",
        cpu: "32",
        memory: "256Gi",
        ephemeral_storage: "1000Gi",
        extended: &[("nvidia.com/gpu", "8")],
        labels: &[("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")],
        taints: &taint,
        ..NodeShape::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let kubeconfig_file = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig_file, fake.kubeconfig(&[("ctx-a", None)], Some("ctx-a"))).unwrap();
    let config = format!(
        "projects:\n- name: main\n  backends:\n  - type: kubernetes\n    kubeconfig:\n      filename: {}\n    contexts: [ctx-a]\n",
        kubeconfig_file.display()
    );
    std::fs::write(state.join("config.yml"), config).unwrap();
    let server = common::run(common::command(&state));

    let home = cli_home();
    let home = home.path();
    let url = format!("http://{}", server.addr);
    let added = dstack(
        &cli,
        home,
        &["project", "add", "--name", "main", "--url", &url, "--token", &server.token, "-y"],
    );
    assert!(added.status.success());
    let offers = offers_json(&cli, home, &["-b", "kubernetes", "--gpu", "H100:2"]);
    let listed = offers["offers"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{offers}");
    let offer = &listed[0];
    assert_eq!(offer["backend"], "kubernetes");
    assert_eq!(offer["region"], "ctx-a");
    assert_eq!(offer["instance"]["name"], "gpu-1");
    assert_eq!(offer["price"], 0.0);
    let gpus = offer["instance"]["resources"]["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 2, "cut to the request: {offer}");
    assert_eq!(gpus[0]["name"], "H100");
    assert_eq!(gpus[0]["memory_mib"], 81920);
    // The CLI asks for no disk: the pod requests none, as dstack's offer shows.
    assert_eq!(offer["instance"]["resources"]["disk"]["size_mib"], 0);
    let cpu = offers_json(&cli, home, &["-b", "kubernetes"]);
    let names: Vec<&str> = cpu["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["instance"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu-1", "gpu-1"]);

    // Another project: a refused kubeconfig, then a good one, through `create_yaml`.
    let bearer = format!("Bearer {}", server.token);
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let post = |path: &'static str, body: serde_json::Value| async move {
        common::http(server.addr, "POST", path, &headers, &body.to_string()).await
    };
    let created = post("/api/projects/create", json!({"project_name": "other"})).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let yaml = |kubeconfig: &str| {
        let data = serde_json::to_string(kubeconfig).unwrap();
        json!({"config_yaml": format!("type: kubernetes\nkubeconfig:\n  data: {data}\ncontexts: [ctx-a]\n")})
    };
    let good = fake.kubeconfig(&[("ctx-a", None)], None);
    let refused =
        post("/api/project/other/backends/create_yaml", yaml(&good.replace(TOKEN, "wrong"))).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let detail = &refused.json()["detail"][0];
    assert_eq!(detail["code"], "invalid_credentials");
    assert_eq!(detail["msg"], "Invalid credentials: Failed to validate cluster (context='ctx-a')");
    assert_eq!(detail["fields"], json!(["kubeconfig"]));
    let missing =
        post("/api/project/other/backends/create_yaml", yaml(&good.replace("ctx-a", "ctx-b")))
            .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["detail"][0]["msg"], "context ctx-a not found");
    let ok = post("/api/project/other/backends/create_yaml", yaml(&good)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Legacy mode (the current context) with the deprecated `networking` section, which is
    // stored as `proxy_jump`.
    let created = post("/api/projects/create", json!({"project_name": "legacy"})).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let current =
        serde_json::to_string(&fake.kubeconfig(&[("ctx-a", None)], Some("ctx-a"))).unwrap();
    let legacy = format!(
        "type: kubernetes\nkubeconfig:\n  data: {current}\nnetworking: {{ssh_host: 203.0.113.7, ssh_port: 32000}}\n"
    );
    let ok = post("/api/project/legacy/backends/create_yaml", json!({"config_yaml": legacy})).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stored = post("/api/project/legacy/backends/kubernetes/get_yaml", json!({})).await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let text = stored.json()["config_yaml"].as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("proxy_jump:") && text.contains("203.0.113.7") && text.contains("32000"),
        "{text}"
    );
    assert!(!text.contains("networking"), "{text}");

    // The kubeconfigs (and their token) are encrypted at rest.
    drop(server);
    let database = std::fs::read(state.join("data/sqlite.db")).unwrap();
    let plain = |needle: &str| database.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!plain(TOKEN), "the cluster token is in the database in plain text");
    assert!(!plain("clusters:"), "a kubeconfig is in the database in plain text");
    assert_eq!(fake.api.violations(), Vec::<String>::new());
}
