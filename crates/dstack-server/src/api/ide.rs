//! What a dev environment runs, as dstack 0.22.5 decides it
//! (`server/services/jobs/configurators/dev.py` and `server/services/ides/`): the desktop
//! IDE's remote server installed when a `version` is given, ipykernel, the user's `setup` and
//! `init`, how to connect, then idling until stopped.

use serde_json::{Map, Value};

use super::error::ApiError;

/// The extensions dstack installs into a VS Code-like IDE's remote server.
const EXTENSIONS: [&str; 2] = ["ms-python.python", "ms-toolsai.jupyter"];

const INSTALL_IPYKERNEL: &str = "(echo 'uv pip install ipykernel...' && uv pip install -q \
     --no-cache-dir ipykernel 2> /dev/null) || (echo 'pip install ipykernel...' && pip install \
     -q --no-cache-dir ipykernel 2> /dev/null) || echo 'no uv or pip found, ipykernel was not \
     installed'";

/// The desktop IDEs a dev environment may name in `ide`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ide {
    VsCode,
    Cursor,
    Windsurf,
    Zed,
}

/// Where a VS Code-like IDE's remote server comes from and goes to, for one `version`.
struct RemoteServer {
    url: String,
    archive: &'static str,
    target: String,
    binary: &'static str,
}

impl Ide {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "vscode" => Some(Ide::VsCode),
            "cursor" => Some(Ide::Cursor),
            "windsurf" => Some(Ide::Windsurf),
            "zed" => Some(Ide::Zed),
            _ => None,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Ide::VsCode => "VS Code",
            Ide::Cursor => "Cursor",
            Ide::Windsurf => "Windsurf",
            Ide::Zed => "Zed",
        }
    }

    /// The link that opens the run's working directory in the IDE over SSH.
    fn url(self, authority: &str) -> String {
        let working_dir = "$DSTACK_WORKING_DIR";
        let scheme = match self {
            Ide::Zed => return format!("zed://ssh/{authority}{working_dir}"),
            Ide::VsCode => "vscode",
            Ide::Cursor => "cursor",
            Ide::Windsurf => "windsurf",
        };
        format!("{scheme}://vscode-remote/ssh-remote+{authority}{working_dir}")
    }

    /// Zed installs its own remote server on first connect; the others get theirs here.
    /// Windsurf's `version` is `<version>@<commit>`.
    fn remote_server(self, version: &str) -> Result<Option<RemoteServer>, ApiError> {
        Ok(Some(match self {
            Ide::Zed => return Ok(None),
            Ide::VsCode => RemoteServer {
                url: format!(
                    "https://update.code.visualstudio.com/commit:{version}/server-linux-$arch/stable"
                ),
                archive: "vscode-server-linux-$arch.tar.gz",
                target: format!("~/.vscode-server/bin/\"{version}\""),
                binary: "code-server",
            },
            Ide::Cursor => RemoteServer {
                url: format!(
                    "https://cursor.blob.core.windows.net/remote-releases/{version}/vscode-reh-linux-$arch.tar.gz"
                ),
                archive: "vscode-reh-linux-$arch.tar.gz",
                target: format!("~/.cursor-server/cli/servers/\"Stable-{version}\"/server"),
                binary: "cursor-server",
            },
            Ide::Windsurf => {
                let Some((release, commit)) = version.split_once('@') else {
                    return Err(ApiError::client(format!(
                        "Invalid Windsurf version {version:?}: expected <version>@<commit>"
                    )));
                };
                RemoteServer {
                    url: format!(
                        "https://windsurf-stable.codeiumdata.com/linux-reh-$arch/stable/{commit}/windsurf-reh-linux-$arch-{release}.tar.gz"
                    ),
                    archive: "windsurf-reh-linux-$arch.tar.gz",
                    target: format!("~/.windsurf-server/bin/\"{commit}\""),
                    binary: "windsurf-server",
                }
            }
        }))
    }

    fn install_commands(self, version: Option<&str>) -> Result<Vec<String>, ApiError> {
        let Some(version) = version else { return Ok(Vec::new()) };
        let Some(RemoteServer { url, archive, target, binary }) = self.remote_server(version)?
        else {
            return Ok(Vec::new());
        };
        let extensions: Vec<String> =
            EXTENSIONS.iter().map(|name| format!("--install-extension \"{name}\"")).collect();
        Ok(vec![
            r#"if [ $(uname -m) = "aarch64" ]; then arch="arm64"; else arch="x64"; fi"#.to_owned(),
            "mkdir -p /tmp".to_owned(),
            format!("wget -q --show-progress \"{url}\" -O \"/tmp/{archive}\""),
            format!("mkdir -vp {target}"),
            format!(
                "tar --no-same-owner -xz --strip-components=1 -C {target} -f \"/tmp/{archive}\""
            ),
            format!("rm \"/tmp/{archive}\""),
            format!("PATH=\"$PATH\":{target}/bin {binary} {}", extensions.join(" ")),
        ])
    }
}

