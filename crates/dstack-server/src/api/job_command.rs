//! What a job runs, as dstack 0.22.5's job configurator decides it
//! (`server/services/jobs/configurators/base.py`): the image, the shell, and for dstack's own
//! base image the bootstrap that prepares a Python virtual environment before the user's
//! commands.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::ide;

/// dstack 0.22.5's base image (`version.docker_base_image`, Ubuntu 24.04).
const BASE_IMAGE: &str = "dstackai/base";
const BASE_IMAGE_VERSION: &str = "0.16";
const BASE_IMAGE_UBUNTU: &str = "24.04";
/// The image of `docker: true` runs.
const DIND_IMAGE: &str = "dstackai/dind";
/// The Python of the base image's venv when `python` is not given. dstack uses the server's
/// own Python version; this server has none, so it takes Ubuntu 24.04's.
const DEFAULT_PYTHON: &str = "3.12";

const DSTACK_DIR: &str = "/dstack";
const UV_PYTHON_INSTALL_DIR: &str = "/opt/uv/python";

fn text<'a>(configuration: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    configuration.get(key).and_then(Value::as_str)
}

/// The image a job runs in.
pub fn image_name(configuration: &Map<String, Value>) -> String {
    if configuration.get("docker") == Some(&Value::Bool(true)) {
        return DIND_IMAGE.to_owned();
    }
    if let Some(image) = text(configuration, "image") {
        return image.to_owned();
    }
    let flavour =
        if configuration.get("nvcc") == Some(&Value::Bool(true)) { "devel" } else { "base" };
    format!("{BASE_IMAGE}:{BASE_IMAGE_VERSION}-{flavour}-ubuntu{BASE_IMAGE_UBUNTU}")
}

/// The shell of `commands`: `shell` (a bare name means `/bin/<name>`), else bash in dstack's
/// image and sh in any other.
fn shell(configuration: &Map<String, Value>) -> String {
    match text(configuration, "shell") {
        Some(shell) if shell.starts_with('/') => shell.to_owned(),
        Some(shell) => format!("/bin/{shell}"),
        None if text(configuration, "image").is_none() => "/bin/bash".to_owned(),
        None => "/bin/sh".to_owned(),
    }
}

/// What dstack runs before the user's commands in its own image: a venv of the asked Python,
/// owned by the job's user and activated in every shell.
fn bootstrap(configuration: &Map<String, Value>) -> Vec<String> {
    if configuration.get("docker") == Some(&Value::Bool(true)) {
        return vec!["start-dockerd".to_owned()];
    }
    if text(configuration, "image").is_some() || text(configuration, "entrypoint").is_some() {
        return Vec::new();
    }
    let python = match configuration.get("python") {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(v)) => v.to_string(),
        _ => DEFAULT_PYTHON.to_owned(),
    };
    let profile = format!("{DSTACK_DIR}/profile");
    vec![
        format!("eval $(echo 'export DSTACK_VENV_DIR={DSTACK_DIR}/venv' | sudo tee -a {profile})"),
        "sudo rm -rf $DSTACK_VENV_DIR".to_owned(),
        "sudo mkdir $DSTACK_VENV_DIR".to_owned(),
        "sudo chown $(id -u):$(id -g) $DSTACK_VENV_DIR".to_owned(),
        format!(
            "(if UV_PYTHON_INSTALL_DIR={UV_PYTHON_INSTALL_DIR} uv python find {python} > \
             /dev/null 2>&1; then export UV_PYTHON_INSTALL_DIR={UV_PYTHON_INSTALL_DIR} \
             UV_PYTHON_DOWNLOADS=never; fi; uv venv -q --prompt dstack -p {python} --seed \
             $DSTACK_VENV_DIR)"
        ),
        format!("eval $(echo '. $DSTACK_VENV_DIR/bin/activate' | sudo tee -a {profile})"),
    ]
}

