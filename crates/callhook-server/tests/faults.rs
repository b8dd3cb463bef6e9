//! Fault injection, end to end over real sockets: the issuer down at start, down later, slow,
//! serving garbage or huge documents, rotating keys under traffic; a flapping bot under concurrent
//! traffic; SIGTERM to the real binary under load. In every case: no legitimate request fails
//! that could have succeeded, no 202 for anything that was not delivered, and nothing unverified
//! reaches the bot.
//!
//! (Faults already covered elsewhere are not repeated: the issuer never up and the bot down, slow
//! or answering 500 in `contract.rs`; SIGTERM with a few requests in flight in `binary.rs`; the key
//! source's own rotation, slowness and garbage handling in callhook-auth's `key_source.rs`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use callhook_auth::testing::DevIssuer;
use support::{APP_ID, TENANT, bot, delivered_ids, payload, post, received, start};
use wiremock::matchers::{header_regex, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INCOMING: &str = "incoming-call.json";
const OPENID_PATH: &str = "/v1/.well-known/OpenIdConfiguration";
const KEYS_PATH: &str = "/v1/keys";

/// An issuer whose answers a test swaps while callhook runs. Each new answer is mounted with a
/// higher priority than the last, so the swap is atomic: no request ever sees no mock at all.
struct SwappableIssuer {
    server: MockServer,
    next_priority: std::sync::atomic::AtomicU8,
}

impl SwappableIssuer {
    async fn start() -> Self {
        Self {
            server: MockServer::start().await,
            next_priority: std::sync::atomic::AtomicU8::new(200),
        }
    }

    fn openid_url(&self) -> String {
        format!("{}{OPENID_PATH}", self.server.uri())
    }

    fn priority(&self) -> u8 {
        self.next_priority.fetch_sub(1, Ordering::SeqCst)
    }

    /// Serves a good OpenID configuration and this key set from now on.
    async fn publish(&self, keys: &[&DevIssuer]) {
        let jwks = DevIssuer::jwks_json_of(keys);
        self.answer(
            ResponseTemplate::new(200).set_body_raw(jwks, "application/json"),
            Duration::ZERO,
        )
        .await;
    }

    /// Serves a good OpenID configuration and `keys_answer` for the key set, both after `delay`.
    async fn answer(&self, keys_answer: ResponseTemplate, delay: Duration) {
        let priority = self.priority();
        let openid = DevIssuer::new().openid_configuration_json(
            "https://api.botframework.com",
            &format!("{}{KEYS_PATH}", self.server.uri()),
        );
        Mock::given(method("GET"))
            .and(path(OPENID_PATH))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(openid, "application/json")
                    .set_delay(delay),
            )
            .with_priority(priority)
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(KEYS_PATH))
            .respond_with(keys_answer.set_delay(delay))
            .with_priority(priority)
            .mount(&self.server)
            .await;
    }

    /// Answers every request with `status` from now on.
    async fn fail_with(&self, status: u16) {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status))
            .with_priority(self.priority())
            .mount(&self.server)
            .await;
    }

    async fn openid_requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path() == OPENID_PATH)
            .count()
    }
}

/// A token from `issuer` for the test tenant; `nonce` makes the token string unique, so that it
/// cannot be answered from callhook's cache of verified tokens.
fn token(issuer: &DevIssuer, nonce: u64) -> String {
    let mut claims = DevIssuer::standard_claims(APP_ID, TENANT, support::now());
    claims["nonce"] = serde_json::json!(nonce);
    issuer.mint(&claims)
}

fn auth_section(openid_url: &str, extra: &str) -> String {
    format!(
        "[auth]\napp_id = \"{APP_ID}\"\nopenid_configuration = \"{openid_url}\"\n\
         retry_initial_ms = 50\nretry_max_ms = 200\nfetch_timeout_ms = 10000\n{extra}"
    )
}

fn forward_section(bot_uri: &str) -> String {
    format!("[sink]\nkind = \"forward\"\nurl = \"{bot_uri}/notifications\"\ntimeout_ms = 5000\n")
}

