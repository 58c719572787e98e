//! `dstack-server config check` as a user runs it: the real binary, on the config examples of
//! dstack's documentation, in a home directory holding the files they name.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/config-examples")
}

/// A home directory with the files the examples refer to (`~/.kube/config`, ...).
fn home_with_referenced_files() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let files = [
        (".dstack/server/gcp-024ed630eab5.json", r#"{"type": "service_account"}"#),
        ("path/to/key.pem", "-----BEGIN PRIVATE KEY-----\n"),
        (".kube/config", "apiVersion: v1\nkind: Config\ncurrent-context: a\n"),
        (".ssh/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
    ];
    for (path, content) in files {
        let path = home.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    home
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn check(file: &Path, home: &Path, extra_args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_dstack-server"))
        .args(["config", "check", "--file"])
        .arg(file)
        .args(extra_args)
        .env("HOME", home)
        .env_remove("DSTACK_SERVER_DIR")
        .env_remove("DSTACK_DEFAULT_CREDS_DISABLED")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// dstack's verdicts on its own documentation examples (tests/config-examples/INDEX.md):
/// the refused ones, with the field our error must point at. All others are accepted.
const REFUSED: &[(&str, &str)] = &[
    ("09-azure-vpc-ids.yml", "projects[0].backends[0].tenant_id"),
    ("10-azure-subnet-ids.yml", "projects[0].backends[0].tenant_id"),
    ("11-azure-private-subnets.yml", "projects[0].backends[0].tenant_id"),
    ("16-gcp-private-subnets.yml", "projects[0].backends[0].project_id"),
    // Names a Nebius credentials file that the docs do not provide.
    ("19-nebius-credentials-file.yml", "projects[0].backends[0].creds.filename"),
];

#[test]
fn documented_examples_get_dstacks_verdicts() {
    let home = home_with_referenced_files();
    let mut seen = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".yml") {
            continue;
        }
        seen += 1;
        let run = check(&path, home.path(), &["--json"]);
        let problems: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let errors: Vec<&serde_json::Value> =
            problems.as_array().unwrap().iter().filter(|p| p["severity"] == "error").collect();
        match REFUSED.iter().find(|(file, _)| *file == name) {
            Some((_, field)) => {
                assert_eq!(run.code, 1, "{name} must be refused");
                assert!(
                    errors.iter().any(|e| e["path"] == *field && e["line"].as_u64().is_some()),
                    "{name}: expected a located error at {field}, got {problems:#}"
                );
            }
            None => {
                assert_eq!(run.code, 0, "{name} must be accepted: {problems:#}\n{}", run.stderr);
                assert!(errors.is_empty());
            }
        }
    }
    assert_eq!(seen, 37);
}

#[test]
fn nebius_credentials_file_is_read_when_present() {
    let home = home_with_referenced_files();
    let creds = home.path().join(".nebius/sa-credentials.json");
    std::fs::create_dir_all(creds.parent().unwrap()).unwrap();
    std::fs::write(
        &creds,
        r#"{"subject-credentials": {"type": "JWT", "alg": "RS256", "private-key": "PEM",
            "kid": "publickey-1", "iss": "serviceaccount-1", "sub": "serviceaccount-1"}}"#,
    )
    .unwrap();
    let run = check(&examples().join("19-nebius-credentials-file.yml"), home.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(&creds, "{not json").unwrap();
    let run = check(&examples().join("19-nebius-credentials-file.yml"), home.path(), &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("Failed to parse credentials file ~/.nebius/sa-credentials.json"));
}

#[test]
fn server_deployment_fragments_get_dstacks_verdicts() {
    let home = home_with_referenced_files();
    let dir = tempfile::tempdir().unwrap();
    for (name, accepted) in [
        ("01-encryption-aes.yml", false),
        ("02-encryption-identity-then-aes.yml", false),
        ("03-encryption-key-rotation.yml", true),
        ("04-default-permissions.yml", true),
    ] {
        let fragment = std::fs::read_to_string(examples().join("extra").join(name)).unwrap();
        let file = dir.path().join(name);
        std::fs::write(&file, format!("projects: []\n{fragment}")).unwrap();
        let run = check(&file, home.path(), &[]);
        if accepted {
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        } else {
            assert_eq!(run.code, 1, "{name} must be refused");
            assert!(
                run.stderr.contains("AES key must be 32 bytes. Got 30 bytes"),
                "{}",
                run.stderr
            );
            assert!(run.stderr.contains("].secret"), "{}", run.stderr);
        }
    }
}

#[test]
fn refusal_is_one_clear_report_without_a_trace() {
    let home = home_with_referenced_files();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(
        &file,
        "projects:\n- name: main\n  backends:\n  - type: aws\n    creds:\n      type: access_key\n      access_key: AKIAEXAMPLE\n      secrt_key: wJalrXUtnFEMI\n",
    )
    .unwrap();
    let run = check(&file, home.path(), &[]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    let expected = format!(
        "error: missing required field `secret_key`
  --> {f}:6:7
   |
 6 |       type: access_key
   |       ^
   = field: projects[0].backends[0].creds.secret_key

error: unknown field `secrt_key`; did you mean `secret_key`?
  --> {f}:8:7
   |
 8 |       secrt_key: wJalrXUtnFEMI
   |       ^
   = field: projects[0].backends[0].creds.secrt_key

{f} refused: 2 errors
",
        f = file.display()
    );
    assert_eq!(run.stderr, expected);
}

#[test]
fn default_location_and_missing_file() {
    let home = home_with_referenced_files();
    let server_dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &Path)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dstack-server"));
        cmd.args(["config", "check"]).env("HOME", home.path());
        cmd.env_remove("DSTACK_SERVER_DIR").env_remove("DSTACK_SERVER_CONFIG_DISABLED");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // No config.yml yet: the server would write a default one, so this is fine.
    let out = run(&[("DSTACK_SERVER_DIR", server_dir.path())]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("would write a default one"));
    // A bad config.yml in DSTACK_SERVER_DIR is found and refused.
    std::fs::write(server_dir.path().join("config.yml"), "projects: {}\n").unwrap();
    let out = run(&[("DSTACK_SERVER_DIR", server_dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a list, found a mapping"));
    // DSTACK_SERVER_CONFIG_DISABLED: the server ignores config.yml.
    let out = run(&[
        ("DSTACK_SERVER_DIR", server_dir.path()),
        ("DSTACK_SERVER_CONFIG_DISABLED", Path::new("1")),
    ]);
    assert_eq!(out.status.code(), Some(0));
    // ~/.dstack/server is the default directory.
    std::fs::create_dir_all(home.path().join(".dstack/server")).unwrap();
    std::fs::write(home.path().join(".dstack/server/config.yml"), "projects: []\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".dstack/server/config.yml: OK"));
    // An explicit --file that does not exist is an error.
    let missing = check(&server_dir.path().join("nope.yml"), home.path(), &[]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("cannot read"));
}

#[test]
fn backends_the_build_lacks_are_warnings() {
    let home = home_with_referenced_files();
    // Runpod has no backend crate yet.
    let run = check(&examples().join("34-runpod-api-key.yml"), home.path(), &["--json"]);
    assert_eq!(run.code, 0);
    let problems: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let warning = &problems[0];
    assert_eq!(warning["severity"], "warning");
    assert_eq!(warning["path"], "projects[0].backends[0].type");
    assert_eq!(
        warning["message"],
        "Backend `runpod` is not supported by this version of dstack-server yet; the server will skip this backend"
    );
    // Lambda is a feature: no warning when it is compiled in, which names it when not.
    let run = check(&examples().join("17-lambda-api-key.yml"), home.path(), &["--json"]);
    let problems: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    if cfg!(feature = "lambda") {
        assert_eq!(problems, serde_json::json!([]));
    } else {
        assert!(problems[0]["message"].as_str().unwrap().contains("--features lambda"));
    }
}

#[test]
fn default_creds_disabled_is_a_warning() {
    let home = home_with_referenced_files();
    let file = examples().join("01-aws-default-creds.yml");
    let output = Command::new(env!("CARGO_BIN_EXE_dstack-server"))
        .args(["config", "check", "--json", "--file"])
        .arg(&file)
        .env("HOME", home.path())
        .env("DSTACK_DEFAULT_CREDS_DISABLED", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let problems: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warning = problems
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "projects[0].backends[0].creds")
        .expect("a warning about default creds");
    assert!(warning["message"].as_str().unwrap().contains("DSTACK_DEFAULT_CREDS_DISABLED"));
    // Without the variable there is no such warning.
    let run = check(&file, home.path(), &["--json"]);
    assert!(!run.stdout.contains("DSTACK_DEFAULT_CREDS_DISABLED"));
}
