//! Real parts for the end-to-end tests: an OpenID/JWKS issuer and a bot on 127.0.0.1 (wiremock),
//! callhook on a real socket, and a client that does not follow redirects.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::doc_markdown,
    reason = "test support: each test binary uses a different part, and a panic is a failed test"
)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use callhook_auth::testing::DevIssuer;
use callhook_auth::{Authenticator, UnixTime};
use callhook_server::config::Config;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The bot's app id: the `aud` every good token carries.
pub const APP_ID: &str = "6a0c6e6c-1f2a-4c1e-9d6b-0a1b2c3d4e5f";
/// The tenant of every good token.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A payload from `tests/data`.
pub fn payload(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// The OpenID configuration and key set of a development issuer, served on 127.0.0.1.
pub struct Issuer {
    pub server: MockServer,
    pub dev: DevIssuer,
}

impl Issuer {
    pub async fn start() -> Self {
        Self::serve(MockServer::start().await).await
    }

    /// The issuer on a listener the test bound (to start it after callhook, on a known port).
    pub async fn start_on(listener: TcpListener) -> Self {
        Self::serve(MockServer::builder().listener(listener).start().await).await
    }

    async fn serve(server: MockServer) -> Self {
        let dev = DevIssuer::new();
        let jwks_uri = format!("{}/v1/keys", server.uri());
        Mock::given(method("GET"))
            .and(path("/v1/.well-known/OpenIdConfiguration"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                dev.openid_configuration_json("https://api.botframework.com", &jwks_uri),
                "application/json",
            ))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/keys"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(dev.jwks_json(), "application/json"),
            )
            .mount(&server)
            .await;
        Self { server, dev }
    }

    pub fn openid_url(&self) -> String {
        format!("{}/v1/.well-known/OpenIdConfiguration", self.server.uri())
    }

    /// A token the platform would send now.
    pub fn token(&self) -> String {
        self.token_for(TENANT)
    }

    pub fn token_for(&self, tenant: &str) -> String {
        self.dev
            .mint(&DevIssuer::standard_claims(APP_ID, tenant, now()))
    }
}

pub fn now() -> UnixTime {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    UnixTime::from_secs(seconds)
}

