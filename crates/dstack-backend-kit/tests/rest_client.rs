//! The REST client against a loopback fake: retries of what may pass (honouring
//! `Retry-After`), no second `POST`, bounded attempts, status kinds, and no secret in errors.

use std::time::{Duration, Instant};

use dstack_backend_kit::{Auth, HttpSettings, RestClient};
use dstack_core::config::BackendType;
use dstack_core::{ErrorKind, Secret};
use dstack_testkit::{FakeApi, Reply};
use serde_json::{Value, json};

fn settings() -> HttpSettings {
    HttpSettings {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        ..HttpSettings::default()
    }
}

async fn fake() -> FakeApi {
    FakeApi::builder()
        .prefix("/v1")
        .bearer("good-key")
        .route("GET", "/things/{id}", |req| Reply::json(json!({"id": req.params["id"]})))
        .route("POST", "/things", |req| Reply::json(req.body.clone()))
        .start()
        .await
}

fn client(api: &FakeApi, key: &str) -> RestClient {
    RestClient::new(BackendType::Lambda, api.url(), Auth::Bearer(Secret::new(key)), &settings())
        .with_credential_fields(&[&["creds", "api_key"]])
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried() {
    let api = fake().await;
    api.fail_next(1, 429, Some(1));
    let started = Instant::now();
    let thing: Value = client(&api, "good-key").get("/things/7").await.unwrap();
    assert_eq!(thing, json!({"id": "7"}));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not honoured");
    assert_eq!(api.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_beyond_the_bound_are_temporary_and_say_where() {
    let api = fake().await;
    api.fail_next(10, 503, None);
    let err = client(&api, "good-key").get::<Value>("/things/7").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.kind().is_temporary());
    assert_eq!(err.backend(), Some(BackendType::Lambda));
    assert!(err.message().starts_with("GET /things/7: 503 Service Unavailable"), "{err}");
    assert!(err.message().ends_with("(after 3 attempts)"), "{err}");
    assert_eq!(api.requests().len(), 3, "bounded attempts");
}

#[tokio::test]
async fn a_post_that_may_have_landed_is_not_sent_twice() {
    let api = fake().await;
    api.fail_next(1, 502, None);
    let err =
        client(&api, "good-key").post::<_, Value>("/things", &json!({"n": 1})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected, "not temporary: it may have been done");
    assert!(err.message().ends_with("(the request may have been carried out)"), "{err}");
    assert_eq!(api.requests().len(), 1);
    // A 429 was refused before anything happened: that one is retried.
    api.fail_next(1, 429, Some(0));
    let echoed: Value = client(&api, "good-key").post("/things", &json!({"n": 2})).await.unwrap();
    assert_eq!(echoed, json!({"n": 2}));
    assert_eq!(api.requests()[2].body, json!({"n": 2}));
}

#[tokio::test]
async fn refused_credentials_point_at_their_fields() {
    let api = fake().await;
    let err = client(&api, "bad-key").get::<Value>("/things/1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials");
    assert_eq!(err.fields(), [["creds", "api_key"]]);
    let recorded = &api.requests()[0];
    assert!(recorded.headers.iter().all(|(name, _)| name != "authorization"), "not recorded");
}

#[tokio::test]
async fn transport_errors_carry_no_secret() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = RestClient::new(
        BackendType::Vastai,
        &format!("http://{closed}/api/v0"),
        Auth::Bearer(Secret::new("SECRET-TOKEN")),
        &settings(),
    );
    let err = client.get::<Value>("/offers?api_key=SECRET-QUERY").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("SECRET-TOKEN") && !text.contains("SECRET-QUERY"), "{text}");
    assert!(err.message().starts_with("GET /offers:"), "{err}");
}
