//! Reads notification bodies with `callhook-protocol` and `callhook-model`, the way a bot's webhook
//! handler would: decide the protocol and the answer, then look at what the platform said.
//!
//! ```text
//! cargo run -p callhook-examples --bin negotiate -- captured-body.json [more.json ...]
//! cargo run -p callhook-examples --bin negotiate                # a built-in incoming call
//! ```
#![allow(
    clippy::print_stdout,
    reason = "an example shows its results on the terminal"
)]

use anyhow::Context;
use callhook_protocol::{Action, LegacyPolicy, Negotiation, negotiate};

/// An incoming call as the platform's documentation shows it.
const INCOMING_CALL: &str = r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":[{
  "@odata.type":"#microsoft.graph.commsNotification","changeType":"created",
  "resourceUrl":"/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
  "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming","direction":"incoming",
    "source":{"identity":{"user":{"displayName":"Test User","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}},
              "region":"westus","languageId":"en-US"},
    "targets":[{"identity":{"application":{"displayName":"Test BOT","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}}}],
    "requestedModalities":["audio"]}}]}"##;

fn main() -> anyhow::Result<()> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        describe("built-in incoming call", INCOMING_CALL.as_bytes());
        return Ok(());
    }
    for path in paths {
        let body = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
        describe(&path, &body);
    }
    Ok(())
}

fn describe(name: &str, body: &[u8]) {
    let negotiation = negotiate(body, LegacyPolicy::Redeliver);
    let answer = match negotiation.action() {
        Action::Accept => "202 Accepted: hand it to the bot",
        Action::Redeliver => "204 No Content: the platform re-sends it in Graph format",
        Action::Reject => "400 Bad Request",
    };
    println!("{name}: {answer}");
    match &negotiation {
        Negotiation::Graph(notifications) => {
            for notification in notifications {
                println!(
                    "  {} {} (call {})",
                    notification
                        .change_type()
                        .map_or("?", |change| change.as_str()),
                    notification.resource_path().unwrap_or_default(),
                    notification.call_id().unwrap_or("?")
                );
                if notification.is_new_incoming_call()
                    && let Some(call) = notification.call()
                {
                    println!(
                        "    new incoming call from region {} to {:?}; answer it within 15 s",
                        call.source_region().unwrap_or("?"),
                        call.target_application_ids().collect::<Vec<_>>()
                    );
                }
            }
        }
        Negotiation::Legacy { notification, .. } => {
            println!(
                "  legacy {} {}",
                notification.kind().as_str(),
                notification.id().unwrap_or("?")
            );
        }
        Negotiation::Invalid(reason) => println!("  {reason}"),
        // The enum grows with the platform; a new kind of body is printed as such.
        _ => println!("  a kind of body this example does not know"),
    }
}
