//! config.yml at start-up (spec backends.md §1.1–§1.4): default config, apply, skip unchanged,
//! update, delete, parallel checks with a timeout, encryption at rest, refusal.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use dstack_core::Registry;
use dstack_core::config::BackendType::{self, *};
use dstack_server::server::{StartError, Started, start};
use dstack_server::settings::Settings;
use dstack_testkit::FakeConfigurator;
use sqlx::Row;

fn settings(dir: &Path) -> Settings {
    let mut settings = Settings::for_dir(dir.to_owned());
    settings.port = 0;
    settings.admin_token = Some(common::ADMIN_TOKEN.to_owned());
    settings
}

async fn start_with(dir: &Path, config: &str, registry: Registry) -> Result<Started, StartError> {
    std::fs::write(dir.join("config.yml"), config).unwrap();
    start(settings(dir), registry).await
}

fn registry(types: &[BackendType]) -> (Registry, Vec<FakeConfigurator>) {
    FakeConfigurator::registry(types)
}

const TWO_BACKENDS: &str = "
projects:
- name: main
  backends:
  - type: lambda
    creds: {api_key: GOOD-lambda}
  - type: runpod
    creds: {api_key: GOOD-runpod}
  - type: vastai
    creds: {api_key: BAD-vastai}
- name: team
default_permissions:
  allow_non_admins_create_projects: false
";

async fn backend_types(started: &Started, project: &str) -> Vec<String> {
    let project = started.state.store.project_by_name(project).await.unwrap().unwrap();
    started
        .state
        .store
        .backends(&project.id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.backend_type)
        .collect()
}

#[tokio::test]
async fn writes_a_default_config_when_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let started = start(settings(dir.path()), Registry::new()).await.unwrap();
    let written = std::fs::read_to_string(dir.path().join("config.yml")).unwrap();
    assert_eq!(written, "projects:\n- name: main\n  backends: []\nencryption:\n  keys: []\n");
    // The file it writes is one it accepts.
    dstack_core::config::load_str(&written, "config.yml").unwrap();
    assert!(started.state.store.project_by_name("main").await.unwrap().is_some());
}

#[tokio::test]
async fn applies_creates_skips_unchanged_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, fakes) = registry(&[Lambda, Runpod, Vastai]);
    let started = start_with(dir.path(), TWO_BACKENDS, reg).await.unwrap();
    assert_eq!(backend_types(&started, "main").await, ["lambda", "runpod"]);
    assert!(started.state.store.project_by_name("team").await.unwrap().is_some());
    assert!(!started.state.permissions().allow_non_admins_create_projects);
    assert_eq!(fakes.iter().map(FakeConfigurator::checks).collect::<Vec<_>>(), [1, 1, 1]);
    drop(started);

    // Same file again: nothing to check.
    let (reg, fakes) = registry(&[Lambda, Runpod, Vastai]);
    let started = start_with(dir.path(), TWO_BACKENDS, reg).await.unwrap();
    assert_eq!(fakes[0].checks() + fakes[1].checks(), 0, "unchanged backends are not re-checked");
    assert_eq!(fakes[2].checks(), 1, "the refused one is tried again");
    drop(started);

    // A changed key is an update; an unlisted backend is deleted.
    let changed = "projects:\n- name: main\n  backends:\n  - type: runpod\n    creds: {api_key: GOOD-runpod-2}\n";
    let (reg, fakes) = registry(&[Lambda, Runpod, Vastai]);
    let started = start_with(dir.path(), changed, reg).await.unwrap();
    assert_eq!(backend_types(&started, "main").await, ["runpod"]);
    assert_eq!(fakes[1].checks(), 1);
    // Projects not listed keep their state.
    assert!(started.state.store.project_by_name("team").await.unwrap().is_some());
}

