//! The real-world bodies of `shared/realworld` posted to callhook over real sockets, with a valid
//! token: every body labelled `graph` is accepted (202) and reaches the bot byte for byte, every
//! body labelled `legacy` gets 204, and every body that is no notification gets 400 with its reason.
//! The routed configuration runs the same bodies through the routing facts as well.
//!
//! The bodies are other projects' data and stay out of this repository: they are read from
//! `shared/realworld/` beside the checkout. Without it, the test prints one line saying so and
//! passes.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "helpers of tests: a panic is a failed test, and a skip is said on stdout"
)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{Issuer, TENANT, auth_section, bot, post, received, start};

/// Each labelled body of `SOURCES.md`: name, label, bytes; `None` (after saying so) without it.
fn labelled_bodies() -> Option<Vec<(String, String, Vec<u8>)>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realworld");
    let Ok(sources) = std::fs::read_to_string(root.join("SOURCES.md")) else {
        println!(
            "skipped: the real-world bodies are not at {} (they live in shared/realworld)",
            root.display()
        );
        return None;
    };
    let bodies = sources
        .lines()
        .filter_map(|line| {
            let name = line
                .strip_prefix("- `bodies/")?
                .split('`')
                .next()?
                .to_owned();
            let label = line
                .split("**expected: ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_alphabetic())
                .next()?
                .to_owned();
            let bytes = std::fs::read(root.join("bodies").join(&name)).unwrap();
            Some((name, label, bytes))
        })
        .collect::<Vec<_>>();
    assert_eq!(bodies.len(), 135, "SOURCES.md counts 135 bodies");
    Some(bodies)
}

async fn post_every_body(extra: &str) {
    let Some(bodies) = labelled_bodies() else {
        return;
    };
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}[sink]\nkind = \"forward\"\nurl = \"{}/notifications\"\ntimeout_ms = 5000\n{extra}",
        auth_section(&issuer.openid_url()),
        bot.uri()
    );
    let callhook = start(&toml, true).await;
    let token = issuer.token_for(TENANT);
    let mut graph = Vec::new();
    for (index, (name, label, bytes)) in bodies.iter().enumerate() {
        let message_id = format!("realworld-{index}");
        let response = post(
            &callhook.url("/api/calls"),
            Some(&token),
            Some(&message_id),
            bytes.clone(),
        )
        .await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let expected = match label.as_str() {
            "graph" => 202,
            "legacy" => 204,
            _ => 400,
        };
        assert_eq!(status, expected, "{name} ({label}): {text}");
        if label == "neither" {
            // The problem document names the reason.
            let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(!detail.is_empty(), "{name}: {text}");
        }
        if label == "graph" {
            graph.push(bytes.clone());
        }
    }
    // Every Graph body reached the bot, once and unchanged, in order.
    let delivered: Vec<Vec<u8>> = received(&bot)
        .await
        .into_iter()
        .map(|request| request.body)
        .collect();
    assert_eq!(delivered.len(), graph.len());
    assert!(
        delivered == graph,
        "a body was changed on its way to the bot"
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn every_real_world_body_gets_the_answer_its_label_calls_for() {
    post_every_body("").await;
}

#[actix_web::test]
async fn with_routing_the_real_world_bodies_are_answered_the_same() {
    // No rule matches these bodies' tenants or callers, so each is handled here, after its facts
    // were read for the rules.
    post_every_body(
        "[routing]\nregion = \"emea\"\n[routing.deployments]\namer = \"https://amer.bot.example.com/api/calls\"\n\
         [[routing.rules]]\ntenant = \"00000000-0000-0000-0000-00000000a3e7\"\nregion = \"amer\"\n\
         [[routing.rules]]\ncaller_region = \"nowhere\"\nregion = \"amer\"\n",
    )
    .await;
}
