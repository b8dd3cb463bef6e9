//! The real `callhook` binary: configuration errors and exit codes, environment overrides, graceful
//! shutdown on SIGTERM, and `callhook classify`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{APP_ID, Issuer, auth_section, bot, payload, post, received};

const CALLHOOK: &str = env!("CARGO_BIN_EXE_callhook");

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

/// Runs `callhook serve` on a configuration that must be refused, and returns its output.
fn refused(text: &str, env: &[(&str, &str)]) -> Output {
    let file = config_file(text);
    let mut command = Command::new(CALLHOOK);
    command.arg("serve").arg("--config").arg(file.path());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_missing_configuration_file_exits_2_naming_it() {
    let output = Command::new(CALLHOOK)
        .args(["serve", "--config", "/nonexistent/callhook.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/callhook.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_keys_and_bad_values_exit_2_naming_the_key() {
    let base = "[auth]\napp_id = \"x\"\nopenid_configuration = \"http://127.0.0.1:9/openid\"\n";
    let cases = [
        (
            format!("{base}[server]\nlisen = \"127.0.0.1:1\"\n"),
            "server.lisen",
        ),
        (
            format!("{base}[server]\nmax_body_bytes = \"big\"\n"),
            "server.max_body_bytes",
        ),
        (
            format!("{base}[server]\nlisten = \"nowhere\"\n"),
            "server.listen",
        ),
        (
            format!("{base}[server]\nwebhook_path = \"api\"\n"),
            "server.webhook_path",
        ),
        (
            format!("{base}[protocol]\nlegacy = \"sometimes\"\n"),
            "protocol.legacy",
        ),
        (
            format!("{base}[sink]\nkind = \"carrier-pigeon\"\n"),
            "carrier-pigeon",
        ),
        (format!("{base}[sink]\nkind = \"forward\"\n"), "sink.url"),
        (
            format!(
                "{base}[sink]\nkind = \"forward\"\nurl = \"http://127.0.0.1:1/\"\nsigning_secret = \"whsec_short\"\n"
            ),
            "sink.signing_secret",
        ),
        (format!("{base}[auth2]\n"), "auth2"),
        ("[server]\n".to_owned(), "auth"),
        (format!("{base}leeway_secs = -1\n"), "auth.leeway_secs"),
        (
            "[auth]\napp_id = \"x\"\nopenid_configuration = \"http://example.com/openid\"\n"
                .to_owned(),
            "auth.openid_configuration",
        ),
        (
            format!(
                "{base}[routing]\nregion = \"emea\"\n[[routing.rules]]\nregion = \"amre\"\ntenant = \"t\"\n"
            ),
            "routing.rules[0].region",
        ),
        (
            format!("{base}[partition]\nid = \"a/b\"\npublic_url = \"https://x.example\"\n"),
            "partition",
        ),
    ];
    for (text, key) in cases {
        let output = refused(&text, &[]);
        let message = stderr(&output);
        assert!(
            message.contains(key),
            "{key} not named in {message:?} for\n{text}"
        );
        assert!(
            message.starts_with("callhook: invalid configuration"),
            "{message}"
        );
    }
}

#[test]
fn an_unknown_or_bad_environment_variable_exits_2_naming_it() {
    let base = "[auth]\napp_id = \"x\"\nopenid_configuration = \"http://127.0.0.1:9/openid\"\n";
    let output = refused(base, &[("CALLHOOK_SERVER__LISEN", "1")]);
    assert!(
        stderr(&output).contains("server.lisen"),
        "{}",
        stderr(&output)
    );
    let output = refused(base, &[("CALLHOOK_SERVER__MAX_BODY_BYTES", "lots")]);
    assert!(
        stderr(&output).contains("server.max_body_bytes"),
        "{}",
        stderr(&output)
    );
}

/// A running `callhook serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _waited = self.child.wait();
    }
}

fn spawn_server(text: &str, env: &[(&str, &str)]) -> (Server, tempfile::NamedTempFile) {
    let file = config_file(text);
    let mut command = Command::new(CALLHOOK);
    command
        .args(["serve", "--log-format", "json", "--config"])
        .arg(file.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        // Read bytes, not `lines()`: a log line that is not UTF-8 must not end the reader.
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            if sender
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    let mut server = Server {
        child,
        base: String::new(),
        lines,
    };
    let line = wait_for_line(&server, "callhook is listening");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    server.base = format!("http://{}", event["address"].as_str().unwrap());
    (server, file)
}

fn wait_for_line(server: &Server, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match server.lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => last = line,
            Err(error) => {
                last = format!("{last}\n({error})");
                break;
            }
        }
    }
    panic!("callhook never logged {needle:?}; the last line was {last}");
}

