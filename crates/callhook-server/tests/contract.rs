//! Every row of the contract's HTTP table, end to end over real sockets: a real issuer and a real
//! bot on 127.0.0.1, callhook on its own socket.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

mod support;

use std::time::Duration;

use callhook_auth::testing::DevIssuer;
use serde_json::Value;
use support::{
    APP_ID, Issuer, TENANT, auth_section, bot, metrics_text, payload, post, received, start,
};

const INCOMING: &str = "incoming-call.json";
const ESTABLISHED: &str = "established.json";
const LEGACY: &str = "legacy-conversation.json";

fn forward_section(bot_uri: &str, timeout_ms: u64) -> String {
    format!(
        "[sink]\nkind = \"forward\"\nurl = \"{bot_uri}/notifications\"\ntimeout_ms = {timeout_ms}\n"
    )
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// An issuer, a bot answering `200`, and callhook forwarding to it with `extra` configuration.
async fn start_forwarding(extra: &str) -> (Issuer, wiremock::MockServer, support::Running) {
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}{extra}",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    (issuer, bot, callhook)
}

async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        header(&response, "content-type"),
        Some("application/problem+json")
    );
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[actix_web::test]
async fn accepted_notifications_reach_the_bot_byte_for_byte_with_the_contract_headers() {
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}[partition]\nid = \"emea-0\"\npublic_url = \"http://127.0.0.1:9\"\n",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let body = payload(INCOMING);
    let token = issuer.token();

    let response = post(
        &callhook.url("/api/calls"),
        Some(&token),
        Some("msg-1"),
        body.clone(),
    )
    .await;

    assert_eq!(response.status(), 202);
    assert_eq!(header(&response, "client-request-id"), Some("msg-1"));
    let delivered = received(&bot).await;
    assert_eq!(delivered.len(), 1);
    let forwarded = &delivered[0];
    assert_eq!(forwarded.body, body, "the body is forwarded unchanged");
    let forwarded_header = |name: &str| {
        forwarded
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        forwarded_header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        forwarded_header("x-callhook-tenant").as_deref(),
        Some(TENANT)
    );
    assert_eq!(
        forwarded_header("x-callhook-protocol").as_deref(),
        Some("graph")
    );
    assert_eq!(
        forwarded_header("x-callhook-message-id").as_deref(),
        Some("msg-1")
    );
    assert_eq!(
        forwarded_header("x-callhook-callback-uri").as_deref(),
        Some("http://127.0.0.1:9/api/calls/emea-0")
    );
    assert_eq!(
        forwarded_header("authorization"),
        None,
        "the token is never passed on"
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn a_body_over_the_limit_gets_413_before_anything_else() {
    let (issuer, bot, callhook) = start_forwarding("[server]\nmax_body_bytes = 1024\n").await;
    let oversized = vec![b' '; 1025];

    // No token at all: the size check comes first.
    let response = post(
        &callhook.url("/api/calls"),
        None,
        Some("big"),
        oversized.clone(),
    )
    .await;
    assert_eq!(response.status(), 413);
    assert_eq!(header(&response, "client-request-id"), Some("big"));

    // Without Content-Length (chunked), the limit holds while streaming.
    let status = support::post_chunked(
        &callhook.base,
        "/api/calls",
        &issuer.token(),
        &oversized,
        100,
    )
    .await;
    assert_eq!(status, 413);
    // Exactly at the limit is fine (and then it is a 400: spaces are not JSON).
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        None,
        vec![b' '; 1024],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(received(&bot).await.is_empty());
    callhook.stop().await;
}

#[actix_web::test]
async fn every_failed_token_check_is_401_and_nothing_reaches_the_bot() {
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}tenants = [\"{TENANT}\"]\n{}",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let now = support::now().as_secs();
    let good = DevIssuer::standard_claims(APP_ID, TENANT, support::now());
    let with = |key: &str, value: Value| {
        let mut claims = good.clone();
        claims[key] = value;
        issuer.dev.mint(&claims)
    };
    let good_token = issuer.dev.mint(&good);
    let mut tampered = good_token.clone();
    tampered.pop();
    tampered.push(if good_token.ends_with('A') { 'B' } else { 'A' });
    let forged_key = DevIssuer::rotated().with_kid(issuer.dev.kid()).mint(&good);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                with("aud", Value::from("someone-else"))
            )),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                with("iss", Value::from("https://evil.example"))
            )),
        ),
        (
            "expired",
            Some(format!("Bearer {}", with("exp", Value::from(now - 3_600)))),
        ),
        (
            "tenant not allowed",
            Some(format!(
                "Bearer {}",
                issuer.token_for("00000000-0000-0000-0000-00000000bad0")
            )),
        ),
        ("tampered signature", Some(format!("Bearer {tampered}"))),
        (
            "signed by another key under a known kid",
            Some(format!("Bearer {forged_key}")),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                issuer.dev.mint_with_header(
                    &serde_json::json!({"alg":"none","kid":issuer.dev.kid()}),
                    &good
                )
            )),
        ),
        ("Basic scheme", Some("Basic dXNlcjpwYXNz".to_owned())),
        ("garbage", Some("Bearer not.a.token".to_owned())),
    ];
    for (name, authorization) in cases {
        let mut request = support::client()
            .post(callhook.url("/api/calls"))
            .header("X-Microsoft-Skype-Message-ID", name)
            .body(payload(INCOMING));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            header(&response, "www-authenticate"),
            Some("Bearer error=\"invalid_token\""),
            "{name}"
        );
        assert_eq!(header(&response, "client-request-id"), Some(name));
        let problem = problem(response).await;
        assert_eq!(problem["status"], 401);
        assert_eq!(
            problem["detail"], "the request is not authenticated",
            "{name}: the answer never says which check failed"
        );
    }
    assert!(
        received(&bot).await.is_empty(),
        "forged tokens never reach the bot"
    );

    // The good token, lowercase scheme, still passes.
    let response = support::client()
        .post(callhook.url("/api/calls"))
        .header("Authorization", format!("bearer {good_token}"))
        .body(payload(INCOMING))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(received(&bot).await.len(), 1);

    // The metrics count the failures by reason.
    let metrics = metrics_text(&callhook).await;
    assert!(
        metrics.contains("callhook_auth_failures_total{reason=\"missing_token\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("callhook_auth_failures_total{reason=\"expired\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("callhook_requests_total{outcome=\"rejected_auth\"} 10"),
        "{metrics}"
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn no_keys_ever_loaded_gives_503_with_retry_after_and_not_ready() {
    // Nothing listens on this port: the issuer is unreachable from the start.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!(
        "http://{}/v1/.well-known/OpenIdConfiguration",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let dev = DevIssuer::new();
    let callhook = start(&auth_section(&closed_url), false).await;

    let token = dev.mint(&DevIssuer::standard_claims(APP_ID, TENANT, support::now()));
    let response = post(
        &callhook.url("/api/calls"),
        Some(&token),
        Some("m"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(header(&response, "retry-after").is_some());
    assert_eq!(header(&response, "client-request-id"), Some("m"));

    // A request without any token is still a 401: there is nothing to check.
    let response = post(&callhook.url("/api/calls"), None, None, payload(INCOMING)).await;
    assert_eq!(response.status(), 401);

    let ready = support::client()
        .get(callhook.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let healthy = support::client()
        .get(callhook.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    callhook.stop().await;
}

#[actix_web::test]
async fn bodies_that_are_neither_format_get_400_with_a_reason() {
    let (issuer, bot, callhook) = start_forwarding("").await;
    let cases: [(&[u8], &str); 4] = [
        (b"", "empty"),
        (b"{\"value\": [", "not JSON"),
        (b"{\"hello\": \"world\"}", "neither"),
        (b"{\"value\": {}}", "array"),
    ];
    for (body, expected) in cases {
        let response = post(
            &callhook.url("/api/calls"),
            Some(&issuer.token()),
            None,
            body.to_vec(),
        )
        .await;
        assert_eq!(response.status(), 400);
        let problem = problem(response).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(expected),
            "{detail:?} should say {expected:?}"
        );
    }
    assert!(received(&bot).await.is_empty());
    callhook.stop().await;
}

#[actix_web::test]
async fn legacy_bodies_get_204_then_the_graph_resend_is_accepted() {
    let (issuer, bot, callhook) = start_forwarding("").await;
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("l1"),
        payload(LEGACY),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "client-request-id"), Some("l1"));
    assert!(response.bytes().await.unwrap().is_empty());
    assert!(
        received(&bot).await.is_empty(),
        "a legacy body is not delivered under redeliver"
    );
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("l2"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(received(&bot).await.len(), 1);
    callhook.stop().await;
}

#[actix_web::test]
async fn legacy_bodies_are_delivered_when_the_policy_accepts_them() {
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}[protocol]\nlegacy = \"accept\"\n{}",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        None,
        payload(LEGACY),
    )
    .await;
    assert_eq!(response.status(), 202);
    let delivered = received(&bot).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].headers.get("x-callhook-protocol").unwrap(),
        "legacy"
    );
    assert_eq!(delivered[0].body, payload(LEGACY));
    callhook.stop().await;
}

#[actix_web::test]
async fn a_foreign_partition_gets_421_and_the_own_partition_is_handled() {
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}[partition]\nid = \"emea-0\"\npublic_url = \"https://emea.bot.example.com\"\n",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let response = post(
        &callhook.url("/api/calls/emea-1"),
        Some(&issuer.token()),
        Some("p"),
        payload(ESTABLISHED),
    )
    .await;
    assert_eq!(response.status(), 421);
    assert_eq!(header(&response, "client-request-id"), Some("p"));
    let response = post(
        &callhook.url("/api/calls/..%2F..%2Fetc"),
        Some(&issuer.token()),
        None,
        payload(ESTABLISHED),
    )
    .await;
    assert_eq!(response.status(), 421);
    assert!(received(&bot).await.is_empty());
    let response = post(
        &callhook.url("/api/calls/emea-0"),
        Some(&issuer.token()),
        None,
        payload(ESTABLISHED),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(received(&bot).await.len(), 1);
    // The partition check comes after authentication: no token, no 421.
    let response = post(
        &callhook.url("/api/calls/emea-1"),
        None,
        None,
        payload(ESTABLISHED),
    )
    .await;
    assert_eq!(response.status(), 401);
    callhook.stop().await;
}

#[actix_web::test]
async fn an_incoming_call_of_another_region_is_redirected_once_from_configuration_only() {
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}[routing]\nregion = \"emea\"\n[routing.deployments]\namer = \"https://amer.bot.example.com/api/calls\"\n\
         [[routing.rules]]\ntenant = \"{TENANT}\"\nregion = \"amer\"\n",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let expected_location = "https://amer.bot.example.com/api/calls?callhook-hop=emea";

    // A spoofed Host and forwarding headers do not change the Location.
    let response = support::client()
        .post(callhook.url("/api/calls"))
        .header("Authorization", format!("Bearer {}", issuer.token()))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Microsoft-Skype-Message-ID", "r1")
        .body(payload(INCOMING))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(header(&response, "location"), Some(expected_location));
    assert_eq!(header(&response, "client-request-id"), Some("r1"));
    assert!(
        received(&bot).await.is_empty(),
        "a redirected call is not delivered here"
    );

    // Only new incoming calls move: an update of an established call is handled here.
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        None,
        payload(ESTABLISHED),
    )
    .await;
    assert_eq!(response.status(), 202);

    // A request that already carries the hop marker is never redirected again.
    let response = post(
        &callhook.url("/api/calls?callhook-hop=amer"),
        Some(&issuer.token()),
        None,
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(received(&bot).await.len(), 2);

    // A forged token never gets a redirect either.
    let response = post(
        &callhook.url("/api/calls"),
        Some("forged"),
        None,
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 401);
    callhook.stop().await;
}

