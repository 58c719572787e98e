//! Projects and members through the API: visibility by role, and that lists reflect writes
//! at once.

mod common;

use common::{ADMIN_TOKEN, TestServer};
use serde_json::{Value, json};

async fn names(server: &TestServer, token: &str) -> Vec<String> {
    let list = server.post("/api/projects/list", token, &Value::Null).await.json();
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["project_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn lists_follow_creations_and_memberships() {
    let server = TestServer::start(None, None).await;
    assert_eq!(names(&server, ADMIN_TOKEN).await, ["main"]);
    server
        .post("/api/users/create", ADMIN_TOKEN, &json!({"username": "bob", "global_role": "user"}))
        .await;
    let bob =
        server.post("/api/users/get_user", ADMIN_TOKEN, &json!({"username": "bob"})).await.json();
    let bob_token = bob["creds"]["token"].as_str().unwrap().to_owned();
    assert_eq!(names(&server, &bob_token).await, Vec::<String>::new());

    let created =
        server.post("/api/projects/create", ADMIN_TOKEN, &json!({"project_name": "p2"})).await;
    assert_eq!(created.status, 200);
    assert_eq!(names(&server, ADMIN_TOKEN).await, ["p2", "main"]);
    assert_eq!(names(&server, &bob_token).await, Vec::<String>::new());

    let added = server
        .post(
            "/api/projects/p2/add_members",
            ADMIN_TOKEN,
            &json!({"members": [{"username": "bob", "project_role": "user"}]}),
        )
        .await;
    assert_eq!(added.json()["members"][1]["user"]["username"], "bob");
    assert_eq!(names(&server, &bob_token).await, ["p2"]);

    server
        .post(
            "/api/projects/create",
            ADMIN_TOKEN,
            &json!({"project_name": "open", "is_public": true}),
        )
        .await;
    assert_eq!(names(&server, &bob_token).await, ["open", "p2"]);
    let joined_only = server
        .post("/api/projects/list", &bob_token, &json!({"include_not_joined": false}))
        .await
        .json();
    assert_eq!(joined_only.as_array().unwrap().len(), 1);

    // A member with the `user` role may read the project but not manage it.
    assert_eq!(server.post("/api/projects/p2/get", &bob_token, &Value::Null).await.status, 200);
    let denied = server
        .post(
            "/api/projects/p2/add_members",
            &bob_token,
            &json!({"members": [{"username": "bob", "project_role": "admin"}]}),
        )
        .await;
    assert_eq!(denied.status, 403);
    // Users cannot create users.
    let denied = server
        .post("/api/users/create", &bob_token, &json!({"username": "eve", "global_role": "admin"}))
        .await;
    assert_eq!(denied.body, r#"{"detail":{"msg":"Access denied","code":null}}"#);
    server.stop().await;
}

#[tokio::test]
async fn openapi_document_lists_the_endpoints() {
    let server = TestServer::start(None, None).await;
    let doc = server.request("GET", "/openapi.json", &[], "").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/server/get_info",
        "/api/projects/list",
        "/api/project/{project_name}/runs/get_plan",
        "/api/project/{project_name}/gpus/list",
        "/api/project/{project_name}/backends/create_yaml",
    ] {
        assert!(paths[path]["post"].is_object(), "{path}");
    }
    // Every documented path is routed for its method: none gets the answer of an unknown
    // path (405 with `GET, HEAD` for POST, the UI's 404 for GET).
    for (path, operations) in paths {
        let concrete = path
            .replace("{project_name}", "main")
            .replace("{backend_name}", "lambda")
            .replace("{run_name}", "r");
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let method = if operations["get"].is_object() { "GET" } else { "POST" };
        let answer = server.request(method, &concrete, &[("Authorization", &auth)], "{}").await;
        let unknown = match method {
            "GET" => answer.status == 404 && answer.body == r#"{"detail":"Not Found"}"#,
            _ => answer.status == 405 && answer.header("allow") == Some("GET, HEAD"),
        };
        assert!(!unknown, "{method} {path} is documented but not routed");
    }
    assert!(doc["components"]["schemas"]["BackendConfigWithCreds"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn a_backend_type_without_a_crate_is_not_available() {
    let server = TestServer::start(None, None).await;
    let response = server
        .post(
            "/api/project/main/backends/create_yaml",
            ADMIN_TOKEN,
            &json!({"config_yaml": "type: runpod\ncreds:\n  api_key: GOOD\n"}),
        )
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.body,
        r#"{"detail":[{"msg":"Backend `runpod` is not supported by this version of dstack-server yet","code":"backend_not_available"}]}"#
    );
    server.stop().await;
}
