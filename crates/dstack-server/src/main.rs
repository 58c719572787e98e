//! The `dstack-server` binary: flags and environment variables into settings, logging, and
//! the two things it does — serve, or check a config (`config check [--online]`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dstack_server::settings::{LogFormat, Settings, env};

/// The dstack server, in Rust: a drop-in for dstack's server (same config.yml, environment
/// variables and HTTP API).
#[derive(Debug, Parser)]
#[command(name = "dstack-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on [env: DSTACK_SERVER_HOST] [default: 127.0.0.1]
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on [env: DSTACK_SERVER_PORT] [default: 3000]
    #[arg(long)]
    port: Option<u16>,
    /// The admin user's token when the admin is first created
    /// [env: DSTACK_SERVER_ADMIN_TOKEN]
    #[arg(long)]
    token: Option<String>,
    /// Log level: error, warning, info, debug [env: DSTACK_SERVER_LOG_LEVEL] [default: info]
    #[arg(long, short = 'l')]
    log_level: Option<String>,
    /// Seconds one backend's credential check may take when config.yml is applied
    /// [env: DSTACK_SERVER_BACKEND_CHECK_TIMEOUT] [default: 10]
    #[arg(long)]
    backend_check_timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with the server's config.yml.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check config.yml: exit 0 if the server would start with it, 1 if not.
    ///
    /// Applies every rule the server applies before it starts (parsing, files named in the
    /// config, project names, encryption keys, each backend's own rules). Credentials are
    /// checked only with --online: that needs the clouds.
    Check {
        /// The file to check [default: $DSTACK_SERVER_DIR/config.yml, where DSTACK_SERVER_DIR
        /// defaults to ~/.dstack/server]
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Print the problems as a JSON list of {severity, path, line, column, message}
        /// (with --online: the backends as a list of {project, backend, status, reason,
        /// seconds}).
        #[arg(long)]
        json: bool,
        /// Also check every backend with its cloud (credentials, networks), all at once, each
        /// within the credential check timeout; exit 1 if any is refused.
        #[arg(long)]
        online: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Config(ConfigCommand::Check { file, json, online })) => {
            check(&cli, file.as_deref(), *json, *online)
        }
        None => run(cli),
    }
}

/// `config check`: offline, then with `--online` every backend's checks with its cloud.
fn check(cli: &Cli, file: Option<&std::path::Path>, json: bool, online: bool) -> ExitCode {
    let settings = match settings(cli) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut registry = dstack_server::registry::build(&dstack_server::registry::context(&settings));
    registry.set_timeouts(dstack_server::registry::timeouts(&settings));
    let outcome = dstack_server::check::check(file, &registry);
    let dstack_server::check::Outcome::Accepted { config, .. } = &outcome else {
        dstack_server::check::print(&outcome, json, read_source);
        return ExitCode::from(outcome.exit_code() as u8);
    };
    if !online {
        dstack_server::check::print(&outcome, json, read_source);
        return ExitCode::SUCCESS;
    }
    if !json {
        dstack_server::check::print(&outcome, false, read_source);
    }
    let context = dstack_core::backend::ValidationContext {
        default_creds_enabled: settings.default_creds_enabled,
    };
    let results = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(dstack_server::online::check(config, &registry, context)),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let _ = dstack_server::online::print(&results, json, &mut std::io::stdout().lock());
    ExitCode::from(dstack_server::online::exit_code(&results) as u8)
}

fn read_source(file: &str) -> Option<String> {
    dstack_core::config::files::read_capped(std::path::Path::new(file)).ok()
}