#[tokio::test]
async fn unreachable_clouds_are_checked_in_parallel_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let types = [Lambda, Runpod, Vastai, Vultr, Cloudrift, Hotaisle];
    let mut reg = Registry::new();
    for t in types {
        reg.register_configurator(std::sync::Arc::new(
            FakeConfigurator::new(t).with_delay(Duration::from_secs(60)),
        ));
    }
    let mut config = String::from("projects:\n- name: main\n  backends:\n");
    for t in types {
        let extra = if t == Hotaisle { ", team_handle: t" } else { "" };
        config.push_str(&format!("  - {{type: {t}, creds: {{api_key: GOOD}}{extra}}}\n"));
    }
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let mut settings = settings(dir.path());
    settings.backend_check_timeout = Duration::from_secs(1);
    let begun = Instant::now();
    let started = start(settings, reg).await.unwrap();
    let elapsed = begun.elapsed();
    // Six checks of one second each, one after another, would take six.
    assert!(elapsed < Duration::from_secs(6), "checks ran one after another: {elapsed:?}");
    assert!(backend_types(&started, "main").await.is_empty());
}

#[tokio::test]
async fn refused_config_stops_start_up_with_the_check_report() {
    let dir = tempfile::tempdir().unwrap();
    let err = start_with(
        dir.path(),
        "projects:\n- name: main\n  backends:\n  - type: awz\n",
        Registry::new(),
    )
    .await
    .unwrap_err();
    let StartError::Config(report) = err else { panic!("{err}") };
    assert!(report.render().contains("unknown backend type `awz`; did you mean `aws`?"));
}

const KEY1: &str = "cR2r1JmkPyL6edBQeHKz6ZBjCfS2oWk87Gc2G3wHVoA=";
const KEY2: &str = "E5yzN6V3XvBq/f085ISWFCdgnOGED0kuFaAkASlmmO4=";

#[tokio::test]
async fn every_secret_is_encrypted_at_rest_and_a_missing_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "projects:\n- name: main\n  backends:\n  - type: kubernetes\n    kubeconfig: {{data: GOOD-KUBECONFIG-SECRET}}\n  - type: lambda\n    creds: {{api_key: GOOD-LAMBDA-SECRET}}\nencryption:\n  keys:\n  - {{type: aes, name: key1, secret: '{KEY1}'}}\n"
    );
    let (reg, _) = registry(&[Kubernetes, Lambda]);
    let started = start_with(dir.path(), &config, reg).await.unwrap();
    let pool = &started.state.store.db.pool;
    for (table, column) in [
        ("backends", "auth"),
        ("backends", "source_auth"),
        ("users", "token"),
        ("users", "ssh_private_key"),
        ("projects", "ssh_private_key"),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {column} AS v FROM {table}")))
            .fetch_all(pool)
            .await
            .unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            let value: String = row.try_get("v").unwrap();
            assert!(value.starts_with("enc:aes:key1:"), "{table}.{column} = {value}");
            assert!(!value.contains("SECRET") && !value.contains(common::ADMIN_TOKEN));
        }
    }
    for row in sqlx::query("SELECT config AS c, source_config AS s FROM backends")
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let (c, s): (String, String) = (row.try_get("c").unwrap(), row.try_get("s").unwrap());
        assert!(!c.contains("SECRET") && !s.contains("SECRET"), "{c} {s}");
    }
    // The admin logs in with the token; it is found by its hash.
    let admin = started.state.store.user_by_token(common::ADMIN_TOKEN).await.unwrap().unwrap();
    assert_eq!(admin.name, "admin");
    drop(started);

    // Rotation: a new first key, the old one kept, reads everything.
    let rotated = config.replace(
        "  keys:\n",
        &format!("  keys:\n  - {{type: aes, name: key2, secret: '{KEY2}'}}\n"),
    );
    let (reg, _) = registry(&[Kubernetes, Lambda]);
    let started = start_with(dir.path(), &rotated, reg).await.unwrap();
    assert!(started.state.store.user_by_token(common::ADMIN_TOKEN).await.unwrap().is_some());
    drop(started);

    // Without the key the data was written with: a clear error naming the key, no crash.
    let only_new = format!(
        "projects: []\nencryption:\n  keys:\n  - {{type: aes, name: key2, secret: '{KEY2}'}}\n"
    );
    let (reg, _) = registry(&[Kubernetes, Lambda]);
    let err = start_with(dir.path(), &only_new, reg).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("key `key1`"), "{message}");
}