/// Polls `/readyz` until the server's keys are loaded (at most 10 s).
async fn wait_until_ready(base: &str) {
    let ready_url = format!("{base}/readyz");
    for _ in 0..100 {
        if let Ok(response) = support::client().get(&ready_url).send().await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("callhook never became ready at {ready_url}");
}

fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn the_environment_wins_over_the_file() {
    let issuer = Issuer::start().await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}",
        auth_section(&issuer.openid_url()).replace(APP_ID, "the-file-says-another-app")
    );
    let (server, _file) = spawn_server(&text, &[("CALLHOOK_AUTH__APP_ID", APP_ID)]);
    let url = format!("{}/api/calls", server.base);
    // Keys load in the background: wait for readiness rather than guessing.
    wait_until_ready(&server.base).await;
    let response = post(
        &url,
        Some(&issuer.token()),
        None,
        payload("incoming-call.json"),
    )
    .await;
    assert_eq!(
        response.status(),
        202,
        "the token's aud is the app id from the environment"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_deliveries_finish_and_exits_0() {
    let issuer = Issuer::start().await;
    let slow_bot = bot(200, Duration::from_millis(1_500)).await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}[sink]\nkind = \"forward\"\nurl = \"{}/notifications\"\n",
        auth_section(&issuer.openid_url()),
        slow_bot.uri()
    );
    let (mut server, _file) = spawn_server(&text, &[]);
    let url = format!("{}/api/calls", server.base);
    wait_until_ready(&server.base).await;
    let in_flight: Vec<_> = (0..4)
        .map(|index| {
            let url = url.clone();
            let token = issuer.token();
            tokio::spawn(async move {
                post(
                    &url,
                    Some(&token),
                    Some(&format!("term-{index}")),
                    payload("incoming-call.json"),
                )
                .await
                .status()
            })
        })
        .collect();
    // Wait until every request reached the bot, then ask callhook to stop.
    for _ in 0..100 {
        if received(&slow_bot).await.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(received(&slow_bot).await.len(), 4);
    send_sigterm(&server.child);
    for request in in_flight {
        assert_eq!(
            request.await.unwrap(),
            202,
            "an in-flight delivery finishes"
        );
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        (status, server)
    })
    .await
    .unwrap()
    .0;
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        received(&slow_bot).await.len(),
        4,
        "every 202 was delivered, once"
    );
}

/// A proxy in front keeps connections alive and sends new requests on them while an instance
/// drains. Once the drain begins, an idle connection ends at once, and a connection with a request
/// in flight ends after its answer, which says `Connection: close`: the proxy takes the next
/// request elsewhere, and the drain ends with the last in-flight request, not at its timeout.
#[tokio::test]
async fn a_drain_ends_idle_connections_and_closes_busy_ones_after_their_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let issuer = Issuer::start().await;
    let slow_bot = bot(200, Duration::from_millis(4_000)).await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_timeout_secs = 30\n{}[sink]\nkind = \"forward\"\nurl = \"{}/notifications\"\n",
        auth_section(&issuer.openid_url()),
        slow_bot.uri()
    );
    let (mut server, _file) = spawn_server(&text, &[]);
    wait_until_ready(&server.base).await;
    let address = server.base.trim_start_matches("http://").to_owned();

    // An idle kept-alive connection: answered once, then nothing more on it.
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: callhook\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0_u8; 4096];
    let read = idle.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));

    // A busy kept-alive connection: a delivery in flight for 4 s.
    let body = payload("incoming-call.json");
    let mut busy = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/calls HTTP/1.1\r\nhost: callhook\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\nx-microsoft-skype-message-id: drain-0\r\n\
         content-length: {}\r\n\r\n",
        issuer.token(),
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.write_all(&body).await.unwrap();
    for _ in 0..100 {
        if received(&slow_bot).await.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        received(&slow_bot).await.len(),
        1,
        "the delivery is in flight"
    );
    send_sigterm(&server.child);
    wait_for_line(&server, "stopping");

    // The idle connection ends now, not when its keep-alive (5 s) or the delivery (4 s) ends.
    let ended = tokio::time::timeout(Duration::from_millis(2_500), idle.read(&mut answer)).await;
    assert!(
        matches!(ended, Ok(Ok(0))),
        "the idle connection was not closed when the drain began: {ended:?}"
    );
    // The busy one gets its 202, saying that the connection closes, and then ends.
    let mut received_answer = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(20),
        busy.read_to_end(&mut received_answer),
    )
    .await;
    assert!(matches!(read, Ok(Ok(_))), "{read:?}");
    let text = String::from_utf8_lossy(&received_answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 202"), "{text}");
    assert!(text.contains("\r\nconnection: close\r\n"), "{text}");

    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        (status, server)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0));
    let remaining: Vec<String> = status.1.lines.try_iter().collect();
    assert!(
        !remaining
            .iter()
            .any(|line| line.contains("shutdown timeout")),
        "the drain ended without its timeout: {remaining:?}"
    );
}

