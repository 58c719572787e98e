//! Fleets through the real `dstack` CLI and the server binary: `dstack apply -f fleet.yml`
//! provisions instances through a backend, they become idle when their shim answers over
//! SSH, `dstack fleet` lists them, `dstack fleet delete` terminates them. The backend is
//! Lambda against its stateful fake (`dstack_testkit::fakes::lambda`, Lambda's API shapes);
//! its instances are a real `sshd` on loopback (`dstack_testkit::sshd`) behind which a fake
//! shim answers dstack's healthcheck (`dstack_testkit::FakeShim`, the Go shim's shapes).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::cli::{cli, cli_home, dstack, dstack_command};
use dstack_testkit::FakeShim;
use dstack_testkit::fakes::lambda;
use dstack_testkit::fixtures;
use dstack_testkit::sshd::{Sshd, free_port};
use serde_json::Value;

const CONFIG: &str = "projects:\n- name: main\n  backends:\n  - type: lambda\n    regions: [us-east-1]\n    creds: {type: api_key, api_key: GOOD}\n";

/// The server with the Lambda fake, its instances' SSH on `ssh_port` and their shim on
/// `shim_port`, instances looked at every half second; its log in `dir/server.log`.
fn server(
    dir: &Path,
    lambda_url: &str,
    ssh_port: u16,
    shim_port: u16,
    timeout: &str,
) -> common::Running {
    let catalog = dir.join("catalog");
    fixtures::write_catalog(&catalog, "lambdalabs", fixtures::LAMBDA_ROWS);
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("config.yml"), CONFIG).unwrap();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut cmd = common::command(&state);
    cmd.env("GPUHUNT_CATALOG_DIR", &catalog)
        .env("DSTACK_LAMBDA_API_URL", lambda_url)
        .env("DSTACK_SERVER_INSTANCE_SSH_PORT", ssh_port.to_string())
        .env("DSTACK_SHIM_HTTP_PORT", shim_port.to_string())
        .env("DSTACK_SERVER_INSTANCE_PROCESSING_INTERVAL", "0.5")
        .env("DSTACK_SERVER_PROVISIONING_TIMEOUT", timeout)
        .stderr(log);
    common::run(cmd)
}

