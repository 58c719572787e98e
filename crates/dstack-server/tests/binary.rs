//! The `dstack-server` binary as an operator runs it: environment variables, what it prints,
//! exit codes, and `kill -HUP`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Running, command, run};

async fn post(running: &Running, path: &str) -> common::Response {
    let auth = format!("Bearer {}", running.token);
    common::http(running.addr, "POST", path, &[("Authorization", &auth)], "").await
}

#[tokio::test]
async fn prints_the_token_and_keeps_it_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("DSTACK_SERVER_ADMIN_TOKEN", "first-token");
    let running = run(cmd);
    assert_eq!(running.token, "first-token");
    let info = common::http(running.addr, "POST", "/api/server/get_info", &[], "").await;
    assert_eq!(info.body, r#"{"server_version":"0.22.5"}"#);
    assert_eq!(post(&running, "/api/users/get_my_user").await.json()["username"], "admin");
    assert!(dir.path().join("data/sqlite.db").exists());
    drop(running);
    // No token given: the stored one is kept and printed.
    let running = run(command(dir.path()));
    assert_eq!(running.token, "first-token");
}

/// As dstack's server does, the binary makes `main` the CLI's default project in
/// `~/.dstack/config.yml`, keeping other projects, unless told not to.
#[tokio::test]
async fn configures_the_cli_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let client_config = dir.path().join("home/.dstack/config.yml");
    let running = run(command(dir.path()));
    let written = std::fs::read_to_string(&client_config).unwrap();
    let url = format!("http://{}", running.addr);
    assert_eq!(
        written,
        format!(
            "projects:\n- default: true\n  name: main\n  token: {}\n  url: {url}\n",
            running.token
        )
    );
    drop(running);

    // Another default is not replaced without a terminal to ask at...
    let other =
        "projects:\n- default: true\n  name: prod\n  token: p\n  url: https://prod.example\n";
    std::fs::write(&client_config, other).unwrap();
    drop(run(command(dir.path())));
    assert_eq!(std::fs::read_to_string(&client_config).unwrap(), other);
    // ... nor ever with DSTACK_DO_NOT_UPDATE_DEFAULT_PROJECT ...
    let mut cmd = command(dir.path());
    cmd.env("DSTACK_DO_NOT_UPDATE_DEFAULT_PROJECT", "1").env("DSTACK_UPDATE_DEFAULT_PROJECT", "1");
    drop(run(cmd));
    assert_eq!(std::fs::read_to_string(&client_config).unwrap(), other);
    // ... and is with DSTACK_UPDATE_DEFAULT_PROJECT, with DSTACK_SERVER_URL as the URL.
    let mut cmd = command(dir.path());
    cmd.env("DSTACK_UPDATE_DEFAULT_PROJECT", "").env("DSTACK_SERVER_URL", "https://dstack.example");
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let _token = lines.next().unwrap().unwrap();
    let url_line = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(url_line.ends_with("is running at https://dstack.example"), "{url_line}");
    let written = std::fs::read_to_string(&client_config).unwrap();
    assert!(written.contains("- default: false\n  name: prod\n"), "{written}");
    assert!(written.contains("name: main\n  token: "), "{written}");
    assert!(written.contains("url: https://dstack.example\n"), "{written}");
}

#[tokio::test]
async fn a_random_token_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let running = run(command(dir.path()));
    assert_eq!(running.token.len(), 36, "a UUID: {}", running.token);
}

#[test]
fn a_refused_config_exits_1_with_the_check_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yml"), "projects:\n- name: main\n  backend: []\n")
        .unwrap();
    let output = command(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: unknown field `backend`; did you mean `backends`?"),
        "{stderr}"
    );
    assert!(stderr.contains("config.yml:3:3"), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Traceback"));
}

#[tokio::test]
async fn hangup_re_applies_config_yml_and_keeps_state_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yml"), "projects:\n- name: main\n").unwrap();
    let running = run(command(dir.path()));
    let hangup = || {
        let status =
            Command::new("kill").args(["-HUP", &running.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    };
    let project_names = async || -> Vec<String> {
        let list = post(&running, "/api/projects/list").await.json();
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| p["project_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(project_names().await, ["main"]);

    std::fs::write(dir.path().join("config.yml"), "projects:\n- name: main\n- name: team\n")
        .unwrap();
    hangup();
    let mut names = Vec::new();
    for _ in 0..50 {
        names = project_names().await;
        if names.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(names, ["team", "main"]);

    // A bad file is refused; the server keeps running as it was.
    std::fs::write(dir.path().join("config.yml"), "projects: {bad\n").unwrap();
    hangup();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(project_names().await, ["team", "main"]);
    let info = common::http(running.addr, "POST", "/api/server/get_info", &[], "").await;
    assert_eq!(info.status, 200);
}

#[tokio::test]
async fn json_logs_and_a_bad_log_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        "projects:\n- name: main\n  backends:\n  - type: cudo\n    project_id: p\n    creds: {api_key: k}\n",
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.env("DSTACK_SERVER_LOG_FORMAT", "json");
    let mut running = run(cmd);
    let _ = running.child.kill();
    let output = running.child.wait_with_output_lossy();
    let lines: Vec<&str> = output.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in &lines {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(record["level"].is_string() && record["fields"]["message"].is_string(), "{line}");
    }
    assert!(output.contains("removed from dstack"), "{output}");

    let output = command(dir.path()).env("DSTACK_SERVER_LOG_FORMAT", "fancy").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DSTACK_SERVER_LOG_FORMAT `fancy`"));
}

trait WaitLossy {
    fn wait_with_output_lossy(&mut self) -> String;
}

impl WaitLossy for std::process::Child {
    /// Everything the killed process wrote to stderr.
    fn wait_with_output_lossy(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut text = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}
