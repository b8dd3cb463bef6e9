//! The development tools from a newcomer's side: `callhook demo --once`, `callhook simulate` against
//! a good and a bad webhook, user scenario folders, and `callhook issuer mint`.
#![cfg(feature = "dev-tools")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

mod support;

use std::process::{Command, Output};

use callhook_auth::testing::DevIssuer;
use callhook_auth::{KeySet, Verifier, VerifierConfig};
use callhook_protocol::{LegacyPolicy, Negotiation, negotiate};
use callhook_server::devtools::simulate::ScenarioSet;
use support::{APP_ID, Issuer, TENANT, auth_section, start};

const CALLHOOK: &str = env!("CARGO_BIN_EXE_callhook");

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_demo_plays_the_whole_tour_and_every_verdict_is_ok() {
    let output = Command::new(CALLHOOK)
        .args(["demo", "--once"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("18 passed, 0 failed"), "{shown}");
    assert!(!shown.contains("FAIL"), "{shown}");
    // The bot behind `emea` answered the call through the local Graph, naming emea's partition, and
    // the call's later notifications went to that callbackUri.
    let answer = shown
        .lines()
        .find(|line| line.contains("⇢ Graph") && line.contains("POST answer"))
        .unwrap_or_else(|| panic!("no answer step: {shown}"));
    assert!(answer.contains("ok"), "{answer}");
    let callback = shown
        .lines()
        .find_map(|line| line.trim().strip_prefix("callbackUri "))
        .unwrap_or_else(|| panic!("no callbackUri shown: {shown}"));
    assert!(
        callback.starts_with("http://127.0.0.1:") && callback.ends_with("/api/calls/emea-0"),
        "{callback}"
    );
    let to_the_partition = shown
        .lines()
        .filter(|line| line.trim_start().starts_with("POST") && line.contains("/api/calls/emea-0"))
        .count();
    assert_eq!(to_the_partition, 5, "{shown}");
    // The contract's tour: legacy → 204 → Graph re-send → 202; another region → 302 then 202 there;
    // a forged token → 401.
    let statuses: Vec<&str> = shown
        .lines()
        .filter(|line| line.trim_start().starts_with("POST") || line.contains("↪ POST"))
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| word.len() == 3 && word.parse::<u16>().is_ok())
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "204", "202", // incoming-call
            "202", "202", "202", "202", "202", "202", // answered-call
            "302", "202", // other-region
            "202", "202", "202", "202", "202", // call-lifecycle
            "401", "401", "401", "401" // attacks
        ],
        "{shown}"
    );
    assert!(
        shown.contains("callhook-hop=emea"),
        "the redirect is followed: {shown}"
    );
    assert!(
        !shown.contains('\u{1b}'),
        "no colour when NO_COLOR is set or not a terminal"
    );
}

fn simulate(target: &str, extra: &[&str]) -> Output {
    Command::new(CALLHOOK)
        .args([
            "simulate", "--target", target, "--app-id", APP_ID, "--tenant", TENANT,
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[actix_web::test]
async fn simulate_passes_against_callhook_and_fails_against_a_careless_webhook() {
    let issuer = Issuer::start().await;
    let callhook = start(&auth_section(&issuer.openid_url()), true).await;
    let target = callhook.url("/api/calls");
    let output = actix_web::rt::task::spawn_blocking(move || simulate(&target, &[]))
        .await
        .unwrap();
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("11 passed, 0 failed"), "{shown}");
    callhook.stop().await;

    // A webhook that answers 200 to everything: no legacy hop, no authentication.
    let careless = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&careless)
        .await;
    let target = format!("{}/api/calls", careless.uri());
    let output = actix_web::rt::task::spawn_blocking(move || simulate(&target, &[]))
        .await
        .unwrap();
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("FAIL") && shown.contains("expected 204, got 200"),
        "{shown}"
    );
    assert!(shown.contains("expected 401, got 200"), "{shown}");
    assert!(shown.contains("0 passed, 11 failed"), "{shown}");
}

