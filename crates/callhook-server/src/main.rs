//! `callhook`: the command line of the reference server. It only parses arguments, loads the
//! configuration, sets up logging and runs; everything else lives in the library.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program talks to people on stdout and stderr"
)]

use std::path::PathBuf;
use std::process::ExitCode;

use callhook_server::config::Config;
use clap::{Parser, Subcommand, ValueEnum};

/// The exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

/// callhook: the webhook for Microsoft Teams calling bots.
#[derive(Debug, Parser)]
#[command(name = "callhook", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the webhook server. Settings come from FILE, overridden by `CALLHOOK_<SECTION>__<KEY>`.
    Serve {
        /// The TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The log format on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty, env = "CALLHOOK_LOG_FORMAT")]
        log_format: LogFormat,
        /// The log filter (tracing's `EnvFilter` syntax), e.g. `info` or `callhook=debug`.
        #[arg(long, default_value = "info", env = "CALLHOOK_LOG")]
        log: String,
    },
    /// Read one notification body and print what callhook makes of it, as one JSON object.
    Classify {
        /// The file to read, or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            log_format,
            log,
        } => serve(&config, log_format, &log),
        Command::Classify { file } => match callhook_server::classify::classify_source(&file) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("callhook classify: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(config_path: &std::path::Path, log_format: LogFormat, log: &str) -> ExitCode {
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("callhook: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(error) = init_logging(log_format, log) {
        eprintln!("callhook: --log: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let listener = match callhook_server::server::bind(&config) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("callhook: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = actix_web::rt::System::new()
        .block_on(async move { callhook_server::server::serve(config, listener).await });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("callhook: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}
