//! A fleet on AWS through the real `dstack` CLI and the server binary, against moto:
//! `dstack apply` with `nodes: 2` starts two EC2 instances with dstack's tags, `dstack fleet`
//! lists them, `dstack fleet delete` leaves both terminated. moto's instances run no sshd, so
//! they stay provisioning (their SSH goes to a closed loopback port, never off this machine).

#![cfg(feature = "aws")]

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{Filter, Instance};
use common::cli::{cli, cli_home, dstack, dstack_command};
use dstack_testkit::sshd::free_port;

fn ec2(url: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(url)
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

fn tag<'a>(instance: &'a Instance, key: &str) -> Option<&'a str> {
    instance.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// The fleet's EC2 instances (by the run's own tag: moto outlives test runs), with their
/// state.
async fn fleet_instances(url: &str, run: &str) -> Vec<Instance> {
    let answer = ec2(url)
        .describe_instances()
        .filters(Filter::builder().name("tag:dstack_fleet_test").values(run).build())
        .send()
        .await
        .unwrap();
    answer.reservations().iter().flat_map(|r| r.instances()).cloned().collect()
}

/// The server binary with AWS on moto in project `main`, its log in `dir/server.log`.
fn server(dir: &std::path::Path, moto: &str) -> common::Running {
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::write(
        catalog.join("aws.csv"),
        "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data\n\
         c5.large,us-east-1,0.085,2,4.0,0,,,False,,,,x86,{}\n",
    )
    .unwrap();
    let state_dir = dir.join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(
        state_dir.join("config.yml"),
        "projects:\n- name: main\n  backends:\n  - type: aws\n    regions: [us-east-1]\n    creds: {type: access_key, access_key: AKIAIOSFODNN7EXAMPLE, secret_key: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY}\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut cmd = common::command(&state_dir);
    cmd.env("GPUHUNT_CATALOG_DIR", &catalog)
        .env("DSTACK_AWS_API_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        // moto's instances have public addresses that are nobody's: SSH stays on loopback.
        .env("DSTACK_SERVER_INSTANCE_SSH_HOST", "127.0.0.1")
        .env("DSTACK_SERVER_INSTANCE_SSH_PORT", free_port().to_string())
        .env("DSTACK_SERVER_INSTANCE_PROCESSING_INTERVAL", "0.5")
        .stderr(log);
    common::run(cmd)
}

fn state(instance: &Instance) -> &str {
    instance.state().and_then(|s| s.name()).map_or("", |s| s.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_starts_and_terminates_ec2_instances_in_moto() {
    let Ok(moto) = std::env::var("DSTACK_TEST_MOTO_URL") else {
        eprintln!("DSTACK_TEST_MOTO_URL is not set: skipping (run `cargo xtask test`)");
        return;
    };
    let Some(cli) = cli() else { return };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &moto);
    let server_log = || std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();

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
        format!("type: fleet\nname: cpus\nnodes: 2\ntags:\n  dstack_fleet_test: {run}\n"),
    )
    .unwrap();
    // Detached: moto's instances never become reachable, so `apply` would wait for them.
    let applied = dstack_command(&cli, home)
        .current_dir(&work)
        .args(["apply", "-f", "fleet.dstack.yml", "-y", "-d"])
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "{}{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let instances = loop {
        let instances = fleet_instances(&moto, &run).await;
        if instances.len() == 2 {
            break instances;
        }
        assert!(Instant::now() < deadline, "two EC2 instances within 60 s\n{}", server_log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for instance in &instances {
        assert_eq!(instance.instance_type().map(|t| t.as_str()), Some("c5.large"));
        assert_eq!(tag(instance, "owner"), Some("dstack"));
        assert_eq!(tag(instance, "dstack_project"), Some("main"));
        assert!(
            tag(instance, "Name").is_some_and(|n| n.starts_with("dstack-main-cpus-")),
            "{instance:?}"
        );
    }

    let listed = dstack(&cli, home, &["fleet"]);
    let table = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(table.contains("cpus") && table.contains("aws (us-east-1)"), "{table}");
    assert!(table.matches("$0.085").count() >= 2, "{table}");

    let deleted = dstack(&cli, home, &["fleet", "delete", "cpus", "-y"]);
    assert!(deleted.status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let instances = fleet_instances(&moto, &run).await;
        if instances.len() == 2 && instances.iter().all(|i| state(i) == "terminated") {
            break;
        }
        assert!(Instant::now() < deadline, "both terminated within 60 s\n{}", server_log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for `done` on the run's EC2 instances, at most 60 s.
async fn until_instances(
    moto: &str,
    run: &str,
    what: &str,
    log: impl Fn() -> String,
    done: impl Fn(&[Instance]) -> bool,
) -> Vec<Instance> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let instances = fleet_instances(moto, run).await;
        if done(&instances) {
            return instances;
        }
        assert!(Instant::now() < deadline, "{what} within 60 s: {instances:?}\n{}", log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_fleet_shares_one_placement_group_deleted_with_the_fleet() {
    let Ok(moto) = std::env::var("DSTACK_TEST_MOTO_URL") else {
        eprintln!("DSTACK_TEST_MOTO_URL is not set: skipping (run `cargo xtask test`)");
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &moto);
    let log = || std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    let spec = serde_json::json!({
        "configuration": {"type": "fleet", "name": "ring", "nodes": 2, "placement": "cluster",
                          "tags": {"dstack_fleet_test": run}},
        "profile": {},
    });
    let body =
        serde_json::json!({"plan": {"spec": spec, "current_resource": null}, "force": false});
    let bearer = format!("Bearer {}", server.token);
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let applied = common::http(
        server.addr,
        "POST",
        "/api/project/main/fleets/apply",
        &headers,
        &body.to_string(),
    )
    .await;
    assert_eq!(applied.status, 200, "{}", applied.body);

    let instances = until_instances(&moto, &run, "two EC2 instances", log, |i| i.len() == 2).await;
    let groups: Vec<Option<&str>> =
        instances.iter().map(|i| i.placement().and_then(|p| p.group_name())).collect();
    let group = groups[0].expect("the master is in a placement group").to_owned();
    assert_eq!(groups[1], Some(group.as_str()), "both in one group: {groups:?}");
    assert!(group.starts_with("dstack-main-ring-"), "{group}");
    let described =
        ec2(&moto).describe_placement_groups().group_names(&group).send().await.unwrap();
    let strategy = described.placement_groups()[0].strategy().map(|s| s.as_str().to_owned());
    assert_eq!(strategy.as_deref(), Some("cluster"));

    let delete = serde_json::json!({"names": ["ring"]}).to_string();
    let deleted =
        common::http(server.addr, "POST", "/api/project/main/fleets/delete", &headers, &delete)
            .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    until_instances(&moto, &run, "both terminated", log, |i| {
        i.len() == 2 && i.iter().all(|i| state(i) == "terminated")
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while ec2(&moto).describe_placement_groups().group_names(&group).send().await.is_ok() {
        assert!(Instant::now() < deadline, "the group deleted within 60 s\n{}", log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
