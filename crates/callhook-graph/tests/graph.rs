//! callhook-graph against a real HTTP server on 127.0.0.1 playing the token endpoint and Graph.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callhook_graph::requests::{
    AnswerRequest, MediaInfo, PlayPromptRequest, Prompt, RedirectRequest, user_target,
};
use callhook_graph::{
    CallRef, Certificate, Cloud, Credential, Deadline, GraphClient, GraphError, RetryPolicy,
    TokenError,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "6a0c6e6c-1f2a-4c1e-9d6b-0a1b2c3d4e5f";
const TENANT: &str = "contoso-tenant";
const SECRET: &str = "s3cr3t~value-never-logged";
const CALL: &str = "57DAB8B1894C409AB240BD8BEAE78896";
const TOKEN_PATH: &str = "/contoso-tenant/oauth2/v2.0/token";
const ANSWER_PATH: &str = "/v1.0/communications/calls/57DAB8B1894C409AB240BD8BEAE78896/answer";
/// The SHA-256 thumbprint of `tests/data/certificate.pem`, computed with openssl:
/// `openssl x509 -outform der | openssl dgst -sha256 -binary | basenc --base64url`.
const THUMBPRINT: &str = "6n--83m8mp4oYW29dGebFAL9feIySnimTxH63-Y50iU";

fn token_body(token: &str, expires_in: u64) -> Value {
    json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token})
}

async fn server_with_token(token: &str, expires_in: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(token, expires_in)))
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer, credential: Credential) -> GraphClient {
    GraphClient::builder(CLIENT_ID, credential)
        .cloud(Cloud::custom(&server.uri(), &server.uri()).unwrap())
        .tenant(TENANT)
        .retry(
            RetryPolicy::default().backoff(Duration::from_millis(20), Duration::from_millis(100)),
        )
        .build()
        .unwrap()
}

fn answer() -> AnswerRequest {
    AnswerRequest::new("https://bot.example.com/api/calls/0")
}

async fn requests_to(server: &MockServer, wanted: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.url.path() == wanted)
        .collect()
}

fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn mount_answer(server: &MockServer, status: u16) {
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .respond_with(ResponseTemplate::new(status).insert_header("request-id", "graph-request-1"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_secret_flow_posts_the_documented_form_and_the_token_is_cached() {
    let server = server_with_token("token-1", 3599).await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .and(header("authorization", "Bearer token-1"))
        .and(header_exists("client-request-id"))
        .and(body_json(json!({
            "callbackUri": "https://bot.example.com/api/calls/0",
            "acceptedModalities": ["audio"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
        })))
        .respond_with(ResponseTemplate::new(202).insert_header("request-id", "graph-request-1"))
        .mount(&server)
        .await;
    let graph = client(&server, Credential::secret(SECRET));
    let call = CallRef::new(CALL);
    let first = graph.answer(&call, &answer()).await.unwrap();
    let second = graph.answer(&call, &answer()).await.unwrap();
    assert_eq!(first.status, 202);
    assert_eq!(first.request_id.as_deref(), Some("graph-request-1"));
    assert_eq!(first.attempts, 1);
    assert_ne!(first.client_request_id, second.client_request_id);

    let tokens = requests_to(&server, TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1, "the second answer uses the cached token");
    let form = form(&tokens[0]);
    assert_eq!(field(&form, "grant_type"), Some("client_credentials"));
    assert_eq!(field(&form, "client_id"), Some(CLIENT_ID));
    assert_eq!(field(&form, "client_secret"), Some(SECRET));
    assert_eq!(
        field(&form, "scope"),
        Some(format!("{}/.default", server.uri()).as_str())
    );
    let answers = requests_to(&server, ANSWER_PATH).await;
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers[0]
            .headers
            .get("client-request-id")
            .unwrap()
            .to_str()
            .unwrap(),
        first.client_request_id
    );
}

#[tokio::test]
async fn a_token_is_fetched_again_once_it_nears_expiry() {
    // Two seconds of life: refreshed at half of it.
    let server = server_with_token("short-lived", 2).await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::secret(SECRET));
    graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("shared", 3599))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::secret(SECRET));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let graph = graph.clone();
            tokio::spawn(async move { graph.answer(&CallRef::new(CALL), &answer()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1);
    assert_eq!(requests_to(&server, ANSWER_PATH).await.len(), 8);
}

/// Plays a token endpoint that accepts only a client assertion signed by `public_key`.
struct AssertionChecker {
    public_key: Vec<u8>,
    audience: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl AssertionChecker {
    fn check(&self, assertion: &str) -> Result<(Value, Value), String> {
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return Err("not three parts".into());
        }
        let signature = URL_SAFE_NO_PAD
            .decode(parts[2])
            .map_err(|e| e.to_string())?;
        let signed = format!("{}.{}", parts[0], parts[1]);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        )
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "bad signature".to_owned())?;
        let decode = |part: &str| -> Result<Value, String> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())
        };
        let header = decode(parts[0])?;
        let claims = decode(parts[1])?;
        if claims["aud"] != self.audience.as_str() {
            return Err("wrong audience".into());
        }
        Ok((header, claims))
    }
}

