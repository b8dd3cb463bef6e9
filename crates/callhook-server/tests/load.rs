//! Load against the real binary: a few thousand mixed requests at concurrency 32 (valid Graph
//! notifications with unique and repeated delivery ids, forged tokens of every kind, legacy bodies,
//! calls redirected to another region), then exact checks: every status as expected, every 202's id
//! delivered exactly once, and nothing forged, legacy or redirected delivered at all.
//!
//! The run is bounded in count and time (it fails rather than hangs); it measures nothing, as
//! speed is `cargo xtask bench`'s business.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use callhook_auth::testing::{DEV_PRIMARY_KID, DevIssuer};
use serde_json::json;
use support::{APP_ID, TENANT, delivered_ids, payload};

/// How many requests are sent, and by how many concurrent connections.
const REQUESTS: usize = 3_000;
const CONCURRENCY: usize = 32;
/// Past this the test fails instead of waiting any longer.
const LIMIT: Duration = Duration::from_secs(180);

/// The tenant whose incoming calls belong to the `amer` deployment.
const AMER_TENANT: &str = "0a0b0c0d-1111-2222-3333-444455556666";
const AMER_WEBHOOK: &str = "https://amer.bot.example.com/api/calls";

/// One planned request and what callhook must answer.
#[derive(Clone, Debug)]
struct Planned {
    id: String,
    token: Option<Arc<str>>,
    body: &'static str,
    expect: u16,
    /// Whether this id must reach the bot (exactly once).
    delivered: bool,
}

/// Every way a token can be forged that the test exercises, as header values.
fn forged_tokens(issuer: &DevIssuer) -> Vec<(&'static str, Option<Arc<str>>)> {
    let now = support::now();
    let mut expired = DevIssuer::standard_claims(APP_ID, TENANT, now);
    expired["exp"] = json!(now.as_secs() - 3_600);
    expired["nbf"] = json!(now.as_secs() - 3_900);
    let mut wrong_issuer = DevIssuer::standard_claims(APP_ID, TENANT, now);
    wrong_issuer["iss"] = json!("https://api.botframework.com.evil.example");
    // `alg: none` with the signature segment left empty.
    let signed = issuer.sign_raw(
        json!({"alg": "none", "kid": DEV_PRIMARY_KID})
            .to_string()
            .as_bytes(),
        DevIssuer::standard_claims(APP_ID, TENANT, now)
            .to_string()
            .as_bytes(),
    );
    let unsigned = format!("{}.", signed.rsplit_once('.').unwrap().0);
    let arc = |text: String| Some(Arc::<str>::from(text));
    vec![
        // Signed by another key under the trusted key's kid: a bad signature.
        (
            "bad-signature",
            arc(DevIssuer::rotated()
                .with_kid(DEV_PRIMARY_KID)
                .mint(&DevIssuer::standard_claims(APP_ID, TENANT, now))),
        ),
        (
            "wrong-audience",
            arc(issuer.mint(&DevIssuer::standard_claims("another-bot", TENANT, now))),
        ),
        ("expired", arc(issuer.mint(&expired))),
        ("wrong-issuer", arc(issuer.mint(&wrong_issuer))),
        ("alg-none", arc(unsigned)),
        ("no-token", None),
    ]
}

