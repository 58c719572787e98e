//! `cargo xtask bench server`: numbers, not assertions. Builds the release server and
//! prints start-up time to the first answered request, resident memory, and requests per
//! second under `wrk` (installed from Debian when missing) on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::schema::root;

const TOKEN: &str = "bench-admin-token";

pub fn server() -> Result<(), String> {
    eprintln!("==> building the release server");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "-p", "dstack-server"])
        .current_dir(root())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("release build failed".into());
    }
    let binary = root().join("target/release/dstack-server");
    let wrk = wrk()?;
    let lambda = fake_lambda()?;
    let dir = tempfile_dir("bench");

    let mut rows: Vec<(String, String)> = Vec::new();
    let (fresh, server) = start(&binary, &dir, &lambda)?;
    rows.push(("start to first get_info, fresh state dir".into(), ms(fresh)));
    rows.push(("resident memory after start".into(), rss(&server)?));
    drop(server);
    let (existing, server) = start(&binary, &dir, &lambda)?;
    rows.push(("start to first get_info, existing state".into(), ms(existing)));
    rows.push(("resident memory after start (existing state)".into(), rss(&server)?));

    let addr = server.addr;
    request(
        addr,
        "/api/project/main/backends/create_yaml",
        r#"{"config_yaml": "type: lambda\ncreds:\n  type: api_key\n  api_key: GOOD\n"}"#,
    )?;
    for (name, path) in [
        ("get_info", "/api/server/get_info"),
        ("projects/list", "/api/projects/list"),
        ("backends/lambda/config_info", "/api/project/main/backends/lambda/config_info"),
    ] {
        let rps = load(&wrk, addr, path)?;
        rows.push((format!("{name} requests/s (wrk, 2 threads, 32 connections, 10 s)"), rps));
    }
    rows.push(("resident memory after the load".into(), rss(&server)?));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n| measure | value |\n|---|---|");
    for (name, value) in rows {
        println!("| {name} | {value} |");
    }
    Ok(())
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts the server and polls get_info until it answers; returns the time from spawn.
fn start(binary: &Path, dir: &Path, lambda: &str) -> Result<(Duration, Server), String> {
    let port = free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let begun = Instant::now();
    let child = Command::new(binary)
        .env("DSTACK_SERVER_DIR", dir)
        .env("DSTACK_SERVER_PORT", port.to_string())
        .env("DSTACK_SERVER_ADMIN_TOKEN", TOKEN)
        .env("DSTACK_SERVER_LOG_LEVEL", "warning")
        .env("DSTACK_LAMBDA_API_URL", lambda)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let server = Server { child, addr };
    while begun.elapsed() < Duration::from_secs(30) {
        if request(addr, "/api/server/get_info", "").is_ok() {
            return Ok((begun.elapsed(), server));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err("the server did not answer within 30 s".into())
}

fn request(addr: SocketAddr, path: &str, body: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    if response.starts_with("HTTP/1.1 200") { Ok(response) } else { Err(response) }
}

fn rss(server: &Server) -> Result<String, String> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .map_err(|e| e.to_string())?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .ok_or("no VmRSS")?;
    Ok(format!("{:.1} MB", kb as f64 / 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn load(wrk: &Path, addr: SocketAddr, path: &str) -> Result<String, String> {
    let script = std::env::temp_dir().join("dstack-bench-post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\nwrk.headers[\"X-API-VERSION\"] = \"0.22.5\"\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let output = Command::new(wrk)
        .args(["-t2", "-c32", "-d10s", "-s"])
        .arg(&script)
        .arg(format!("http://{addr}{path}"))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("non-2xx answers under load for {path}:\n{text}"));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .map(|v| format!("{:.0}", v.trim().parse::<f64>().unwrap_or(0.0)))
        .ok_or_else(|| format!("unexpected wrk output:\n{text}"))
}

fn wrk() -> Result<PathBuf, String> {
    let found = || Command::new("wrk").arg("-v").output().ok().map(|_| PathBuf::from("wrk"));
    if let Some(wrk) = found() {
        return Ok(wrk);
    }
    eprintln!("==> installing wrk (apt-get install wrk)");
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    let _ = Command::new("apt-get")
        .args(["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    found().ok_or_else(|| "wrk is needed: install Debian's `wrk` package".to_owned())
}

/// Answers every request like Lambda's API answers a valid key, so the server can hold a
/// configured Lambda backend without reaching the internet.
fn fake_lambda() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let body = r#"{"data": {}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(format!("http://{addr}/api/v1"))
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dstack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