impl Respond for AssertionChecker {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = form(request);
        let refuse = |why: String| {
            ResponseTemplate::new(401).set_body_json(json!({
                "error": "invalid_client",
                "error_description": format!("AADSTS700027: {why}"),
                "error_codes": [700027],
                "trace_id": "trace-1",
                "correlation_id": "correlation-1"
            }))
        };
        if field(&form, "client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            || field(&form, "client_secret").is_some()
        {
            return refuse("not an assertion".into());
        }
        match self.check(field(&form, "client_assertion").unwrap_or("")) {
            Ok((header, claims)) => {
                self.seen
                    .lock()
                    .unwrap()
                    .push(json!({"header": header, "claims": claims}));
                ResponseTemplate::new(200).set_body_json(token_body("from-assertion", 3599))
            }
            Err(why) => refuse(why),
        }
    }
}

fn test_certificate() -> Certificate {
    Certificate::from_pem(
        include_bytes!("data/key.pem"),
        include_bytes!("data/certificate.pem"),
    )
    .unwrap()
}

#[tokio::test]
async fn a_certificate_signs_a_client_assertion_the_endpoint_can_verify() {
    let certificate = test_certificate();
    assert_eq!(certificate.thumbprint_sha256(), THUMBPRINT);
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(AssertionChecker {
            public_key: certificate.public_key().to_vec(),
            audience: format!("{}{TOKEN_PATH}", server.uri()),
            seen: Arc::clone(&seen),
        })
        .mount(&server)
        .await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::certificate(certificate));
    graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();

    let seen = seen.lock().unwrap();
    let (header, claims) = (&seen[0]["header"], &seen[0]["claims"]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t#S256"], THUMBPRINT);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() == 36));
    let exp = claims["exp"].as_u64().unwrap();
    let nbf = claims["nbf"].as_u64().unwrap();
    assert_eq!(exp - nbf, 600);
}

#[tokio::test]
async fn an_assertion_from_another_key_is_refused_and_the_error_is_typed() {
    // The endpoint knows the test certificate; the client signs with a key it does not know.
    let known = test_certificate();
    let stranger = Certificate::from_pem(
        include_bytes!("data/other-key.pem"),
        include_bytes!("data/certificate.pem"),
    )
    .unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(AssertionChecker {
            public_key: known.public_key().to_vec(),
            audience: format!("{}{TOKEN_PATH}", server.uri()),
            seen: Arc::default(),
        })
        .mount(&server)
        .await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::certificate(stranger));
    let error = graph
        .answer(&CallRef::new(CALL), &answer())
        .await
        .unwrap_err();
    let GraphError::Token {
        source: TokenError::Refused { status, body, .. },
        ..
    } = &error
    else {
        panic!("expected a refused token, got {error:?}");
    };
    assert_eq!(*status, 401);
    assert_eq!(body.error, "invalid_client");
    assert_eq!(body.trace_id.as_deref(), Some("trace-1"));
    assert!(body.error_description.contains("bad signature"), "{body:?}");
    assert!(!error.is_retryable());
    assert!(requests_to(&server, ANSWER_PATH).await.is_empty());
}

