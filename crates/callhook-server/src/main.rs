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
    /// The zero-configuration tour: a local platform, an issuer and two deployments on loopback.
    #[cfg(feature = "dev-tools")]
    Demo {
        /// Play the tour once and exit (non-zero when a step failed) instead of serving until Ctrl-C.
        #[arg(long)]
        once: bool,
        /// Show the servers' logs too.
        #[arg(long)]
        verbose: bool,
    },
    /// Play the calling platform against a webhook, with tokens of the development issuer.
    #[cfg(feature = "dev-tools")]
    Simulate {
        /// The webhook's URL, e.g. <http://127.0.0.1:8080/api/calls>.
        #[arg(long)]
        target: String,
        /// A scenario to play (repeatable); by default every scenario marked `run_by_default`.
        #[arg(long = "scenario", value_name = "NAME")]
        scenarios: Vec<String>,
        /// A folder with `scenarios.toml` and payloads, instead of the built-in ones.
        #[arg(long = "scenarios", value_name = "DIR")]
        scenario_dir: Option<PathBuf>,
        /// The bot's app id (the tokens' `aud`).
        #[arg(long, default_value = callhook_server::devtools::demo::DEMO_APP_ID)]
        app_id: String,
        /// The caller's tenant (the tokens' `tid`).
        #[arg(long, default_value = callhook_server::devtools::demo::DEMO_TENANT)]
        tenant: String,
        /// List the scenarios and exit.
        #[arg(long)]
        list: bool,
        /// Play Graph too: start a local token endpoint and Graph on this address (for example
        /// 127.0.0.1:9090), for the bot to point its authority and Graph root at.
        #[arg(long, value_name = "ADDR")]
        graph_listen: Option<std::net::SocketAddr>,
        /// How long after a POST the bot's Graph action may arrive: the platform's 15 s, or 5 for
        /// a policy-based recording bot.
        #[arg(long, value_name = "SECONDS", default_value_t = 15)]
        answer_window_secs: u64,
    },
    /// The demo's bot on its own: behind `callhook serve`'s forward sink, it answers every incoming
    /// call through Graph with the callbackUri callhook forwards. Runs until SIGINT or SIGTERM.
    #[cfg(feature = "dev-tools")]
    Bot {
        /// The address to listen on; point `sink.url` at `http://ADDR/notifications`.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: std::net::SocketAddr,
        /// The Graph to answer through, as token authority and Graph root: the address of
        /// `callhook simulate --graph-listen`, as a URL (e.g. <http://127.0.0.1:9090>).
        #[arg(long, value_name = "URL")]
        graph_url: String,
        /// The bot's app id.
        #[arg(long, default_value = callhook_server::devtools::demo::DEMO_APP_ID)]
        app_id: String,
        /// The bot's client secret (the local Graph takes any).
        #[arg(long, env = "BOT_SECRET", default_value = callhook_server::devtools::demo::DEMO_SECRET)]
        secret: String,
        /// The tenant to ask app tokens for when callhook forwards none.
        #[arg(long, default_value = callhook_server::devtools::demo::DEMO_TENANT)]
        tenant: String,
        /// Append the message id of every delivery taken to FILE, before answering it.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// The development issuer: serve its OpenID configuration and keys, or mint a token.
    #[cfg(feature = "dev-tools")]
    Issuer {
        #[command(subcommand)]
        command: IssuerCommand,
    },
}

