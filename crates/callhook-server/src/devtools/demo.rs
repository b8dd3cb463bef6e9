//! `callhook demo`: the zero-configuration tour. A development issuer, a local Graph, a bot and two
//! deployments of callhook (`emea`, partition `emea-0`, forwarding to the bot; and `amer`) start on
//! loopback; the simulator plays the platform against `emea` and checks at the local Graph that the
//! bot answered with its callbackUri; then the servers keep running, with ready-to-paste commands
//! for sending more.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use callhook_graph::{Cloud, Credential, GraphClient};

use super::output::{Printer, say};
use super::simulate::{Audience, ScenarioSet, Simulator, render};
use super::{LocalPlatform, bot, issuer};
use crate::config::Config;

/// The bot's app id in the demo.
pub const DEMO_APP_ID: &str = "00000000-0000-0000-0000-00000000de70";
/// The caller's tenant in the demo.
pub const DEMO_TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The bot's client secret at the local Graph (which takes any).
pub const DEMO_SECRET: &str = "demo-secret";
/// The partition of the `emea` deployment.
pub const DEMO_PARTITION: &str = "emea-0";
/// The scenarios of the tour, in order.
const TOUR: [&str; 5] = [
    "incoming-call",
    "answered-call",
    "other-region",
    "call-lifecycle",
    "attacks",
];

