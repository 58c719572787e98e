//! Instances are provisioned once, whatever happens to the servers: two servers on one
//! PostgreSQL database share the work without creating any instance twice, and a server
//! killed (`kill -9`) between Lambda's launch and its answer resumes after a restart without
//! a duplicate or an orphan. Lambda is its stateful fake (`dstack_testkit::fakes::lambda`);
//! instances are a real `sshd` with a fake shim behind it (`dstack_testkit::FakeShim`).

mod common;

use std::time::Duration;

use common::fleets::{Wiring, api, apply_fleet, database, project_key, start, statuses, until};
use dstack_testkit::FakeShim;
use dstack_testkit::fakes::lambda;
use dstack_testkit::sshd::{Sshd, free_port};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_create_each_instance_once() {
    let Some(database_url) = common::postgres_database().await else {
        assert!(std::env::var_os("CI").is_none(), "CI runs this against PostgreSQL");
        eprintln!("DSTACK_TEST_POSTGRES_URL is not set: skipping (run `cargo xtask test`)");
        return;
    };
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
    let shim = FakeShim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ssh_port = free_port();
    let wiring = Wiring {
        lambda_url: fake.url(),
        ssh_port,
        shim_port: shim.port(),
        timeout: "60",
        database_url: Some(&database_url),
    };
    let first = start(dir.path(), "first", &wiring);
    let second = start(dir.path(), "second", &wiring);
    let key = project_key(&database_url).await;
    let Some(_sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };

    apply_fleet(&first.running, "ten", 10).await;
    let logs = || format!("{}\n--- second ---\n{}", first.log(), second.log());
    until("ten idle instances", 120, logs, || async {
        let seen = statuses(&second.running, "ten").await;
        seen.len() == 10 && seen.iter().all(|s| s == "idle")
    })
    .await;
    assert_eq!(fake.launches(), 10, "each instance launched once");
    let mut names: Vec<String> =
        fake.instances().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 10);

    api(&second.running, "/api/project/main/fleets/delete", &json!({"names": ["ten"]})).await;
    until("all terminated", 60, logs, || async {
        fake.instances().iter().all(|i| i["status"] == "terminated")
    })
    .await;
    let terminations =
        fake.api.requests().iter().filter(|r| r.path.ends_with("/terminate")).count();
    assert_eq!(terminations, 10, "each instance terminated once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_launch_resumes_without_a_duplicate_or_an_orphan() {
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
    fake.set_launch_delay(Duration::from_secs(6));
    let shim = FakeShim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ssh_port = free_port();
    let wiring = Wiring {
        lambda_url: fake.url(),
        ssh_port,
        shim_port: shim.port(),
        timeout: "60",
        database_url: None,
    };
    let mut server = start(dir.path(), "server", &wiring);
    let key = project_key(&database(&server.state, None)).await;
    let Some(_sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };
    apply_fleet(&server.running, "resumed", 1).await;

    // Lambda has launched the instance; its answer is not back yet: kill -9 now.
    until("the launch under way", 30, || server.log(), || async { !fake.instances().is_empty() })
        .await;
    server.running.child.kill().unwrap();
    server.running.child.wait().unwrap();
    let before = fake.instances();
    assert_eq!(before.len(), 1);
    fake.set_launch_delay(Duration::ZERO);

    let restarted = start(dir.path(), "server", &wiring);
    until(
        "the instance idle",
        60,
        || restarted.log(),
        || async { statuses(&restarted.running, "resumed").await == ["idle"] },
    )
    .await;
    assert_eq!(fake.instances().len(), 1, "no second instance: {:?}", fake.instances());
    // The killed server's launch is counted once its (undelivered) answer is done.
    until("the first launch answered", 30, || restarted.log(), || async { fake.launches() >= 1 })
        .await;
    assert_eq!(fake.launches(), 1, "the retried create found the launched instance");
    assert!(restarted.log().contains("was launched by an earlier attempt"), "{}", restarted.log());

    // No orphan: deleting the fleet terminates the one instance Lambda has.
    api(&restarted.running, "/api/project/main/fleets/delete", &json!({"names": ["resumed"]}))
        .await;
    until(
        "terminated",
        60,
        || restarted.log(),
        || async { fake.instances().iter().all(|i| i["status"] == "terminated") },
    )
    .await;
    server = restarted;
    drop(server);
}
