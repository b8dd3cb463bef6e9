//! The axum and actix-web webhook examples and the auto-answer bot, run as their binaries and
//! driven over real sockets with tokens of the development issuer, whose keys a loopback server
//! publishes.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use callhook_auth::UnixTime;
use callhook_auth::testing::DevIssuer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "00000000-0000-0000-0000-00000000de70";
const TENANT: &str = "11111111-2222-3333-4444-555555555555";

const GRAPH: &str = r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/8e8d",
  "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##;
const LEGACY: &str =
    r#"{"id":"8e8d","participants":[],"callState":"incoming","isMultiparty":false}"#;

/// A running example; killed when dropped.
struct Example {
    child: Child,
    address: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` with its keys at `openid` and waits for the address it prints.
fn start(binary: &str, openid: &str) -> Example {
    let mut child = Command::new(binary)
        .env("APP_ID", APP_ID)
        .env("OPENID_CONFIGURATION", openid)
        .env("LISTEN", "127.0.0.1:0")
        // Read by auto-answer only. Graph is a loopback port nobody listens on, so that the calls
        // it tries to answer never leave the machine.
        .env("APP_SECRET", "test-secret")
        .env("PUBLIC_URL", "https://bot.example.com")
        .env("GREETING_URL", "https://cdn.example.com/hello.wav")
        .env("GRAPH_URL", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The first line names the address; the rest (a line per call) is read and dropped so that
    // the example never blocks on a full pipe.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = sender.send(first);
        }
        for _ in lines {}
    });
    let first = receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{binary} printed no address"));
    let address = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap();
    Example { child, address }
}

/// Publishes the development issuer's keys: an OpenID configuration at `/openid`.
async fn issuer() -> MockServer {
    let server = MockServer::start().await;
    let configuration = DevIssuer::new().openid_configuration_json(
        "https://api.botframework.com",
        &format!("{}/keys", server.uri()),
    );
    Mock::given(method("GET"))
        .and(path("/openid"))
        .respond_with(ResponseTemplate::new(200).set_body_string(configuration))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DevIssuer::new().jwks_json()))
        .mount(&server)
        .await;
    server
}

fn now() -> UnixTime {
    UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

fn token(app_id: &str, issued: UnixTime) -> String {
    DevIssuer::new().mint(&DevIssuer::standard_claims(app_id, TENANT, issued))
}

struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
}

async fn post(address: SocketAddr, token: Option<&str>, body: &str) -> Answer {
    let client = callhook_http::client_builder()
        .unwrap()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client
        .post(format!("http://{address}/api/calls"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        www_authenticate: header("www-authenticate"),
        retry_after: header("retry-after"),
    }
}

/// Waits, for at most 10 s, until the example has loaded its keys.
async fn wait_ready(address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while post(address, Some(&token(APP_ID, now())), GRAPH)
        .await
        .status
        == 503
    {
        assert!(Instant::now() < deadline, "the keys were never loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn answers_as_the_contract_says(binary: &str) {
    let keys = issuer().await;
    let example = start(binary, &format!("{}/openid", keys.uri()));
    wait_ready(example.address).await;
    let valid = token(APP_ID, now());
    assert_eq!(post(example.address, Some(&valid), GRAPH).await.status, 202);
    assert_eq!(
        post(example.address, Some(&valid), LEGACY).await.status,
        204
    );
    assert_eq!(post(example.address, Some(&valid), "{}").await.status, 400);

    // From the attacker's side: no token, an expired one, one for another bot, one signed by
    // another key. Every one is the same 401, and nothing says which check failed.
    let expired = token(APP_ID, UnixTime::from_secs(now().as_secs() - 3_600));
    let other_bot = token("another-bot", now());
    let forged = DevIssuer::rotated().mint(&DevIssuer::standard_claims(APP_ID, TENANT, now()));
    for (name, credential) in [
        ("none", None),
        ("expired", Some(expired.as_str())),
        ("wrong audience", Some(other_bot.as_str())),
        ("unknown key", Some(forged.as_str())),
        ("not a bearer", Some("")),
    ] {
        let answer = post(example.address, credential, GRAPH).await;
        assert_eq!(answer.status, 401, "{binary}: {name}");
        assert_eq!(
            answer.www_authenticate.as_deref(),
            Some(r#"Bearer error="invalid_token""#),
            "{binary}: {name}"
        );
    }
    drop(example);

    // Keys never loaded: the issuer is a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let example = start(binary, &format!("http://{closed}/openid"));
    let answer = post(example.address, Some(&token(APP_ID, now())), GRAPH).await;
    assert_eq!(answer.status, 503, "{binary}");
    assert_eq!(answer.retry_after.as_deref(), Some("5"), "{binary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_webhook_answers_as_the_contract_says() {
    answers_as_the_contract_says(env!("CARGO_BIN_EXE_axum-webhook")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actix_webhook_answers_as_the_contract_says() {
    answers_as_the_contract_says(env!("CARGO_BIN_EXE_actix-webhook")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auto_answer_webhook_answers_as_the_contract_says() {
    answers_as_the_contract_says(env!("CARGO_BIN_EXE_auto-answer")).await;
}

#[test]
fn auto_answer_takes_a_whole_call_through_the_simulator() {
    let output = Command::new(env!("CARGO_BIN_EXE_auto-answer"))
        .arg("--simulate")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{shown}");
    assert!(!shown.contains("FAIL"), "{shown}");
    for step in [
        "POST answer",
        "callbackUri http://127.0.0.1:",
        "POST playPrompt",
        "DELETE (hang up)",
        "the whole call went through",
    ] {
        assert!(shown.contains(step), "{step}: {shown}");
    }
    // The call's later notifications went to the partition the answer named.
    let to_the_partition = shown
        .lines()
        .filter(|line| line.trim_start().starts_with("POST") && line.contains("/api/calls/auto-0"))
        .count();
    assert_eq!(to_the_partition, 5, "{shown}");
}
