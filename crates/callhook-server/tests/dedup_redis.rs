//! De-duplication shared through a real `redis-server` on a loopback port: two instances, one
//! delivery per id; a failed delivery released for the retry on the other instance; Redis stopped
//! under each `on_store_error`; Redis restarted and the instances recovering by themselves.
//!
//! `redis-server` comes from Debian's package; `cargo xtask ci` installs it when missing and sets
//! `XTASK_REQUIRE_REDIS=1`, so that CI fails rather than skips. Elsewhere, without it, each test
//! prints one line saying it skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "helpers of tests: a panic is a failed test; a skipped test says so"
)]

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Issuer, Running, auth_section, delivered_ids, payload, post, start};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A `redis-server` on a loopback port with a temporary directory, killed when dropped.
struct Redis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    /// Starts one, or says why not and returns `None`.
    fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            assert!(
                std::env::var_os("XTASK_REQUIRE_REDIS").is_none(),
                "XTASK_REQUIRE_REDIS is set but redis-server is not installed"
            );
            eprintln!("skipped: redis-server is not installed (cargo xtask ci installs it)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.resume();
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers, for at most 10 s.
    fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0_u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bot that answers 202 after `delay`.
async fn bot(delay: Duration) -> MockServer {
    support::bot(202, delay).await
}

async fn instance(issuer: &Issuer, bot: &MockServer, redis: &Redis, on_error: &str) -> Running {
    start(
        &format!(
            "{}\n[sink]\nkind = \"forward\"\nurl = \"{}/notifications\"\ntimeout_ms = 2000\n\
             [dedup]\nstore = \"redis\"\nurl = \"{}\"\nkey_prefix = \"test:{}:\"\n\
             on_store_error = \"{on_error}\"\ncommand_timeout_ms = 300\nconnect_timeout_ms = 300\n\
             claim_ttl_ms = 5000\n",
            auth_section(&issuer.openid_url()),
            bot.uri(),
            redis.url(),
            redis.port,
        ),
        true,
    )
    .await
}

async fn deliver(instance: &Running, issuer: &Issuer, id: &str) -> reqwest::Response {
    post(
        &instance.url("/api/calls"),
        Some(&issuer.token()),
        Some(id),
        payload("incoming-call.json"),
    )
    .await
}

#[actix_web::test]
async fn the_same_id_posted_to_two_instances_at_once_is_delivered_once() {
    let Some(redis) = Redis::start() else { return };
    let issuer = Issuer::start().await;
    let bot = bot(Duration::from_millis(300)).await;
    let first = instance(&issuer, &bot, &redis, "deliver").await;
    let second = instance(&issuer, &bot, &redis, "deliver").await;
    for round in 0..5 {
        let id = format!("concurrent-{round}");
        let (a, b) = tokio::join!(
            deliver(&first, &issuer, &id),
            deliver(&second, &issuer, &id)
        );
        assert_eq!(
            (a.status().as_u16(), b.status().as_u16()),
            (202, 202),
            "round {round}"
        );
    }
    let delivered = delivered_ids(&bot).await;
    assert_eq!(delivered.len(), 5, "{delivered:?}");
    assert!(delivered.values().all(|count| *count == 1), "{delivered:?}");
    // A later retry on either instance is a duplicate.
    assert_eq!(
        deliver(&second, &issuer, "concurrent-0").await.status(),
        202
    );
    assert_eq!(delivered_ids(&bot).await["concurrent-0"], 1);
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn a_failed_delivery_is_released_and_the_retry_on_the_other_instance_delivers() {
    let Some(redis) = Redis::start() else { return };
    let issuer = Issuer::start().await;
    let bot = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/notifications"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&bot)
        .await;
    Mock::given(method("POST"))
        .and(path("/notifications"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&bot)
        .await;
    let first = instance(&issuer, &bot, &redis, "deliver").await;
    let second = instance(&issuer, &bot, &redis, "deliver").await;
    assert_eq!(deliver(&first, &issuer, "retried").await.status(), 502);
    assert_eq!(deliver(&second, &issuer, "retried").await.status(), 202);
    assert_eq!(deliver(&first, &issuer, "retried").await.status(), 202);
    // The failed attempt and the one delivery; the last retry was not delivered again.
    assert_eq!(delivered_ids(&bot).await["retried"], 2);
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn with_redis_down_each_setting_does_what_it_says_and_recovers_by_itself() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let issuer = Issuer::start().await;
    let bot = bot(Duration::ZERO).await;
    let delivering = instance(&issuer, &bot, &redis, "deliver").await;
    let retrying = instance(&issuer, &bot, &redis, "retry").await;
    assert_eq!(deliver(&delivering, &issuer, "before").await.status(), 202);
    assert!(
        support::text_of(&delivering.url("/readyz"))
            .await
            .contains("redis reachable")
    );

    redis.stop();
    // "deliver": at least once, without the shared check.
    let answer = deliver(&delivering, &issuer, "during").await;
    assert_eq!(answer.status(), 202);
    assert_eq!(delivered_ids(&bot).await["during"], 1);
    // "retry": 503 with Retry-After, and nothing reaches the bot.
    let answer = deliver(&retrying, &issuer, "during-retry").await;
    assert_eq!(answer.status(), 503);
    assert!(answer.headers().contains_key("retry-after"));
    assert!(!delivered_ids(&bot).await.contains_key("during-retry"));
    for running in [&delivering, &retrying] {
        let ready = support::client()
            .get(running.url("/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let body = ready.text().await.unwrap();
        assert!(body.contains("redis unreachable"), "{body}");
        let metrics = support::text_of(&running.url("/metrics")).await;
        assert!(
            metrics.contains("callhook_dedup_store_reachable 0"),
            "{metrics}"
        );
        assert!(
            !metrics.contains("callhook_dedup_store_errors_total 0\n"),
            "{metrics}"
        );
    }
    assert!(
        support::text_of(&delivering.url("/metrics"))
            .await
            .contains("callhook_dedup_delivered_without_check_total 1")
    );

    redis.resume();
    // Both recover by themselves: the store answers again within a few attempts.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = deliver(&retrying, &issuer, "after").await.status();
        if status == 202 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "the instance never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deliver(&delivering, &issuer, "after").await.status(), 202);
    assert_eq!(delivered_ids(&bot).await["after"], 1, "shared again");
    assert!(
        support::text_of(&retrying.url("/readyz"))
            .await
            .contains("redis reachable")
    );
    delivering.stop().await;
    retrying.stop().await;
}

#[test]
fn bad_dedup_settings_are_refused_naming_the_key() {
    let auth = "[auth]\napp_id = \"x\"\n";
    for (dedup, named) in [
        ("store = \"redis\"", "dedup.url: required"),
        (
            "store = \"redis\"\nurl = \"http://127.0.0.1:6379\"",
            "dedup.url: expected a redis://",
        ),
        (
            "url = \"redis://127.0.0.1:6379\"",
            "dedup.url: only used with store = \"redis\"",
        ),
        ("store = \"disk\"", "dedup.store"),
        ("on_store_error = \"ignore\"", "dedup.on_store_error"),
        ("command_timeout_ms = 0", "dedup.command_timeout_ms"),
    ] {
        let error =
            callhook_server::config::Config::from_toml_str(&format!("{auth}[dedup]\n{dedup}\n"))
                .expect_err(dedup);
        assert!(
            error
                .problems()
                .iter()
                .any(|problem| problem.contains(named)),
            "{dedup}: {:?}",
            error.problems()
        );
    }
    // TLS is named by the URL's scheme.
    let tls = callhook_server::config::Config::from_toml_str(&format!(
        "{auth}[dedup]\nstore = \"redis\"\nurl = \"rediss://:secret@redis.example.com:6380/2\"\n"
    ))
    .unwrap();
    assert_eq!(
        tls.dedup.store,
        callhook_server::config::DedupStoreKind::Redis
    );
    let error = callhook_server::config::Config::from_toml_str(&format!(
        "{auth}[sink]\nkind = \"forward\"\nurl = \"http://127.0.0.1:1/\"\ntimeout_ms = 5000\n\
         [dedup]\nstore = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\nclaim_ttl_ms = 5000\n"
    ))
    .expect_err("a claim shorter than a delivery");
    assert!(
        error
            .problems()
            .iter()
            .any(|problem| problem.contains("dedup.claim_ttl_ms")),
        "{:?}",
        error.problems()
    );
}
