//! Replays the HTTP calls recorded from dstack 0.22.5's server (tests/api-samples) against
//! ours, and compares the answers: byte for byte where dstack's answer is deterministic, by
//! shape (same keys, same order, same kinds of values) where it holds IDs, times and keys.
//!
//! The same suite runs on SQLite and, when `DSTACK_TEST_POSTGRES_URL` is set (the README's
//! test command sets it), on PostgreSQL.

mod common;

use std::path::Path;

use common::{ADMIN_TOKEN, TestServer, postgres_database};
use serde_json::Value;

/// The token dstack's recording used for the user `bob`.
const BOB_RECORDED_TOKEN: &str = "13a8770b-992c-4f7a-ac4a-bbd5838629d6";

struct Sample {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
    response: String,
}

fn sample(name: &str) -> Sample {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/api-samples/{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let request =
        text.split("### REQUEST\n").nth(1).unwrap().split("### RESPONSE\n").next().unwrap();
    let response = text.split("### RESPONSE\n").nth(1).unwrap();
    let mut lines = request.lines();
    let first = lines.next().unwrap();
    let (mut method, path) = first.split_once(' ').unwrap();
    let mut headers = Vec::new();
    let mut body = Vec::new();
    let mut in_body = false;
    for line in lines {
        if let Some(args) = line.strip_prefix("extra curl args: ") {
            if let Some(m) = args.strip_prefix("-X ") {
                method = Box::leak(m.trim().to_owned().into_boxed_str());
            } else if let Some(h) = args.strip_prefix("-H ") {
                let (k, v) = h.split_once(": ").unwrap();
                headers.push((k.to_owned(), v.to_owned()));
            }
        } else if line.is_empty() {
            in_body = true;
        } else if in_body {
            body.push(line);
        } else if let Some((k, v)) = line.split_once(": ") {
            headers.push((k.to_owned(), v.to_owned()));
        }
    }
    let status = response.lines().next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    // The recorded response head has CRLF line ends; the body follows the blank line.
    let response_body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .split("\n### time_total")
        .next()
        .unwrap()
        .trim_end_matches('\n')
        .to_owned();
    Sample {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body: body.join("\n"),
        status,
        response: response_body,
    }
}

/// How closely our answer must match the recording.
#[derive(Clone, Copy, Debug)]
enum Match {
    /// The same bytes.
    Exact,
    /// The same keys in the same order, and the same kinds of values.
    Shape,
    /// The same status, and the same error `code`s (the message is pydantic's text).
    StatusAndCodes,
}

async fn replay(server: &TestServer, name: &str, how: Match, bob_token: &str) {
    let sample = sample(name);
    let headers: Vec<(String, String)> = sample
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.replace(BOB_RECORDED_TOKEN, bob_token)))
        .collect();
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = server.request(&sample.method, &sample.path, &headers, &sample.body).await;
    assert_eq!(response.status, sample.status, "{name}: status; body {}", response.body);
    match how {
        Match::Exact => assert_eq!(response.body, sample.response, "{name}"),
        Match::Shape => {
            let expected: Value = serde_json::from_str(&sample.response).unwrap();
            assert_same_shape(&response.json(), &expected, name);
        }
        Match::StatusAndCodes => {
            let codes = |v: &Value| -> Vec<Value> {
                v["detail"]
                    .as_array()
                    .map(|d| d.iter().map(|e| e["code"].clone()).collect())
                    .unwrap_or_default()
            };
            let expected: Value = serde_json::from_str(&sample.response).unwrap();
            assert_eq!(codes(&response.json()), codes(&expected), "{name}: {}", response.body);
        }
    }
    if response.status == 200 || response.status >= 400 {
        assert_eq!(response.header("content-type"), Some("application/json"), "{name}");
    }
}

