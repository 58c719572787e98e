//! A hostile or unlucky client cannot crash, starve or corrupt the server: deep documents,
//! huge bodies, idle connections, and writes racing each other.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ADMIN_TOKEN, TestServer};
use dstack_core::Registry;
use dstack_core::config::BackendType;
use dstack_testkit::FakeConfigurator;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RUNPOD: &str = "type: runpod\ncreds:\n  api_key: GOOD\n";

fn fake_runpod(delay: Duration) -> Registry {
    let mut registry = Registry::new();
    registry.register_configurator(Arc::new(
        FakeConfigurator::new(BackendType::Runpod).with_delay(delay),
    ));
    registry
}

async fn create_user(server: &TestServer, name: &str) -> String {
    let created = server
        .post("/api/users/create", ADMIN_TOKEN, &json!({"username": name, "global_role": "user"}))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let user =
        server.post("/api/users/get_user", ADMIN_TOKEN, &json!({"username": name})).await.json();
    user["creds"]["token"].as_str().unwrap().to_owned()
}

async fn backend_rows(server: &TestServer) -> usize {
    let project = server.state.store.project_by_name("main").await.unwrap().unwrap();
    server.state.store.backends(&project.id).await.unwrap().len()
}

#[tokio::test]
async fn a_deeply_nested_document_is_refused_and_the_server_keeps_answering() {
    let server = TestServer::start_with(None, None, fake_runpod(Duration::ZERO), |_| {}).await;
    let deep = format!("regions:\n{}x\n", "- ".repeat(20_000));
    for path in ["create_yaml", "update_yaml"] {
        let answer = server
            .post(
                &format!("/api/project/main/backends/{path}"),
                ADMIN_TOKEN,
                &json!({"config_yaml": deep}),
            )
            .await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        let msg = answer.json()["detail"][0]["msg"].as_str().unwrap().to_owned();
        assert!(msg.contains("nested deeper than 64 levels"), "{msg}");
    }
    // A user in no project, for a project that does not exist: refused before any parsing.
    let nobody = create_user(&server, "nobody").await;
    let answer = server
        .post("/api/project/ghost/backends/create_yaml", &nobody, &json!({"config_yaml": deep}))
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    let answer = server
        .post("/api/project/main/backends/create_yaml", &nobody, &json!({"config_yaml": deep}))
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    // JSON bodies have the same bound.
    let deep_json = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let answer = server
        .request(
            "POST",
            "/api/project/main/backends/create",
            &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            &deep_json,
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(answer.body.contains("nested deeper than 64 levels"), "{}", answer.body);
    let info = server.post("/api/server/get_info", ADMIN_TOKEN, &Value::Null).await;
    assert_eq!(info.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_backend_give_one_success() {
    let server =
        TestServer::start_with(None, None, fake_runpod(Duration::from_millis(50)), |_| {}).await;
    let server = Arc::new(server);
    let creates: Vec<_> = (0..20)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .post(
                        "/api/project/main/backends/create_yaml",
                        ADMIN_TOKEN,
                        &json!({"config_yaml": RUNPOD}),
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for create in creates {
        let answer = create.await.unwrap();
        match answer.status {
            200 => ok += 1,
            400 => assert_eq!(answer.json()["detail"][0]["code"], "resource_exists"),
            other => panic!("{other}: {}", answer.body),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(backend_rows(&server).await, 1);
}

#[tokio::test]
async fn an_update_racing_a_delete_never_brings_the_backend_back() {
    // The credential check of the update takes 200 ms; the delete lands inside it.
    let server =
        TestServer::start_with(None, None, fake_runpod(Duration::from_millis(200)), |_| {}).await;
    let server = Arc::new(server);
    for round in 0..5 {
        let created = server
            .post(
                "/api/project/main/backends/create_yaml",
                ADMIN_TOKEN,
                &json!({"config_yaml": RUNPOD}),
            )
            .await;
        assert_eq!(created.status, 200, "round {round}: {}", created.body);
        let update = {
            let server = server.clone();
            tokio::spawn(async move {
                let yaml = "type: runpod\ncreds:\n  api_key: GOOD-new\n";
                server
                    .post(
                        "/api/project/main/backends/update_yaml",
                        ADMIN_TOKEN,
                        &json!({"config_yaml": yaml}),
                    )
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let deleted = server
            .post(
                "/api/project/main/backends/delete",
                ADMIN_TOKEN,
                &json!({"backends_names": ["runpod"]}),
            )
            .await;
        assert_eq!(deleted.status, 200);
        let updated = update.await.unwrap();
        assert_eq!(updated.status, 400, "round {round}: {}", updated.body);
        assert_eq!(updated.json()["detail"][0]["code"], "resource_not_exists");
        assert_eq!(backend_rows(&server).await, 0, "round {round}: resurrected");
    }
}

#[tokio::test]
async fn add_members_changes_nothing_when_any_member_is_refused() {
    let server = TestServer::start(None, None).await;
    create_user(&server, "alice").await;
    let answer = server
        .post(
            "/api/projects/main/add_members",
            ADMIN_TOKEN,
            &json!({"members": [
                {"username": "alice", "project_role": "user"},
                {"username": "ghost", "project_role": "user"},
            ]}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.json()["detail"][0]["msg"], "User not found: ghost");
    let project = server.post("/api/projects/main/get", ADMIN_TOKEN, &Value::Null).await.json();
    let members: Vec<&str> = project["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["admin"], "alice was not added");

    // A manager handing out the admin role is refused before anything is written.
    let bob = create_user(&server, "bob").await;
    create_user(&server, "carol").await;
    let added = server
        .post(
            "/api/projects/main/add_members",
            ADMIN_TOKEN,
            &json!({"members": [{"username": "bob", "project_role": "manager"}]}),
        )
        .await;
    assert_eq!(added.status, 200);
    let answer = server
        .post(
            "/api/projects/main/add_members",
            &bob,
            &json!({"members": [
                {"username": "alice", "project_role": "user"},
                {"username": "carol", "project_role": "admin"},
            ]}),
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(
        answer.json()["detail"]["msg"],
        "Access denied: only global admins can add project admins"
    );
    let role = server.state.store.user_by_name("alice").await.unwrap().unwrap();
    let project = server.state.store.project_by_name("main").await.unwrap().unwrap();
    assert_eq!(server.state.store.member_role(&project.id, &role.id).await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_project_creates_give_one_project_with_its_owner() {
    let server = Arc::new(TestServer::start(None, None).await);
    let creates: Vec<_> = (0..10)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .post("/api/projects/create", ADMIN_TOKEN, &json!({"project_name": "p"}))
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for create in creates {
        statuses.push(create.await.unwrap().status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    let project = server.post("/api/projects/p/get", ADMIN_TOKEN, &Value::Null).await.json();
    assert_eq!(project["members"].as_array().unwrap().len(), 1);
    assert_eq!(project["members"][0]["project_role"], "admin");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let server = TestServer::start(None, None).await;
    let body = format!("{{\"project_name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let head = format!(
        "POST /api/projects/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // The server answers before the client has sent everything and then stops reading: send
    // in the background (its failure is expected) and read the answer meanwhile.
    tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(body.as_bytes()).await;
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = reader.read(&mut chunk).await {
        answer.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("the limit is 2097152 bytes"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_within_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let server = TestServer::start_with(None, None, common::registry(), |settings| {
        settings.http.header_timeout = timeout;
    })
    .await;
    let started = Instant::now();
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 1 {
            // Half of them start a request and never finish its head.
            stream.write_all(b"POST /api/server/get_info HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        }
        idle.push(stream);
    }
    // A keep-alive connection that answered one request and then idles.
    let mut kept = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"POST /api/server/get_info HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 512];
    let n = kept.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    idle.push(kept);
    // New clients are served meanwhile.
    let info = server.post("/api/server/get_info", ADMIN_TOKEN, &Value::Null).await;
    assert_eq!(info.status, 200);
    for mut stream in idle {
        let mut rest = Vec::new();
        // The server closes each one: the read ends (a 408 answer or plain EOF), it does not
        // wait for a client that never speaks. The outer bound only keeps a failure short.
        let closed = tokio::time::timeout(timeout * 10, stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "connection still open after {:?}", started.elapsed());
    }
    server.stop().await;
}