fn classify(stdin: &[u8], args: &[&str]) -> Output {
    let mut child = Command::new(CALLHOOK)
        .arg("classify")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn classify_prints_one_json_object_per_body() {
    let output = classify(&payload("incoming-call.json"), &[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["protocol"], "graph");
    let first = &summary["notifications"][0];
    assert_eq!(first["changeType"], "created");
    assert_eq!(
        first["resourceUrl"],
        "/communications/calls/2f1f4a00-9c1e-4b8a-a7e3-1d3c5b9e0a11"
    );
    assert_eq!(first["resourceType"], "#microsoft.graph.call");
    assert_eq!(first["state"], "incoming");

    let legacy = classify(&payload("legacy-conversation.json"), &["-"]);
    assert!(legacy.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&legacy.stdout).unwrap();
    assert_eq!(summary["protocol"], "legacy");
    assert!(summary["notifications"][0].get("state").is_some());

    let from_file = Command::new(CALLHOOK)
        .arg("classify")
        .arg(format!(
            "{}/tests/data/established.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .unwrap();
    assert!(from_file.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(summary["notifications"][0]["changeType"], "updated");
}

#[test]
fn classify_refuses_what_is_neither_format_with_a_one_line_reason() {
    for (body, reason) in [
        (&b""[..], "empty"),
        (b"{\"a\": 1}", "neither"),
        (b"[1, 2", "not JSON"),
    ] {
        let output = classify(body, &[]);
        assert!(!output.status.success());
        assert!(output.stdout.is_empty());
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(
            message.contains(reason),
            "{message:?} should say {reason:?}"
        );
    }
    let missing = Command::new(CALLHOOK)
        .args(["classify", "/nonexistent/body.json"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent/body.json"));
}

#[tokio::test]
async fn tokens_never_appear_in_the_logs_even_at_trace_level() {
    let issuer = Issuer::start().await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}",
        auth_section(&issuer.openid_url())
    );
    let (server, _file) = spawn_server(&text, &[("CALLHOOK_LOG", "trace")]);
    let url = format!("{}/api/calls", server.base);
    wait_until_ready(&server.base).await;
    let good = issuer.token();
    let expired = issuer.dev.mint(&serde_json::json!({
        "tid": support::TENANT, "aud": APP_ID, "iss": "https://api.botframework.com",
        "exp": 1_000, "nbf": 900
    }));
    let garbage = "this-is-not-a-token-but-still-a-secret";
    for token in [good.as_str(), expired.as_str(), garbage] {
        let response = post(
            &url,
            Some(token),
            Some("log-check"),
            payload("incoming-call.json"),
        )
        .await;
        assert!(matches!(response.status().as_u16(), 202 | 401));
    }
    // The last request's outcome is logged once it is answered: wait for it, then read everything.
    wait_for_line(&server, "token refused");
    std::thread::sleep(Duration::from_millis(200));
    let logs: Vec<String> = server.lines.try_iter().collect();
    assert!(!logs.is_empty());
    for token in [good.as_str(), expired.as_str(), garbage] {
        // Each token's signature part is unique to it; its header part is shared and harmless.
        let secret = token.rsplit('.').next().unwrap();
        assert!(
            logs.iter().all(|line| !line.contains(secret)),
            "a token leaked into the logs"
        );
    }
}

#[tokio::test]
async fn the_log_sink_writes_a_line_per_notification_saying_what_it_is() {
    // The handler decides with `decide`, and this line reads the facts of that decision.
    let issuer = Issuer::start().await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}",
        auth_section(&issuer.openid_url())
    );
    let (server, _file) = spawn_server(&text, &[("CALLHOOK_LOG", "info")]);
    let url = format!("{}/api/calls", server.base);
    wait_until_ready(&server.base).await;
    let response = post(
        &url,
        Some(&issuer.token()),
        Some("log-sink-1"),
        payload("incoming-call.json"),
    )
    .await;
    assert_eq!(response.status(), 202);
    let line = wait_for_line(&server, "callhook::notification");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["message"], "notification", "{line}");
    assert_eq!(event["protocol"], "graph", "{line}");
    assert_eq!(event["tenant"], support::TENANT, "{line}");
    assert_eq!(event["message_id"], "log-sink-1", "{line}");
    assert_eq!(event["change_type"], "created", "{line}");
    assert_eq!(event["state"], "incoming", "{line}");
    assert_eq!(
        event["call_id"], "2f1f4a00-9c1e-4b8a-a7e3-1d3c5b9e0a11",
        "{line}"
    );
}