#[cfg(feature = "dev-tools")]
#[derive(Debug, Subcommand)]
enum IssuerCommand {
    /// Serve the OpenID configuration and key set on loopback until Ctrl-C.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: std::net::SocketAddr,
    },
    /// Print a token signed by the development issuer.
    Mint {
        /// The bot's app id (`aud`).
        #[arg(long, default_value = callhook_server::devtools::demo::DEMO_APP_ID)]
        app_id: String,
        /// The tenant (`tid`).
        #[arg(long, default_value = callhook_server::devtools::demo::DEMO_TENANT)]
        tenant: String,
        /// Lifetime in seconds (the platform's is 300).
        #[arg(long, default_value_t = 300)]
        lifetime_secs: u64,
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
        #[cfg(feature = "dev-tools")]
        Command::Demo { once, verbose } => dev::demo(once, verbose),
        #[cfg(feature = "dev-tools")]
        Command::Simulate {
            target,
            scenarios,
            scenario_dir,
            app_id,
            tenant,
            list,
            graph_listen,
            answer_window_secs,
        } => dev::simulate(
            &target,
            &scenarios,
            scenario_dir.as_deref(),
            dev::Audience { app_id, tenant },
            list,
            dev::GraphOptions {
                listen: graph_listen,
                answer_window: std::time::Duration::from_secs(answer_window_secs),
            },
        ),
        #[cfg(feature = "dev-tools")]
        Command::Bot {
            listen,
            graph_url,
            app_id,
            secret,
            tenant,
            record,
        } => dev::bot(callhook_server::devtools::bot::BotOptions {
            listen,
            graph_url,
            app_id,
            secret,
            tenant,
            record,
        }),
        #[cfg(feature = "dev-tools")]
        Command::Issuer { command } => match command {
            IssuerCommand::Serve { listen } => dev::issuer_serve(listen),
            IssuerCommand::Mint {
                app_id,
                tenant,
                lifetime_secs,
            } => dev::issuer_mint(&app_id, &tenant, lifetime_secs),
        },
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
    let _log_guard = match init_logging(log_format, log) {
        Ok(guard) => guard,
        Err(error) => {
            report(&format!("callhook: --log: {error}"));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let listener = match callhook_server::server::bind(&config) {
        Ok(listener) => listener,
        Err(error) => {
            report(&format!("callhook: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let reload_from = config_path.to_path_buf();
    let result = actix_web::rt::System::new().block_on(async move {
        callhook_server::server::serve_reloadable(config, listener, reload_from).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("callhook: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// The development commands: thin wrappers over `callhook_server::devtools`.
#[cfg(feature = "dev-tools")]
mod dev {
    use std::path::Path;
    use std::process::ExitCode;

    use callhook_server::devtools::demo::{self, DemoOptions};
    use callhook_server::devtools::output::{Printer, say};
    pub(crate) use callhook_server::devtools::simulate::Audience;
    use callhook_server::devtools::simulate::{ScenarioSet, Simulator, now, render};

    /// `callhook simulate`'s local Graph.
    #[derive(Clone, Copy)]
    pub(crate) struct GraphOptions {
        /// Where to start it, when it is wanted.
        pub(crate) listen: Option<std::net::SocketAddr>,
        /// How long after a POST the bot's action may arrive.
        pub(crate) answer_window: std::time::Duration,
    }

    pub(crate) fn demo(once: bool, verbose: bool) -> ExitCode {
        let _log_guard = if verbose {
            match super::init_logging(super::LogFormat::Pretty, "info") {
                Ok(guard) => Some(guard),
                Err(error) => {
                    eprintln!("callhook demo: {error}");
                    None
                }
            }
        } else {
            None
        };
        match actix_web::rt::System::new().block_on(demo::run(DemoOptions { once })) {
            Ok(outcome) if outcome.failed == 0 => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(error) => {
                eprintln!("callhook demo: {error}");
                ExitCode::FAILURE
            }
        }
    }

    pub(crate) fn simulate(
        target: &str,
        names: &[String],
        dir: Option<&Path>,
        audience: Audience,
        list: bool,
        graph: GraphOptions,
    ) -> ExitCode {
        let set = match dir.map_or_else(ScenarioSet::builtin, ScenarioSet::from_dir) {
            Ok(set) => set,
            Err(error) => {
                eprintln!("callhook simulate: {error}");
                return ExitCode::from(super::EXIT_CONFIG);
            }
        };
        if list {
            for scenario in set.scenarios() {
                let default = if scenario.run_by_default {
                    ""
                } else {
                    " (only when named)"
                };
                say(&format!(
                    "{:<16} {}{default}",
                    scenario.name, scenario.description
                ));
            }
            return ExitCode::SUCCESS;
        }
        let selected = match set.select(names) {
            Ok(selected) => selected,
            Err(error) => {
                eprintln!("callhook simulate: {error}");
                return ExitCode::from(super::EXIT_CONFIG);
            }
        };
        let simulator = match Simulator::new(target, audience) {
            Ok(simulator) => simulator.with_answer_window(graph.answer_window),
            Err(error) => {
                eprintln!("callhook simulate: {error}");
                return ExitCode::FAILURE;
            }
        };
        let printer = Printer::for_stdout();
        let graph_listener = match graph.listen.map(std::net::TcpListener::bind).transpose() {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("callhook simulate: cannot listen for the local Graph: {error}");
                return ExitCode::FAILURE;
            }
        };
        let outcome = actix_web::rt::System::new().block_on(async {
            let simulator = match graph_listener {
                None => simulator,
                Some(listener) => {
                    let graph = callhook_server::devtools::graph::start(listener)?;
                    say(&printer.dim(&format!(
                        "local Graph on {url}: point the bot's token authority and Graph root there \
                         (callhook_graph::Cloud::custom(\"{url}\", \"{url}\")); it takes any client secret",
                        url = graph.url
                    )));
                    let recorder = graph.recorder.clone();
                    actix_web::rt::spawn(graph.server);
                    simulator.with_graph(recorder)
                }
            };
            let (mut passed, mut failed) = (0, 0);
            for scenario in selected {
                let report = simulator.run(&set, scenario).await;
                failed += report.failures();
                passed += report.steps.len() - report.failures();
                say(&render(&report, printer));
            }
            Ok::<_, std::io::Error>((passed, failed))
        });
        let (passed, failed) = match outcome {
            Ok(counts) => counts,
            Err(error) => {
                eprintln!("callhook simulate: cannot start the local Graph: {error}");
                return ExitCode::FAILURE;
            }
        };
        let summary = format!("{passed} passed, {failed} failed");
        if failed == 0 {
            say(&printer.good(&summary));
            ExitCode::SUCCESS
        } else {
            say(&printer.bad(&summary));
            ExitCode::FAILURE
        }
    }

    pub(crate) fn bot(options: callhook_server::devtools::bot::BotOptions) -> ExitCode {
        match actix_web::rt::System::new().block_on(callhook_server::devtools::bot::serve(options))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("callhook bot: {error}");
                ExitCode::FAILURE
            }
        }
    }

    pub(crate) fn issuer_serve(listen: std::net::SocketAddr) -> ExitCode {
        let listener = match std::net::TcpListener::bind(listen) {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("callhook issuer serve: cannot listen on {listen}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let result = actix_web::rt::System::new().block_on(async move {
            let issuer = callhook_server::devtools::issuer::start(listener)?;
            println!(
                "development issuer: set `auth.openid_configuration = \"{}\"`\n\
                 mint tokens with `callhook issuer mint --app-id YOUR-APP-ID`; Ctrl-C stops",
                issuer.openid_configuration_url
            );
            let handle = issuer.server.handle();
            actix_web::rt::spawn(issuer.server);
            let _interrupted = tokio::signal::ctrl_c().await;
            handle.stop(true).await;
            Ok::<(), std::io::Error>(())
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("callhook issuer serve: {error}");
                ExitCode::FAILURE
            }
        }
    }

    pub(crate) fn issuer_mint(app_id: &str, tenant: &str, lifetime_secs: u64) -> ExitCode {
        say(&callhook_server::devtools::issuer::mint_token(
            app_id,
            tenant,
            now(),
            lifetime_secs,
        ));
        ExitCode::SUCCESS
    }
}

fn init_logging(
    format: LogFormat,
    filter: &str,
) -> Result<callhook_server::logging::LogGuard, callhook_server::logging::LogInitError> {
    callhook_server::logging::init(
        match format {
            LogFormat::Pretty => callhook_server::logging::LogFormat::Pretty,
            LogFormat::Json => callhook_server::logging::LogFormat::Json,
        },
        filter,
    )
}

/// A line on stderr that cannot panic: once the server runs, stderr may be a pipe whose reader
/// has gone away, and `eprintln!` panics on a failed write.
fn report(line: &str) {
    use std::io::Write as _;
    let _ignored = writeln!(std::io::stderr(), "{line}");
}