/// The project's public key, as the server generated it (what instances must accept).
async fn project_key(dir: &Path) -> String {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", dir.join("state/data/sqlite.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let row: (String,) = sqlx::query_as("SELECT ssh_public_key FROM projects WHERE name = 'main'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row.0
}

fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// Waits until `done` holds for the fake's instances (a readiness check, not a sleep).
async fn until(what: &str, dir: &Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 60 s\n{}", server_log(dir));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn api(server: &common::Running, path: &str, body: &str) -> Value {
    let bearer = format!("Bearer {}", server.token);
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let response = common::http(server.addr, "POST", path, &headers, body).await;
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    response.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_is_provisioned_listed_and_deleted_through_the_real_cli() {
    let Some(cli) = cli() else { return };
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
    let shim = FakeShim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ssh_port = free_port();
    let server = server(dir.path(), fake.url(), ssh_port, shim.port(), "60");
    let key = project_key(dir.path()).await;
    let Some(sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };

    let home = cli_home();
    let home = home.path();
    let url = format!("http://{}", server.addr);
    let added = dstack(
        &cli,
        home,
        &["project", "add", "--name", "main", "--url", &url, "--token", &server.token, "-y"],
    );
    assert!(added.status.success());
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("fleet.dstack.yml"),
        "type: fleet\nname: gpus\nnodes: 2\nresources:\n  gpu: A100\n",
    )
    .unwrap();

    // `apply -y` waits until no instance is pending or provisioning any more.
    let applied = tokio::task::spawn_blocking({
        let (cli, home, work) = (cli.clone(), home.to_owned(), work.clone());
        move || {
            dstack_command(&cli, &home)
                .current_dir(work)
                .args(["apply", "-f", "fleet.dstack.yml", "-y"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(applied.status.success(), "{said}\n{}", server_log(dir.path()));

    // Two Lambda instances, each prepared and started over SSH, each shim checked.
    let launched = fake.instances();
    assert_eq!(launched.len(), 2, "{launched:?}");
    assert!(launched.iter().all(|i| i["status"] == "active"), "{launched:?}");
    let launchers =
        sshd.sudo_calls().into_iter().filter(|c| c.first().is_some_and(|w| w == "sh")).count();
    assert_eq!(launchers, 2, "one shim launcher per instance");
    assert!(shim.healthchecks() >= 2, "{} healthchecks", shim.healthchecks());
    let fleet = api(&server, "/api/project/main/fleets/get", r#"{"name": "gpus"}"#).await;
    let statuses: Vec<&str> = fleet["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["idle", "idle"], "{fleet}");
    assert_eq!(fleet["instances"][0]["backend"], "lambda");
    assert_eq!(fleet["instances"][0]["instance_type"]["name"], "gpu_1x_a100");
    assert_eq!(fleet["spec"]["configuration"]["nodes"], serde_json::json!({"min": 2, "max": 2}));

    // `dstack fleet` shows both, with backend, resources, price and status.
    let listed = dstack(&cli, home, &["fleet"]);
    let table = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.status.success(), "{table}");
    assert!(table.contains("gpus") && table.matches("idle").count() >= 2, "{table}");
    assert!(
        table.contains("lambda") && table.contains("us-east-1") && table.contains("1.29"),
        "{table}"
    );

    // Delete: both terminated at Lambda, then the fleet is gone.
    let deleted = dstack(&cli, home, &["fleet", "delete", "gpus", "-y"]);
    assert!(deleted.status.success());
    until("both instances terminated", dir.path(), || {
        fake.instances().iter().all(|i| i["status"] == "terminated")
    })
    .await;
    let mut fleets = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        fleets = api(&server, "/api/project/main/fleets/list", "{}").await;
        if fleets.as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(fleets, serde_json::json!([]), "{}", server_log(dir.path()));
    let log = server_log(dir.path());
    assert!(log.contains("Instance status changed PENDING -> PROVISIONING"), "{log}");
    assert!(log.contains("Instance status changed PROVISIONING -> IDLE"), "{log}");
    assert!(log.contains("Fleet status changed TERMINATING -> TERMINATED"), "{log}");
    assert!(!log.contains(&server.token), "no token in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_shim_never_answers_fails_with_dstacks_reason() {
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
    let dir = tempfile::tempdir().unwrap();
    // The VM is up and takes the launcher over SSH, but nothing listens on the shim's port.
    let ssh_port = free_port();
    let server = server(dir.path(), fake.url(), ssh_port, free_port(), "4");
    let key = project_key(dir.path()).await;
    let Some(sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };
    let spec = serde_json::json!({"configuration": {"type": "fleet", "name": "lost", "nodes": 1}, "profile": {}});
    let plan = api(
        &server,
        "/api/project/main/fleets/get_plan",
        &serde_json::json!({"spec": spec}).to_string(),
    )
    .await;
    assert_eq!(plan["action"], "create");
    assert!(plan["total_offers"].as_u64().unwrap() >= 1, "{plan}");
    let body =
        serde_json::json!({"plan": {"spec": spec, "current_resource": null}, "force": false});
    let fleet = api(&server, "/api/project/main/fleets/apply", &body.to_string()).await;
    assert_eq!(fleet["instances"][0]["status"], "pending");

    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let instances = api(&server, "/api/instances/list", "{}").await;
        let found = instances
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["termination_reason"] == "provisioning_timeout")
            .cloned();
        if let Some(instance) = found.filter(|i| i["status"] == "terminated") {
            break instance;
        }
        assert!(Instant::now() < deadline, "{instances}\n{}", server_log(dir.path()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["termination_reason_message"], "Instance did not become reachable in time");
    assert!(
        fake.instances().iter().all(|i| i["status"] == "terminated"),
        "terminated at Lambda too"
    );
    assert!(
        !sshd.sudo_calls().is_empty(),
        "the launcher ran: the VM was reached, its shim was not"
    );
}