/// A bot behind callhook that answers `status` (after `delay`) and records what it receives.
pub async fn bot(status: u16, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/notifications"))
        .respond_with(ResponseTemplate::new(status).set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// callhook running on a real socket of 127.0.0.1.
pub struct Running {
    pub base: String,
    pub handle: actix_web::dev::ServerHandle,
    pub authenticator: Arc<Authenticator>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully. Bounded: a stop still waiting after 60 s (twice the default
    /// `shutdown_timeout_secs`) fails the test and says so, instead of hanging it.
    pub async fn stop(self) {
        if tokio::time::timeout(Duration::from_secs(60), self.handle.stop(true))
            .await
            .is_err()
        {
            panic!("callhook at {} did not stop within 60 s", self.base);
        }
    }
}

/// The `[auth]` section pointing at `openid_url`, with fast retries.
pub fn auth_section(openid_url: &str) -> String {
    format!(
        r#"
[auth]
app_id = "{APP_ID}"
openid_configuration = "{openid_url}"
retry_initial_ms = 50
retry_max_ms = 200
"#
    )
}

/// Starts callhook with `toml` (which must not set `server.listen`) and waits until its keys are
/// loaded when `wait_ready` is set.
pub async fn start(toml: &str, wait_ready: bool) -> Running {
    let config = Config::from_toml_str(toml).unwrap_or_else(|error| panic!("{error}"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let authenticator = Arc::new(config.auth.build().unwrap());
    if wait_ready {
        assert!(
            authenticator
                .wait_until_ready(Duration::from_secs(10))
                .await,
            "the keys did not load from the test issuer"
        );
    }
    let server =
        callhook_server::server::start(&config, listener, Arc::clone(&authenticator)).unwrap();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Running {
        base: format!("http://{address}"),
        handle,
        authenticator,
    }
}

/// The `/metrics` exposition of a running callhook.
pub async fn metrics_text(callhook: &Running) -> String {
    text_of(&callhook.url("/metrics")).await
}

/// The body of a GET of `url`, as text.
pub async fn text_of(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A client that never follows redirects.
pub fn client() -> reqwest::Client {
    callhook_http::client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// POSTs `body` with the platform's headers and `token`.
pub async fn post(
    url: &str,
    token: Option<&str>,
    message_id: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = client()
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("User-Agent", "Microsoft-Skype/3.0,(Calling/1.0)");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(message_id) = message_id {
        request = request.header("X-Microsoft-Skype-Message-ID", message_id);
    }
    request.body(body).send().await.unwrap()
}

/// The requests the bot received.
pub async fn received(bot: &MockServer) -> Vec<wiremock::Request> {
    bot.received_requests().await.unwrap_or_default()
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) over a raw socket and
/// returns the status code.
pub async fn post_chunked(base: &str, path: &str, token: &str, body: &[u8], chunk: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for piece in body.chunks(chunk) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a write error is fine.
    let _written = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _read =
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"))
}

/// A running `callhook serve` (the real binary), killed when dropped unless it already exited.
pub struct Binary {
    pub child: std::process::Child,
    pub base: String,
    /// Keeps the configuration file alive as long as the process.
    config: tempfile::NamedTempFile,
    /// Every line callhook logged so far (JSON).
    pub lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _waited = self.child.wait();
    }
}

impl Binary {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends `SIG{name}`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The configuration file the process was started with (rewrite it, then send SIGHUP).
    pub fn config_path(&self) -> &std::path::Path {
        self.config.path()
    }

    /// How many logged lines contain `needle`.
    pub fn count_lines(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Waits (at most 10 s) until a logged line contains `needle`, and returns it.
    pub async fn wait_for_line(&self, needle: &str) -> String {
        for _ in 0..200 {
            if let Some(line) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(needle))
            {
                return line.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("callhook never logged {needle:?}");
    }

    /// Waits (at most `limit`) for the process to exit and returns its exit code.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // What the shutdown logged (its stages, warnings, errors), so that a failure says where
        // it stood.
        let lines = self.lines.lock().unwrap();
        let shutdown: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|line| {
                line.contains("stop") || line.contains("\"WARN\"") || line.contains("\"ERROR\"")
            })
            .collect();
        let last = &shutdown[shutdown.len().saturating_sub(20)..];
        panic!(
            "callhook did not exit within {limit:?}; its last shutdown, warning and error lines:\n{}",
            last.join("\n")
        );
    }
}

/// Starts the real `callhook serve` binary (`exe` is `env!("CARGO_BIN_EXE_callhook")`) on
/// `toml`, which must set `server.listen = "127.0.0.1:0"`, and waits until it listens and, when
/// `wait_ready`, until `/readyz` answers 200. Its log goes to a background reader that drops it.
pub async fn spawn_binary(exe: &str, toml: &str, wait_ready: bool) -> Binary {
    use std::io::{BufRead, BufReader, Write};

    let mut config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    config.write_all(toml.as_bytes()).unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["serve", "--log-format", "json", "--config"])
        .arg(config.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = Arc::clone(&lines);
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // The first "listening" line says where; every line is kept for the tests to read.
            if line.contains("callhook is listening")
                && let Some(sender) = sender.take()
            {
                let _sent = sender.send(line.clone());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let line = tokio::task::spawn_blocking(move || receiver.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("callhook never logged that it listens");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let base = format!("http://{}", event["address"].as_str().unwrap());
    let binary = Binary {
        child,
        base,
        config,
        lines,
    };
    if wait_ready {
        assert!(
            becomes_ready(&binary.base).await,
            "callhook never became ready"
        );
    }
    binary
}

/// Polls `{base}/readyz` for at most 10 s; returns whether it answered 200.
pub async fn becomes_ready(base: &str) -> bool {
    let ready = format!("{base}/readyz");
    for _ in 0..200 {
        if client()
            .get(&ready)
            .send()
            .await
            .is_ok_and(|answer| answer.status() == 200)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The `X-Callhook-Message-Id` of every request the bot received, counted.
pub async fn delivered_ids(bot: &MockServer) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for request in received(bot).await {
        if let Some(id) = request
            .headers
            .get("x-callhook-message-id")
            .and_then(|value| value.to_str().ok())
        {
            *counts.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}
