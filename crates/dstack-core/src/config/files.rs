//! Reading files named in `config.yml` (service-account keys, kubeconfigs, SSH keys) on the
//! server host, as dstack does when it loads the file form of a backend.

use std::path::PathBuf;

/// Expands a leading `~` or `~/` to the home directory, like Python's `os.path.expanduser`.
pub fn expand_tilde(path: &str) -> PathBuf {
    if (path == "~" || path.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        let mut expanded = PathBuf::from(home);
        if path.len() > 2 {
            expanded.push(&path[2..]);
        }
        return expanded;
    }
    PathBuf::from(path)
}

/// An error reading a file named in a config, with the relative field path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFieldError {
    /// Path of the field, relative to the backend entry: keys, and list indexes written `[i]`
    /// (`["creds", "filename"]`, `["clusters", "[0]", "private_key", "path"]`).
    pub field: Vec<String>,
    pub message: String,
}

/// dstack's `fill_data` rule: keep `data` when it is given (the file is not opened); otherwise
/// read the file named by `path`, which must then be set.
pub fn fill_data(
    data: Option<String>,
    path: &str,
    field_prefix: &[&str],
    path_field: &'static str,
    data_field: &'static str,
) -> Result<String, FileFieldError> {
    if let Some(data) = data {
        return Ok(data);
    }
    let field = |name: &str| {
        let mut f: Vec<String> = field_prefix.iter().map(|s| (*s).to_owned()).collect();
        f.push(name.to_owned());
        f
    };
    if path.is_empty() {
        return Err(FileFieldError {
            field: field(path_field),
            message: format!("Either `{path_field}` or `{data_field}` must be specified"),
        });
    }
    read_file(path).map_err(|message| FileFieldError { field: field(path_field), message })
}

/// Reads a whole text file named in a config; the error says which file and why.
pub fn read_file(path: &str) -> Result<String, String> {
    let expanded = expand_tilde(path);
    let shown = if expanded.to_string_lossy() == path {
        path.to_owned()
    } else {
        format!("{path} ({})", expanded.display())
    };
    std::fs::read_to_string(&expanded).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => format!("No such file {shown}"),
        _ => format!("Cannot read file {shown}: {err}"),
    })
}
