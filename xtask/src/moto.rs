//! moto, the AWS emulator, for the AWS backend's tests: `moto[server]` in a venv under
//! `target/e2e`, started on a free loopback port, stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::schema::root;

#[derive(Debug)]
pub struct Moto {
    pub url: String,
    child: Child,
}

impl Moto {
    pub fn start() -> Result<Moto, String> {
        let bin = crate::venv::MOTO.bin()?;
        let server = bin.join("moto_server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Refuse unknown instance types, AMIs and key pairs, as AWS does.
            .env("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "1")
            .env("MOTO_ENABLE_AMI_VALIDATION", "1")
            .env("MOTO_ENABLE_KEYPAIR_VALIDATION", "1")
            // The AMIs the backend looks for (dstack's and custom ones).
            .env("MOTO_AMIS_PATH", root().join("backends/aws/tests/moto/amis.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start moto_server: {e}"))?;
        let moto = Moto { url: format!("http://127.0.0.1:{port}"), child };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().map_err(|_| "bad address")?;
        let begun = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if begun.elapsed() > Duration::from_secs(30) {
                return Err("moto_server did not start within 30 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Default VPCs with internet gateways, as in a fresh AWS account.
        let shaped = Command::new(bin.join("python"))
            .arg(root().join("backends/aws/tests/moto/account.py"))
            .arg(&moto.url)
            .status()
            .is_ok_and(|s| s.success());
        if !shaped {
            return Err("cannot prepare moto's default VPCs (backends/aws/tests/moto/account.py)"
                .to_owned());
        }
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