/// How the demo runs.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Play the tour and stop (for scripts and tests), instead of serving until Ctrl-C.
    pub once: bool,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A loopback socket could not be bound.
    #[error("cannot listen on loopback: {0}")]
    Io(#[from] std::io::Error),
    /// A server could not start.
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    /// The demo's own configuration was refused (a bug).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The built-in scenarios could not be loaded (a bug).
    #[error(transparent)]
    Scenario(#[from] super::simulate::ScenarioError),
    /// The simulator could not start.
    #[error(transparent)]
    Simulator(#[from] super::simulate::SimulatorError),
    /// The servers never loaded the development issuer's keys.
    #[error("the demo deployments could not load the development issuer's keys")]
    KeysNotLoaded,
    /// The bot's Graph client could not be built (a bug).
    #[error("the demo bot's Graph client: {0}")]
    Graph(String),
}

/// What the demo showed.
#[derive(Debug, Clone, Copy)]
pub struct DemoOutcome {
    /// Steps whose answer was as expected.
    pub passed: usize,
    /// Steps whose answer was not.
    pub failed: usize,
}

/// Runs the demo, printing to standard output. Must run inside an actix system.
pub async fn run(options: DemoOptions) -> Result<DemoOutcome, DemoError> {
    let printer = Printer::for_stdout();
    let platform = LocalPlatform::start()?;
    let graph_client = GraphClient::builder(DEMO_APP_ID, Credential::secret(DEMO_SECRET))
        .cloud(
            Cloud::custom(&platform.graph_url, &platform.graph_url)
                .map_err(|error| DemoError::Graph(error.to_string()))?,
        )
        .tenant(DEMO_TENANT)
        .build()
        .map_err(|error| DemoError::Graph(error.to_string()))?;
    let bot = bot::start(TcpListener::bind("127.0.0.1:0")?, graph_client, None)?;
    let bot_handle = bot.server.handle();
    actix_web::rt::spawn(bot.server);

    let amer_listener = TcpListener::bind("127.0.0.1:0")?;
    let amer_url = format!("http://{}/api/calls", amer_listener.local_addr()?);
    let emea_listener = TcpListener::bind("127.0.0.1:0")?;
    let emea_origin = format!("http://{}", emea_listener.local_addr()?);
    let emea_url = format!("{emea_origin}/api/calls");

    let amer = Config::from_toml_str(&deployment_toml(
        &platform.openid_configuration_url,
        "[routing]\nregion = \"amer\"\n",
    ))?;
    let emea = Config::from_toml_str(&deployment_toml(
        &platform.openid_configuration_url,
        &format!(
            "[routing]\nregion = \"emea\"\n[routing.deployments]\namer = \"{amer_url}\"\n\
             [[routing.rules]]\ncaller_region = \"amer\"\nregion = \"amer\"\n\
             [partition]\nid = \"{DEMO_PARTITION}\"\npublic_url = \"{emea_origin}\"\n\
             [sink]\nkind = \"forward\"\nurl = \"{}\"\n",
            bot.url
        ),
    ))?;
    let amer_server = start_deployment(&amer, amer_listener).await?;
    let emea_server = start_deployment(&emea, emea_listener).await?;

    say(&format!(
        "\n{}\n{}\n",
        printer.heading(
            "callhook demo: a calling platform, an issuer, two deployments, a bot and Graph on loopback"
        ),
        printer.dim(&format!(
            "  issuer  {}\n  emea    {emea_url}   (routes callers from amer to amer; partition {DEMO_PARTITION})\n  \
             amer    {amer_url}\n  bot     {}   (behind emea; answers calls through the local Graph)\n  \
             graph   {}   (token endpoint and call actions)",
            platform.openid_configuration_url, bot.url, platform.graph_url
        )),
    ));

    let scenarios = ScenarioSet::builtin()?;
    let tour: Vec<String> = TOUR.iter().map(|name| (*name).to_owned()).collect();
    let simulator = Simulator::new(
        &emea_url,
        Audience {
            app_id: DEMO_APP_ID.to_owned(),
            tenant: DEMO_TENANT.to_owned(),
        },
    )?
    .with_graph(platform.graph.clone());
    let mut outcome = DemoOutcome {
        passed: 0,
        failed: 0,
    };
    for scenario in scenarios.select(&tour)? {
        let report = simulator.run(&scenarios, scenario).await;
        outcome.failed += report.failures();
        outcome.passed += report.steps.len() - report.failures();
        say(&render(&report, printer));
    }
    let summary = format!("{} passed, {} failed", outcome.passed, outcome.failed);
    if outcome.failed == 0 {
        say(&printer.good(&summary));
    } else {
        say(&printer.bad(&summary));
    }

    if !options.once {
        let token = issuer::mint_token(DEMO_APP_ID, DEMO_TENANT, super::simulate::now(), 3_600);
        // The running binary's own path, so the commands work whether or not callhook is installed.
        let program = std::env::current_exe()
            .map_or_else(|_| "callhook".to_owned(), |path| path.display().to_string());
        say(&format!(
            "\n{}\n\n  {}\n\n  {}\n\n  {}\n\n{}",
            printer.heading("callhook keeps serving. Send more from another terminal:"),
            printer.command(&format!(
                "curl -i -X POST {emea_url} -H 'Authorization: Bearer {token}' \
                 -H 'Content-Type: application/json' --data-binary @crates/callhook-server/scenarios/established.json"
            )),
            printer.command(&format!(
                "{program} simulate --target {emea_url} --app-id {DEMO_APP_ID} --tenant {DEMO_TENANT}"
            )),
            printer.command(&format!(
                "{program} classify crates/callhook-server/scenarios/incoming-call.json"
            )),
            printer.dim("(the token above is valid for one hour; Ctrl-C stops the demo)"),
        ));
        let _interrupted = tokio::signal::ctrl_c().await;
        say("\nstopping");
    }
    emea_server.stop(true).await;
    amer_server.stop(true).await;
    bot_handle.stop(true).await;
    platform.stop().await;
    Ok(outcome)
}

fn deployment_toml(openid_configuration_url: &str, routing: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\nshutdown_timeout_secs = 5\n\
         [auth]\napp_id = \"{DEMO_APP_ID}\"\nopenid_configuration = \"{openid_configuration_url}\"\n\
         retry_initial_ms = 100\nretry_max_ms = 1000\n{routing}"
    )
}

async fn start_deployment(
    config: &Config,
    listener: TcpListener,
) -> Result<actix_web::dev::ServerHandle, DemoError> {
    let authenticator = Arc::new(
        config
            .auth
            .build()
            .map_err(crate::server::ServeError::Auth)?,
    );
    if !authenticator
        .wait_until_ready(Duration::from_secs(10))
        .await
    {
        return Err(DemoError::KeysNotLoaded);
    }
    let server = crate::server::start(config, listener, authenticator)?;
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(handle)
}
