//! The real `dstack` CLI (pip `dstack==0.22.5`) and its Python API client against the real
//! `dstack-server` binary on loopback (`common::cli` says where the CLI comes from).
//!
//! The server's Lambda backend talks to a loopback server that answers like Lambda's API.

mod common;

use std::process::Command;

use common::cli::{cli, cli_home, dstack, dstack_command, offers_json};
use dstack_testkit::fixtures;

#[tokio::test]
async fn project_add_and_list_with_the_real_cli() {
    let Some(cli) = cli() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::command(dir.path());
    cmd.env("DSTACK_SERVER_ADMIN_TOKEN", "e2e-admin-token");
    let server = common::run(cmd);
    let url = format!("http://{}", server.addr);
    let home = cli_home();

    let added = dstack(
        &cli,
        home.path(),
        &["project", "add", "--name", "main", "--url", &url, "--token", &server.token, "-y"],
    );
    assert!(added.status.success());
    let client_config = std::fs::read_to_string(home.path().join(".dstack/config.yml")).unwrap();
    assert!(
        client_config.contains("name: main") && client_config.contains(&url),
        "{client_config}"
    );

    let listed = dstack(&cli, home.path(), &["project", "list", "-v"]);
    assert!(listed.status.success());
    let table = String::from_utf8_lossy(&listed.stdout);
    let row = table.lines().find(|l| l.contains(&url)).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("main") && row.contains("admin"), "{row}");

    // A wrong token is refused by the server, and the CLI says so.
    let refused = dstack(
        &cli,
        home.path(),
        &["project", "add", "--name", "other", "--url", &url, "--token", "wrong", "-y"],
    );
    assert!(!refused.status.success());
    // A project that does not exist is refused too.
    let missing = dstack(
        &cli,
        home.path(),
        &["project", "add", "--name", "nope", "--url", &url, "--token", &server.token, "-y"],
    );
    assert!(!missing.status.success());
}

/// dstack's Python client drives the backend endpoints; the script prints JSON lines.
const ROUND_TRIP: &str = r#"
import json, sys
from dstack.api.server import APIClient
from dstack._internal.core.models.backends.base import BackendType

url, token = sys.argv[1], sys.argv[2]
client = APIClient(base_url=url, token=token)
def post(path, body):
    return client.backends._request(path, body=json.dumps(body))

print(json.dumps({"types": [t.value for t in client.backends.list_backend_types()]}))
post("/api/project/main/backends/create_yaml", {"config_yaml": "type: lambda\ncreds:\n  type: api_key\n  api_key: GOOD-1\n"})
print(json.dumps({"get_yaml": post("/api/project/main/backends/lambda/get_yaml", {}).json()}))
post("/api/project/main/backends/update_yaml", {"config_yaml": "type: lambda\nregions: [us-east-1]\ncreds:\n  type: api_key\n  api_key: GOOD-2\n"})
info = client.backends.config_info("main", BackendType.LAMBDA)
print(json.dumps({"config_info": json.loads(info.json())}))
project = client.projects.get("main")
print(json.dumps({"project_backends": [json.loads(b.json()) for b in project.backends]}))
try:
    post("/api/project/main/backends/update_yaml", {"config_yaml": "type: lambda\ncreds:\n  type: api_key\n  api_key: BAD\n"})
    print(json.dumps({"bad_key": "accepted"}))
except Exception as e:
    print(json.dumps({"bad_key": str(e)}))
client.backends.delete("main", [BackendType.LAMBDA])
print(json.dumps({"after_delete": [b.name for b in client.projects.get("main").backends]}))
"#;

#[tokio::test]
async fn backend_yaml_round_trip_with_dstacks_python_client() {
    let Some(cli) = cli() else { return };
    let python = cli.parent().unwrap().join("python");
    // Lambda's API, as far as the credential check goes.
    let lambda = fixtures::fake_lambda(&["GOOD-1", "GOOD-2"], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::command(dir.path());
    cmd.env("DSTACK_LAMBDA_API_URL", lambda.url());
    let server = common::run(cmd);
    let url = format!("http://{}", server.addr);
    let token = server.token.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).args(["-c", ROUND_TRIP, &url, &token]).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let results: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let field = |name: &str| results.iter().find_map(|r| r.get(name).cloned()).unwrap();
    assert!(field("types").as_array().unwrap().contains(&serde_json::json!("lambda")));
    assert_eq!(
        field("get_yaml"),
        serde_json::json!({"name": "lambda", "config_yaml": "type: lambda\ncreds:\n  type: api_key\n  api_key: GOOD-1\n"})
    );
    assert_eq!(
        field("config_info"),
        serde_json::json!({"type": "lambda", "regions": ["us-east-1"], "creds": {"type": "api_key", "api_key": "GOOD-2"}})
    );
    // Members see the config without creds.
    let backends = field("project_backends");
    assert_eq!(backends[0]["name"], "lambda");
    assert!(!backends.to_string().contains("GOOD-2"), "{backends}");
    assert!(
        field("bad_key").as_str().unwrap().contains("Invalid credentials"),
        "{}",
        field("bad_key")
    );
    assert_eq!(field("after_delete"), serde_json::json!([]));
}

