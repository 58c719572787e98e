//! What the fleet tests share: the server binary with Lambda's fake as its backend and SSH
//! to instances sent to a test `sshd`, the project key instances must accept, API calls.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dstack_testkit::fixtures;
use serde_json::Value;

use super::{Running, command, http};

/// config.yml: project `main` with Lambda (the fake accepts `GOOD`).
pub const CONFIG: &str = "projects:\n- name: main\n  backends:\n  - type: lambda\n    regions: [us-east-1]\n    creds: {type: api_key, api_key: GOOD}\n";

/// A server binary of a fleet test: its state in `dir/<name>`, its log in `dir/<name>.log`.
pub struct FleetServer {
    pub running: Running,
    pub log: PathBuf,
    pub state: PathBuf,
}

impl FleetServer {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Where a fleet test's servers send things.
pub struct Wiring<'a> {
    pub lambda_url: &'a str,
    pub ssh_port: u16,
    pub shim_port: u16,
    /// `DSTACK_SERVER_PROVISIONING_TIMEOUT`, seconds.
    pub timeout: &'a str,
    /// `DSTACK_DATABASE_URL`, else the server's SQLite database.
    pub database_url: Option<&'a str>,
}

/// Starts server `name` (again, if it ran before: same state) wired as asked, looking at
/// instances every half second.
pub fn start(dir: &Path, name: &str, wiring: &Wiring<'_>) -> FleetServer {
    let catalog = dir.join("catalog");
    fixtures::write_catalog(&catalog, "lambdalabs", fixtures::LAMBDA_ROWS);
    let state = dir.join(name);
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("config.yml"), CONFIG).unwrap();
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
    let mut cmd = command(&state);
    cmd.env("GPUHUNT_CATALOG_DIR", &catalog)
        .env("DSTACK_LAMBDA_API_URL", wiring.lambda_url)
        .env("DSTACK_SERVER_INSTANCE_SSH_PORT", wiring.ssh_port.to_string())
        .env("DSTACK_SHIM_HTTP_PORT", wiring.shim_port.to_string())
        .env("DSTACK_SERVER_INSTANCE_PROCESSING_INTERVAL", "0.5")
        .env("DSTACK_SERVER_PROVISIONING_TIMEOUT", wiring.timeout)
        .stderr(log);
    if let Some(url) = wiring.database_url {
        cmd.env("DSTACK_DATABASE_URL", url);
    }
    FleetServer { running: super::run(cmd), log: log_path, state }
}

/// The database URL of server state `state` (its SQLite file) or `database_url`.
pub fn database(state: &Path, database_url: Option<&str>) -> String {
    database_url.map_or_else(
        || format!("sqlite://{}", state.join("data/sqlite.db").display()),
        str::to_owned,
    )
}

/// The project's public key, as the server generated it (what instances must accept).
pub async fn project_key(database_url: &str) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database_url).await.unwrap();
    let row: (String,) = sqlx::query_as("SELECT ssh_public_key FROM projects WHERE name = 'main'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row.0
}

/// A POST with the server's admin token; the answer's JSON (200 expected).
pub async fn api(server: &Running, path: &str, body: &Value) -> Value {
    let bearer = format!("Bearer {}", server.token);
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let response = http(server.addr, "POST", path, &headers, &body.to_string()).await;
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    response.json()
}

/// Applies a cloud fleet `name` with `nodes` through the API, as the CLI does.
pub async fn apply_fleet(server: &Running, name: &str, nodes: u32) -> Value {
    let spec = serde_json::json!({
        "configuration": {"type": "fleet", "name": name, "nodes": nodes},
        "profile": {},
    });
    let body =
        serde_json::json!({"plan": {"spec": spec, "current_resource": null}, "force": false});
    api(server, "/api/project/main/fleets/apply", &body).await
}

/// The statuses of the fleet's instances, by number.
pub async fn statuses(server: &Running, fleet: &str) -> Vec<String> {
    let fleet =
        api(server, "/api/project/main/fleets/get", &serde_json::json!({"name": fleet})).await;
    let instances = fleet["instances"].as_array().cloned().unwrap_or_default();
    instances.iter().map(|i| i["status"].as_str().unwrap_or_default().to_owned()).collect()
}

/// Waits until `done` (a readiness check, not a sleep), at most `seconds`; `context` says
/// what was seen when it fails.
pub async fn until<F, Fut>(what: &str, seconds: u64, context: impl Fn() -> String, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within {seconds} s\n{}", context());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
