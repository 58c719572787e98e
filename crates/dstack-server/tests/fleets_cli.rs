//! Fleets through the real `dstack` CLI and the server binary: `dstack apply -f fleet.yml`
//! provisions instances through a backend, they become idle when their shim answers over
//! SSH, `dstack fleet` lists them, `dstack fleet delete` terminates them. The backend is
//! Lambda against its stateful fake (`dstack_testkit::fakes::lambda`, Lambda's API shapes);
//! its instances are a real `sshd` on loopback (`dstack_testkit::sshd`) behind which a fake
//! shim answers dstack's healthcheck (`dstack_testkit::FakeShim`, the Go shim's shapes).

mod common;

use common::cli::{cli, cli_home, dstack, dstack_command};
use common::fleets::{Wiring, api, apply_fleet, database, project_key, start, until};
use dstack_testkit::FakeShim;
use dstack_testkit::fakes::lambda;
use dstack_testkit::sshd::{Sshd, free_port};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_is_provisioned_listed_and_deleted_through_the_real_cli() {
    let Some(cli) = cli() else { return };
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
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
    let server = start(dir.path(), "server", &wiring);
    let key = project_key(&database(&server.state, None)).await;
    let Some(sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };
    let running = &server.running;

    let home = cli_home();
    let home = home.path();
    let url = format!("http://{}", running.addr);
    let add = ["project", "add", "--name", "main", "--url", &url, "--token", &running.token, "-y"];
    assert!(dstack(&cli, home, &add).status.success());
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let fleet_yaml = "type: fleet\nname: gpus\nnodes: 2\nresources:\n  gpu: A100\n";
    std::fs::write(work.join("fleet.dstack.yml"), fleet_yaml).unwrap();

    // `apply -y` waits until no instance is pending or provisioning any more.
    let applied = tokio::task::spawn_blocking({
        let (cli, home, work) = (cli.clone(), home.to_owned(), work.clone());
        move || {
            let args = ["apply", "-f", "fleet.dstack.yml", "-y"];
            dstack_command(&cli, &home).current_dir(work).args(args).output().unwrap()
        }
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&applied.stdout).to_string()
        + &String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{said}\n{}", server.log());

    // Two Lambda instances, each prepared and started over SSH, each shim checked.
    let launched = fake.instances();
    assert_eq!(launched.len(), 2, "{launched:?}");
    assert!(launched.iter().all(|i| i["status"] == "active"), "{launched:?}");
    let launchers =
        sshd.sudo_calls().into_iter().filter(|c| c.first().is_some_and(|w| w == "sh")).count();
    assert_eq!(launchers, 2, "one shim launcher per instance");
    assert!(shim.healthchecks() >= 2, "{} healthchecks", shim.healthchecks());
    let fleet = api(running, "/api/project/main/fleets/get", &json!({"name": "gpus"})).await;
    let statuses: Vec<&str> = fleet["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["idle", "idle"], "{fleet}");
    assert_eq!(fleet["instances"][0]["backend"], "lambda");
    assert_eq!(fleet["instances"][0]["instance_type"]["name"], "gpu_1x_a100");
    assert_eq!(fleet["spec"]["configuration"]["nodes"], json!({"min": 2, "max": 2}));

    // `dstack fleet` shows both, with backend, region, resources, price and status.
    let listed = dstack(&cli, home, &["fleet"]);
    let table = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.status.success(), "{table}");
    assert!(table.contains("gpus") && table.matches(" idle ").count() == 2, "{table}");
    assert!(table.contains("lambda (us-east-1)") && table.contains("$1.29"), "{table}");
    assert!(table.contains("A100:40GB:1"), "{table}");

    // Delete: both terminated at Lambda, then the fleet is gone.
    assert!(dstack(&cli, home, &["fleet", "delete", "gpus", "-y"]).status.success());
    until(
        "both instances terminated",
        60,
        || server.log(),
        || async { fake.instances().iter().all(|i| i["status"] == "terminated") },
    )
    .await;
    until(
        "the fleet retired",
        30,
        || server.log(),
        || async { api(running, "/api/project/main/fleets/list", &json!({})).await == json!([]) },
    )
    .await;
    // dstack's events, fleet and instances alike, with who did what.
    let within = json!({"within_fleets": [fleet["id"]], "ascending": true});
    let events = api(running, "/api/events/list", &within).await;
    let said: Vec<&str> =
        events.as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    let count = |message: &str| said.iter().filter(|m| **m == message).count();
    assert_eq!(said.first(), Some(&"Fleet created. Status: ACTIVE"), "{said:?}");
    assert_eq!(events[0]["actor_user"], "admin");
    assert_eq!(
        events[0]["targets"][0],
        json!({"type": "fleet", "project_id": events[0]["targets"][0]["project_id"], "project_name": "main", "is_project_deleted": false, "id": fleet["id"], "name": "gpus"})
    );
    assert_eq!(count("Instance created on fleet submission. Status: PENDING"), 2, "{said:?}");
    assert_eq!(count("Instance status changed PENDING -> PROVISIONING"), 2, "{said:?}");
    assert_eq!(count("Instance status changed PROVISIONING -> IDLE"), 2, "{said:?}");
    assert_eq!(count("Fleet status changed ACTIVE -> TERMINATING"), 1, "{said:?}");
    assert_eq!(said.last(), Some(&"Fleet status changed TERMINATING -> TERMINATED"), "{said:?}");
    let log = server.log();
    assert!(log.contains("Instance status changed PENDING -> PROVISIONING"), "{log}");
    assert!(log.contains("Instance status changed PROVISIONING -> IDLE"), "{log}");
    assert!(
        log.contains(
            "Instance status changed IDLE -> TERMINATING. Termination reason: TERMINATED_BY_USER"
        ),
        "{log}"
    );
    assert!(log.contains("Fleet status changed TERMINATING -> TERMINATED"), "{log}");
    assert!(!log.contains(&running.token), "no token in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_shim_never_answers_fails_with_dstacks_reason() {
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
    let dir = tempfile::tempdir().unwrap();
    // The VM is up and takes the launcher over SSH, but nothing listens on the shim's port.
    let ssh_port = free_port();
    let wiring = Wiring {
        lambda_url: fake.url(),
        ssh_port,
        shim_port: free_port(),
        timeout: "4",
        database_url: None,
    };
    let server = start(dir.path(), "server", &wiring);
    let key = project_key(&database(&server.state, None)).await;
    let Some(sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };
    let running = &server.running;
    let spec =
        json!({"configuration": {"type": "fleet", "name": "lost", "nodes": 1}, "profile": {}});
    let plan = api(running, "/api/project/main/fleets/get_plan", &json!({"spec": spec})).await;
    assert_eq!(plan["action"], "create");
    assert!(plan["total_offers"].as_u64().unwrap() >= 1, "{plan}");
    let fleet = apply_fleet(running, "lost", 1).await;
    assert_eq!(fleet["instances"][0]["status"], "pending");

    let failed_instance = || async {
        let instances = api(running, "/api/instances/list", &json!({})).await;
        instances.as_array().unwrap().iter().find(|i| i["status"] == "terminated").cloned()
    };
    until(
        "the instance failed",
        60,
        || server.log(),
        || async { failed_instance().await.is_some() },
    )
    .await;
    let failed = failed_instance().await.unwrap();
    assert_eq!(failed["termination_reason"], "provisioning_timeout", "{failed}");
    assert_eq!(failed["termination_reason_message"], "Instance did not become reachable in time");
    assert!(fake.instances().iter().all(|i| i["status"] == "terminated"), "terminated at Lambda");
    assert!(!sshd.sudo_calls().is_empty(), "the launcher ran: the VM was reached, its shim not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_instance_above_the_minimum_goes_after_its_idle_duration() {
    let fake = lambda::start(&["GOOD"], &[("gpu_1x_a100", &["us-east-1"])]).await;
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
    let server = start(dir.path(), "server", &wiring);
    let key = project_key(&database(&server.state, None)).await;
    let Some(_sshd) = Sshd::start_on(ssh_port, "ubuntu", &key) else { return };
    let running = &server.running;
    let configuration = json!({"type": "fleet", "name": "elastic", "idle_duration": "4s",
                               "nodes": {"min": 0, "target": 1, "max": 1}});
    let spec = json!({"configuration": configuration, "profile": {}});
    let body = json!({"plan": {"spec": spec, "current_resource": null}, "force": false});
    api(running, "/api/project/main/fleets/apply", &body).await;
    until(
        "the instance idle",
        60,
        || server.log(),
        || async { common::fleets::statuses(running, "elastic").await == ["idle"] },
    )
    .await;
    let gone = || async {
        let instances = api(running, "/api/instances/list", &json!({})).await;
        instances.as_array().unwrap().iter().find(|i| i["status"] == "terminated").cloned()
    };
    until("the idle instance terminated", 60, || server.log(), || async { gone().await.is_some() })
        .await;
    let instance = gone().await.unwrap();
    assert_eq!(instance["termination_reason"], "idle_timeout", "{instance}");
    let message = instance["termination_reason_message"].as_str().unwrap();
    assert!(message.starts_with("Instance idle for ") && message.ends_with('s'), "{message}");
    assert!(fake.instances().iter().all(|i| i["status"] == "terminated"), "terminated at Lambda");
}