async fn readyz(callhook: &support::Running) -> u16 {
    support::client()
        .get(callhook.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls `check` every 50 ms, at most `attempts` times; returns whether it became true.
async fn eventually<F, Fut>(attempts: usize, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..attempts {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[actix_web::test]
async fn an_issuer_down_at_start_recovers_on_its_own_without_a_restart() {
    let issuer = SwappableIssuer::start().await;
    issuer.fail_with(503).await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url(), ""),
        forward_section(&bot.uri())
    );
    let callhook = start(&toml, false).await;
    let dev = DevIssuer::new();
    let url = callhook.url("/api/calls");

    // While the issuer is down: 503 with Retry-After (the platform retries), not ready, and
    // callhook keeps retrying in the background.
    let response = post(
        &url,
        Some(&token(&dev, 1)),
        Some("down-1"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(readyz(&callhook).await, 503);
    assert!(
        eventually(100, || async { issuer.openid_requests().await >= 3 }).await,
        "callhook does not retry the issuer"
    );

    // The issuer comes back: callhook becomes ready by itself and the same request succeeds.
    issuer.publish(&[&dev]).await;
    assert!(
        eventually(200, || async { readyz(&callhook).await == 200 }).await,
        "callhook never became ready after the issuer recovered"
    );
    let response = post(
        &url,
        Some(&token(&dev, 1)),
        Some("down-1"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        delivered_ids(&bot).await,
        HashMap::from([("down-1".to_owned(), 1)])
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn an_issuer_down_later_leaves_the_old_keys_working() {
    let issuer = SwappableIssuer::start().await;
    let dev = DevIssuer::new();
    issuer.publish(&[&dev]).await;
    let bot = bot(200, Duration::ZERO).await;
    // Periodic refreshes every second and unknown-kid refreshes without cooldown, so that the
    // outage is actually hit many times during the test.
    let toml = format!(
        "{}{}",
        auth_section(
            &issuer.openid_url(),
            "refresh_interval_secs = 1\nrefresh_cooldown_secs = 0\n"
        ),
        forward_section(&bot.uri())
    );
    let callhook = start(&toml, true).await;
    let url = callhook.url("/api/calls");
    let response = post(
        &url,
        Some(&token(&dev, 1)),
        Some("before"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 202);

    for (outage, status) in [("503", 503), ("404", 404), ("500", 500)] {
        issuer.fail_with(status).await;
        let failures_before = callhook.authenticator.key_status().refresh_failed;
        // An unknown kid forces a refresh through the server, which fails.
        let stranger = DevIssuer::rotated();
        let response = post(&url, Some(&token(&stranger, 2)), None, payload(INCOMING)).await;
        assert_eq!(
            response.status(),
            401,
            "{outage}: an unknown key is refused, not 503"
        );
        assert!(
            eventually(100, || async {
                callhook.authenticator.key_status().refresh_failed > failures_before + 1
            })
            .await,
            "{outage}: the refreshes did not fail"
        );
        // Fresh tokens (never cached) with the old key keep working, and callhook stays ready.
        for nonce in 10..13 {
            let id = format!("during-{outage}-{nonce}");
            let response = post(
                &url,
                Some(&token(&dev, nonce)),
                Some(&id),
                payload(INCOMING),
            )
            .await;
            assert_eq!(
                response.status(),
                202,
                "{outage}: a known key stopped working"
            );
        }
        assert_eq!(readyz(&callhook).await, 200);
    }
    assert_eq!(delivered_ids(&bot).await.len(), 10);
    assert!(callhook.authenticator.key_status().ready);
    callhook.stop().await;
}

#[actix_web::test]
async fn a_slow_issuer_never_delays_tokens_with_known_keys() {
    let issuer = SwappableIssuer::start().await;
    let dev = DevIssuer::new();
    let rotated = DevIssuer::rotated();
    issuer.publish(&[&dev]).await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url(), "refresh_cooldown_secs = 0\n"),
        forward_section(&bot.uri())
    );
    let callhook = start(&toml, true).await;
    let url = callhook.url("/api/calls");

    // From now on the issuer takes 3 s per document; it then publishes both keys.
    let requests_before = issuer.openid_requests().await;
    issuer
        .answer(
            ResponseTemplate::new(200).set_body_raw(
                DevIssuer::jwks_json_of(&[&dev, &rotated]),
                "application/json",
            ),
            Duration::from_secs(3),
        )
        .await;
    // A token with the new key starts a refresh that hangs on the slow issuer.
    let hanging = {
        let url = url.clone();
        let rotated_token = token(&rotated, 1);
        tokio::spawn(async move {
            post(
                &url,
                Some(&rotated_token),
                Some("new-key"),
                payload(INCOMING),
            )
            .await
            .status()
        })
    };
    assert!(
        eventually(100, || async {
            issuer.openid_requests().await > requests_before
        })
        .await,
        "the unknown kid did not start a refresh"
    );

    // While that refresh hangs, tokens with the known key are answered: each of these completes
    // before the hanging request does.
    for nonce in 2..7 {
        let id = format!("known-{nonce}");
        let response = post(
            &url,
            Some(&token(&dev, nonce)),
            Some(&id),
            payload(INCOMING),
        )
        .await;
        assert_eq!(response.status(), 202);
        assert!(
            !hanging.is_finished(),
            "the refresh finished before the known-kid requests: the test proves nothing"
        );
    }
    // And the hanging request succeeds once the slow issuer answers with the new key.
    assert_eq!(hanging.await.unwrap(), 202);
    assert_eq!(delivered_ids(&bot).await.len(), 6);
    callhook.stop().await;
}

#[actix_web::test]
async fn garbage_or_huge_key_documents_keep_the_old_keys() {
    let issuer = SwappableIssuer::start().await;
    let dev = DevIssuer::new();
    issuer.publish(&[&dev]).await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url(), "refresh_cooldown_secs = 0\n"),
        forward_section(&bot.uri())
    );
    let callhook = start(&toml, true).await;
    let url = callhook.url("/api/calls");

    // A document just over the 1 MiB cap, valid JSON all the way: refused for its size alone.
    let mut huge = String::from("{\"keys\":[");
    huge.push_str(&DevIssuer::rotated().jwk().to_string());
    huge.push_str(&" ".repeat(callhook_auth::MAXIMUM_KEY_DOCUMENT_BYTES));
    huge.push_str("]}");
    let weak_only = serde_json::json!({ "keys": [DevIssuer::weak_rsa_1024_jwk(callhook_auth::testing::DEV_ROTATED_KID)] });
    let hostile: Vec<(&str, ResponseTemplate)> = vec![
        (
            "not JSON",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
        ),
        ("empty", ResponseTemplate::new(200)),
        (
            "no keys array",
            ResponseTemplate::new(200).set_body_string("{\"kys\":[]}"),
        ),
        (
            "empty key set",
            ResponseTemplate::new(200).set_body_string("{\"keys\":[]}"),
        ),
        (
            "only a 1024-bit key",
            ResponseTemplate::new(200).set_body_json(weak_only),
        ),
        (
            "over 1 MiB",
            ResponseTemplate::new(200).set_body_string(huge),
        ),
        (
            "a redirect to the real keys",
            ResponseTemplate::new(302).insert_header("Location", "/v1/keys-real"),
        ),
    ];
    let mut expected_deliveries = 0;
    for (nonce, (what, answer)) in (100..).zip(hostile) {
        issuer.answer(answer, Duration::ZERO).await;
        let failures_before = callhook.authenticator.key_status().refresh_failed;
        // A token claiming the rotated kid forces a refresh through the server; the hostile
        // document must not make it verify, and must not replace the good keys.
        let response = post(
            &url,
            Some(&token(&DevIssuer::rotated(), nonce)),
            None,
            payload(INCOMING),
        )
        .await;
        assert_eq!(response.status(), 401, "{what}: an unknown key got through");
        assert!(
            callhook.authenticator.key_status().refresh_failed > failures_before,
            "{what}: the refresh was not refused"
        );
        let id = format!("after-{nonce}");
        let response = post(
            &url,
            Some(&token(&dev, nonce)),
            Some(&id),
            payload(INCOMING),
        )
        .await;
        assert_eq!(response.status(), 202, "{what}: the old keys were dropped");
        expected_deliveries += 1;
        assert_eq!(callhook.authenticator.key_status().key_count, 1, "{what}");
    }
    assert_eq!(delivered_ids(&bot).await.len(), expected_deliveries);
    callhook.stop().await;
}

#[actix_web::test]
async fn a_key_rotation_under_traffic_fails_no_legitimate_request() {
    let issuer = SwappableIssuer::start().await;
    let (old, new) = (DevIssuer::new(), DevIssuer::rotated());
    issuer.publish(&[&old]).await;
    let bot = bot(200, Duration::ZERO).await;
    // The default 30 s cooldown: the rotation must work with the settings operators run.
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url(), ""),
        forward_section(&bot.uri())
    );
    let callhook = start(&toml, true).await;
    let url = callhook.url("/api/calls");
    // The platform reuses a token for its lifetime; two tokens stand for the two keys.
    let tokens = Arc::new([token(&old, 1), token(&new, 1)]);
    let use_new_key = Arc::new(AtomicBool::new(false));

    const WORKERS: usize = 16;
    const PER_WORKER: usize = 30;
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (url, tokens, use_new_key) =
                (url.clone(), Arc::clone(&tokens), Arc::clone(&use_new_key));
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for index in 0..PER_WORKER {
                    let token = &tokens[usize::from(use_new_key.load(Ordering::SeqCst))];
                    let id = format!("rotation-{worker}-{index}");
                    let status = post(&url, Some(token), Some(&id), payload(INCOMING))
                        .await
                        .status();
                    statuses.push((id, status.as_u16()));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                statuses
            })
        })
        .collect();

    // The platform's rotation: publish the new key next to the old one, switch the tokens to the
    // new key, then withdraw the old key.
    let delivered_so_far = |count: usize| {
        let bot = &bot;
        async move { eventually(400, || async { received(bot).await.len() >= count }).await }
    };
    assert!(delivered_so_far(WORKERS * PER_WORKER / 4).await);
    issuer.publish(&[&old, &new]).await;
    use_new_key.store(true, Ordering::SeqCst);
    assert!(delivered_so_far(WORKERS * PER_WORKER / 2).await);
    issuer.publish(&[&new]).await;

    let mut statuses = Vec::new();
    for worker in workers {
        statuses.extend(worker.await.unwrap());
    }
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, status)| *status != 202)
        .collect();
    assert!(
        failed.is_empty(),
        "legitimate requests failed during the rotation: {failed:?}"
    );
    let delivered = delivered_ids(&bot).await;
    assert_eq!(delivered.len(), WORKERS * PER_WORKER);
    assert!(delivered.values().all(|count| *count == 1));
    assert!(
        callhook.authenticator.key_status().unknown_kid_refreshes >= 1,
        "the new key was learnt through an unknown-kid refresh"
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn a_flapping_bot_under_concurrency_gets_202_only_for_what_it_took() {
    const REQUESTS: usize = 60;
    let issuer = support::Issuer::start().await;
    // The bot refuses (500) every notification whose id starts with `refused-`, and is slow
    // (5 s) for ids starting with `slow-`, far beyond callhook's 1.5 s delivery timeout (which in
    // turn leaves a debug build ample time for the others).
    let bot = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header_regex("x-callhook-message-id", "^refused-"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&bot)
        .await;
    Mock::given(method("POST"))
        .and(header_regex("x-callhook-message-id", "^slow-"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .with_priority(1)
        .mount(&bot)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&bot)
        .await;
    let toml = format!(
        "{}[sink]\nkind = \"forward\"\nurl = \"{}/notifications\"\ntimeout_ms = 1500\n",
        support::auth_section(&issuer.openid_url()),
        bot.uri()
    );
    let callhook = start(&toml, true).await;
    let url = callhook.url("/api/calls");
    let token = issuer.token();
    // One client for all requests, with a timeout far above the bot's delay, so that only
    // callhook's own delivery timeout decides.
    let client = callhook_http::client_builder()
        .unwrap()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let requests = (0..REQUESTS).map(|index| {
        let id = match index % 3 {
            0 => format!("taken-{index}"),
            1 => format!("refused-{index}"),
            _ => format!("slow-{index}"),
        };
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let status = client
                .post(&url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .header("X-Microsoft-Skype-Message-ID", &id)
                .body(payload(INCOMING))
                .send()
                .await
                .unwrap()
                .status();
            (id, status.as_u16())
        }
    });
    let outcomes = futures_util::future::join_all(requests).await;
    for (id, status) in &outcomes {
        if id.starts_with("taken-") {
            assert_eq!(*status, 202, "{id}");
        } else {
            assert_eq!(*status, 502, "{id}: not taken by the bot, so never 202");
        }
    }
    // Every id reached the bot once (the refused and slow ones were not taken: the platform
    // retries them); no id was forwarded twice.
    let delivered = delivered_ids(&bot).await;
    assert_eq!(delivered.len(), REQUESTS);
    assert!(delivered.values().all(|count| *count == 1));
    callhook.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_delivers_every_202_once_and_exits_0() {
    let issuer = support::Issuer::start().await;
    let bot = bot(200, Duration::from_millis(200)).await;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}{}",
        support::auth_section(&issuer.openid_url()),
        forward_section(&bot.uri())
    );
    let mut callhook = support::spawn_binary(env!("CARGO_BIN_EXE_callhook"), &toml, true).await;
    let url = callhook.url("/api/calls");
    let token = issuer.token();

    // 32 platform connections sending notifications with unique ids, each at most 40, until
    // callhook stops answering.
    const WORKERS: usize = 32;
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                let client = support::client();
                let mut answered = Vec::new();
                for index in 0..40 {
                    let id = format!("term-{worker}-{index}");
                    let sent = client
                        .post(&url)
                        .header("Authorization", format!("Bearer {token}"))
                        .header("Content-Type", "application/json")
                        .header("X-Microsoft-Skype-Message-ID", &id)
                        .body(payload(INCOMING))
                        .send()
                        .await;
                    match sent {
                        Ok(response) => answered.push((id, response.status().as_u16())),
                        // Refused or reset once callhook stops: not an answer.
                        Err(_) => break,
                    }
                }
                answered
            })
        })
        .collect();

    // Once the load is well under way, with deliveries in flight, ask callhook to stop.
    assert!(
        eventually(400, || async { received(&bot).await.len() >= 3 * WORKERS }).await,
        "the load never got going"
    );
    callhook.terminate();
    let exit_code = callhook.wait_for_exit(Duration::from_secs(60)).await;

    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.unwrap());
    }
    assert_eq!(exit_code, Some(0), "callhook exits 0 after draining");
    let delivered = delivered_ids(&bot).await;
    let accepted: Vec<&String> = answers
        .iter()
        .filter(|(_, status)| *status == 202)
        .map(|(id, _)| id)
        .collect();
    assert!(
        accepted.len() >= 3 * WORKERS,
        "only {} requests were accepted",
        accepted.len()
    );
    for id in &accepted {
        assert_eq!(
            delivered.get(*id),
            Some(&1),
            "{id} was answered 202 but delivered {:?} times",
            delivered.get(*id)
        );
    }
    assert!(
        delivered.values().all(|count| *count == 1),
        "an id was delivered twice"
    );
    let other: Vec<_> = answers
        .iter()
        .filter(|(_, status)| *status != 202)
        .collect();
    for (id, status) in &other {
        assert!(*status >= 500, "{id}: unexpected {status} during shutdown");
    }
}
