//! The calls of everyday use, against a real server on SQLite and (when the test PostgreSQL
//! is there) PostgreSQL: users and their tokens, projects and members, secrets, and the
//! truthful answers of features not built yet. Messages and codes are dstack 0.22.5's
//! (`services/users.py`, `services/projects.py`, `services/secrets.py` in its sdist).

mod common;

use common::{ADMIN_TOKEN, TestServer, postgres_database};
use serde_json::{Value, json};

async fn on_every_database<F, Fut>(scenario: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = TestServer>,
{
    scenario(TestServer::start(None, None).await).await.stop().await;
    match postgres_database().await {
        Some(url) => scenario(TestServer::start(Some(url), None).await).await.stop().await,
        None => eprintln!("DSTACK_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run"),
    }
}

fn msg(answer: &common::Response) -> String {
    let body = answer.json();
    let detail = &body["detail"];
    detail[0]["msg"].as_str().or(detail["msg"].as_str()).unwrap_or_default().to_owned()
}

/// Creates a user and returns their token.
async fn user(server: &TestServer, name: &str, body: Value) -> String {
    let mut request = json!({"username": name, "global_role": "user"});
    request.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    let created = server.post("/api/users/create", ADMIN_TOKEN, &request).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let got = server.post("/api/users/get_user", ADMIN_TOKEN, &json!({"username": name})).await;
    got.json()["creds"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_tokens_and_activity() {
    on_every_database(|server| async move {
        let bad = server
            .post(
                "/api/users/create",
                ADMIN_TOKEN,
                &json!({"username": "a b", "global_role": "user"}),
            )
            .await;
        assert_eq!(
            (bad.status, msg(&bad)),
            (400, "Username should match regex '^[a-zA-Z0-9-_]{1,60}$'".into())
        );
        let sixty = "u".repeat(60);
        user(&server, &sixty, json!({})).await;

        // An inactive user is refused like a bad token, and let in once activated.
        let alice = user(&server, "alice", json!({"active": false})).await;
        let me = server.post("/api/users/get_my_user", &alice, &Value::Null).await;
        assert_eq!((me.status, msg(&me)), (403, "Invalid token".into()));
        let same_in_other_case = server
            .post(
                "/api/users/create",
                ADMIN_TOKEN,
                &json!({"username": "ALICE", "global_role": "user"}),
            )
            .await;
        assert_eq!(same_in_other_case.json()["detail"][0]["code"], "resource_exists");
        let updated = server
            .post(
                "/api/users/update",
                ADMIN_TOKEN,
                &json!({"username": "alice", "global_role": "user", "email": "a@example.com"}),
            )
            .await;
        assert_eq!(updated.status, 200, "{}", updated.body);
        assert_eq!(updated.json()["email"], "a@example.com");
        assert_eq!(server.post("/api/users/get_my_user", &alice, &Value::Null).await.status, 200);

        // A refreshed token replaces the old one at once.
        let refreshed =
            server.post("/api/users/refresh_token", &alice, &json!({"username": "alice"})).await;
        let new_token = refreshed.json()["creds"]["token"].as_str().unwrap().to_owned();
        assert_ne!(new_token, alice);
        assert_eq!(server.post("/api/users/get_my_user", &alice, &Value::Null).await.status, 403);
        assert_eq!(
            server.post("/api/users/get_my_user", &new_token, &Value::Null).await.status,
            200
        );
        let others = server
            .post("/api/users/refresh_token", &new_token, &json!({"username": "admin"}))
            .await;
        assert_eq!(others.status, 403);
        let key = server
            .post("/api/users/refresh_ssh_key", &new_token, &json!({"username": "alice"}))
            .await;
        assert_ne!(key.json()["ssh_public_key"], refreshed.json()["ssh_public_key"]);

        // Users nobody may see are "not found", as in dstack.
        let missing =
            server.post("/api/users/get_user", ADMIN_TOKEN, &json!({"username": "ghost"})).await;
        assert_eq!(
            (missing.status, missing.json()["detail"][0]["code"].clone()),
            (400, json!("resource_not_exists"))
        );
        let hidden =
            server.post("/api/users/get_user", &new_token, &json!({"username": "admin"})).await;
        assert_eq!(hidden.status, 400);

        // Listing: counted, filtered, paged.
        let counted = server
            .post("/api/users/list", ADMIN_TOKEN, &json!({"return_total_count": true, "limit": 1}))
            .await
            .json();
        assert_eq!(counted["total_count"], 3);
        assert_eq!(counted["users"].as_array().unwrap().len(), 1);
        let first = &counted["users"][0];
        let next = server
            .post(
                "/api/users/list",
                ADMIN_TOKEN,
                &json!({"prev_created_at": first["created_at"], "prev_id": first["id"]}),
            )
            .await
            .json();
        assert_eq!(next.as_array().unwrap().len(), 2, "{next}");
        let pattern =
            server.post("/api/users/list", ADMIN_TOKEN, &json!({"name_pattern": "LIC"})).await;
        assert_eq!(pattern.json()[0]["username"], "alice");

        // Deleting: never the admin; a deleted user cannot log in and their name is free.
        let admin =
            server.post("/api/users/delete", ADMIN_TOKEN, &json!({"users": ["admin"]})).await;
        assert_eq!(msg(&admin), "User 'admin' cannot be deleted");
        let ghost = server
            .post("/api/users/delete", ADMIN_TOKEN, &json!({"users": ["alice", "ghost"]}))
            .await;
        assert_eq!(msg(&ghost), "Failed to delete non-existent users");
        assert_eq!(
            server.post("/api/users/get_my_user", &new_token, &Value::Null).await.status,
            200
        );
        let deleted =
            server.post("/api/users/delete", ADMIN_TOKEN, &json!({"users": ["alice"]})).await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        assert_eq!(
            server.post("/api/users/get_my_user", &new_token, &Value::Null).await.status,
            403
        );
        user(&server, "alice", json!({})).await;
        server
    })
    .await;
}

fn member_names(project: &Value) -> Vec<String> {
    project["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["user"]["username"].as_str().unwrap(),
                m["project_role"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn projects_members_and_deletion() {
    on_every_database(|server| async move {
        let bob = user(&server, "bob", json!({"email": "bob@example.com"})).await;
        let carol = user(&server, "carol", json!({})).await;
        let created =
            server.post("/api/projects/create", ADMIN_TOKEN, &json!({"project_name": "p"})).await;
        assert_eq!(created.status, 200);

        // A private project: bob cannot join himself; public, he can, as a user only.
        let join = json!({"members": [{"username": "bob", "project_role": "user"}]});
        assert_eq!(server.post("/api/projects/p/add_members", &bob, &join).await.status, 403);
        let public =
            server.post("/api/projects/p/update", ADMIN_TOKEN, &json!({"is_public": true})).await;
        assert_eq!(public.json()["is_public"], true);
        let as_admin = json!({"members": [{"username": "bob", "project_role": "admin"}]});
        let refused = server.post("/api/projects/p/add_members", &bob, &as_admin).await;
        assert_eq!(msg(&refused), "Access denied: can only join public projects as user role");
        let joined = server.post("/api/projects/p/add_members", &bob, &join).await;
        assert_eq!(member_names(&joined.json()), ["admin:admin", "bob:user"]);

        // set_members replaces in the given order, by name or email.
        let set = server
            .post(
                "/api/projects/p/set_members",
                ADMIN_TOKEN,
                &json!({"members": [
                    {"username": "carol", "project_role": "manager"},
                    {"username": "admin", "project_role": "admin"},
                    {"username": "bob@example.com", "project_role": "user"},
                ]}),
            )
            .await;
        assert_eq!(member_names(&set.json()), ["carol:manager", "admin:admin", "bob:user"]);
        let twice = server
            .post(
                "/api/projects/p/set_members",
                ADMIN_TOKEN,
                &json!({"members": [
                    {"username": "bob", "project_role": "user"},
                    {"username": "bob", "project_role": "user"},
                ]}),
            )
            .await;
        assert_eq!(msg(&twice), "Cannot add same user multiple times");

        // Removing: a manager may not remove admins; nobody removes the last one; any member
        // may leave.
        let admins = json!({"usernames": ["admin"]});
        let by_manager = server.post("/api/projects/p/remove_members", &carol, &admins).await;
        assert_eq!(by_manager.status, 403);
        let last = server.post("/api/projects/p/remove_members", ADMIN_TOKEN, &admins).await;
        assert_eq!(msg(&last), "Cannot leave project: you are the last admin");
        let all = json!({"usernames": ["carol", "admin"]});
        let all = server.post("/api/projects/p/remove_members", ADMIN_TOKEN, &all).await;
        assert_eq!(msg(&all), "Cannot remove all project admins");
        let left = server
            .post("/api/projects/p/remove_members", &bob, &json!({"usernames": ["bob"]}))
            .await;
        assert_eq!(member_names(&left.json()), ["carol:manager", "admin:admin"]);

        // Listing with a count, as the UI asks.
        let listed = server
            .post("/api/projects/list", ADMIN_TOKEN, &json!({"return_total_count": true}))
            .await;
        assert_eq!(listed.json()["total_count"], 2, "{}", listed.body);

        // Deleting: only the project's admins; the name is free afterwards.
        let denied =
            server.post("/api/projects/delete", &carol, &json!({"projects_names": ["p"]})).await;
        assert_eq!(denied.status, 403);
        let ghost = server
            .post("/api/projects/delete", ADMIN_TOKEN, &json!({"projects_names": ["p", "nope"]}))
            .await;
        assert_eq!(msg(&ghost), "Failed to delete non-existent projects");
        let deleted = server
            .post("/api/projects/delete", ADMIN_TOKEN, &json!({"projects_names": ["p"]}))
            .await;
        assert_eq!(deleted.status, 200);
        assert_eq!(server.post("/api/projects/p/get", ADMIN_TOKEN, &Value::Null).await.status, 404);
        let again =
            server.post("/api/projects/create", ADMIN_TOKEN, &json!({"project_name": "p"})).await;
        assert_eq!(member_names(&again.json()), ["admin:admin"]);
        server
    })
    .await;
}

#[tokio::test]
async fn secrets_are_encrypted_and_shown_only_to_managers() {
    let config = "projects:\n- name: main\n  backends: []\nencryption:\n  keys:\n  - type: aes\n    name: k1\n    secret: cR2r1JmkPyL6edBQeHKz6ZBjCfS2oWk87Gc2G3wHVoA=\n";
    let server = TestServer::start(None, Some(config)).await;
    let path = |call: &str| format!("/api/project/main/secrets/{call}");
    let put = server
        .post(
            &path("create_or_update"),
            ADMIN_TOKEN,
            &json!({"name": "HF_TOKEN", "value": "hf-very-secret"}),
        )
        .await;
    assert_eq!(put.json()["value"], "hf-very-secret", "{}", put.body);
    let id = put.json()["id"].clone();
    let replaced = server
        .post(&path("create_or_update"), ADMIN_TOKEN, &json!({"name": "HF_TOKEN", "value": "hf-2"}))
        .await;
    assert_eq!(
        (replaced.json()["id"].clone(), replaced.json()["value"].clone()),
        (id, json!("hf-2"))
    );
    let listed = server.post(&path("list"), ADMIN_TOKEN, &Value::Null).await.json();
    assert_eq!(listed[0]["name"], "HF_TOKEN");
    assert_eq!(listed[0]["value"], Value::Null, "listing never shows values");
    let got = server.post(&path("get"), ADMIN_TOKEN, &json!({"name": "HF_TOKEN"})).await;
    assert_eq!(got.json()["value"], "hf-2");

    // At rest the value is encrypted with the config's key.
    let stored: String = sqlx::query_scalar("SELECT value FROM secrets")
        .fetch_one(&server.state.store.db.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("enc:aes:k1:") && !stored.contains("hf-2"), "{stored}");

    // Rules and errors.
    let bad = server
        .post(&path("create_or_update"), ADMIN_TOKEN, &json!({"name": "a b", "value": "x"}))
        .await;
    assert_eq!(msg(&bad), "Secret name should match regex '^[A-Za-z0-9-_]{1,200}$");
    let long = server
        .post(
            &path("create_or_update"),
            ADMIN_TOKEN,
            &json!({"name": "a", "value": "x".repeat(5001)}),
        )
        .await;
    assert_eq!(msg(&long), "Secret value length must not exceed 5000");
    let missing = server
        .post(&path("delete"), ADMIN_TOKEN, &json!({"secrets_names": ["HF_TOKEN", "NOPE"]}))
        .await;
    assert_eq!((missing.status, msg(&missing)), (400, "Secrets not found: NOPE".into()));
    assert_eq!(
        server
            .post(&path("list"), ADMIN_TOKEN, &Value::Null)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A project user may not see secrets.
    let dave = user(&server, "dave", json!({})).await;
    let add = json!({"members": [{"username": "dave", "project_role": "user"}]});
    assert_eq!(server.post("/api/projects/main/add_members", ADMIN_TOKEN, &add).await.status, 200);
    assert_eq!(server.post(&path("get"), &dave, &json!({"name": "HF_TOKEN"})).await.status, 403);
    assert_eq!(
        server
            .post(&path("delete"), ADMIN_TOKEN, &json!({"secrets_names": ["HF_TOKEN"]}))
            .await
            .status,
        200
    );
    assert_eq!(server.post(&path("list"), ADMIN_TOKEN, &Value::Null).await.body, "[]");
    server.stop().await;
}

/// Made by `ssh-keygen -t ed25519 -C alice@laptop`; `ssh-keygen -l` printed the fingerprint.
const ALICE_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPvPaP6CVcZIUcSRdXQ+8UvwTNNprtlbggP95cmEJJM alice@laptop";
const ALICE_FINGERPRINT: &str = "SHA256:g6jUbB0Cr5Dew9hjNE9XNvsUvK/Ey+RJ+HXTgN4VSbo";

/// dstack's `services/public_keys.py`: each user manages their own keys.
#[tokio::test]
async fn users_manage_their_own_public_keys() {
    on_every_database(|server| async move {
        let path = |call: &str| format!("/api/users/public_keys/{call}");
        let alice = user(&server, "alice", json!({})).await;
        let bob = user(&server, "bob", json!({})).await;
        let added = server.post(&path("add"), &alice, &json!({"key": format!("{ALICE_KEY}\n")})).await;
        assert_eq!(added.status, 200, "{}", added.body);
        let first = added.json();
        assert_eq!(
            (&first["name"], &first["type"], &first["fingerprint"]),
            (&json!("alice@laptop"), &json!("ssh-ed25519"), &json!(ALICE_FINGERPRINT))
        );
        assert!(first["added_at"].as_str().unwrap().ends_with('Z'), "{first}");

        // The same key twice is refused; another user may add it; a second key comes first.
        let again = server.post(&path("add"), &alice, &json!({"key": ALICE_KEY, "name": "x"})).await;
        assert_eq!((again.status, again.json()["detail"][0]["code"].clone()), (400, json!("resource_exists")));
        let bobs = server.post(&path("add"), &bob, &json!({"key": ALICE_KEY})).await;
        assert_eq!(bobs.status, 200, "{}", bobs.body);
        let own_key = server.post("/api/users/get_my_user", &alice, &Value::Null).await.json();
        let own_key = own_key["ssh_public_key"].as_str().unwrap().to_owned();
        let second = server.post(&path("add"), &alice, &json!({"key": own_key, "name": "dstack"})).await;
        assert_eq!(second.json()["name"], "dstack", "{}", second.body);
        let listed = server.post(&path("list"), &alice, &Value::Null).await.json();
        let names: Vec<&str> = listed.as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["dstack", "alice@laptop"]);

        // dstack's reasons for keys it refuses.
        let invalid = server.post(&path("add"), &alice, &json!({"key": "ssh-ed25519 AAAA"})).await;
        assert_eq!((invalid.status, msg(&invalid)), (400, "Invalid public key, must be in OpenSSH public key format".into()));
        let dss = server.post(&path("add"), &alice, &json!({"key": "ssh-dss AAAAB3NzaC1kc3M="})).await;
        assert_eq!(msg(&dss), "Unsupported key type: ssh-dss");

        // Deleting passes over ids that are not the caller's; a non-UUID is a 422.
        let ids = json!({"ids": [first["id"], bobs.json()["id"], "6f1a8cbe-3c70-4bb8-9d5c-1a2b3c4d5e6f"]});
        assert_eq!(server.post(&path("delete"), &alice, &ids).await.status, 200);
        let listed = server.post(&path("list"), &alice, &Value::Null).await.json();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        let bob_listed = server.post(&path("list"), &bob, &Value::Null).await.json();
        assert_eq!(bob_listed[0]["fingerprint"], ALICE_FINGERPRINT, "{bob_listed}");
        let not_uuid = server.post(&path("delete"), &bob, &json!({"ids": ["x"]})).await;
        assert_eq!((not_uuid.status, not_uuid.json()["detail"][0]["type"].clone()), (422, json!("uuid_parsing")));
        assert_eq!(server.post(&path("list"), "wrong", &Value::Null).await.status, 403);
        server
    })
    .await;
}

#[tokio::test]
async fn features_not_built_yet_answer_truthfully() {
    let server = TestServer::start(None, None).await;
    for path in
        ["/api/runs/list", "/api/project/main/gateways/list", "/api/project/main/volumes/list"]
    {
        let answer = server.post(path, ADMIN_TOKEN, &json!({"limit": 10})).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "[]"), "{path}");
    }
    let exports = server.post("/api/project/main/exports/list", ADMIN_TOKEN, &Value::Null).await;
    assert_eq!(exports.json(), json!({"exports": [], "warnings": []}));
    let run =
        server.post("/api/project/main/runs/get", ADMIN_TOKEN, &json!({"run_name": "x"})).await;
    assert_eq!(run.json()["detail"][0]["code"], "resource_not_exists");
    let apply =
        server.post("/api/project/main/runs/apply", ADMIN_TOKEN, &json!({"plan": {}})).await;
    assert_eq!(
        apply.body,
        r#"{"detail":[{"msg":"Runs are not supported by this version of dstack-server yet","code":"error"}]}"#
    );
    // Project access is checked as for any project call.
    assert_eq!(
        server.post("/api/project/nope/fleets/list", ADMIN_TOKEN, &Value::Null).await.status,
        404
    );
    let bad = server.post("/api/runs/list", ADMIN_TOKEN, &json!([1])).await;
    assert_eq!(bad.status, 422);
    let health = server.request("GET", "/healthcheck", &[], "").await;
    assert_eq!((health.status, health.body.as_str()), (200, r#"{"status":"running"}"#));
    server.stop().await;
}

#[tokio::test]
async fn client_versions_are_checked_as_dstack_checks_them() {
    let server = TestServer::start(None, None).await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let with_version = |version: &'static str| {
        let auth = auth.clone();
        let server = &server;
        async move {
            let headers = [("Authorization", auth.as_str()), ("X-API-VERSION", version)];
            server.request("POST", "/api/users/get_my_user", &headers, "").await
        }
    };
    // A newer patch release, an older release and a development build are served.
    for version in ["0.22.9", "0.21.3", "latest", "0.0.0.dev0", "v0.22.5rc1"] {
        assert_eq!(with_version(version).await.status, 200, "{version}");
    }
    let newer = with_version("0.23.0rc1").await;
    assert_eq!(
        (newer.status, msg(&newer)),
        (
            400,
            "The client/CLI version (0.23.0rc1) is incompatible with the server version (0.22.5)."
                .to_owned()
        )
    );
    let invalid = with_version("next").await;
    assert_eq!(
        (invalid.status, invalid.body.as_str()),
        (400, r#"{"detail":[{"msg":"Invalid version: next","code":null}]}"#)
    );
    // An invalid version is refused outside the API too, as dstack's app-wide check does.
    let health = server.request("GET", "/healthcheck", &[("X-API-VERSION", "next")], "").await;
    assert_eq!(health.status, 400);
    server.stop().await;
}

/// `DSTACK_DB_COMMAND_TIMEOUT` as dstack applies it to PostgreSQL (asyncpg's
/// `command_timeout`): a statement running longer is cancelled; `0` (here `None`) is no bound.
#[tokio::test]
async fn postgres_statements_are_bounded_by_the_command_timeout() {
    use dstack_server::db::Db;
    use std::time::Duration;
    let Some(url) = postgres_database().await else {
        eprintln!("DSTACK_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run");
        return;
    };
    let bounded = Db::open_with(&url, Some(Duration::from_millis(200))).await.unwrap();
    let err = sqlx::query("SELECT pg_sleep(3)").execute(&bounded.pool).await.unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    bounded.pool.close().await;
    let unbounded = Db::open_with(&url, None).await.unwrap();
    sqlx::query("SELECT pg_sleep(0.3)").execute(&unbounded.pool).await.unwrap();
}