const LAMBDA_CATALOG: &str = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data
gpu_1x_a10,us-east-1,0.75,30,200.0,1,A10,24.0,False,1400.0,nvidia,,x86,{}
gpu_1x_a100,us-east-1,1.29,30,200.0,1,A100,40.0,False,512.0,nvidia,,x86,{}
gpu_8x_h100_sxm5,us-west-1,23.92,208,1800.0,8,H100,80.0,False,24780.0,nvidia,,x86,{}
cpu_4x_general,us-east-1,0.2,4,16.0,0,,,False,100.0,,,x86,{}
";

// Multi-threaded: the fake Lambda API must answer while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dstack_offer_lists_offers_from_a_local_catalog() {
    let Some(cli) = cli() else { return };
    // Lambda's API with capacity for A100s in us-east-1 only.
    let lambda = fixtures::fake_lambda(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::write(catalog.join("lambdalabs.csv"), LAMBDA_CATALOG).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("config.yml"),
        "projects:\n- name: main\n  backends:\n  - type: lambda\n    creds: {api_key: GOOD}\n",
    )
    .unwrap();
    let mut cmd = common::command(&state);
    cmd.env("DSTACK_LAMBDA_API_URL", lambda.url()).env("GPUHUNT_CATALOG_DIR", &catalog);
    let server = common::run(cmd);
    let url = format!("http://{}", server.addr);
    let home = cli_home();
    let home = home.path();
    assert!(
        dstack(
            &cli,
            home,
            &["project", "add", "--name", "main", "--url", &url, "--token", &server.token, "-y"]
        )
        .status
        .success()
    );

    let all = offers_json(&cli, home, &[]);
    assert_eq!(all["total_offers"], 4);
    let names: Vec<&str> = all["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["instance"]["name"].as_str().unwrap())
        .collect();
    // Available offers first, then by price.
    assert_eq!(names, ["gpu_1x_a100", "cpu_4x_general", "gpu_1x_a10", "gpu_8x_h100_sxm5"]);
    assert_eq!(all["offers"][0]["availability"], "available");
    assert_eq!(all["offers"][0]["backend"], "lambda");

    let a100 = offers_json(&cli, home, &["--gpu", "A100"]);
    assert_eq!(a100["requirements"]["resources"]["gpu"]["vendor"], "nvidia");
    assert_eq!(a100["total_offers"], 1);
    assert_eq!(a100["offers"][0]["instance"]["resources"]["gpus"][0]["name"], "A100");
    let by_memory = offers_json(&cli, home, &["--gpu", "24GB"]);
    assert_eq!(by_memory["offers"][0]["instance"]["name"], "gpu_1x_a10");
    assert_eq!(offers_json(&cli, home, &["--gpu", "H100:8"])["total_offers"], 1);
    assert_eq!(offers_json(&cli, home, &["--gpu", "MI300X"])["total_offers"], 0);

    let groups = offers_json(&cli, home, &["--group-by", "gpu,backend"]);
    let gpus: Vec<&str> =
        groups["gpus"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(gpus, ["A10", "A100", "H100"]);
    assert_eq!(groups["gpus"][2]["price"]["min"], 23.92 / 8.0);
    assert_eq!(groups["gpus"][0]["backend"], "lambda");
}

/// Everyday commands after the server's start-up configured the CLI (no `dstack project add`):
/// empty tables where nothing exists yet, secrets for real, and `dstack apply` of a task
/// refused with one sentence and exit code 1.
#[tokio::test]
async fn everyday_commands_work_against_the_configured_server() {
    let Some(cli) = cli() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = common::run(common::command(dir.path()));
    // The server wrote the CLI's config into its home: use that home for the CLI.
    let home = dir.path().join("home");
    let cache = home.join(".cache/.dstack/cli");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("last_check"), "").unwrap();
    let listed = dstack(&cli, &home, &["project", "list"]);
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&server.addr.to_string()));

    for args in [
        &["ps"][..],
        &["ps", "-a"],
        &["fleet"],
        &["volume", "list"],
        &["gateway", "list"],
        &["secret", "list"],
    ] {
        let output = dstack(&cli, &home, args);
        assert!(output.status.success(), "dstack {}", args.join(" "));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!all.contains("Status code"), "dstack {}: {all}", args.join(" "));
    }

    assert!(
        dstack(&cli, &home, &["secret", "set", "HF_TOKEN", "hf-secret-value"]).status.success()
    );
    let secrets = dstack(&cli, &home, &["secret", "list"]);
    let table = String::from_utf8_lossy(&secrets.stdout);
    assert!(table.contains("HF_TOKEN") && !table.contains("hf-secret-value"), "{table}");
    let got = dstack(&cli, &home, &["secret", "get", "HF_TOKEN"]);
    assert!(String::from_utf8_lossy(&got.stdout).contains("hf-secret-value"));
    assert!(dstack(&cli, &home, &["secret", "delete", "HF_TOKEN", "-y"]).status.success());
    let secrets = dstack(&cli, &home, &["secret", "list"]);
    assert!(!String::from_utf8_lossy(&secrets.stdout).contains("HF_TOKEN"));

    let work = tempfile::tempdir().unwrap();
    let task = work.path().join("task.dstack.yml");
    std::fs::write(&task, "type: task\nname: hello\ncommands:\n- echo hi\n").unwrap();
    let output = dstack_command(&cli, &home)
        .args(["apply", "-f"])
        .arg(&task)
        .args(["-y", "--no-repo"])
        .current_dir(work.path())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("$ dstack apply\n{all}");
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("Runs are not supported by this version of dstack-server yet"), "{all}");
    assert!(!all.contains("Status code 405") && !all.contains("Traceback"), "{all}");
}
