//! Production hardening, tried from the attacker's and the unlucky operator's side, over real
//! sockets: a log reader that goes away, slow headers and bodies, connection bursts, ambiguous
//! framing, deep pipelining, HEAD probes, a slow bot under a burst, floods of long message ids, and
//! a configuration reload with a delivery in flight. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a panic is a failed test"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{Issuer, auth_section, client, payload, post, spawn_binary, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CALLHOOK: &str = env!("CARGO_BIN_EXE_callhook");

/// Reads from `stream` until the peer closes or `limit` passes; returns what arrived and whether
/// the peer closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Err(_) => return (received, false),
        }
    }
}

/// Sends `byte` every 50 ms, for at most 10 s, until the peer closes; returns what it answered and
/// whether it closed.
async fn trickle(stream: &mut TcpStream, byte: &[u8]) -> (Vec<u8>, bool) {
    let mut answer = Vec::new();
    for _ in 0..200 {
        if stream.write_all(byte).await.is_err() {
            return (answer, true);
        }
        let (bytes, peer_closed) = read_until_closed(stream, Duration::from_millis(50)).await;
        answer.extend_from_slice(&bytes);
        if peer_closed {
            return (answer, true);
        }
    }
    (answer, false)
}

/// The status codes of every answer in `bytes`, in order.
fn statuses(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// A webhook POST with the platform's headers, as raw bytes.
fn raw_post(token: &str, message_id: Option<&str>, body: &[u8]) -> Vec<u8> {
    let id = message_id.map_or_else(String::new, |id| {
        format!("X-Microsoft-Skype-Message-ID: {id}\r\n")
    });
    let mut request = format!(
        "POST /api/calls HTTP/1.1\r\nHost: callhook\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\n{id}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// callhook on a real socket with the log sink, a ready issuer and `server` settings.
async fn callhook_with(issuer: &Issuer, server: &str, rest: &str) -> support::Running {
    start(
        &format!(
            "[server]\nworkers = 1\n{server}\n{}\n{rest}",
            auth_section(&issuer.openid_url())
        ),
        true,
    )
    .await
}

// --- The log pipe ----------------------------------------------------------------------------

#[actix_web::test]
async fn a_closed_log_pipe_changes_no_answer_stops_no_task_and_blocks_no_shutdown() {
    use std::io::{BufRead, BufReader};

    // The issuer is down at start: its port is reserved, then freed, and served only later, so
    // the key refresh logs failures into a pipe nobody reads any more.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer_address = reserved.local_addr().unwrap();
    drop(reserved);
    let openid = format!("http://{issuer_address}/v1/.well-known/OpenIdConfiguration");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n{}",
        auth_section(&openid)
    );
    let mut config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::io::Write::write_all(&mut config, toml.as_bytes()).unwrap();
    let mut child = std::process::Command::new(CALLHOOK)
        .args(["serve", "--log-format", "json", "--config"])
        .arg(config.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("callhook is listening"))
        .expect("callhook never said it listens");
    let event: serde_json::Value = serde_json::from_str(&listening).unwrap();
    let base = format!("http://{}", event["address"].as_str().unwrap());
    // The log reader goes away, as a log shipper that restarts does.
    drop(lines);

    let http = client();
    // Requests that log (a 401 at info) are answered all the same.
    for _ in 0..20 {
        let answer = post(
            &format!("{base}/api/calls"),
            Some("not-a-token"),
            None,
            b"{}".to_vec(),
        )
        .await;
        assert!(
            matches!(answer.status().as_u16(), 401 | 503),
            "{}",
            answer.status()
        );
    }
    // The issuer comes up: the key refresh, which has logged failures into the closed pipe, is
    // still alive and loads the keys.
    let issuer_listener = std::net::TcpListener::bind(issuer_address).unwrap();
    let issuer = Issuer::start_on(issuer_listener).await;
    assert!(
        support::becomes_ready(&base).await,
        "the key refresh died with the log pipe: /readyz never became 200"
    );
    // A notification is accepted and logged (info), a forged token refused (info).
    let accepted = post(
        &format!("{base}/api/calls"),
        Some(&issuer.token()),
        Some("after-the-pipe-closed"),
        payload("incoming-call.json"),
    )
    .await;
    assert_eq!(accepted.status(), 202);
    let refused = post(
        &format!("{base}/api/calls"),
        Some("forged"),
        None,
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(refused.status(), 401);
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // The lost lines are counted.
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("callhook_log_lines_dropped_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("no callhook_log_lines_dropped_total");
    assert!(dropped > 0, "no dropped line was counted:\n{metrics}");
    // SIGTERM still stops it, with exit code 0.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exit = None;
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = exit.unwrap_or_else(|| {
        let _killed = child.kill();
        panic!("SIGTERM was ignored after the log pipe closed")
    });
    assert_eq!(exit.code(), Some(0));
}

// --- Slow clients ----------------------------------------------------------------------------

#[actix_web::test]
async fn slow_headers_on_a_kept_alive_connection_get_408_and_the_connection_closes() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "header_timeout_ms = 300", "").await;
    let mut stream = TcpStream::connect(address(&server.base)).await.unwrap();
    // A first request, answered: the connection is kept alive.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: callhook\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 1024];
    let read = stream.read(&mut first).await.unwrap();
    assert_eq!(statuses(&first[..read]), vec![200]);
    // The next head trickles in, a byte every 50 ms, for at most 10 s: it is cut off.
    let head = b"GET /healthz HTTP/1.1\r\nHost: callhook\r\nX-Slow: ";
    stream.write_all(head).await.unwrap();
    let (answer, closed) = trickle(&mut stream, b"a").await;
    assert!(
        closed,
        "a trickled head on a kept-alive connection was never cut off"
    );
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(
        text.is_empty() || (text.starts_with("http/1.1 408") && text.contains("connection: close")),
        "{text}"
    );
    server.stop().await;
}

#[actix_web::test]
async fn a_slow_body_gets_408_and_the_connection_closes() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "body_timeout_ms = 300", "").await;
    let mut stream = TcpStream::connect(address(&server.base)).await.unwrap();
    let head = format!(
        "POST /api/calls HTTP/1.1\r\nHost: callhook\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{",
        issuer.token()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, closed) = trickle(&mut stream, b" ").await;
    assert!(closed, "a trickled body was never cut off");
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    server.stop().await;
}