fn settings(cli: &Cli) -> Result<Settings, String> {
    let server_dir = dstack_server::paths::server_dir();
    let mut settings = Settings::for_dir(server_dir);
    if let Some(url) = env("DSTACK_DATABASE_URL") {
        // dstack's URLs name SQLAlchemy drivers (`postgresql+asyncpg://`); take the database.
        settings.database_url = url.replacen("postgresql+asyncpg://", "postgres://", 1).replacen(
            "sqlite+aiosqlite://",
            "sqlite://",
            1,
        );
    }
    if let Some(value) = env("DSTACK_DB_COMMAND_TIMEOUT") {
        let seconds: f64 =
            value.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0).ok_or_else(|| {
                format!("DSTACK_DB_COMMAND_TIMEOUT `{value}` is not a number of seconds")
            })?;
        // dstack reads 0 as "no timeout".
        settings.db_command_timeout = (seconds > 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    settings.host = cli.host.clone().or_else(|| env("DSTACK_SERVER_HOST")).unwrap_or(settings.host);
    settings.port = match (cli.port, env("DSTACK_SERVER_PORT")) {
        (Some(port), _) => port,
        (None, Some(port)) => {
            port.parse().map_err(|_| format!("DSTACK_SERVER_PORT `{port}` is not a port number"))?
        }
        (None, None) => settings.port,
    };
    settings.admin_token = cli.token.clone().or_else(|| env("DSTACK_SERVER_ADMIN_TOKEN"));
    settings.config_disabled = dstack_server::paths::config_disabled();
    settings.default_creds_enabled = std::env::var_os("DSTACK_DEFAULT_CREDS_DISABLED").is_none();
    settings.log_level = cli
        .log_level
        .clone()
        .or_else(|| env("DSTACK_SERVER_LOG_LEVEL"))
        .unwrap_or(settings.log_level)
        .to_lowercase();
    settings.log_format = match env("DSTACK_SERVER_LOG_FORMAT").as_deref() {
        None | Some("rich" | "standard") => LogFormat::Standard,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(format!(
                "DSTACK_SERVER_LOG_FORMAT `{other}` is not one of: rich, standard, json"
            ));
        }
    };
    let timeout = match (cli.backend_check_timeout, env("DSTACK_SERVER_BACKEND_CHECK_TIMEOUT")) {
        (Some(seconds), _) => seconds,
        (None, Some(value)) => value.parse().map_err(|_| {
            format!("DSTACK_SERVER_BACKEND_CHECK_TIMEOUT `{value}` is not a number of seconds")
        })?,
        (None, None) => settings.backend_check_timeout.as_secs(),
    };
    settings.backend_check_timeout = Duration::from_secs(timeout);
    settings.agent = dstack_core::provisioning::AgentSettings::from_vars(env);
    settings.endpoints = dstack_backend_kit::Endpoints::from_vars(env);
    settings.fleets = dstack_server::fleets::FleetSettings::from_vars(env)?;
    if let Some(value) = env("DSTACK_SERVER_EVENTS_TTL_SECONDS") {
        let seconds: f64 = value.trim().parse().map_err(|_| {
            format!("DSTACK_SERVER_EVENTS_TTL_SECONDS `{value}` is not a number of seconds")
        })?;
        settings.events_ttl = (seconds > 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    if let Some(dir) = env("DSTACK_SERVER_UI_DIR") {
        settings.ui_dir = dir.into();
    }
    Ok(settings)
}

fn init_logging(settings: &Settings) {
    let level = match settings.log_level.as_str() {
        "warning" | "warn" => "warn",
        "critical" => "error",
        other => other,
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "warn,dstack_server={level},dstack_core={level},dstack_catalog={level},dstack_backend={level}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Standard => builder.init(),
    }
}

fn run(cli: Cli) -> ExitCode {
    let settings = match settings(&cli) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let registry = dstack_server::registry::build(&dstack_server::registry::context(&settings));
        let started = match dstack_server::server::start(settings, registry).await {
            Ok(started) => started,
            Err(dstack_server::server::StartError::Config(report)) => {
                eprint!("{}", report.render());
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        };
        // DSTACK_SERVER_URL is what clients are told; by default this host and the real port.
        let url = dstack_server::settings::env("DSTACK_SERVER_URL").unwrap_or_else(|| {
            format!("http://{}:{}", started.state.settings.host, started.local_addr.port())
        });
        configure_the_cli(&url, started.admin.token.expose());
        println!("The admin user token is '{}'", started.admin.token.expose());
        println!(
            "The dstack server {} is running at {url}",
            dstack_server::settings::DSTACK_VERSION,
        );
        match dstack_server::server::serve(started, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Makes the `main` project the CLI's default in `~/.dstack/config.yml`, as dstack's server
/// does at start (see `client_config`). A failure is reported; the server starts anyway.
fn configure_the_cli(url: &str, token: &str) {
    use dstack_server::client_config::{self, Mode, Outcome};
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else { return };
    let path = client_config::path_in(std::path::Path::new(&home));
    let ask = |question: &str| {
        use std::io::{BufRead, IsTerminal, Write};
        if !std::io::stdin().is_terminal() {
            tracing::info!(
                "{question} Not without a terminal: set DSTACK_UPDATE_DEFAULT_PROJECT to do it"
            );
            return false;
        }
        print!("{question} [y/n] (n): ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes")
    };
    match client_config::configure(
        &path,
        dstack_server::services::DEFAULT_PROJECT,
        url,
        token,
        Mode::from_env(),
        ask,
    ) {
        Ok(Outcome::Configured(path)) => {
            tracing::info!("Configured the main project in {}", path.display());
        }
        Ok(_) => {}
        Err(err) => tracing::warn!("Not configuring the CLI: {err}"),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
