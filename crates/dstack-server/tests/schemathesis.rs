//! Schemathesis (every check, bounded examples) against the binary's own `/openapi.json`: the
//! document describes every route, status and body the server answers, and the server accepts
//! exactly what the document allows. `cargo xtask test` installs schemathesis into a venv and
//! sets `DSTACK_TEST_SCHEMATHESIS` to its `st`; without it this test says so and passes.
//!
//! The server's clouds are pointed at a closed loopback port, so that no request leaves the
//! machine; the settings the run uses are in `tests/schemathesis/schemathesis.toml`.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_server_conforms_to_its_openapi_document() {
    let Some(st) = std::env::var_os("DSTACK_TEST_SCHEMATHESIS") else {
        eprintln!("DSTACK_TEST_SCHEMATHESIS is not set: skipping (run `cargo xtask test`)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let catalogs = dir.path().join("catalogs");
    std::fs::create_dir_all(&catalogs).unwrap();
    let closed = "http://127.0.0.1:9";
    let mut cmd = common::command(dir.path());
    cmd.env("DSTACK_SERVER_ADMIN_TOKEN", "schemathesis-token")
        .env("GPUHUNT_CATALOG_DIR", &catalogs)
        .env("DSTACK_LAMBDA_API_URL", closed)
        .env("AWS_ENDPOINT_URL", closed)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"));
    let running = common::run(cmd);
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml");
    let output = Command::new(st)
        .arg("--config-file")
        .arg(&config)
        .arg("--no-color")
        .args(["run", &format!("http://{}/openapi.json", running.addr)])
        .args(["--header", "Authorization: Bearer schemathesis-token"])
        .args(["--checks", "all", "--max-examples", "25", "--workers", "2"])
        .args(["--seed", "20261202"])
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = report.lines().rev().take(3).collect();
    eprintln!("{}", summary.into_iter().rev().collect::<Vec<_>>().join("\n"));
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}
