//! auto-answer: a complete minimal calling bot, composed from the callhook crates.
//!
//! - `callhook-auth` verifies every notification's token (actix-web middleware);
//! - `callhook-protocol` negotiates the format (legacy → 204, so the platform re-sends in Graph);
//! - `callhook-routing` gives this instance's partition and its `callbackUri`;
//! - `callhook-graph` answers each incoming call with service-hosted media and that callbackUri,
//!   plays a greeting once the call is established, and hangs up when the caller presses `#`.
//!
//! Offline, against the simulator playing both the platform and Graph (exit 0 only when the whole
//! call went through):
//!
//! ```text
//! cargo run -p callhook-examples --bin auto-answer -- --simulate
//! ```
//!
//! The same call by hand, with `callhook simulate` playing the platform and Graph:
//!
//! ```text
//! cargo run -p callhook-server -- issuer serve &      # the development issuer on 127.0.0.1:7070
//! APP_ID=00000000-0000-0000-0000-00000000de70 APP_SECRET=any PUBLIC_URL=http://127.0.0.1:8080 \
//! GREETING_URL=https://cdn.example.com/hello.wav GRAPH_URL=http://127.0.0.1:9090 \
//! OPENID_CONFIGURATION=http://127.0.0.1:7070/v1/.well-known/OpenIdConfiguration \
//!   cargo run -p callhook-examples --bin auto-answer &
//! cargo run -p callhook-server -- simulate --target http://127.0.0.1:8080/api/calls \
//!   --scenario auto-answer --graph-listen 127.0.0.1:9090
//! ```
//!
//! Against the real platform: register `{PUBLIC_URL}/api/calls` as the bot's calling webhook, give
//! the app the `Calls.AccessMedia.All` and `Calls.JoinGroupCall.All` application permissions, put
//! the bot behind TLS at `PUBLIC_URL`, and run:
//!
//! ```text
//! APP_ID=... APP_SECRET=... TENANT=contoso.onmicrosoft.com PUBLIC_URL=https://bot.example.com \
//! GREETING_URL=https://cdn.example.com/hello.wav LISTEN=0.0.0.0:8080 \
//!   cargo run -p callhook-examples --bin auto-answer
//! ```
#![allow(clippy::print_stdout, reason = "an example says what it does")]

use std::net::TcpListener;
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use callhook_auth::{Authenticator, OPENID_CONFIGURATION_PUBLIC, VerifiedClaims};
use callhook_graph::requests::{MediaInfo, PlayPromptRequest, Prompt, SubscribeToToneRequest};
use callhook_graph::{CallRef, Cloud, Credential, GraphClient, IncomingCall};
use callhook_model::graph::{CallState, CommsNotifications, Tone};
use callhook_protocol::{LegacyPolicy, Negotiation, negotiate};
use callhook_routing::{Partition, PartitionConfig, PartitionDecision};

/// What the bot needs to run.
struct Settings {
    app_id: String,
    openid_configuration: String,
    credential: Credential,
    tenant: Option<String>,
    cloud: Cloud,
    partition: PartitionConfig,
    greeting: String,
}

/// The bot's state, shared by every request.
struct Bot {
    graph: GraphClient,
    partition: Partition,
    greeting: String,
}

fn main() -> anyhow::Result<()> {
    let simulate = std::env::args()
        .skip(1)
        .any(|argument| argument == "--simulate");
    actix_web::rt::System::new().block_on(async {
        if simulate {
            return simulated::run().await;
        }
        let var = |name: &str| {
            std::env::var(name).map_err(|_| anyhow::anyhow!("set {name} (see the file's header)"))
        };
        // GRAPH_URL and OPENID_CONFIGURATION point it at `callhook simulate --graph-listen` and
        // `callhook issuer serve` instead of the public cloud.
        let cloud = match std::env::var("GRAPH_URL") {
            Ok(url) => Cloud::custom(&url, &url)?,
            Err(_) => Cloud::public(),
        };
        let settings = Settings {
            app_id: var("APP_ID")?,
            openid_configuration: std::env::var("OPENID_CONFIGURATION")
                .unwrap_or_else(|_| OPENID_CONFIGURATION_PUBLIC.to_owned()),
            credential: Credential::secret(var("APP_SECRET")?),
            tenant: std::env::var("TENANT").ok(),
            cloud,
            partition: PartitionConfig {
                id: std::env::var("PARTITION").unwrap_or_else(|_| "0".to_owned()),
                public_url: var("PUBLIC_URL")?,
                url_template: None,
            },
            greeting: var("GREETING_URL")?,
        };
        let listener = TcpListener::bind(
            std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_owned()),
        )?;
        println!("listening on {}", listener.local_addr()?);
        let (server, _keys) = start(settings, listener)?;
        server.await?;
        Ok(())
    })
}