#[tokio::test]
async fn retry_after_is_honoured_and_each_attempt_gets_a_fresh_id() {
    let server = server_with_token("token-1", 3599).await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::secret(SECRET));
    let started = Instant::now();
    let answered = graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited Retry-After"
    );
    assert_eq!(answered.attempts, 2);
    let answers = requests_to(&server, ANSWER_PATH).await;
    assert_eq!(answers.len(), 2);
    let ids: Vec<_> = answers
        .iter()
        .map(|request| request.headers.get("client-request-id").unwrap().clone())
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[1].to_str().unwrap(), answered.client_request_id);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_client_errors_are_not() {
    let server = server_with_token("token-1", 3599).await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::secret(SECRET));
    let answered = graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    assert_eq!(answered.attempts, 3);

    let refused = server_with_token("token-1", 3599).await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("request-id", "graph-request-403")
                .set_body_json(json!({"error": {"code": "7503", "message": "Application is not registered in our store.",
                    "innerError": {"request-id": "graph-request-403", "date": "2026-12-02T04:00:00"}}})),
        )
        .mount(&refused)
        .await;
    let graph = client(&refused, Credential::secret(SECRET));
    let error = graph
        .answer(&CallRef::new(CALL), &answer())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert!(!error.is_retryable());
    assert_eq!(error.request_id(), Some("graph-request-403"));
    let body = error.body().unwrap();
    assert_eq!(body.code, "7503");
    assert_eq!(body.date.as_deref(), Some("2026-12-02T04:00:00"));
    assert!(error.to_string().contains("graph-request-403"), "{error}");
    assert_eq!(requests_to(&refused, ANSWER_PATH).await.len(), 1);
}

