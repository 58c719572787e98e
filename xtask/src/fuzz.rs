//! `cargo xtask fuzz --seconds N`: runs each target of `fuzz/` with cargo-fuzz (libFuzzer) for
//! N seconds, from a corpus seeded with dstack's documented configs, request bodies of every
//! route, and the inputs that once crashed the server. A crash fails the command and leaves
//! its input under `target/fuzz/artifacts/<target>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::schema::root;

/// The targets, as named in `fuzz/Cargo.toml`.
const TARGETS: &[&str] = &["config_load", "api_bodies"];

/// The routes of the `api_bodies` target, in its order (the first input byte picks one).
const API_ROUTES: usize = 14;

pub fn run(seconds: u64) -> Result<(), String> {
    ensure_cargo_fuzz()?;
    for target in TARGETS {
        let corpus = root().join("target/fuzz/corpus").join(target);
        let artifacts = root().join("target/fuzz/artifacts").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
        seed(target, &corpus)?;
        eprintln!("==> fuzzing {target} for {seconds}s");
        let status = Command::new(cargo())
            .args(["fuzz", "run", "--fuzz-dir", "fuzz", "--sanitizer", "none", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-max_len=65536", "-rss_limit_mb=4096", "-print_final_stats=1"])
            .current_dir(root())
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        if !status.success() {
            return Err(format!(
                "fuzz target {target} found a crash; its input is in {}",
                artifacts.display()
            ));
        }
    }
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    let installed = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    eprintln!("==> installing cargo-fuzz");
    let ok = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked", "--version", "0.13.2"])
        .status()
        .is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err("cannot install cargo-fuzz".to_owned()) }
}

/// Writes the seed inputs of `target` into its corpus (existing entries are kept: the corpus
/// grows from run to run).
fn seed(target: &str, corpus: &Path) -> Result<(), String> {
    let write = |name: String, bytes: Vec<u8>| {
        std::fs::write(corpus.join(name), bytes).map_err(|e| e.to_string())
    };
    let deep_block = format!("regions:\n{}x\n", "- ".repeat(20_000));
    let deep_flow = format!("regions: {}x{}\n", "[".repeat(5_000), "]".repeat(5_000));
    match target {
        "config_load" => {
            for path in config_examples()? {
                let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                write(format!("example-{name}"), bytes)?;
            }
            let project =
                |backend: &str| format!("projects:\n- name: main\n  backends:\n{backend}");
            write(
                "crash-deep-block".into(),
                project(&format!("  - type: aws\n    {deep_block}")).into_bytes(),
            )?;
            write(
                "crash-deep-flow".into(),
                project(&format!("  - type: aws\n    {deep_flow}")).into_bytes(),
            )?;
            write("anchors".into(), b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n".to_vec())?;
        }
        "api_bodies" => {
            let yaml = |text: &str| serde_json::json!({"config_yaml": text}).to_string();
            let bodies = [
                r#"{"username": "alice"}"#.to_owned(),
                r#"{"username": "bob", "global_role": "user"}"#.to_owned(),
                r#"{"limit": 10, "ascending": true}"#.to_owned(),
                r#"{"project_name": "team"}"#.to_owned(),
                r#"{"members": [{"username": "bob", "project_role": "user"}]}"#.to_owned(),
                r#"{"type": "lambda", "creds": {"type": "api_key", "api_key": "k"}}"#.to_owned(),
                r#"{"type": "aws", "creds": {"type": "default"}, "regions": ["us-east-1"]}"#
                    .to_owned(),
                yaml("type: runpod\ncreds:\n  api_key: k\n"),
                yaml(&deep_block),
                r#"{"backends_names": ["aws", "lambda"]}"#.to_owned(),
                r#"{"run_spec": {"configuration": {"type": "task", "resources": {"gpu": "A100:2"}}}}"#
                    .to_owned(),
                r#"{"run_spec": {"configuration": {}}, "group_by": ["backend"]}"#.to_owned(),
            ];
            for (i, body) in bodies.iter().enumerate() {
                let mut bytes = vec![(i % API_ROUTES) as u8];
                bytes.extend_from_slice(body.as_bytes());
                write(format!("route-{i}"), bytes)?;
            }
            let deep_json = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
            write("crash-deep-json".into(), [vec![5u8], deep_json.into_bytes()].concat())?;
        }
        other => return Err(format!("no seeds for fuzz target {other}")),
    }
    Ok(())
}

fn config_examples() -> Result<Vec<PathBuf>, String> {
    let dir = root().join("tests/config-examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    paths.sort();
    Ok(paths)
}
