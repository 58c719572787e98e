//! `dstack-server config check --online`: every backend checked with its cloud at once, one
//! row each, exit 1 when any is refused. Lambda's API is a loopback fake (Lambda's shapes).

use std::process::Command;

use dstack_testkit::fixtures;

const CONFIG: &str = "projects:
- name: main
  backends:
  - {type: lambda, creds: {api_key: GOOD-1}}
- name: team
  backends:
  - {type: lambda, creds: {api_key: WRONG}}
  - {type: cudo, project_id: p, creds: {api_key: k}}
";

fn check_online(lambda_url: &str, file: &std::path::Path, json: bool) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dstack-server"));
    cmd.args(["config", "check", "--online", "--file"]).arg(file);
    if json {
        cmd.arg("--json");
    }
    let dir = file.parent().unwrap();
    let output = cmd
        .env("DSTACK_SERVER_DIR", dir)
        .env("DSTACK_LAMBDA_API_URL", lambda_url)
        .env("GPUHUNT_CATALOG_DIR", dir)
        .output()
        .unwrap();
    (output.status.code().unwrap(), String::from_utf8_lossy(&output.stdout).into_owned())
}

// Multi-threaded: the fake must answer while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_row_per_backend_and_exit_1_when_one_is_refused() {
    let lambda = fixtures::fake_lambda(&["GOOD-1"], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(&file, CONFIG).unwrap();
    let url = lambda.url().to_owned();
    let (code, table) = {
        let file = file.clone();
        let url = url.clone();
        tokio::task::spawn_blocking(move || check_online(&url, &file, false)).await.unwrap()
    };
    assert_eq!(code, 1, "{table}");
    // The offline check's summary, then the table.
    assert!(
        table.starts_with(&format!("{}: OK (2 projects, 3 backends", file.display())),
        "{table}"
    );
    let rows: Vec<Vec<&str>> =
        table.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0][..4], ["PROJECT", "BACKEND", "STATUS", "SECONDS"]);
    let row = |project: &str, backend: &str| {
        rows.iter().find(|r| r.len() > 2 && r[0] == project && r[1] == backend).unwrap().clone()
    };
    assert_eq!(row("main", "lambda")[2], "ok", "{table}");
    let refused = row("team", "lambda");
    assert_eq!(refused[2], "refused");
    assert_eq!(refused[4..], ["Invalid", "credentials"], "the cloud's reason: {table}");
    assert_eq!(row("team", "cudo")[2], "skipped", "a removed type is not checked");
    assert!(table.contains("3 backends checked, 1 refused"), "{table}");

    let (code, json) =
        tokio::task::spawn_blocking(move || check_online(&url, &file, true)).await.unwrap();
    assert_eq!(code, 1);
    let items: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(items[0]["project"], "main");
    assert_eq!(items[0]["status"], "ok");
    assert_eq!(items[1]["reason"], "Invalid credentials");
    assert!(items[1]["seconds"].as_f64().unwrap() >= 0.0);
    // Both keys reached the fake once each (with JSON, again).
    assert_eq!(lambda.requests().len(), 4);
}