/// Joins commands with `&&`, wrapping a backgrounded one (`cmd &`) in braces so that it
/// stays a command of its own.
fn join(commands: Vec<String>) -> String {
    commands
        .into_iter()
        .map(|c| {
            let c = c.trim().to_owned();
            if c.ends_with('&') { format!("{{ {c} }}") } else { c }
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The image that stands for "offers only": no registry lookup, no architecture, `:` to run.
pub const OFFERS_ONLY_IMAGE: &str = "scratch";

/// The job's command line: an `entrypoint` (split like a shell) followed by `commands`, or
/// the shell running the bootstrap and the run's shell commands (a dev environment's are
/// [`ide::dev_environment_commands`]). A custom image with nothing to run gets its own
/// entrypoint, which only its registry knows; this server does not read registries yet, so
/// its command line is left empty.
pub fn commands(
    configuration: &Map<String, Value>,
    run_name: &str,
) -> Result<Vec<String>, ApiError> {
    let given: Vec<String> = configuration
        .get("commands")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    if let Some(entrypoint) = text(configuration, "entrypoint") {
        let mut line = shlex::split(entrypoint).unwrap_or_default();
        line.extend(given);
        return Ok(line);
    }
    let shell_commands = if text(configuration, "type") == Some("dev-environment") {
        ide::dev_environment_commands(configuration, run_name)?
    } else {
        given
    };
    if shell_commands.is_empty() {
        let offers_only = text(configuration, "image") == Some(OFFERS_ONLY_IMAGE);
        return Ok(if offers_only { vec![":".to_owned()] } else { Vec::new() });
    }
    let mut script = bootstrap(configuration);
    script.extend(shell_commands);
    Ok(vec![shell(configuration), "-i".to_owned(), "-c".to_owned(), join(script)])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn line(configuration: &Map<String, Value>) -> Option<Vec<String>> {
        commands(configuration, "dry-run").ok()
    }

    #[test]
    fn dstacks_image_runs_bash_with_the_venv_bootstrap() {
        let task = config(json!({"type": "task", "commands": ["python train.py", "sleep 5 &"]}));
        assert_eq!(image_name(&task), "dstackai/base:0.16-base-ubuntu24.04");
        let task_line = line(&task).unwrap();
        assert_eq!(task_line[..3], ["/bin/bash", "-i", "-c"]);
        assert!(task_line[3].starts_with("eval $(echo 'export DSTACK_VENV_DIR=/dstack/venv'"));
        assert!(task_line[3].contains("uv venv -q --prompt dstack -p 3.12 --seed"));
        assert!(task_line[3].ends_with("&& python train.py && { sleep 5 & }"), "{}", task_line[3]);
        let nvcc = config(json!({"nvcc": true, "python": "3.10", "commands": ["x"]}));
        assert_eq!(image_name(&nvcc), "dstackai/base:0.16-devel-ubuntu24.04");
        assert!(line(&nvcc).unwrap()[3].contains("-p 3.10 "));
    }

    #[test]
    fn custom_images_run_sh_without_bootstrap() {
        let task = config(json!({"image": "ubuntu", "commands": ["echo hi"]}));
        assert_eq!(line(&task).unwrap(), ["/bin/sh", "-i", "-c", "echo hi"]);
        let zsh = config(json!({"image": "ubuntu", "shell": "zsh", "commands": ["x"]}));
        assert_eq!(line(&zsh).unwrap()[0], "/bin/zsh");
        let entry =
            config(json!({"image": "u", "entrypoint": "python -m 'a b'", "commands": ["c"]}));
        assert_eq!(line(&entry).unwrap(), ["python", "-m", "a b", "c"]);
        assert!(line(&config(json!({"image": "u"}))).unwrap().is_empty());
        assert_eq!(line(&config(json!({"image": "scratch"}))).unwrap(), [":"]);
        let dind = config(json!({"docker": true, "commands": ["docker ps"]}));
        assert_eq!(image_name(&dind), "dstackai/dind");
        assert_eq!(line(&dind).unwrap()[3], "start-dockerd && docker ps");
    }

    #[test]
    fn dev_environments_run_their_ide_setup_in_the_bootstrapped_shell() {
        let dev = config(json!({"type": "dev-environment", "ide": "vscode", "init": ["ls"]}));
        let dev_line = line(&dev).unwrap();
        assert_eq!(dev_line[..3], ["/bin/bash", "-i", "-c"]);
        assert!(dev_line[3].contains("uv venv -q --prompt dstack"));
        assert!(dev_line[3].contains("&& ls && echo 'To open in VS Code, use link below:'"));
        assert!(dev_line[3].ends_with("&& tail -f /dev/null"), "{}", dev_line[3]);
        let unsupported = config(json!({"type": "dev-environment", "ide": "emacs"}));
        assert!(commands(&unsupported, "x").is_err());
    }
}