fn assert_same_shape(actual: &Value, expected: &Value, at: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let keys_a: Vec<&String> = a.keys().collect();
            let keys_e: Vec<&String> = e.keys().collect();
            assert_eq!(keys_a, keys_e, "keys at {at}");
            for (key, value) in e {
                assert_same_shape(&a[key], value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(a), Some(e)) = (a.first(), e.first()) {
                assert_same_shape(a, e, &format!("{at}[0]"));
            }
        }
        (a, e) => assert_eq!(kind(a), kind(e), "kind at {at}: {a} vs {e}"),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

async fn run_samples(server: TestServer) {
    use Match::*;
    // Before `bob` exists.
    for name in [
        "server_get_info",
        "server_get_info_GET_method",
        "server_get_info_with_api_version_old",
        "unknown_api_path",
        "users_get_my_user_bad_token",
        "users_get_my_user_no_token",
        "users_get_my_user_newer_client_version",
        "projects_create_invalid_name",
        "projects_create_missing_field",
        "projects_create_no_body",
        "projects_get_literal_path",
        "projects_list_invalid_json",
        "projects_list_unknown_field",
        "projects_nonexistent_get",
        "backends_aws_config_info_not_configured",
        "backends_aws_get_yaml_not_configured",
        "backends_config_info_no_token",
        "backends_config_info_nonexistent_project",
    ] {
        replay(&server, name, Exact, "").await;
    }
    for name in ["users_get_my_user", "users_get_my_user_old_client_version", "projects_main_get"] {
        replay(&server, name, Shape, "").await;
    }
    // proj3, as in the recording.
    replay(&server, "projects_create", Shape, "").await;
    replay(&server, "projects_create_duplicate", Exact, "").await;
    replay(&server, "projects_create_public", Shape, "").await;
    for name in [
        "backends_delete_bad_body",
        "backends_delete_empty_list",
        "backends_delete_not_configured",
        "backends_create_yaml_bad_yaml",
        "backends_create_yaml_missing_config_yaml_field",
    ] {
        replay(&server, name, Exact, "").await;
    }
    // pydantic's message texts are not reproduced; status and codes are.
    for name in [
        "backends_create_yaml_empty_string",
        "backends_create_yaml_not_a_mapping",
        "backends_create_yaml_extra_field",
        "backends_create_yaml_missing_creds",
        "backends_create_yaml_unknown_type",
        "backends_create_yaml_wrong_creds_type",
        "backends_create_yaml_gcp_filename_not_allowed_in_api",
        "backends_create_yaml_k8s_filename_only",
    ] {
        replay(&server, name, StatusAndCodes, "").await;
    }
    // Types outside dstack 0.22.5's enum are refused as its enum refuses them.
    for name in [
        "backends_unknown_type_config_info",
        "backends_unknown_type_get_yaml",
        "backends_delete_unknown_name",
    ] {
        let sample = sample(name);
        let response = server
            .post(
                &sample.path,
                ADMIN_TOKEN,
                &serde_json::from_str(&sample.body).unwrap_or(Value::Null),
            )
            .await;
        assert_eq!(response.status, 422, "{name}");
        let detail = &response.json()["detail"][0];
        assert_eq!(detail["type"], "enum");
        assert_eq!(detail["input"], "foocloud");
    }
    // Backends in proj3, with fake clouds that accept keys starting with GOOD.
    for name in [
        "backends_create_yaml_runpod_proj3",
        "backends_create_yaml_runpod_proj3_again_exists",
        "backends_update_yaml_runpod_proj3",
        "backends_get_yaml_runpod_proj3_after_update",
        "backends_create_yaml_bad_key",
        "backends_update_yaml_not_existing",
        "backends_create_json_lambda_proj3",
        "backends_update_json_lambda_proj3",
        "backends_delete_runpod_proj3",
    ] {
        replay(&server, name, Exact, "").await;
    }
    // A body without a valid `type`: dstack lists a 422 for every arm of its union; we answer
    // 422 naming `type`.
    for name in ["backends_create_json_unknown_type", "backends_create_json_extra_field"] {
        let sample = sample(name);
        let response = server
            .request(
                "POST",
                &sample.path,
                &[("Authorization", "Bearer test-admin-token")],
                &sample.body,
            )
            .await;
        assert_eq!(response.status, 422, "{name}: {}", response.body);
    }
    let types = server.post("/api/backends/list_types", ADMIN_TOKEN, &Value::Null).await;
    assert_eq!(types.json(), serde_json::json!(["kubernetes", "lambda", "runpod", "vastai"]));
    // bob, created by the admin.
    replay(&server, "users_create_bob", Shape, "").await;
    let bob = server
        .post("/api/users/get_user", ADMIN_TOKEN, &serde_json::json!({"username": "bob"}))
        .await;
    let bob_token = bob.json()["creds"]["token"].as_str().unwrap().to_owned();
    replay(&server, "users_get_user_bob", Shape, &bob_token).await;
    for name in [
        "as_nonmember_projects_main_get",
        "as_nonmember_backends_config_info",
        "as_nonmember_backends_create_yaml",
    ] {
        replay(&server, name, Exact, &bob_token).await;
    }
    replay(&server, "as_user_projects_list", Shape, &bob_token).await;
    replay(&server, "projects_add_member_bob_user", Shape, &bob_token).await;
    replay(&server, "as_member_user_projects_main_get", Shape, &bob_token).await;
    for name in ["as_member_user_backends_config_info", "as_member_user_backends_delete"] {
        replay(&server, name, Exact, &bob_token).await;
    }
    replay(&server, "projects_list", Shape, "").await;
    replay(&server, "projects_list_empty_object", Shape, "").await;
    server.stop().await;
}

#[tokio::test]
async fn samples_on_sqlite() {
    run_samples(server(None).await).await;
}

/// A server whose backends are fakes of the clouds the recording used.
async fn server(database_url: Option<String>) -> TestServer {
    use dstack_core::config::BackendType::*;
    let (registry, _) =
        dstack_testkit::FakeConfigurator::registry(&[Runpod, Lambda, Vastai, Kubernetes]);
    TestServer::start_with(database_url, None, registry, |_| {}).await
}

#[tokio::test]
async fn samples_on_postgres() {
    let Some(url) = postgres_database().await else {
        eprintln!("DSTACK_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run");
        return;
    };
    run_samples(server(Some(url)).await).await;
}

/// dstack takes an advisory lock so that servers sharing a database do not both create the
/// admin or the default project; so do we.
#[tokio::test]
async fn two_servers_start_on_one_postgres_database() {
    let Some(url) = postgres_database().await else {
        eprintln!("DSTACK_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run");
        return;
    };
    let registry = common::registry;
    let (a, b) = tokio::join!(
        TestServer::start_with(Some(url.clone()), None, registry(), |_| {}),
        TestServer::start_with(Some(url.clone()), None, registry(), |_| {}),
    );
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    for (table, expected) in [("users", 1), ("projects", 1), ("members", 1)] {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(sqlx::Row::get::<i64, _>(&row, "n"), expected, "{table}");
    }
    assert_eq!(a.admin.id, b.admin.id);
    a.stop().await;
    b.stop().await;
}