fn strings(configuration: &Map<String, Value>, key: &str) -> Vec<String> {
    let list = configuration.get(key).and_then(Value::as_array);
    list.into_iter().flatten().filter_map(|c| c.as_str().map(str::to_owned)).collect()
}

/// The shell commands of a dev environment named `run_name`.
pub fn dev_environment_commands(
    configuration: &Map<String, Value>,
    run_name: &str,
) -> Result<Vec<String>, ApiError> {
    let ide = match configuration.get("ide").and_then(Value::as_str) {
        None => None,
        Some(name) => Some(
            Ide::from_name(name)
                .ok_or_else(|| ApiError::client(format!("Unsupported IDE: {name}")))?,
        ),
    };
    let version = configuration.get("version").and_then(Value::as_str);
    let mut commands = match ide {
        Some(ide) => ide.install_commands(version)?,
        None => Vec::new(),
    };
    commands.push(INSTALL_IPYKERNEL.to_owned());
    commands.extend(strings(configuration, "setup"));
    commands.push("echo".to_owned());
    commands.extend(strings(configuration, "init"));
    if let Some(ide) = ide {
        commands.extend([
            format!("echo 'To open in {}, use link below:'", ide.title()),
            "echo".to_owned(),
            format!("echo \"  {}\"", ide.url(run_name)),
            "echo".to_owned(),
        ]);
    }
    commands.extend([
        format!("echo 'To connect via SSH, use: `ssh {run_name}`'"),
        "echo".to_owned(),
        "echo -n 'To exit, press Ctrl+C.'".to_owned(),
        "tail -f /dev/null".to_owned(),
    ]);
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn commands(configuration: Value) -> Result<Vec<String>, ApiError> {
        dev_environment_commands(configuration.as_object().unwrap(), "quiet-fox-1")
    }

    #[test]
    fn vscode_with_a_version_installs_its_server_and_prints_the_link() {
        let commands =
            commands(json!({"ide": "vscode", "version": "abc123", "init": ["ls"]})).unwrap();
        assert_eq!(
            commands[2],
            "wget -q --show-progress \"https://update.code.visualstudio.com/commit:abc123/server-linux-$arch/stable\" -O \"/tmp/vscode-server-linux-$arch.tar.gz\""
        );
        assert_eq!(
            commands[6],
            "PATH=\"$PATH\":~/.vscode-server/bin/\"abc123\"/bin code-server --install-extension \"ms-python.python\" --install-extension \"ms-toolsai.jupyter\""
        );
        assert_eq!(commands[7], INSTALL_IPYKERNEL);
        assert_eq!(&commands[8..10], ["echo", "ls"]);
        assert_eq!(
            commands[12],
            "echo \"  vscode://vscode-remote/ssh-remote+quiet-fox-1$DSTACK_WORKING_DIR\""
        );
        assert_eq!(commands.last().unwrap(), "tail -f /dev/null");
    }

    #[test]
    fn without_an_ide_it_only_idles_after_setup_and_init() {
        let commands = commands(json!({"setup": ["a"], "init": ["b"]})).unwrap();
        assert_eq!(
            commands,
            [
                INSTALL_IPYKERNEL,
                "a",
                "echo",
                "b",
                "echo 'To connect via SSH, use: `ssh quiet-fox-1`'",
                "echo",
                "echo -n 'To exit, press Ctrl+C.'",
                "tail -f /dev/null"
            ]
        );
    }

    #[test]
    fn zed_installs_nothing_and_windsurf_needs_a_commit() {
        let zed = commands(json!({"ide": "zed", "version": "1"})).unwrap();
        assert_eq!(zed[0], INSTALL_IPYKERNEL);
        assert!(zed.contains(&"echo \"  zed://ssh/quiet-fox-1$DSTACK_WORKING_DIR\"".to_owned()));
        let windsurf = commands(json!({"ide": "windsurf", "version": "1.2@c0ffee"})).unwrap();
        assert!(windsurf[3].starts_with("mkdir -vp ~/.windsurf-server/bin/\"c0ffee\""));
        assert!(commands(json!({"ide": "windsurf", "version": "1.2"})).is_err());
        assert!(commands(json!({"ide": "emacs"})).is_err());
    }
}
