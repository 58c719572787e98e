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

/// The largest file a config may name (or be): far above any key, kubeconfig or config.yml,
/// far below what would hurt the server.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// Reads a whole text file named in a config; the error says which file and why.
pub fn read_file(path: &str) -> Result<String, String> {
    let expanded = expand_tilde(path);
    let shown = if expanded.to_string_lossy() == path {
        path.to_owned()
    } else {
        format!("{path} ({})", expanded.display())
    };
    read_capped(&expanded).map_err(|err| match err {
        ReadError::Io(err) if err.kind() == std::io::ErrorKind::NotFound => {
            format!("No such file {shown}")
        }
        err => format!("Cannot read file {shown}: {err}"),
    })
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is not a regular file (a device, FIFO or directory); name a regular file")]
    NotRegular,
    #[error("it is larger than the limit of {} MiB", MAX_FILE_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("it is not UTF-8 text")]
    NotText,
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`] as text. Devices and FIFOs are refused
/// before they are opened (opening a FIFO blocks until a writer comes; `/dev/zero` never
/// ends); the size is enforced while reading, so a file that grows does not get past it.
pub fn read_capped(path: &std::path::Path) -> Result<String, ReadError> {
    use std::io::Read as _;
    if !std::fs::metadata(path)?.is_file() {
        return Err(ReadError::NotRegular);
    }
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_huge_files_are_refused() {
        let err = read_file("/dev/zero").unwrap_err();
        assert_eq!(
            err,
            "Cannot read file /dev/zero: it is not a regular file (a device, FIFO or \
             directory); name a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = read_file(big.to_str().unwrap()).unwrap_err();
        assert!(err.ends_with("it is larger than the limit of 10 MiB"), "{err}");
        assert!(read_file(dir.path().to_str().unwrap()).unwrap_err().contains("not a regular"));
        assert_eq!(read_file("/nonexistent/x").unwrap_err(), "No such file /nonexistent/x");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        let err = read_file(fifo.to_str().unwrap()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
