//! The backend checklist, enforced (rust-analyzer's `tidy.rs` idea): every crate under
//! `backends/` is wired in the same way, and a `#[test]` fails, naming the item, when one is
//! not. What the checklist needs of the server's manifest (its backend features) and of the
//! backends' manifests (their emulators) is read here, and nowhere else.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// A TOML file, parsed.
fn manifest(path: &Path) -> Result<Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse::<Table>().map_err(|e| format!("{}: {e}", path.display()))
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The text without whitespace (and trailing commas): code compared whatever rustfmt made
/// of its lines.
fn squeezed(text: &str) -> String {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.replace(",)", ")").replace(",]", "]")
}

/// The backend crates: the directories under `backends/` with a manifest.
pub fn backends(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("backends"))
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The backend features of the server: every feature but `default` and `all`.
pub fn server_features(root: &Path) -> Result<Vec<String>, String> {
    let server = manifest(&root.join("crates/dstack-server/Cargo.toml"))?;
    let features = server.get("features").and_then(Value::as_table).ok_or("no [features]")?;
    Ok(features.keys().filter(|k| *k != "default" && *k != "all").cloned().collect())
}

/// A backend's emulator, as its manifest declares it under
/// `[package.metadata.dstack.emulator]`.
#[derive(Debug, Clone)]
pub struct Emulator {
    /// The backend crate's directory.
    pub dir: PathBuf,
    pub name: String,
    /// What to install from PyPI: `moto[server]==5.2.5`.
    pub pypi: String,
    /// The command, with `{port}` and `{crate}` to fill in; its program is in the venv.
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run once the emulator listens (`{url}`, `{crate}`), with the venv's programs.
    pub setup: Vec<String>,
    /// The variable that hands the emulator's URL to the tests.
    pub url_variable: String,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn dstack_metadata(table: &Table) -> Option<&Table> {
    table.get("package")?.get("metadata")?.get("dstack")?.as_table()
}

/// Every backend's declared emulator.
pub fn emulators(root: &Path) -> Result<Vec<Emulator>, String> {
    let mut found = Vec::new();
    for name in backends(root) {
        let dir = root.join("backends").join(&name);
        let table = manifest(&dir.join("Cargo.toml"))?;
        let Some(emulator) = dstack_metadata(&table).and_then(|m| m.get("emulator")) else {
            continue;
        };
        let get = |key: &str| emulator.get(key).and_then(Value::as_str).unwrap_or_default();
        let env = emulator
            .get("env")
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        found.push(Emulator {
            name: name.clone(),
            pypi: get("pypi").to_owned(),
            command: strings(emulator.get("command")),
            env,
            setup: strings(emulator.get("setup")),
            url_variable: get("url_variable").to_owned(),
            dir,
        });
    }
    Ok(found)
}

/// Everything the checklist finds missing, for every backend.
pub fn problems(root: &Path) -> Vec<String> {
    let mut problems: Vec<String> =
        backends(root).iter().flat_map(|name| backend_problems(root, name)).collect();
    let registry = text(&root.join("crates/dstack-server/src/registry.rs"));
    match server_features(root) {
        Ok(mut features) => {
            features.sort();
            let mut backends = backends(root);
            backends.sort();
            if features != backends {
                problems.push(format!(
                    "the server's backend features {features:?} are not the backend crates {backends:?}"
                ));
            }
            let declared =
                features.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(",");
            if !squeezed(&registry).contains(&format!("BACKEND_FEATURES:&[&str]=&[{declared}];")) {
                problems.push(format!(
                    "crates/dstack-server/src/registry.rs: BACKEND_FEATURES is not {features:?}"
                ));
            }
        }
        Err(err) => problems.push(err),
    }
    problems
}

/// The checklist of one backend crate.
pub fn backend_problems(root: &Path, name: &str) -> Vec<String> {
    let dir = root.join("backends").join(name);
    let package = format!("dstack-backend-{name}");
    let module = package.replace('-', "_");
    let mut problems = Vec::new();
    let mut missing = |what: String| problems.push(format!("backends/{name}: {what}"));

    // The crate's manifest.
    match manifest(&dir.join("Cargo.toml")) {
        Err(err) => missing(err),
        Ok(table) => {
            let actual = table.get("package").and_then(|p| p.get("name")).and_then(Value::as_str);
            if actual != Some(package.as_str()) {
                missing(format!("the package is named {actual:?}, not `{package}`"));
            }
            let lints =
                table.get("lints").and_then(|l| l.get("workspace")).and_then(Value::as_bool);
            if lints != Some(true) {
                missing("`[lints] workspace = true` is missing from Cargo.toml".to_owned());
            }
            let declared = dstack_metadata(&table);
            if !declared.is_some_and(|m| m.contains_key("emulator") || m.contains_key("fake")) {
                missing(
                    "Cargo.toml declares neither `[package.metadata.dstack.emulator]` nor \
                     `package.metadata.dstack.fake` (what its tests run against)"
                        .to_owned(),
                );
            }
        }
    }
    // The crate's docs and entry point.
    let lib = text(&dir.join("src/lib.rs"));
    if !dir.join("README.md").is_file() {
        missing("README.md is missing".to_owned());
    }
    if !lib.contains("#![doc = include_str!(\"../README.md\")]") {
        missing("src/lib.rs does not make README.md the crate's docs (`#![doc = include_str!(\"../README.md\")]`)".to_owned());
    }
    let register = "pubfnregister(registry:&mutdstack_core::Registry,context:&dstack_backend_kit::BackendContext)";
    if !squeezed(&lib).contains(register) {
        missing("src/lib.rs has no `pub fn register(registry: &mut dstack_core::Registry, context: &dstack_backend_kit::BackendContext)`".to_owned());
    }
    for file in rust_files(&dir) {
        if !text(&file).starts_with("//!") {
            let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
            missing(format!("{shown} does not start with a `//!` line saying what it is"));
        }
    }
    let conformance =
        rust_files(&dir.join("tests")).iter().any(|f| text(f).contains("conformance::run("));
    if !conformance {
        missing("no test under tests/ calls `conformance::run(`".to_owned());
    }
    // Its place in the workspace and the server.
    let workspace = text(&root.join("Cargo.toml"));
    if !squeezed(&workspace)
        .contains(&squeezed(&format!("{package} = {{ path = \"backends/{name}\" }}")))
    {
        missing(format!(
            "the workspace's Cargo.toml has no `{package} = {{ path = \"backends/{name}\" }}`"
        ));
    }
    match manifest(&root.join("crates/dstack-server/Cargo.toml")) {
        Err(err) => missing(err),
        Ok(server) => {
            let features = server.get("features").and_then(Value::as_table);
            let feature = features.and_then(|f| f.get(name)).map(|v| strings(Some(v)));
            // The backend's crate first; after it only what the final binary must choose
            // for it (Kubernetes' API version: `dep:k8s-openapi`, `k8s-openapi/v1_36`).
            let own = feature.as_ref().and_then(|f| f.first()) == Some(&format!("dep:{package}"));
            let extras_ok = feature.iter().flatten().skip(1).all(|f| {
                f.contains('/') || f.strip_prefix("dep:").is_some_and(|d| !d.starts_with("dstack-"))
            });
            if !own || !extras_ok {
                missing(format!("the server has no feature `{name} = [\"dep:{package}\"]`"));
            }
            let all = strings(features.and_then(|f| f.get("all")));
            if !all.contains(&name.to_owned()) {
                missing(format!("the server's `all` feature does not list `{name}`"));
            }
            if strings(features.and_then(|f| f.get("default"))) != ["all"] {
                missing("the server's `default` feature is not `[\"all\"]`".to_owned());
            }
            let optional = server
                .get("dependencies")
                .and_then(|d| d.get(&package))
                .and_then(|d| d.get("optional"))
                .and_then(Value::as_bool);
            if optional != Some(true) {
                missing(format!("the server does not depend on `{package}` as optional"));
            }
        }
    }
    let registry = squeezed(&text(&root.join("crates/dstack-server/src/registry.rs")));
    let line = format!("#[cfg(feature=\"{name}\")]{module}::register(&mutregistry,context);");
    if !registry.contains(&line) {
        missing(format!(
            "crates/dstack-server/src/registry.rs has no `#[cfg(feature = \"{name}\")] {module}::register(&mut registry, context);`"
        ));
    }
    let workflow = text(&root.join(".github/workflows/ci.yml"));
    if !workflow.lines().any(|l| l.trim() == format!("- {name}")) {
        missing(format!(".github/workflows/ci.yml's feature matrix has no `- {name}`"));
    }
    if !text(&root.join("backends/README.md")).contains(&format!("| `{name}` |")) {
        missing(format!("backends/README.md has no row `| `{name}` |`"));
    }
    if !text(&root.join("README.md"))
        .contains(&format!("| [`{name}`](backends/{name}/README.md) |"))
    {
        missing(format!("README.md has no row `| [`{name}`](backends/{name}/README.md) |`"));
    }
    problems
}

/// The `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every backend crate of the repository passes the checklist.
    #[test]
    fn every_backend_follows_the_checklist() {
        let root = crate::schema::root();
        assert!(!backends(&root).is_empty());
        let problems = problems(&root);
        assert!(problems.is_empty(), "the backend checklist:\n{}", problems.join("\n"));
    }