#[actix_web::test]
async fn connections_beyond_max_connections_wait_in_the_backlog_until_one_closes() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "max_connections = 4", "").await;
    // Four clients hold every place with a head that never completes.
    let mut holders = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(address(&server.base)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        holders.push(stream);
    }
    // Give the accept loop the time to take all four (bounded).
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A fifth is queued by the kernel, not served.
    let mut fifth = TcpStream::connect(address(&server.base)).await.unwrap();
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: callhook\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (early, _) = read_until_closed(&mut fifth, Duration::from_millis(500)).await;
    assert!(
        early.is_empty(),
        "a fifth connection was served beyond max_connections = 4"
    );
    // One place comes free: the fifth is served.
    drop(holders.pop());
    let (answer, _) = read_until_closed(&mut fifth, Duration::from_secs(10)).await;
    assert_eq!(statuses(&answer), vec![200]);
    server.stop().await;
}

#[actix_web::test]
async fn a_burst_of_connections_is_queued_by_the_configured_backlog() {
    let issuer = Issuer::start().await;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\nbacklog = 2048\n{}",
        auth_section(&issuer.openid_url())
    );
    let binary = spawn_binary(CALLHOOK, &toml, true).await;
    let port = binary.base.rsplit(':').next().unwrap().to_owned();
    // The kernel shows a listening socket's backlog as its Send-Q.
    let listing = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output();
    match listing {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            let send_q: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(send_q.get(2).copied(), Some("2048"), "ss printed {text:?}");
        }
        _ => println!("skipped the backlog reading: `ss` is not available"),
    }
    // A burst of 500 connections at once: every one is answered.
    let base = binary.base.clone();
    let mut tasks = Vec::new();
    for _ in 0..500 {
        let address = address(&base);
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: callhook\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(20)).await;
            statuses(&answer)
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), vec![200]);
    }
}

// --- Framing ---------------------------------------------------------------------------------