/// Starts the bot's webhook on `listener`; it answers 503 until the platform's keys are loaded.
fn start(settings: Settings, listener: TcpListener) -> anyhow::Result<(Server, Authenticator)> {
    let authenticator = Authenticator::builder(&settings.app_id)
        .openid_configuration(&settings.openid_configuration)
        .build()?;
    let keys = authenticator.clone();
    let mut graph =
        GraphClient::builder(&settings.app_id, settings.credential).cloud(settings.cloud);
    if let Some(tenant) = settings.tenant {
        graph = graph.tenant(tenant);
    }
    let bot = web::Data::new(Bot {
        graph: graph.build()?,
        partition: Partition::build(&settings.partition, "/api/calls")?,
        greeting: settings.greeting,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(bot.clone())
            .wrap(callhook_auth::actix::Authenticate::new(
                authenticator.clone(),
            ))
            .route("/api/calls", web::post().to(webhook))
            .route("/api/calls/{partition}", web::post().to(callback))
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok((server, keys))
}

/// A notification for this instance's partition (`{webhook}/{id}`, named in the answer).
async fn callback(
    bot: web::Data<Bot>,
    partition: web::Path<String>,
    claims: VerifiedClaims,
    body: web::Bytes,
) -> HttpResponse {
    match bot.partition.decide_path_segment(&partition) {
        PartitionDecision::Own => webhook(bot, claims, body).await,
        _ => HttpResponse::MisdirectedRequest().finish(),
    }
}

/// Answers the platform at once; the Graph work runs after the answer.
async fn webhook(bot: web::Data<Bot>, claims: VerifiedClaims, body: web::Bytes) -> HttpResponse {
    let arrived = Instant::now(); // the answer window counts from here
    match negotiate(&body, LegacyPolicy::Redeliver) {
        Negotiation::Graph(notifications) => {
            let tenant = claims.tenant_id().to_owned();
            actix_web::rt::spawn(handle(bot, notifications, tenant, arrived));
            HttpResponse::Accepted().finish()
        }
        Negotiation::Legacy { .. } => HttpResponse::NoContent().finish(),
        other => HttpResponse::BadRequest()
            .body(other.invalid().map(ToString::to_string).unwrap_or_default()),
    }
}

/// Answers incoming calls, greets established ones, hangs up on `#`.
async fn handle(
    bot: web::Data<Bot>,
    notifications: CommsNotifications,
    tenant: String,
    arrived: Instant,
) {
    for incoming in IncomingCall::all(&notifications, arrived) {
        let incoming = incoming.or_tenant(&tenant);
        match bot
            .graph
            .answer(&incoming.call(), &incoming.answer(&bot.partition))
            .await
        {
            Ok(answered) => println!(
                "answered {} (request-id {})",
                incoming.call_id(),
                answered.request_id.as_deref().unwrap_or("-")
            ),
            Err(error) => println!("could not answer {}: {error}", incoming.call_id()),
        }
    }
    for notification in &notifications.value {
        let (Some(call_id), Some(call)) = (notification.call_id(), notification.call()) else {
            continue;
        };
        let call_ref = CallRef::new(call_id).tenant(&tenant);
        let pressed = call.tone_info.as_ref().and_then(|tone| tone.tone.as_ref());
        let result = match (call.state(), pressed) {
            (_, Some(Tone::Pound)) => bot.graph.hang_up(&call_ref).await.map(|_| "hung up"),
            (Some(CallState::Established), None) => greet(&bot, &call_ref).await,
            _ => continue,
        };
        match result {
            Ok(done) => println!("{done}: call {call_id}"),
            Err(error) => println!("call {call_id}: {error}"),
        }
    }
}

/// Plays the greeting and listens for the caller's keys.
async fn greet(bot: &Bot, call: &CallRef) -> Result<&'static str, callhook_graph::GraphError> {
    let greeting = PlayPromptRequest::new([Prompt::media(MediaInfo::new(&bot.greeting))])
        .client_context("greeting");
    bot.graph.play_prompt(call, &greeting).await?;
    bot.graph
        .subscribe_to_tone(call, &SubscribeToToneRequest::default())
        .await?;
    Ok("greeted; press # to hang up")
}

/// `--simulate`: the development issuer, a local Graph and the simulator, on loopback.
mod simulated {
    use std::net::TcpListener;
    use std::time::Duration;

    use callhook_graph::{Cloud, Credential};
    use callhook_routing::PartitionConfig;
    use callhook_server::devtools::LocalPlatform;
    use callhook_server::devtools::demo::{DEMO_APP_ID, DEMO_TENANT};
    use callhook_server::devtools::output::Printer;
    use callhook_server::devtools::simulate::{Audience, ScenarioSet, Simulator, render};

    use super::Settings;

    pub(super) async fn run() -> anyhow::Result<()> {
        let platform = LocalPlatform::start()?;

        let listener = TcpListener::bind("127.0.0.1:0")?;
        let public_url = format!("http://{}", listener.local_addr()?);
        let settings = Settings {
            app_id: DEMO_APP_ID.to_owned(),
            openid_configuration: platform.openid_configuration_url.clone(),
            credential: Credential::secret("the local Graph takes any secret"),
            tenant: None,
            cloud: Cloud::custom(&platform.graph_url, &platform.graph_url)?,
            partition: PartitionConfig {
                id: "auto-0".to_owned(),
                public_url: public_url.clone(),
                url_template: None,
            },
            greeting: "https://cdn.example.com/hello.wav".to_owned(),
        };
        let (bot, keys) = super::start(settings, listener)?;
        if !keys.wait_until_ready(Duration::from_secs(10)).await {
            anyhow::bail!("the development issuer's keys could not be loaded");
        }
        let bot_handle = bot.handle();
        actix_web::rt::spawn(bot);
        println!(
            "auto-answer at {public_url}/api/calls, Graph at {}",
            platform.graph_url
        );

        let simulator = Simulator::new(
            &format!("{public_url}/api/calls"),
            Audience {
                app_id: DEMO_APP_ID.to_owned(),
                tenant: DEMO_TENANT.to_owned(),
            },
        )?
        .with_graph(platform.graph.clone());
        let set = ScenarioSet::builtin()?;
        let mut failures = 0;
        for scenario in set.select(&["auto-answer".to_owned()])? {
            let report = simulator.run(&set, scenario).await;
            failures += report.failures();
            println!("{}", render(&report, Printer::for_stdout()));
        }
        // Every exchange of the call is over: nothing is left to drain.
        bot_handle.stop(false).await;
        platform.stop().await;
        if failures > 0 {
            anyhow::bail!("{failures} step(s) of the call failed");
        }
        println!("the whole call went through");
        Ok(())
    }
}
