//! The CLI's own config, `~/.dstack/config.yml`: at start the server makes the `main`
//! project with its URL and the admin token the CLI's default, as dstack's server does, so
//! that `dstack` works against it at once. The user's other projects are kept.
//!
//! `DSTACK_DO_NOT_UPDATE_DEFAULT_PROJECT` leaves the file alone; `DSTACK_UPDATE_DEFAULT_PROJECT`
//! replaces a different default without asking; otherwise a different default is replaced
//! only if the user says so at the terminal. Unlike dstack, a file that cannot be read is
//! never overwritten (dstack replaces it with a new one, losing its projects).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// What to do when the file has another default project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask at the terminal (no terminal: leave it).
    Ask,
    /// Replace it without asking.
    Replace,
    /// Never touch the file.
    Never,
}

impl Mode {
    /// From dstack's variables (set, even empty, means yes, as in dstack).
    pub fn from_env() -> Self {
        if std::env::var_os("DSTACK_DO_NOT_UPDATE_DEFAULT_PROJECT").is_some() {
            Mode::Never
        } else if std::env::var_os("DSTACK_UPDATE_DEFAULT_PROJECT").is_some() {
            Mode::Replace
        } else {
            Mode::Ask
        }
    }
}

/// What happened to the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Configured(PathBuf),
    AlreadyConfigured,
    Declined,
    Skipped,
}

/// The file for the user's home directory.
pub fn path_in(home: &Path) -> PathBuf {
    home.join(".dstack").join("config.yml")
}

/// Makes `project` at `url` with `token` the default in the config at `path`.
/// `ask` is called with the question when the file has another default and `mode` is
/// [`Mode::Ask`].
pub fn configure(
    path: &Path,
    project: &str,
    url: &str,
    token: &str,
    mode: Mode,
    ask: impl FnOnce(&str) -> bool,
) -> Result<Outcome, String> {
    if mode == Mode::Never {
        return Ok(Outcome::Skipped);
    }
    let mut projects = read_projects(path)?;
    let default = projects.iter().find(|p| p["default"] == json!(true));
    let wanted = [("name", project), ("url", url), ("token", token)];
    if let Some(default) = default {
        if wanted.iter().all(|(key, value)| default[*key] == json!(value)) {
            return Ok(Outcome::AlreadyConfigured);
        }
        let question = format!("Update the {project} project in {}?", path.display());
        if mode == Mode::Ask && !ask(&question) {
            return Ok(Outcome::Declined);
        }
    }
    for p in &mut projects {
        p.insert("default".into(), json!(false));
    }
    match projects.iter_mut().find(|p| p["name"] == json!(project)) {
        Some(existing) => {
            existing.insert("url".into(), json!(url));
            existing.insert("token".into(), json!(token));
            existing.insert("default".into(), json!(true));
        }
        None => {
            let mut new = Map::new();
            new.insert("name".into(), json!(project));
            new.insert("url".into(), json!(url));
            new.insert("token".into(), json!(token));
            new.insert("default".into(), json!(true));
            projects.push(new);
        }
    }
    write_projects(path, projects)?;
    Ok(Outcome::Configured(path.to_owned()))
}

/// The projects of the file (none if it does not exist).
fn read_projects(path: &Path) -> Result<Vec<Map<String, Value>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let unreadable = |why: String| {
        format!("{} is not a dstack client config ({why}); it is left as it is", path.display())
    };
    let parsed = dstack_core::yaml::node::parse(&text).map_err(|d| unreadable(d.message))?;
    let root = parsed.root.to_json();
    let projects = match &root {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => map.get("projects").cloned().unwrap_or(Value::Array(Vec::new())),
        _ => return Err(unreadable("not a mapping".into())),
    };
    let Value::Array(items) = projects else {
        return Err(unreadable("`projects` is not a list".into()));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map)
                if ["name", "url", "token"]
                    .iter()
                    .all(|k| map.get(*k).is_some_and(Value::is_string)) =>
            {
                Ok(map)
            }
            _ => Err(unreadable("a project lacks `name`, `url` or `token`".into())),
        })
        .collect()
}

/// Writes the file as dstack's CLI writes it (`yaml.dump`: keys sorted), readable only by
/// its owner since it holds tokens, and atomically so that a crash cannot leave half a file.
fn write_projects(path: &Path, projects: Vec<Map<String, Value>>) -> Result<(), String> {
    let sorted: Vec<Value> = projects
        .into_iter()
        .map(|p| {
            let mut keys: Vec<_> = p.into_iter().collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(keys.into_iter().collect())
        })
        .collect();
    let text = crate::yaml_out::dump(&json!({"projects": sorted}));
    let dir = path.parent().ok_or_else(|| format!("{} has no directory", path.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let temporary = dir.join(".config.yml.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, text: &str) -> PathBuf {
        let path = path_in(dir);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_new_file_gets_the_main_project_as_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        let outcome = configure(&path, "main", "http://127.0.0.1:3000", "t1", Mode::Ask, |_| {
            panic!("nothing to ask")
        });
        assert_eq!(outcome, Ok(Outcome::Configured(path.clone())));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "projects:\n- default: true\n  name: main\n  token: t1\n  url: http://127.0.0.1:3000\n"
        );
        let again = configure(&path, "main", "http://127.0.0.1:3000", "t1", Mode::Ask, |_| false);
        assert_eq!(again, Ok(Outcome::AlreadyConfigured));
    }

    #[test]
    fn other_projects_are_kept_and_another_default_is_replaced_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let text = "projects:\n- default: true\n  name: prod\n  token: p\n  url: https://prod\n";
        let path = config(dir.path(), text);
        let mut asked = None;
        let declined = configure(&path, "main", "http://h:1", "t", Mode::Ask, |q| {
            asked = Some(q.to_owned());
            false
        });
        assert_eq!(declined, Ok(Outcome::Declined));
        assert!(asked.unwrap().starts_with("Update the main project in "));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let replaced = configure(&path, "main", "http://h:1", "t", Mode::Replace, |_| false);
        assert!(matches!(replaced, Ok(Outcome::Configured(_))));
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains("- default: false\n  name: prod\n"), "{written}");
        assert!(written.contains("- default: true\n  name: main\n  token: t\n"), "{written}");
        assert_eq!(configure(&path, "x", "u", "t", Mode::Never, |_| true), Ok(Outcome::Skipped));
    }

    #[test]
    fn an_unreadable_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = config(dir.path(), "projects: [oops\n");
        let err = configure(&path, "main", "u", "t", Mode::Replace, |_| true).unwrap_err();
        assert!(err.contains("left as it is"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "projects: [oops\n");
    }
}