#[tokio::test]
async fn no_retry_is_sent_after_the_deadline() {
    let server = server_with_token("token-1", 3599).await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .mount(&server)
        .await;
    let graph = client(&server, Credential::secret(SECRET));
    let call = CallRef::new(CALL).deadline(Deadline::after(Duration::from_millis(1_500)));
    let error = graph.answer(&call, &answer()).await.unwrap_err();
    let GraphError::DeadlineExceeded { attempts, last, .. } = &error else {
        panic!("expected the deadline, got {error:?}");
    };
    // At 0 s and 1 s; the next, at 2 s, would land after the deadline.
    assert_eq!(*attempts, 2);
    assert_eq!(last.status(), Some(503));
    assert_eq!(requests_to(&server, ANSWER_PATH).await.len(), 2);

    // A call whose window has closed is not answered at all.
    let late = CallRef::new(CALL).deadline(Deadline::at(Instant::now()));
    let error = graph.answer(&late, &answer()).await.unwrap_err();
    assert!(
        matches!(error, GraphError::DeadlineExceeded { attempts: 0, .. }),
        "{error:?}"
    );
    assert_eq!(requests_to(&server, ANSWER_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_refused_token_is_dropped_and_fetched_again_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("revoked", 3599)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("fresh", 3599)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .and(header("authorization", "Bearer revoked"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .and(header("authorization", "Bearer fresh"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let graph = client(&server, Credential::secret(SECRET));
    let answered = graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    assert_eq!(answered.attempts, 2);
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_sent() {
    let server = server_with_token("token-1", 3599).await;
    let graph = client(&server, Credential::secret(SECRET));
    // A call id from a hostile notification cannot reach another Graph path.
    for call_id in ["../../users", "a/b", "a?b=c", "", "a%2Fb"] {
        let error = graph
            .answer(&CallRef::new(call_id), &answer())
            .await
            .unwrap_err();
        assert!(
            matches!(error, GraphError::InvalidRequest { .. }),
            "{call_id}: {error:?}"
        );
    }
    let error = graph
        .answer(&CallRef::new(CALL).tenant("evil/../x"), &answer())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("tenant"), "{error}");
    let error = graph.app_token("../../common").await.unwrap_err();
    assert!(
        matches!(error, GraphError::InvalidRequest { .. }),
        "{error:?}"
    );
    // The platform sends notifications only to https.
    let error = graph
        .answer(
            &CallRef::new(CALL),
            &AnswerRequest::new("http://bot.example.com/api/calls/0"),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("callbackUri"), "{error}");
    for seconds in [10, 91] {
        let redirect = RedirectRequest::new([user_target("user-1", None)])
            .timeout(Duration::from_secs(seconds));
        let error = graph
            .redirect(&CallRef::new(CALL), &redirect)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("15–90"), "{error}");
    }
    let error = graph
        .redirect(&CallRef::new(CALL), &RedirectRequest::new([]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("target"), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn operations_are_returned_parsed_and_a_hang_up_deletes_the_call() {
    let server = server_with_token("token-1", 3599).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v1.0/communications/calls/{CALL}/playPrompt"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.type": "#microsoft.graph.playPromptOperation",
            "id": "op-1", "status": "running", "clientContext": "greeting"
        })))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1.0/communications/calls/{CALL}")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let graph = client(&server, Credential::secret(SECRET));
    let prompt = PlayPromptRequest::new([Prompt::media(MediaInfo::new(
        "https://cdn.example.com/hello.wav",
    ))])
    .client_context("greeting");
    let played = graph
        .play_prompt(&CallRef::new(CALL), &prompt)
        .await
        .unwrap();
    assert_eq!(played.value.id.as_deref(), Some("op-1"));
    assert_eq!(played.value.client_context.as_deref(), Some("greeting"));
    let hung_up = graph.hang_up(&CallRef::new(CALL)).await.unwrap();
    assert_eq!(hung_up.status, 204);
}

/// A `MakeWriter` that keeps every log line.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_tokens_and_assertions_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = server_with_token("the-access-token", 3599).await;
    Mock::given(method("POST"))
        .and(path(ANSWER_PATH))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_answer(&server, 202).await;
    let graph = client(&server, Credential::secret(SECRET));
    let answered = graph.answer(&CallRef::new(CALL), &answer()).await.unwrap();
    let certificate_graph = client(&server, Credential::certificate(test_certificate()));
    certificate_graph
        .answer(&CallRef::new(CALL), &answer())
        .await
        .unwrap();
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_client"})))
        .mount(&refusing)
        .await;
    let refused = client(&refusing, Credential::secret(SECRET));
    let error = refused
        .answer(&CallRef::new(CALL), &answer())
        .await
        .unwrap_err();
    let debug = format!("{graph:?} {certificate_graph:?} {error:?} {error}");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let assertions: Vec<String> = requests_to(&server, TOKEN_PATH)
        .await
        .iter()
        .filter_map(|request| field(&form(request), "client_assertion").map(str::to_owned))
        .collect();
    assert_eq!(assertions.len(), 1);
    assert!(logs.contains("graph call action succeeded"), "{logs}");
    assert!(
        logs.contains(&answered.client_request_id),
        "the ids are logged"
    );
    assert!(logs.contains("graph-request-1"), "the request-id is logged");
    for secret in [SECRET, "the-access-token", assertions[0].as_str()] {
        assert!(!logs.contains(secret), "a secret reached the logs: {logs}");
        assert!(!debug.contains(secret), "a secret reached Debug: {debug}");
    }
}