#[actix_web::test]
async fn a_redelivery_with_the_same_message_id_is_not_delivered_twice() {
    let (issuer, bot, callhook) = start_forwarding("").await;
    for _ in 0..3 {
        let response = post(
            &callhook.url("/api/calls"),
            Some(&issuer.token()),
            Some("same-id"),
            payload(INCOMING),
        )
        .await;
        assert_eq!(response.status(), 202);
        assert_eq!(header(&response, "client-request-id"), Some("same-id"));
    }
    // Concurrent duplicates are delivered once too.
    let concurrent = (0..8).map(|_| {
        let url = callhook.url("/api/calls");
        let token = issuer.token();
        async move {
            post(&url, Some(&token), Some("racing-id"), payload(INCOMING))
                .await
                .status()
        }
    });
    for status in futures_util::future::join_all(concurrent).await {
        assert_eq!(status, 202);
    }
    assert_eq!(received(&bot).await.len(), 2, "one delivery per message id");
    callhook.stop().await;
}

#[actix_web::test]
async fn a_failed_delivery_is_never_202_and_its_retry_is_delivered() {
    let issuer = Issuer::start().await;
    // A bot that fails.
    let failing = bot(500, Duration::ZERO).await;
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url()),
        forward_section(&failing.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("f1"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 502);
    assert_eq!(header(&response, "client-request-id"), Some("f1"));
    callhook.stop().await;

    // A bot that is down: 503 with Retry-After.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url()),
        forward_section(&down, 5_000)
    );
    let callhook = start(&toml, true).await;
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("f2"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(header(&response, "retry-after").is_some());
    callhook.stop().await;

    // A bot slower than the timeout: 502, and the same message id delivered on retry once the
    // bot is back.
    let slow = bot(200, Duration::from_secs(3)).await;
    let toml = format!(
        "{}{}",
        auth_section(&issuer.openid_url()),
        forward_section(&slow.uri(), 200)
    );
    let callhook = start(&toml, true).await;
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("f3"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(response.status(), 502);
    slow.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&slow)
        .await;
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("f3"),
        payload(INCOMING),
    )
    .await;
    assert_eq!(
        response.status(),
        202,
        "a failed delivery does not mark the id as delivered"
    );
    assert_eq!(received(&slow).await.len(), 1);
    callhook.stop().await;
}