    /// A crate missing every item is told about each: `tidy-fixture/` holds a repository
    /// whose one backend, `incomplete`, was added by copying a directory and nothing else.
    #[test]
    fn an_incomplete_backend_is_told_every_missing_item() {
        let root = crate::schema::root().join("xtask/tidy-fixture");
        let problems = problems(&root);
        let expected = [
            "the package is named Some(\"incomplete-backend\")",
            "`[lints] workspace = true` is missing",
            "declares neither `[package.metadata.dstack.emulator]`",
            "README.md is missing",
            "does not make README.md the crate's docs",
            "has no `pub fn register(",
            "src/compute.rs does not start with a `//!` line",
            "no test under tests/ calls `conformance::run(`",
            "the workspace's Cargo.toml has no `dstack-backend-incomplete",
            "the server has no feature `incomplete",
            "the server's `all` feature does not list `incomplete`",
            "the server does not depend on `dstack-backend-incomplete` as optional",
            "registry.rs has no `#[cfg(feature = \"incomplete\")]",
            "backends/README.md has no row",
            "README.md has no row `| [`incomplete`]",
            "feature matrix has no `- incomplete`",
            "the server's backend features [] are not the backend crates [\"incomplete\"]",
        ];
        for item in expected {
            assert!(
                problems.iter().any(|p| p.contains(item)),
                "no problem mentions {item:?}; found:\n{}",
                problems.join("\n")
            );
        }
        // What the fixture does right is not reported.
        assert!(!problems.iter().any(|p| p.contains("src/lib.rs does not start")), "{problems:?}");
    }

    #[test]
    fn emulators_are_read_from_the_backends_manifests() {
        let emulators = emulators(&crate::schema::root()).unwrap();
        let moto = emulators.iter().find(|e| e.name == "aws").expect("aws declares moto");
        assert!(moto.pypi.starts_with("moto[server]=="));
        assert!(moto.command.iter().any(|c| c == "{port}"));
        assert_eq!(moto.url_variable, "DSTACK_TEST_MOTO_URL");
    }
}
