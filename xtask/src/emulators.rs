//! The backends' emulators, as their manifests declare them (`[package.metadata.dstack.
//! emulator]`, read by `tidy`): installed into a venv, started on a free loopback port, made
//! ready by their setup command, stopped when dropped. Nothing here knows a cloud.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tidy::Emulator;
use crate::venv::Tool;

/// How long an emulator may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running emulator.
#[derive(Debug)]
pub struct Running {
    /// The variable the tests read its URL from, and the URL.
    pub variable: String,
    pub url: String,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fills `{port}`, `{url}` and `{crate}` in.
fn fill(text: &str, emulator: &Emulator, port: u16) -> String {
    text.replace("{port}", &port.to_string())
        .replace("{url}", &format!("http://127.0.0.1:{port}"))
        .replace("{crate}", &emulator.dir.display().to_string())
}

/// Installs and starts `emulator`; ready when this returns.
pub fn start(emulator: &Emulator) -> Result<Running, String> {
    let bin = Tool::pinned(&emulator.pypi)?.bin()?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let (program, args) = emulator
        .command
        .split_first()
        .ok_or_else(|| format!("the {} emulator declares no command", emulator.name))?;
    let mut command = Command::new(bin.join(program));
    command.args(args.iter().map(|a| fill(a, emulator, port)));
    for (name, value) in &emulator.env {
        command.env(name, fill(value, emulator, port));
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let running = Running {
        variable: emulator.url_variable.clone(),
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let begun = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if begun.elapsed() > START_TIMEOUT {
            return Err(format!("{program} did not listen within {}s", START_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some((program, args)) = emulator.setup.split_first() {
        let ready = Command::new(bin.join(program))
            .args(args.iter().map(|a| fill(a, emulator, port)))
            .status()
            .is_ok_and(|s| s.success());
        if !ready {
            return Err(format!(
                "the {} emulator's setup failed: {:?}",
                emulator.name, emulator.setup
            ));
        }
    }
    Ok(running)
}