#[actix_web::test]
async fn other_methods_get_405_and_operations_endpoints_answer() {
    let issuer = Issuer::start().await;
    let callhook = start(&auth_section(&issuer.openid_url()), true).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = support::client()
            .request(method.clone(), callhook.url("/api/calls"))
            .header("X-Microsoft-Skype-Message-ID", "m405")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(header(&response, "client-request-id"), Some("m405"));
    }
    let response = support::client()
        .get(callhook.url("/api/calls/emea-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let ready = support::client()
        .get(callhook.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = support::client()
        .get(callhook.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("callhook_key_refreshes_total{result=\"success\"}"),
        "{text}"
    );
    assert!(text.contains("callhook_keys_ready 1"), "{text}");
    callhook.stop().await;
}

#[actix_web::test]
async fn the_log_sink_accepts_and_counts() {
    let issuer = Issuer::start().await;
    let callhook = start(&auth_section(&issuer.openid_url()), true).await;
    // Three, so that the counts after the first (which creates each series) are counted too.
    for _ in 0..3 {
        let response = post(
            &callhook.url("/api/calls"),
            Some(&issuer.token()),
            None,
            payload(INCOMING),
        )
        .await;
        assert_eq!(response.status(), 202);
    }
    let text = metrics_text(&callhook).await;
    assert!(
        text.contains("callhook_sink_deliveries_total{sink=\"log\",result=\"delivered\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("callhook_requests_total{outcome=\"accepted\"} 3"),
        "{text}"
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn an_authorization_value_that_is_not_ascii_is_401_and_counted_as_malformed() {
    let issuer = Issuer::start().await;
    let callhook = start(&auth_section(&issuer.openid_url()), true).await;
    // obs-text bytes, which HTTP lets through: a token with them can never be the platform's.
    let token = issuer.token();
    let mut value = format!("Bearer {token}").into_bytes();
    value.extend_from_slice(b"\xe9\xff");
    let response = support::client()
        .post(callhook.url("/api/calls"))
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(&value).unwrap(),
        )
        .body(payload(INCOMING))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        header(&response, "www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    let text = metrics_text(&callhook).await;
    assert!(
        text.contains("callhook_auth_failures_total{reason=\"malformed_authorization\"} 1"),
        "{text}"
    );
    callhook.stop().await;
}

#[actix_web::test]
async fn forwards_are_signed_in_the_standard_webhooks_format_when_a_secret_is_set() {
    use callhook_server::webhook_signature::WebhookSigner;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let issuer = Issuer::start().await;
    let bot = bot(200, Duration::ZERO).await;
    let toml = format!(
        "{}{}signing_secret = \"{SECRET}\"\n",
        auth_section(&issuer.openid_url()),
        forward_section(&bot.uri(), 5_000)
    );
    let callhook = start(&toml, true).await;
    let body = payload(INCOMING);
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        Some("sig-1"),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), 202);
    let response = post(
        &callhook.url("/api/calls"),
        Some(&issuer.token()),
        None,
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), 202);
    let delivered = received(&bot).await;
    assert_eq!(delivered.len(), 2);
    let signer = WebhookSigner::from_secret(SECRET).unwrap();
    let mut ids = Vec::new();
    for request in &delivered {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        let id = header("webhook-id");
        let timestamp: u64 = header("webhook-timestamp").parse().unwrap();
        let signature = header("webhook-signature");
        assert!(signature.starts_with("v1,"));
        assert!(signer.verify(&id, timestamp, &request.body, &signature));
        let mut tampered = request.body.clone();
        tampered.push(b' ');
        assert!(!signer.verify(&id, timestamp, &tampered, &signature));
        assert!(timestamp.abs_diff(support::now().as_secs()) < 300);
        ids.push(id);
    }
    assert_eq!(
        ids[0], "sig-1",
        "the platform's message id is the webhook-id"
    );
    assert!(ids[1].starts_with("callhook_") && ids[1] != ids[0]);
    callhook.stop().await;
}
