//! The binary under faults an operator meets: `kill -9` in the middle of writes, files that
//! are not files, broken or empty databases, servers starting together, keys changed under a
//! running server.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Running, command, run};
use serde_json::json;

const TOKEN: &str = "faults-admin-token";

/// Runs the command to its end; a hang fails the test instead of stalling it.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn with_token(dir: &std::path::Path) -> Command {
    let mut cmd = command(dir);
    cmd.env("DSTACK_SERVER_ADMIN_TOKEN", TOKEN);
    cmd
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> common::Response {
    let auth = format!("Bearer {TOKEN}");
    common::http(addr, "POST", path, &[("Authorization", &auth)], &body.to_string()).await
}

#[tokio::test]
async fn kill_9_during_project_creation_leaves_whole_projects_or_none() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let names = Arc::new(std::sync::Mutex::new(Vec::new()));
    for round in 0..8 {
        let running = run(with_token(dir.path()));
        let addr = running.addr;
        let answered = Arc::new(AtomicUsize::new(0));
        // Four clients create projects one after another until the server dies under them.
        let clients: Vec<_> = (0..4)
            .map(|client| {
                let (names, answered) = (names.clone(), answered.clone());
                tokio::spawn(async move {
                    for i in 0.. {
                        let name = format!("r{round}-c{client}-{i}");
                        names.lock().unwrap().push(name.clone());
                        // The request the kill cuts off panics inside this task: expected.
                        post(addr, "/api/projects/create", &json!({"project_name": name})).await;
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        // Kill after a different number of answered creates each round, mid-stream.
        while answered.load(Ordering::SeqCst) < 1 + 3 * round {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(running); // SIGKILL
        for client in clients {
            let _ = client.await;
        }
    }
    let names = names.lock().unwrap().clone();
    let running = run(with_token(dir.path()));
    let mut complete = 0;
    for name in &names {
        let project = post(running.addr, &format!("/api/projects/{name}/get"), &json!({})).await;
        match project.status {
            200 => {
                let members = project.json()["members"].clone();
                assert_eq!(members[0]["user"]["username"], "admin", "{name}: {members}");
                assert_eq!(members[0]["project_role"], "admin", "{name}: {members}");
                complete += 1;
            }
            404 => {
                // Not there at all: creating it now works.
                let created =
                    post(running.addr, "/api/projects/create", &json!({"project_name": name}))
                        .await;
                assert_eq!(created.status, 200, "{name}: {}", created.body);
            }
            other => panic!("{name}: {other} {}", project.body),
        }
    }
    eprintln!("{complete} of {} projects were created before their kill", names.len());
}

#[test]
fn devices_and_fifos_named_in_config_yml_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("kubeconfig.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (file, config) in [
        (
            "/dev/zero".to_owned(),
            "projects:\n- name: main\n  backends:\n  - type: gcp\n    project_id: p\n    creds:\n      \
             type: service_account\n      filename: /dev/zero\n"
                .to_owned(),
        ),
        (
            fifo.display().to_string(),
            format!(
                "projects:\n- name: main\n  backends:\n  - type: kubernetes\n    kubeconfig:\n      \
                 filename: {}\n",
                fifo.display()
            ),
        ),
    ] {
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let output = output_within(command(dir.path()), Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("Cannot read file {file}")), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    // config.yml itself is read the same way.
    std::fs::remove_file(dir.path().join("config.yml")).unwrap();
    assert!(Command::new("mkfifo").arg(dir.path().join("config.yml")).status().unwrap().success());
    let output = output_within(command(dir.path()), Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a regular file"));
}

#[test]
fn an_empty_or_corrupt_database_stops_start_up_with_its_name() {
    for content in [Vec::new(), vec![b'Z'; 4096]] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let file = dir.path().join("data/sqlite.db");
        std::fs::write(&file, &content).unwrap();
        let output = output_within(command(dir.path()), Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains("Litestream replica"), "{stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), content, "the file was not replaced");
    }
}

#[test]
fn two_servers_starting_together_on_a_new_directory_both_start() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| run(with_token(dir.path())));
            let b = scope.spawn(|| run(with_token(dir.path())));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!((a.token.as_str(), b.token.as_str()), (TOKEN, TOKEN));
    }
}

fn keys_config(secret: &str) -> String {
    format!(
        "projects:\n- name: main\nencryption:\n  keys:\n  - type: aes\n    name: k1\n    secret: {secret}\n"
    )
}

/// Waits for a stderr line containing `needle`, returning the lines read.
fn wait_for_line(running: &mut Running, needle: &str) -> String {
    let stderr = running.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            return seen;
        }
    }
    panic!("no line with {needle:?} in:\n{seen}");
}

#[tokio::test]
async fn a_hangup_with_a_changed_key_secret_keeps_the_running_keys() {
    const FIRST: &str = "cR2r1JmkPyL6edBQeHKz6ZBjCfS2oWk87Gc2G3wHVoA=";
    const CHANGED: &str = "E5yzN6V3XvBq/f085ISWFCdgnOGED0kuFaAkASlmmO4=";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yml"), keys_config(FIRST)).unwrap();
    let mut running = run(with_token(dir.path()));
    assert_eq!(post(running.addr, "/api/users/get_my_user", &json!({})).await.status, 200);

    std::fs::write(dir.path().join("config.yml"), keys_config(CHANGED)).unwrap();
    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let logged = wait_for_line(&mut running, "keeping the running keys");
    assert!(logged.contains("its secret is not the one"), "{logged}");
    assert_eq!(post(running.addr, "/api/users/get_my_user", &json!({})).await.status, 200);
    drop(running);

    // A restart with that file refuses cleanly, naming the key.
    let output = output_within(with_token(dir.path()), Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the configured key `k1`"), "{stderr}");
}
