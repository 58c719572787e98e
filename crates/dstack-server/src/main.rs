use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The dstack server, in Rust.
#[derive(Debug, Parser)]
#[command(name = "dstack-server", version, about, subcommand_required = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with the server's config.yml.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check config.yml offline: exit 0 if the server would start with it, 1 if not.
    ///
    /// Applies every rule the server applies before it starts (parsing, files named in the
    /// config, project names, encryption keys). Credentials are not checked: that needs the
    /// clouds, and the server does it when it applies the config.
    Check {
        /// The file to check [default: $DSTACK_SERVER_DIR/config.yml, where DSTACK_SERVER_DIR
        /// defaults to ~/.dstack/server]
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Print the problems as a JSON list of {severity, path, line, column, message}.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(ConfigCommand::Check { file, json }) => {
            let registry = dstack_server::registry::build();
            let outcome = dstack_server::check::check(file.as_deref(), &registry);
            dstack_server::check::print(&outcome, json, |f| std::fs::read_to_string(f).ok());
            ExitCode::from(outcome.exit_code() as u8)
        }
    }
}