#[test]
fn simulate_reports_an_unreachable_webhook_and_unknown_scenarios() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}/api/calls", closed.local_addr().unwrap());
    drop(closed);
    let output = simulate(&target, &["--scenario", "attacks"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("no answer"), "{}", text(&output));

    let output = simulate(&target, &["--scenario", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("no scenario `nope`; known: incoming-call"),
        "{}",
        text(&output)
    );
}

#[actix_web::test]
async fn users_can_write_their_own_scenarios_and_payloads() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("scenarios.toml"),
        "[[scenario]]\nname = \"mine\"\ndescription = \"my own call\"\n\
         [[scenario.step]]\npayload = \"my-call.json\"\nexpect = 202\nnote = \"my payload\"\n\
         [[scenario.step]]\npayload = \"my-call.json\"\nexpect = 401\ntoken = \"expired\"\n",
    )
    .unwrap();
    std::fs::write(
        folder.path().join("my-call.json"),
        support::payload("established.json"),
    )
    .unwrap();
    let issuer = Issuer::start().await;
    let callhook = start(&auth_section(&issuer.openid_url()), true).await;
    let target = callhook.url("/api/calls");
    let dir = folder.path().to_owned();
    let output = actix_web::rt::task::spawn_blocking(move || {
        simulate(&target, &["--scenarios", dir.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("2 passed, 0 failed"),
        "{}",
        text(&output)
    );
    callhook.stop().await;

    // A typo in a step is named, and so is a payload that is not there.
    std::fs::write(
        folder.path().join("scenarios.toml"),
        "[[scenario]]\nname = \"mine\"\ndescription = \"d\"\n[[scenario.step]]\npayload = \"my-call.json\"\nexpct = 202\n",
    )
    .unwrap();
    let output = simulate(
        "http://127.0.0.1:9/",
        &["--scenarios", folder.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("expct"), "{}", text(&output));
    std::fs::write(
        folder.path().join("scenarios.toml"),
        "[[scenario]]\nname = \"mine\"\ndescription = \"d\"\n[[scenario.step]]\npayload = \"gone.json\"\nexpect = 202\n",
    )
    .unwrap();
    let output = simulate(
        "http://127.0.0.1:9/",
        &["--scenarios", folder.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("gone.json"), "{}", text(&output));
}

#[test]
fn minted_tokens_verify_with_the_production_verifier() {
    let output = Command::new(CALLHOOK)
        .args([
            "issuer",
            "mint",
            "--app-id",
            APP_ID,
            "--tenant",
            TENANT,
            "--lifetime-secs",
            "600",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap();
    let keys: KeySet = DevIssuer::new().key_set();
    let verifier = Verifier::new(VerifierConfig::for_app_id(APP_ID));
    let claims = verifier
        .verify(token.trim(), &keys, support::now())
        .expect("a minted token verifies");
    assert_eq!(claims.tenant_id(), TENANT);
    assert_eq!(
        claims.expires_at().as_secs() - claims.not_before().unwrap().as_secs(),
        600
    );
    let other = Verifier::new(VerifierConfig::for_app_id("another-bot"));
    assert!(other.verify(token.trim(), &keys, support::now()).is_err());
}

#[test]
fn every_built_in_payload_is_a_notification_the_platform_could_send() {
    let set = ScenarioSet::builtin().unwrap();
    assert!(set.scenarios().len() >= 4);
    for scenario in set.scenarios() {
        for step in &scenario.steps {
            let body = std::fs::read(format!(
                "{}/scenarios/{}",
                env!("CARGO_MANIFEST_DIR"),
                step.payload
            ))
            .unwrap();
            let negotiation = negotiate(&body, LegacyPolicy::Redeliver);
            assert!(
                !matches!(negotiation, Negotiation::Invalid(_)),
                "{}: {negotiation:?}",
                step.payload
            );
        }
    }
}

#[actix_web::test]
async fn simulate_plays_graph_only_when_asked_and_fails_a_bot_that_never_answers() {
    let issuer = Issuer::start().await;
    // callhook with the log sink: nobody behind it answers calls.
    let callhook = start(&auth_section(&issuer.openid_url()), true).await;
    let target = callhook.url("/api/calls");
    let without = target.clone();
    let output = actix_web::rt::task::spawn_blocking(move || {
        simulate(&without, &["--scenario", "answered-call"])
    })
    .await
    .unwrap();
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("needs the local Graph"), "{shown}");

    let output = actix_web::rt::task::spawn_blocking(move || {
        simulate(
            &target,
            &[
                "--scenario",
                "answered-call",
                "--graph-listen",
                "127.0.0.1:0",
                "--answer-window-secs",
                "1",
            ],
        )
    })
    .await
    .unwrap();
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("local Graph on http://127.0.0.1:"),
        "{shown}"
    );
    assert!(
        shown.contains("the bot sent no answer through Graph within 1.0 s"),
        "{shown}"
    );
    assert!(shown.contains("0 passed, 6 failed"), "{shown}");
    callhook.stop().await;
}