#[actix_web::test]
async fn content_length_with_transfer_encoding_gets_400_and_nothing_after_it_is_answered() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "", "").await;
    let mut stream = TcpStream::connect(address(&server.base)).await.unwrap();
    // A proxy framing by Content-Length would see one request; a chunked reader sees a second,
    // smuggled one after the empty chunk.
    let smuggled = format!(
        "POST /api/calls HTTP/1.1\r\nHost: callhook\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
         GET /healthz HTTP/1.1\r\nHost: callhook\r\n\r\n",
        issuer.token()
    );
    stream.write_all(smuggled.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        closed,
        "the connection stayed open after an ambiguously framed request"
    );
    assert_eq!(
        statuses(&answer),
        vec![400],
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.contains("connection: close"), "{text}");
    server.stop().await;
}

#[actix_web::test]
async fn a_thousand_pipelined_notifications_are_all_answered() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "", "").await;
    let token = issuer.token();
    let body = payload("incoming-call.json");
    let mut requests = Vec::new();
    for index in 0..1_000 {
        requests.extend(raw_post(&token, Some(&format!("pipelined-{index}")), &body));
    }
    let mut stream = TcpStream::connect(address(&server.base)).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let write = async {
        writer.write_all(&requests).await.unwrap();
        writer.shutdown().await.unwrap();
    };
    let read = async {
        let mut answers = Vec::new();
        let _read =
            tokio::time::timeout(Duration::from_secs(60), reader.read_to_end(&mut answers)).await;
        answers
    };
    let ((), answers) = tokio::join!(write, read);
    let statuses = statuses(&answers);
    assert_eq!(statuses.len(), 1_000, "answered {} of 1000", statuses.len());
    assert!(statuses.iter().all(|status| *status == 202), "{statuses:?}");
    server.stop().await;
}

#[actix_web::test]
async fn head_on_the_operations_endpoints_answers_like_get_without_a_body() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "", "").await;
    let http = client();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let get = http.get(server.url(path)).send().await.unwrap();
        let head = http.head(server.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    server.stop().await;
}

// --- The forward sink under a burst ----------------------------------------------------------

/// A bot that takes `delay` per notification, on kept-alive connections, and counts connections,
/// notifications and the most it handled at once.
struct SlowBot {
    url: String,
    connections: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
}

async fn slow_bot(delay: Duration) -> SlowBot {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notifications", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let now = Arc::new(AtomicUsize::new(0));
    let (counted, got, most) = (
        Arc::clone(&connections),
        Arc::clone(&received),
        Arc::clone(&most_at_once),
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let (got, most, now) = (Arc::clone(&got), Arc::clone(&most), Arc::clone(&now));
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    // One request: the head, then Content-Length bytes.
                    let (head_end, length) = loop {
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|line| line.strip_prefix("content-length:"))
                                .and_then(|value| value.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                        }
                    };
                    while buffer.len() < head_end + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                        }
                    }
                    buffer.drain(..head_end + length);
                    let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(at_once, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    got.fetch_add(1, Ordering::SeqCst);
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    SlowBot {
        url,
        connections,
        received,
        most_at_once,
    }
}

