//! The `dstack-server` binary as an operator runs it: environment variables, what it prints,
//! exit codes, and `kill -HUP`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running {
    child: Child,
    addr: SocketAddr,
    token: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dstack-server"));
    cmd.env("DSTACK_SERVER_DIR", dir)
        .env("DSTACK_SERVER_PORT", "0")
        .env_remove("DSTACK_SERVER_ADMIN_TOKEN")
        .env_remove("DSTACK_DATABASE_URL")
        .env_remove("DSTACK_SERVER_CONFIG_DISABLED")
        .env_remove("DSTACK_SERVER_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts the binary and waits for its two start-up lines.
fn run(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let token_line = lines.next().unwrap().unwrap();
    let token = token_line
        .strip_prefix("The admin user token is '")
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or_else(|| panic!("unexpected first line: {token_line}"))
        .to_owned();
    let address_line = lines.next().unwrap().unwrap();
    let addr = address_line
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("unexpected second line: {address_line}"));
    Running { child, addr, token }
}

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
