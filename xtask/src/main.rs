//! Project tasks, run as `cargo xtask <task>`.

mod bench;
mod browser;
mod emulators;
mod fuzz;
mod postgres;
mod reference;
mod schema;
mod sshd;
mod test;
mod tidy;
mod ui;
mod venv;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  gen-schema [--check]   write docs/schemas/server-config.schema.json and
                         docs/reference/server-config.md from the Rust types;
                         with --check, fail if they are stale instead
  test                   run every check CI runs: formatting, clippy,
                         generated files, all tests (sets up PostgreSQL,
                         moto, the dstack CLI, schemathesis, and Chromium,
                         playwright-core and the web UI for the browser
                         test) and a short fuzzing run
  ui [--dir DIR]         download the dstack==0.22.5 wheel from PyPI and
                         unpack its prebuilt web UI (MPL-2.0, license kept
                         beside it) into DIR, by default where the server
                         serves it from: $DSTACK_SERVER_UI_DIR, else ui/ in
                         $DSTACK_SERVER_DIR (~/.dstack/server)
  browser-test           set up what the web UI's browser test needs (as `test`
                         does) and run that test alone
  fuzz [--seconds N]     run each fuzz target of fuzz/ for N seconds
                         (default 60) with cargo-fuzz
  bench server           print the server's start-up time, memory and
                         requests/s (release build, wrk on loopback)
  bench offers           time one query over a 100,000-row catalog here and
                         in gpuhunt 0.1.30, and print the ratio";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["gen-schema"] => match schema::write() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("gen-schema: {err}");
                ExitCode::FAILURE
            }
        },
        ["gen-schema", "--check"] => {
            let stale = schema::stale();
            if stale.is_empty() {
                println!("generated files are up to date");
                ExitCode::SUCCESS
            } else {
                for path in stale {
                    eprintln!("stale: {}", path.display());
                }
                eprintln!("run `cargo xtask gen-schema` and commit the result");
                ExitCode::FAILURE
            }
        }
        ["bench", "server"] => match bench::server() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bench: {err}");
                ExitCode::FAILURE
            }
        },
        ["bench", "offers"] => match bench::offers() {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bench: {err}");
                ExitCode::FAILURE
            }
        },
        ["fuzz"] => exit(fuzz::run(60)),
        ["fuzz", "--seconds", seconds] => match seconds.parse() {
            Ok(seconds) => exit(fuzz::run(seconds)),
            Err(_) => {
                eprintln!("fuzz: `{seconds}` is not a number of seconds");
                ExitCode::from(2)
            }
        },
        ["ui", rest @ ..] => exit(ui::run(rest)),
        ["browser-test"] => exit(browser::test()),
        ["test"] => match test::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