#[actix_web::test]
async fn a_slow_bot_under_a_burst_gets_at_most_max_in_flight_and_the_rest_is_told_to_retry() {
    let issuer = Issuer::start().await;
    let bot = slow_bot(Duration::from_millis(400)).await;
    let server = callhook_with(
        &issuer,
        "",
        &format!(
            "[sink]\nkind = \"forward\"\nurl = \"{}\"\nmax_in_flight = 4\nmax_wait_ms = 200\n",
            bot.url
        ),
    )
    .await;
    let token = issuer.token();
    let mut burst = Vec::new();
    for index in 0..40 {
        let (url, token) = (server.url("/api/calls"), token.clone());
        burst.push(tokio::spawn(async move {
            let answer = post(
                &url,
                Some(&token),
                Some(&format!("burst-{index}")),
                payload("incoming-call.json"),
            )
            .await;
            (
                answer.status().as_u16(),
                answer.headers().contains_key("retry-after"),
            )
        }));
    }
    let mut accepted = 0;
    let mut shed = 0;
    for task in burst {
        match task.await.unwrap() {
            (202, _) => accepted += 1,
            (503, true) => shed += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(
        bot.most_at_once.load(Ordering::SeqCst) <= 4,
        "the bot had more than 4 at once"
    );
    assert!(
        bot.connections.load(Ordering::SeqCst) <= 4,
        "more than 4 connections to the bot"
    );
    assert!(
        shed > 0,
        "nothing was shed: the burst did not saturate the bot"
    );
    assert_eq!(
        bot.received.load(Ordering::SeqCst),
        accepted,
        "a 202 was not delivered"
    );
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "callhook_sink_shed_total{{sink=\"forward\"}} {shed}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("callhook_sink_in_flight 0"), "{metrics}");
    // The connections to the bot are pooled: a second round opens none.
    let before = bot.connections.load(Ordering::SeqCst);
    for index in 0..4 {
        let answer = post(
            &server.url("/api/calls"),
            Some(&token),
            Some(&format!("second-{index}")),
            payload("incoming-call.json"),
        )
        .await;
        assert_eq!(answer.status(), 202);
    }
    assert_eq!(bot.connections.load(Ordering::SeqCst), before);
    server.stop().await;
}

// --- De-duplication memory -------------------------------------------------------------------

#[actix_web::test]
async fn a_flood_of_long_message_ids_costs_at_most_64_bytes_an_id() {
    let issuer = Issuer::start().await;
    let server = callhook_with(&issuer, "", "").await;
    let token = issuer.token();
    let body = payload("incoming-call.json");
    let mut stream = TcpStream::connect(address(&server.base)).await.unwrap();
    // 2,000 ids of 8 KiB each, pipelined in rounds of 100 on one connection.
    let count = 2_000;
    for round in 0..count / 100 {
        let mut requests = Vec::new();
        for index in 0..100 {
            let id = format!("{round}-{index}-{}", "x".repeat(8 * 1024));
            requests.extend(raw_post(&token, Some(&id), &body));
        }
        stream.write_all(&requests).await.unwrap();
        let mut answers = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while statuses(&answers).len() < 100 {
            let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(read > 0, "the connection closed mid-flood");
            answers.extend_from_slice(&chunk[..read]);
        }
        assert!(statuses(&answers).iter().all(|status| *status == 202));
    }
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    let remembered = gauge("callhook_dedup_remembered_ids");
    let bytes = gauge("callhook_dedup_bytes");
    assert_eq!(remembered, f64::from(count));
    println!(
        "de-duplication store: {:.1} bytes per id of 8 KiB",
        bytes / remembered
    );
    assert!(
        bytes / remembered <= 64.0,
        "{} bytes per id",
        bytes / remembered
    );
    server.stop().await;
}

// --- SIGHUP ----------------------------------------------------------------------------------

#[actix_web::test]
async fn sighup_reloads_with_a_delivery_in_flight_and_keeps_the_running_configuration_on_a_bad_one()
{
    let issuer = Issuer::start().await;
    let first_bot = support::bot(200, Duration::from_millis(1_500)).await;
    let second_bot = support::bot(200, Duration::ZERO).await;
    let config = |bot: &str, extra: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n{extra}\n{}\n[sink]\nkind = \"forward\"\n\
             url = \"{bot}/notifications\"\n",
            auth_section(&issuer.openid_url())
        )
    };
    let binary = spawn_binary(CALLHOOK, &config(&first_bot.uri(), ""), true).await;
    let token = issuer.token();
    // A delivery to the first bot is in flight (it takes 1.5 s) ...
    let in_flight = {
        let (url, token) = (binary.url("/api/calls"), token.clone());
        tokio::spawn(async move {
            post(
                &url,
                Some(&token),
                Some("in-flight"),
                payload("incoming-call.json"),
            )
            .await
            .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... when the sink is changed and SIGHUP sent.
    std::fs::write(binary.config_path(), config(&second_bot.uri(), "")).unwrap();
    binary.signal("HUP");
    binary.wait_for_line("configuration reloaded").await;
    assert_eq!(
        in_flight.await.unwrap(),
        202,
        "the delivery in flight was lost"
    );
    assert_eq!(support::received(&first_bot).await.len(), 1);
    let next = post(
        &binary.url("/api/calls"),
        Some(&token),
        Some("next"),
        payload("incoming-call.json"),
    )
    .await;
    assert_eq!(next.status(), 202);
    assert_eq!(
        support::received(&second_bot).await.len(),
        1,
        "the new sink was not used"
    );

    // A bad configuration is refused and the running one stays.
    std::fs::write(
        binary.config_path(),
        "[auth]\napp_id = \"x\"\nno_such_key = 1\n",
    )
    .unwrap();
    binary.signal("HUP");
    binary
        .wait_for_line("the new configuration was refused")
        .await;
    let still = post(
        &binary.url("/api/calls"),
        Some(&token),
        Some("still"),
        payload("incoming-call.json"),
    )
    .await;
    assert_eq!(still.status(), 202);
    assert_eq!(support::received(&second_bot).await.len(), 2);

    // `listen` cannot change without a restart, and the log says so.
    std::fs::write(
        binary.config_path(),
        config(&second_bot.uri(), "").replace("127.0.0.1:0", "127.0.0.1:1"),
    )
    .unwrap();
    binary.signal("HUP");
    let line = binary
        .wait_for_line("takes effect only at the next start")
        .await;
    assert!(line.contains("server.listen"), "{line}");
    let health = client().get(binary.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The tenant allow-list changes without a restart: the platform's tenant is refused now,
    // even with a token that was verified (and cached) before.
    let tenants = config(&second_bot.uri(), "").replace(
        "[sink]",
        "tenants = [\"00000000-0000-0000-0000-00000000beef\"]\n[sink]",
    );
    std::fs::write(binary.config_path(), tenants).unwrap();
    let reloads = binary.count_lines("configuration reloaded");
    binary.signal("HUP");
    for _ in 0..200 {
        if binary.count_lines("configuration reloaded") > reloads {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = post(
        &binary.url("/api/calls"),
        Some(&token),
        Some("tenant"),
        payload("incoming-call.json"),
    )
    .await;
    assert_eq!(refused.status(), 401);
}

// --- Shutdown and health ---------------------------------------------------------------------

#[actix_web::test]
async fn slow_clients_do_not_hold_up_a_graceful_shutdown() {
    let issuer = Issuer::start().await;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\nbody_timeout_ms = 500\n\
         shutdown_timeout_secs = 30\n{}",
        auth_section(&issuer.openid_url())
    );
    let mut binary = spawn_binary(CALLHOOK, &toml, true).await;
    // Twenty clients announce a large body and trickle it.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(address(&binary.base)).await.unwrap();
        let head = format!(
            "POST /api/calls HTTP/1.1\r\nHost: callhook\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{",
            issuer.token()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    binary.terminate();
    // The shutdown waits for them only as long as their body deadline, far from the 30 s
    // shutdown timeout (bounded here at 15 s).
    let code = binary.wait_for_exit(Duration::from_secs(15)).await;
    assert_eq!(code, Some(0));
}

#[actix_web::test]
async fn healthz_fails_naming_a_background_task_that_stopped() {
    use actix_web::test;
    use callhook_auth::Authenticator;
    use callhook_server::app::{AppState, app};
    use callhook_server::config::Config;

    let config = Config::from_toml_str("[auth]\napp_id = \"bot\"\n").unwrap();
    let keys = callhook_auth::testing::DevIssuer::new().key_set();
    let authenticator = Arc::new(
        Authenticator::builder("bot")
            .static_keys(keys)
            .build()
            .unwrap(),
    );
    let state = actix_web::web::Data::new(AppState::new(&config, authenticator).unwrap());
    let service = test::init_service(app(state.clone())).await;
    let healthy = test::call_service(
        &service,
        test::TestRequest::get().uri("/healthz").to_request(),
    )
    .await;
    assert_eq!(healthy.status(), 200);
    // A watched task ends (as a signal listener that panicked would).
    let task = tokio::spawn(async {});
    let handle = task.abort_handle();
    let _ended = task.await;
    state.watch_task("signal listener", handle);
    let answer = test::call_service(
        &service,
        test::TestRequest::get().uri("/healthz").to_request(),
    )
    .await;
    assert_eq!(answer.status(), 503);
    let body = test::read_body(answer).await;
    assert!(String::from_utf8_lossy(&body).contains("signal listener"));
}