fn plan(issuer: &DevIssuer) -> Vec<Planned> {
    let now = support::now();
    // The platform reuses a token for its lifetime: a few tokens stand for its many requests.
    let valid: Vec<Arc<str>> = (0..4)
        .map(|nonce| {
            let mut claims = DevIssuer::standard_claims(APP_ID, TENANT, now);
            claims["nonce"] = json!(nonce);
            Arc::from(issuer.mint(&claims))
        })
        .collect();
    let amer: Arc<str> =
        Arc::from(issuer.mint(&DevIssuer::standard_claims(APP_ID, AMER_TENANT, now)));
    let forged = forged_tokens(issuer);
    let mut planned = Vec::with_capacity(REQUESTS);
    for index in 0..REQUESTS {
        let token = Some(Arc::clone(&valid[index % valid.len()]));
        let request = match index % 10 {
            0..=4 => Planned {
                id: format!("valid-{index}"),
                token,
                body: if index % 2 == 0 {
                    "incoming-call.json"
                } else {
                    "established.json"
                },
                expect: 202,
                delivered: true,
            },
            // The platform's retry of an earlier delivery: 202 again, not delivered again.
            5 => Planned {
                id: format!("valid-{}", index - 5),
                token,
                body: "incoming-call.json",
                expect: 202,
                delivered: true,
            },
            6 | 7 => {
                let (kind, token) = &forged[(index / 10 + index % 2) % forged.len()];
                Planned {
                    id: format!("forged-{kind}-{index}"),
                    token: token.clone(),
                    body: "incoming-call.json",
                    expect: 401,
                    delivered: false,
                }
            }
            8 => Planned {
                id: format!("legacy-{index}"),
                token,
                body: "legacy-conversation.json",
                expect: 204,
                delivered: false,
            },
            _ => Planned {
                id: format!("redirect-{index}"),
                token: Some(Arc::clone(&amer)),
                body: "incoming-call.json",
                expect: 302,
                delivered: false,
            },
        };
        planned.push(request);
    }
    planned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_mixed_requests_deliver_every_202_once_and_nothing_forged() {
    let issuer = support::Issuer::start().await;
    let bot = support::bot(200, Duration::ZERO).await;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}\
         [sink]\nkind = \"forward\"\nurl = \"{}/notifications\"\n\
         [routing]\nregion = \"emea\"\n[routing.deployments]\namer = \"{AMER_WEBHOOK}\"\n\
         [[routing.rules]]\ntenant = \"{AMER_TENANT}\"\nregion = \"amer\"\n",
        support::auth_section(&issuer.openid_url()),
        bot.uri()
    );
    let callhook = support::spawn_binary(env!("CARGO_BIN_EXE_callhook"), &toml, true).await;
    let url = callhook.url("/api/calls");
    let planned = Arc::new(plan(&issuer.dev));
    let bodies: Arc<BTreeMap<&str, Vec<u8>>> = Arc::new(
        [
            "incoming-call.json",
            "established.json",
            "legacy-conversation.json",
        ]
        .into_iter()
        .map(|name| (name, payload(name)))
        .collect(),
    );

    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (url, planned, bodies, next) = (
                url.clone(),
                Arc::clone(&planned),
                Arc::clone(&bodies),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                let client = support::client();
                let mut answers = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(request) = planned.get(index) else {
                        break;
                    };
                    let mut builder = client
                        .post(&url)
                        .header("Content-Type", "application/json; charset=utf-8")
                        .header("X-Microsoft-Skype-Message-ID", &request.id)
                        .body(bodies[request.body].clone());
                    if let Some(token) = &request.token {
                        builder = builder.header("Authorization", format!("Bearer {token}"));
                    }
                    let response = builder.send().await.unwrap();
                    let location = response
                        .headers()
                        .get("location")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    answers.push((index, response.status().as_u16(), location));
                }
                answers
            })
        })
        .collect();
    let answers = tokio::time::timeout(LIMIT, futures_util::future::join_all(workers))
        .await
        .expect("the load did not finish in time");

    let mut wrong = Vec::new();
    let mut answered = 0;
    for (index, status, location) in answers.into_iter().flat_map(Result::unwrap) {
        answered += 1;
        let request = &planned[index];
        if status != request.expect {
            wrong.push(format!(
                "{}: {status}, expected {}",
                request.id, request.expect
            ));
        }
        if status == 302 {
            let location = location.unwrap_or_default();
            assert!(
                location.starts_with(AMER_WEBHOOK),
                "{}: Location {location:?} is not the configured deployment",
                request.id
            );
        }
    }
    assert_eq!(answered, REQUESTS, "every request was answered");
    assert!(
        wrong.is_empty(),
        "{} unexpected statuses: {wrong:?}",
        wrong.len()
    );

    let delivered = delivered_ids(&bot).await;
    let must_deliver: HashSet<&str> = planned
        .iter()
        .filter(|request| request.delivered)
        .map(|request| request.id.as_str())
        .collect();
    let twice: Vec<_> = delivered.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let missing: Vec<_> = must_deliver
        .iter()
        .filter(|id| !delivered.contains_key(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "answered 202 but never delivered: {missing:?}"
    );
    let unexpected: Vec<_> = delivered
        .keys()
        .filter(|id| !must_deliver.contains(id.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "delivered although forged, legacy or redirected: {unexpected:?}"
    );
    let bot_requests = support::received(&bot).await.len();
    assert_eq!(
        bot_requests,
        must_deliver.len(),
        "one forward per delivered id"
    );
}
