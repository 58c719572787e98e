//! dstack's own web UI against the real `dstack-server` binary, in a real browser: Debian's
//! Chromium driven by playwright-core (`tests/browser/ui.cjs`) signs in with the admin token,
//! opens the project's settings, adds a Lambda backend through the YAML editor and sees it
//! listed, then adds an SSH key on the admin's page and sees its fingerprint. The server's
//! Lambda backend talks to a loopback fake of Lambda's API.
//!
//! `cargo xtask test` installs what this needs and names it: `DSTACK_TEST_UI_DIR` (the bundle,
//! `cargo xtask ui`), `DSTACK_TEST_CHROMIUM` and `DSTACK_TEST_NODE_MODULES` (`npm ci` of
//! `tests/browser`). Without them this test says so and passes, as the CLI tests do.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use dstack_testkit::fixtures;

const TOKEN: &str = "browser-admin-token";
const BACKEND_YAML: &str = "type: lambda\ncreds:\n  type: api_key\n  api_key: GOOD-1\n";

struct Browser {
    ui: PathBuf,
    chromium: PathBuf,
    node_modules: PathBuf,
}

fn browser() -> Option<Browser> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    match (var("DSTACK_TEST_UI_DIR"), var("DSTACK_TEST_CHROMIUM"), var("DSTACK_TEST_NODE_MODULES"))
    {
        (Some(ui), Some(chromium), Some(node_modules)) => {
            Some(Browser { ui, chromium, node_modules })
        }
        _ => {
            eprintln!(
                "DSTACK_TEST_UI_DIR, DSTACK_TEST_CHROMIUM and DSTACK_TEST_NODE_MODULES are not all \
                 set: skipping the browser test (`cargo xtask test` installs and sets them)"
            );
            None
        }
    }
}

#[tokio::test]
async fn the_web_ui_signs_in_and_adds_a_backend() {
    let Some(browser) = browser() else { return };
    assert!(browser.ui.join("index.html").is_file(), "no UI in {}", browser.ui.display());
    let lambda = fixtures::fake_lambda(&["GOOD-1"], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::command(dir.path());
    cmd.env("DSTACK_SERVER_ADMIN_TOKEN", TOKEN)
        .env("DSTACK_SERVER_UI_DIR", &browser.ui)
        .env("DSTACK_LAMBDA_API_URL", lambda.url())
        // The server writes the CLI's ~/.dstack/config.yml; keep the caller's.
        .env("HOME", home.path());
    let server = common::run(cmd);
    let base = format!("http://{}", server.addr);

    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser_ui-failure.png");
    let _ = std::fs::remove_file(&screenshot);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/ui.cjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .env("NODE_PATH", &browser.node_modules)
        .env("DSTACK_UI_URL", &base)
        .env("DSTACK_UI_TOKEN", TOKEN)
        .env("DSTACK_UI_BACKEND_YAML", BACKEND_YAML)
        .env("DSTACK_UI_BACKEND_TYPE", "lambda")
        .env("DSTACK_UI_CHROMIUM", &browser.chromium)
        .env("DSTACK_UI_SCREENSHOT", &screenshot)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser session took over 3 minutes")
        .expect("cannot run node");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{report}");
    assert!(output.status.success(), "the browser session failed ({}):\n{report}", output.status);

    // What the browser did is in the server's state.
    let auth = format!("Bearer {TOKEN}");
    let project = common::http(
        server.addr,
        "POST",
        "/api/projects/main/get",
        &[("Authorization", &auth)],
        "",
    )
    .await
    .json();
    let backends: Vec<&str> = project["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(backends, ["lambda"], "{project}");
}

/// What the browser cannot see but a cache and an API client can: the caching headers, the
/// page for the app's own routes and JSON for API paths.
#[tokio::test]
async fn the_bundle_is_served_with_a_bundles_cache_headers() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::command(dir.path());
    cmd.env("DSTACK_SERVER_UI_DIR", &browser.ui).env("HOME", home.path());
    let server = common::run(cmd);
    let get = |path: &'static str| common::http(server.addr, "GET", path, &[], "");

    let index = get("/").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let script = index.body.split("src=\"/").nth(1).and_then(|s| s.split('"').next()).unwrap();
    assert!(script.starts_with("main-") && script.ends_with(".js"), "{script}");
    let path = format!("/{script}");
    let asset = common::http(server.addr, "GET", &path, &[], "").await;
    assert_eq!(asset.status, 200);
    assert_eq!(asset.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(asset.header("content-type"), Some("text/javascript; charset=utf-8"));

    let route = get("/projects/main/backends/add").await;
    assert_eq!((route.status, route.body.as_str()), (200, index.body.as_str()));
    assert_eq!(route.header("cache-control"), Some("no-cache"));
    let api = get("/api/users/list").await;
    assert_eq!((api.status, api.body.as_str()), (404, r#"{"detail":"Not Found"}"#));
    let license = get("/LICENSE.md").await;
    assert!(license.body.starts_with("Mozilla Public License"), "{}", license.body);
}

#[tokio::test]
async fn without_a_bundle_the_root_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::command(dir.path());
    cmd.env("HOME", home.path()).env_remove("DSTACK_SERVER_UI_DIR");
    let server = common::run(cmd);
    let root = common::http(server.addr, "GET", "/", &[], "").await;
    assert_eq!(root.status, 200);
    assert!(root.body.contains("cargo xtask ui"), "{}", root.body);
    let other = common::http(server.addr, "GET", "/projects/main", &[], "").await;
    assert_eq!(other.status, 404);
}
