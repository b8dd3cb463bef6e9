//! The end-to-end part: each server started alone on its core, checked for correct answers, loaded
//! by wrk on the other core, and measured (throughput, latency, peak RSS).
//!
//! Three groups of runs, in this order:
//! - *synthetic*: the no-op handler, the jsonwebtoken server and callhook (log sink at `warn`) with
//!   the reused token and with distinct tokens, no message ids: what the original goals compare;
//! - *the platform's reality*: one wrk script (the reused token and a new message id on every
//!   request, as the platform sends them) against the no-op handler and the jsonwebtoken server
//!   (each in the process of its synthetic runs) and against a callhook of its own, run with its
//!   default configuration, for more than a million requests;
//! - *the forward sink*: callhook forwarding every notification to a no-op bot on loopback.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::metrics;
use super::tokens::Tokens;
use super::wrk::{self, LoadResult, TokenMode, Wrk};
use super::{APP_ID, Binaries, Settings};
use crate::util::has_program;

/// The webhook path every server listens on (callhook's default, which the platform run relies on).
const WEBHOOK_PATH: &str = "/api/calls";

/// The path the forward sink posts to on the bot.
const BOT_PATH: &str = "/notifications";

/// The body of every request: a Graph incoming-call notification of about 1 KB.
const BODY: &str = include_str!("../../../benches/baselines/data/incoming-call.json");

/// How long a server may take to listen (and callhook to load its keys).
const START_LIMIT: Duration = Duration::from_secs(30);

/// How often a run that ends on a request count reads callhook's count. Each read wakes the xtask,
/// and a thread of the xtask waking often slows callhook under wrk measurably (at 50 Hz by
/// 15-20%, at 5 Hz by about 5%, at 1 Hz not measurably; see [`Issuer`]). Once a second the run
/// overshoots its target by at most a second of load, which the goals do not mind.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long past its duration a wrk run may take to end before the xtask gives up on it.
const WRK_GRACE: Duration = Duration::from_secs(30);

/// How much of a drained stderr is kept in the server's log file, for the error messages; the rest
/// is counted and discarded (a full platform run writes hundreds of megabytes).
const KEPT_LOG_BYTES: usize = 256 * 1024;

/// The tags of the message ids of the platform-script runs: no two wrk runs against one server may
/// send the same id, or the second would be answered as a duplicate.
const RUN_NOOP: u32 = 1;
const RUN_JWT: u32 = 2;
const RUN_WARM_UP: u32 = 3;
const RUN_PLATFORM: u32 = 4;
const RUN_REDIS: u32 = 5;

/// The servers under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKind {
    /// The actix-web no-op handler.
    Noop,
    /// The actix-web handler verifying with jsonwebtoken on every request.
    Jwt,
    /// The real `callhook serve`.
    Callhook,
    /// A minimal axum app behind callhook-auth's `tower::AuthLayer`.
    AxumLayer,
    /// The same app, its handler calling the authenticator itself.
    AxumByHand,
}

impl ServerKind {
    /// The name in the table; callhook's says which configuration and where its stderr went,
    /// since the table has three different callhook rows.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Noop => "actix-web no-op handler",
            Self::Jwt => "actix-web + jsonwebtoken 9, verify every request",
            Self::Callhook => "callhook serve: log sink, `--log warn`, stderr → file",
            Self::AxumLayer => "axum + callhook-auth `AuthLayer`",
            Self::AxumByHand => "axum + callhook-auth, `authenticate_header` by hand",
        }
    }
}

/// The table's name of callhook under the platform's script.
pub(crate) const PLATFORM_LABEL: &str =
    "callhook serve: defaults (log sink, log `info`), stderr → drained pipe";

/// The table's name of callhook with the Redis store under the platform's script.
pub(crate) const REDIS_LABEL: &str =
    "callhook serve: defaults + `[dedup] store = \"redis\"`, stderr → drained pipe";

/// The table's name of callhook with the forward sink.
pub(crate) const FORWARD_LABEL: &str =
    "callhook serve: forward sink → no-op bot, `--log warn`, stderr → file";

/// Everything measured on one server in the synthetic runs.
#[derive(Debug, Clone)]
pub(crate) struct ServerResult {
    pub(crate) kind: ServerKind,
    /// The run with the reused token.
    pub(crate) reused: LoadResult,
    /// The run with a distinct token per request (not for the no-op handler, which reads none).
    pub(crate) distinct: Option<LoadResult>,
    /// Whether the distinct run used more requests than there were tokens (so some repeated).
    pub(crate) distinct_exhausted: bool,
    /// The server's peak resident set size over the reused and distinct runs, in KiB.
    pub(crate) peak_rss_kib: Option<u64>,
}

/// One server under the platform's script: the reused token and a new message id per request.
#[derive(Debug, Clone)]
pub(crate) struct PlatformResult {
    pub(crate) kind: ServerKind,
    pub(crate) load: LoadResult,
    /// The server's peak resident set size, in KiB, over its process's whole life (callhook's
    /// process is the platform run's own).
    pub(crate) peak_rss_kib: Option<u64>,
    /// callhook only: what its process counted.
    pub(crate) callhook: Option<PlatformCallhook>,
}

/// What callhook's own process of the platform run counted.
#[derive(Debug, Clone)]
pub(crate) struct PlatformCallhook {
    /// `callhook_dedup_remembered_ids` after the run; `None` when `/metrics` has no such gauge.
    pub(crate) remembered_ids: Option<u64>,
    /// Notifications callhook accepted over its life (warm-up and checks included), each with a
    /// new id: the ids its de-duplication took in.
    pub(crate) delivered: Option<u64>,
    /// What callhook wrote to stderr over its life, all of it read by the xtask.
    pub(crate) log: Drained,
    /// `callhook_log_lines_dropped_total` after the run: lines callhook gave up on rather than
    /// wait for stderr; `None` when `/metrics` has no such counter.
    pub(crate) log_lines_dropped: Option<u64>,
    /// The request count the run was to reach before ending; `None` for a fixed duration (quick).
    pub(crate) target_requests: Option<u64>,
    /// The run's duration when it does not reach the target first, in seconds.
    pub(crate) cap_secs: u32,
    /// Seconds of load with the same script (other ids) before the measured run.
    pub(crate) warm_up_secs: u32,
}

/// callhook with the forward sink.
#[derive(Debug, Clone)]
pub(crate) struct ForwardResult {
    pub(crate) load: LoadResult,
    /// callhook's peak RSS, in KiB.
    pub(crate) peak_rss_kib: Option<u64>,
    /// The bot's peak RSS, in KiB.
    pub(crate) bot_peak_rss_kib: Option<u64>,
    /// `callhook_sink_deliveries_total{sink="forward",result="delivered"}` after the run.
    pub(crate) delivered: Option<u64>,
}

/// callhook with the shared de-duplication store, under the platform's script.
#[derive(Debug, Clone)]
pub(crate) struct RedisRow {
    pub(crate) load: LoadResult,
    /// callhook's peak RSS, in KiB.
    pub(crate) peak_rss_kib: Option<u64>,
    /// `callhook_requests_total{outcome="accepted"}` after the run.
    pub(crate) delivered: Option<u64>,
    /// `callhook_dedup_store_errors_total` after the run.
    pub(crate) store_errors: Option<u64>,
    /// `callhook_dedup_delivered_without_check_total` after the run.
    pub(crate) unchecked: Option<u64>,
}

/// Everything the end-to-end part measured.
#[derive(Debug, Clone)]
pub(crate) struct EndToEnd {
    /// The synthetic runs, one entry per server.
    pub(crate) servers: Vec<ServerResult>,
    /// The platform's script: the no-op handler, the jsonwebtoken server, callhook's defaults.
    pub(crate) platform: Vec<PlatformResult>,
    /// The forward sink.
    pub(crate) forward: Option<ForwardResult>,
    /// The Redis store; `None` when `redis-server` is not installed.
    pub(crate) redis: Option<RedisRow>,
}

/// Which core the server gets and which the load generator gets.
#[derive(Debug, Clone)]
pub(crate) struct Cores {
    pinning: Option<(usize, usize)>,
}

impl Cores {
    /// Server on core 1, generator on core 0, when there are two cores and `taskset` exists.
    pub(crate) fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let taskset = has_program("taskset", &["--version"]);
        if cores < 2 || !taskset {
            eprintln!(
                "\nwarning: {cores} core(s), taskset {}: server and load generator are not \
                 pinned, so they compete for the same cores",
                if taskset { "present" } else { "missing" }
            );
            return Self { pinning: None };
        }
        Self {
            pinning: Some((1, 0)),
        }
    }

    /// For the table: who runs where.
    pub(crate) fn describe(&self) -> String {
        match self.pinning {
            Some((server, generator)) => {
                format!("server pinned to core {server}, wrk to core {generator} (taskset)")
            }
            None => "not pinned (fewer than two cores or no taskset)".to_owned(),
        }
    }

    /// The server's core, when pinning.
    pub(crate) fn server_core(&self) -> Option<usize> {
        self.pinning.map(|(server, _)| server)
    }

    /// The load generator's core, when pinning.
    pub(crate) fn generator_core(&self) -> Option<usize> {
        self.pinning.map(|(_, generator)| generator)
    }

    /// `program arguments`, pinned to the server's core.
    pub(crate) fn pinned_to_server_core(&self, program: &str, arguments: &[&str]) -> Command {
        self.pinned(self.server_core(), program, arguments)
    }

    fn pinned_to_generator_core(&self, program: &str, arguments: &[&str]) -> Command {
        self.pinned(self.generator_core(), program, arguments)
    }

    fn pinned(&self, core: Option<usize>, program: &str, arguments: &[&str]) -> Command {
        match core {
            Some(core) => {
                let mut command = Command::new("taskset");
                command
                    .args(["-c", &core.to_string(), program])
                    .args(arguments);
                command
            }
            None => {
                let mut command = Command::new(program);
                command.args(arguments);
                command
            }
        }
    }
}

/// Runs `settings.rounds` rounds of every server in turn ([`Bench::round`]), the first round
/// followed by the rows that are not goals (the forward sink, the Redis store): one
/// [`EndToEnd`] per round, in order, so that each goal can be checked in every round and a
/// reader sees how much the machine moved between them.
pub(crate) fn run_all(
    settings: &Settings,
    binaries: &Binaries,
    tokens: &Tokens,
    wrk: &Wrk,
    cores: &Cores,
    scratch: &Path,
) -> Result<Vec<EndToEnd>> {
    let issuer = Issuer::start(&tokens.jwks)?;
    let bench = Bench {
        settings,
        binaries,
        tokens,
        wrk,
        cores,
        scratch,
        openid: issuer.openid_url(),
    };
    let mut rounds = Vec::new();
    for round in 1..=settings.rounds {
        if settings.rounds > 1 {
            eprintln!("\n==> round {round} of {}", settings.rounds);
        }
        let mut endtoend = bench.round()?;
        if round == 1 {
            bench.once(&mut endtoend)?;
        }
        rounds.push(endtoend);
    }
    drop(issuer);
    Ok(rounds)
}

/// The progress line of a row measured once.
fn print_rate(script: &str, load: &LoadResult) {
    eprintln!(
        "    {script}: {:.0} req/s, p99 {:.2} ms",
        load.requests_per_second(),
        load.p99_us / 1000.0,
    );
}

/// What every run needs, gathered once.
struct Bench<'a> {
    settings: &'a Settings,
    binaries: &'a Binaries,
    tokens: &'a Tokens,
    wrk: &'a Wrk,
    cores: &'a Cores,
    scratch: &'a Path,
    /// The issuer's OpenID configuration URL, for callhook's `[auth]`.
    openid: String,
}

impl Bench<'_> {
    /// One round: the no-op handler (its synthetic runs, then the platform's script), callhook
    /// with its defaults under the platform's script right after it, the jsonwebtoken server, then
    /// callhook's synthetic runs and the two axum apps. Each ratio of a goal compares runs of the
    /// same round, the platform row's two right after one another.
    fn round(&self) -> Result<EndToEnd> {
        let mut servers = Vec::new();
        let mut platform = Vec::new();
        let (noop, noop_platform) = self.synthetic_reported(ServerKind::Noop)?;
        servers.push(noop);
        platform.extend(noop_platform);

        eprintln!("\n==> load: {PLATFORM_LABEL}");
        let callhook = self
            .platform_callhook()
            .with_context(|| format!("end-to-end run of {PLATFORM_LABEL}"))?;
        eprintln!(
            "    platform script: {} requests, {:.0} req/s, p99 {:.2} ms; ids remembered: {}",
            callhook.load.requests,
            callhook.load.requests_per_second(),
            callhook.load.p99_us / 1000.0,
            callhook
                .callhook
                .as_ref()
                .and_then(|counted| counted.remembered_ids)
                .map_or_else(|| "n/a".to_owned(), |ids| ids.to_string()),
        );
        for kind in [
            ServerKind::Jwt,
            ServerKind::Callhook,
            ServerKind::AxumByHand,
            ServerKind::AxumLayer,
        ] {
            let (result, platform_result) = self.synthetic_reported(kind)?;
            servers.push(result);
            platform.extend(platform_result);
        }
        // The platform rows in the order the table has always shown them: the baselines, then
        // callhook.
        platform.push(callhook);
        Ok(EndToEnd {
            servers,
            platform,
            forward: None,
            redis: None,
        })
    }

    /// [`Self::synthetic`], with its progress line.
    fn synthetic_reported(
        &self,
        kind: ServerKind,
    ) -> Result<(ServerResult, Option<PlatformResult>)> {
        eprintln!("\n==> load: {}", kind.label());
        let (result, platform) = self
            .synthetic(kind)
            .with_context(|| format!("end-to-end run of {}", kind.label()))?;
        eprintln!(
            "    reused token: {:.0} req/s, p99 {:.2} ms{}{}",
            result.reused.requests_per_second(),
            result.reused.p99_us / 1000.0,
            result
                .distinct
                .as_ref()
                .map_or_else(String::new, |distinct| format!(
                    "; distinct tokens: {:.0} req/s",
                    distinct.requests_per_second()
                )),
            platform
                .as_ref()
                .map_or_else(String::new, |platform| format!(
                    "; platform script: {:.0} req/s",
                    platform.load.requests_per_second()
                )),
        );
        Ok((result, platform))
    }

    /// The rows measured once, after the first round: the forward sink, then the Redis store
    /// (skipped without `redis-server`).
    fn once(&self, endtoend: &mut EndToEnd) -> Result<()> {
        eprintln!("\n==> load: {FORWARD_LABEL}");
        let forward = self
            .forward()
            .with_context(|| format!("end-to-end run of {FORWARD_LABEL}"))?;
        print_rate("reused token", &forward.load);
        endtoend.forward = Some(forward);
        eprintln!("\n==> load: {REDIS_LABEL}");
        endtoend.redis = if has_redis_server() {
            let row = self
                .platform_redis()
                .with_context(|| format!("end-to-end run of {REDIS_LABEL}"))?;
            print_rate("platform script", &row.load);
            Some(row)
        } else {
            eprintln!("    skipped: redis-server is not installed (`cargo xtask ci` installs it)");
            None
        };
        Ok(())
    }

    /// One server's synthetic runs and, for the baselines, the platform's script after them in the
    /// same process (callhook gets the platform's script in a process of its own, with its
    /// defaults: [`Self::platform_callhook`]).
    fn synthetic(&self, kind: ServerKind) -> Result<(ServerResult, Option<PlatformResult>)> {
        let address = free_address()?;
        let listen = address.to_string();
        let log = self.scratch.join(format!("{kind:?}.log").to_lowercase());
        let command = match kind {
            ServerKind::Noop => self.baselines(&["noop", "--listen", &listen]),
            ServerKind::Jwt | ServerKind::AxumLayer | ServerKind::AxumByHand => {
                let jwks = self.tokens.jwks.to_string_lossy();
                let mode = match kind {
                    ServerKind::AxumLayer => "axum-layer",
                    ServerKind::AxumByHand => "axum-by-hand",
                    _ => "jwt",
                };
                self.baselines(&[
                    mode, "--listen", &listen, "--jwks", &jwks, "--app-id", APP_ID,
                ])
            }
            ServerKind::Callhook => {
                let config = self.write_config(
                    "callhook.toml",
                    &callhook_config(address, &self.openid, &Setup::Synthetic),
                )?;
                let config = config.to_string_lossy();
                self.callhook(&["serve", "--config", &config, "--log", "warn"])
            }
        };
        let server = ServerProcess::spawn(command, &log)?;
        server.wait_until_listening(address, kind == ServerKind::Callhook)?;
        check_answers(address, self.tokens, kind != ServerKind::Noop, &log)?;

        let settings = self.settings;
        let reused_mode = TokenMode::Reused(&self.tokens.reused);
        if settings.warm_up_secs > 0 {
            self.load(
                address,
                "reused.lua",
                &reused_mode,
                settings.warm_up_secs,
                None,
            )?;
        }
        let reused = self.load(
            address,
            "reused.lua",
            &reused_mode,
            settings.reused_secs,
            None,
        )?;
        let (distinct, distinct_exhausted) = if kind == ServerKind::Noop {
            (None, false)
        } else {
            let distinct = self.load(
                address,
                "distinct.lua",
                &TokenMode::Distinct(&self.tokens.distinct),
                settings.distinct_secs,
                None,
            )?;
            let exhausted = usize::try_from(distinct.requests)
                .map_or(true, |requests| requests > self.tokens.distinct_count);
            (Some(distinct), exhausted)
        };
        // Read before the platform's script, so that the synthetic rows keep their own number.
        let peak_rss_kib = server.peak_rss_kib();
        let platform_run = match kind {
            ServerKind::Noop => Some(RUN_NOOP),
            ServerKind::Jwt => Some(RUN_JWT),
            ServerKind::Callhook | ServerKind::AxumLayer | ServerKind::AxumByHand => None,
        };
        let platform = match platform_run {
            Some(run) => {
                let load = self.load(
                    address,
                    "platform.lua",
                    &TokenMode::ReusedWithMessageIds {
                        token: &self.tokens.reused,
                        run,
                    },
                    settings.platform_baseline_secs,
                    None,
                )?;
                Some(PlatformResult {
                    kind,
                    load,
                    peak_rss_kib: server.peak_rss_kib(),
                    callhook: None,
                })
            }
            None => None,
        };
        drop(server);
        Ok((
            ServerResult {
                kind,
                reused,
                distinct,
                distinct_exhausted,
                peak_rss_kib,
            },
            platform,
        ))
    }

    /// callhook as the platform meets it: its default configuration (no `--log`, so the `info`
    /// filter; no `[sink]`, so one log line per notification), stderr read by the xtask as a log
    /// collector would, the platform's script until more than a million ids are remembered.
    fn platform_callhook(&self) -> Result<PlatformResult> {
        let settings = self.settings;
        let address = free_address()?;
        let config = self.write_config(
            "callhook-platform.toml",
            &callhook_config(address, &self.openid, &Setup::Platform),
        )?;
        let config = config.to_string_lossy();
        let log = self.scratch.join("callhook-platform.log");
        let server = ServerProcess::spawn_drained(
            self.callhook(&["serve", "--config", &config]),
            &log,
            &self.scratch.join("callhook-platform.stdout.log"),
            self.cores.generator_core(),
        )?;
        server.wait_until_listening(address, true)?;
        check_answers(address, self.tokens, true, &log)?;

        let token = self.tokens.reused.as_str();
        if settings.warm_up_secs > 0 {
            self.load(
                address,
                "platform-warm-up.lua",
                &TokenMode::ReusedWithMessageIds {
                    token,
                    run: RUN_WARM_UP,
                },
                settings.warm_up_secs,
                None,
            )?;
        }
        let mode = TokenMode::ReusedWithMessageIds {
            token,
            run: RUN_PLATFORM,
        };
        let load = match settings.platform_target_requests {
            Some(target) => {
                // The run ends once callhook has accepted `target` more notifications, or at the
                // cap. A server without the count runs to the cap, and the table shows it.
                let before = accepted(address).unwrap_or(0);
                let mut reached =
                    || accepted(address).is_some_and(|now| now.saturating_sub(before) >= target);
                self.load(
                    address,
                    "platform.lua",
                    &mode,
                    settings.platform_cap_secs,
                    Some(&mut reached),
                )?
            }
            None => self.load(
                address,
                "platform.lua",
                &mode,
                settings.platform_cap_secs,
                None,
            )?,
        };
        let peak_rss_kib = server.peak_rss_kib();
        let text = fetch(address, "/metrics").ok();
        let read = |name: &str, labels: &[(&str, &str)]| {
            text.as_deref()
                .and_then(|text| metrics::sum(text, name, labels))
        };
        let remembered_ids = read(metrics::REMEMBERED_IDS, &[]);
        let delivered = read(metrics::REQUESTS, &[("outcome", "accepted")]);
        let log_lines_dropped = read(metrics::LOG_LINES_DROPPED, &[]);
        let log_counts = server.settled_drain().unwrap_or_default();
        drop(server);
        Ok(PlatformResult {
            kind: ServerKind::Callhook,
            load,
            peak_rss_kib,
            callhook: Some(PlatformCallhook {
                remembered_ids,
                delivered,
                log: log_counts,
                log_lines_dropped,
                target_requests: settings.platform_target_requests,
                cap_secs: settings.platform_cap_secs,
                warm_up_secs: settings.warm_up_secs,
            }),
        })
    }

    /// callhook as in the platform row, with `[dedup] store = "redis"` on a `redis-server` of
    /// its own (on the server's core, as a sidecar would share a small host), under the platform's
    /// script for the baselines' length: a new message id on every request, so every request
    /// claims and confirms a key.
    fn platform_redis(&self) -> Result<RedisRow> {
        let settings = self.settings;
        let redis_address = free_address()?;
        let redis_dir = self.scratch.join("redis");
        std::fs::create_dir_all(&redis_dir)?;
        let arguments = crate::util::redis_server_args(redis_address.port(), &redis_dir);
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let redis = ServerProcess::spawn(
            self.cores.pinned_to_server_core("redis-server", &arguments),
            &self.scratch.join("redis.log"),
        )?;
        redis.wait_until_listening(redis_address, false)?;

        let address = free_address()?;
        let config = self.write_config(
            "callhook-redis.toml",
            &callhook_config(
                address,
                &self.openid,
                &Setup::PlatformRedis {
                    redis: redis_address,
                },
            ),
        )?;
        let config = config.to_string_lossy();
        let log = self.scratch.join("callhook-redis.log");
        let server = ServerProcess::spawn_drained(
            self.callhook(&["serve", "--config", &config]),
            &log,
            &self.scratch.join("callhook-redis.stdout.log"),
            self.cores.generator_core(),
        )?;
        server.wait_until_listening(address, true)?;
        check_answers(address, self.tokens, true, &log)?;
        let mode = TokenMode::ReusedWithMessageIds {
            token: self.tokens.reused.as_str(),
            run: RUN_REDIS,
        };
        let load = self.load(
            address,
            "platform-redis.lua",
            &mode,
            settings.platform_baseline_secs,
            None,
        )?;
        let peak_rss_kib = server.peak_rss_kib();
        let text = fetch(address, "/metrics").ok();
        let read = |name: &str, labels: &[(&str, &str)]| {
            text.as_deref()
                .and_then(|text| metrics::sum(text, name, labels))
        };
        let row = RedisRow {
            load,
            peak_rss_kib,
            delivered: read(metrics::REQUESTS, &[("outcome", "accepted")]),
            store_errors: read("callhook_dedup_store_errors_total", &[]),
            unchecked: read("callhook_dedup_delivered_without_check_total", &[]),
        };
        drop(server);
        drop(redis);
        Ok(row)
    }

    /// callhook forwarding every notification to a bot: the no-op handler, which answers 202 to any
    /// POST, `/notifications` included. The bot shares the server's core, as it would share a
    /// small host with callhook, and leaves wrk's core to wrk.
    fn forward(&self) -> Result<ForwardResult> {
        let settings = self.settings;
        let bot_address = free_address()?;
        let bot_listen = bot_address.to_string();
        let bot_log = self.scratch.join("bot.log");
        let bot =
            ServerProcess::spawn(self.baselines(&["noop", "--listen", &bot_listen]), &bot_log)?;
        bot.wait_until_listening(bot_address, false)?;
        let status = post(bot_address, BOT_PATH, None)?;
        if !(200..300).contains(&status) {
            bail!(
                "the bot answered {status} to POST {BOT_PATH}, expected 2xx (log: {})",
                bot_log.display()
            );
        }

        // The bot holds its port, so the next free one is another.
        let address = free_address()?;
        let config = self.write_config(
            "callhook-forward.toml",
            &callhook_config(address, &self.openid, &Setup::Forward { bot: bot_address }),
        )?;
        let config = config.to_string_lossy();
        let log = self.scratch.join("callhook-forward.log");
        let server = ServerProcess::spawn(
            self.callhook(&["serve", "--config", &config, "--log", "warn"]),
            &log,
        )?;
        server.wait_until_listening(address, true)?;
        // callhook answers 202 only after the bot answered 2xx, so this also checks the forward.
        check_answers(address, self.tokens, true, &log)?;

        let mode = TokenMode::Reused(&self.tokens.reused);
        if settings.warm_up_secs > 0 {
            self.load(address, "reused.lua", &mode, settings.warm_up_secs, None)?;
        }
        let load = self.load(address, "reused.lua", &mode, settings.forward_secs, None)?;
        let peak_rss_kib = server.peak_rss_kib();
        let bot_peak_rss_kib = bot.peak_rss_kib();
        let delivered = fetch(address, "/metrics").ok().and_then(|text| {
            metrics::sum(
                &text,
                metrics::DELIVERIES,
                &[("sink", "forward"), ("result", "delivered")],
            )
        });
        drop(server);
        drop(bot);
        Ok(ForwardResult {
            load,
            peak_rss_kib,
            bot_peak_rss_kib,
            delivered,
        })
    }

    /// The baselines binary with `arguments`, pinned to the server's core.
    fn baselines(&self, arguments: &[&str]) -> Command {
        let program = self.binaries.baselines.to_string_lossy();
        self.cores.pinned_to_server_core(&program, arguments)
    }

    /// callhook with `arguments`, pinned to the server's core, with no `CALLHOOK_*` variable of the
    /// xtask's environment: they override the file (and `CALLHOOK_LOG` stands in for `--log`), and
    /// each row must run exactly the configuration it names.
    fn callhook(&self, arguments: &[&str]) -> Command {
        let program = self.binaries.callhook.to_string_lossy();
        let mut command = self.cores.pinned_to_server_core(&program, arguments);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CALLHOOK_") {
                command.env_remove(&key);
            }
        }
        command
    }

    /// Writes a configuration file into the scratch directory.
    fn write_config(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.scratch.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Writes the wrk script of `mode` as `name` and loads the server with it for `seconds`, or
    /// until `reached` says so.
    fn load(
        &self,
        address: SocketAddr,
        name: &str,
        mode: &TokenMode<'_>,
        seconds: u32,
        reached: Option<&mut dyn FnMut() -> bool>,
    ) -> Result<LoadResult> {
        let script = self.scratch.join(name);
        std::fs::write(
            &script,
            wrk::script(mode, &address.to_string(), WEBHOOK_PATH, BODY),
        )
        .with_context(|| format!("cannot write {}", script.display()))?;
        load(
            self.wrk,
            self.cores,
            self.settings,
            &script,
            address,
            seconds,
            reached,
        )
    }
}

/// The answers every server must give before it is loaded: 202 for a valid notification and, for
/// the verifying servers, 401 for a forged token and for none. A fast server that answers the wrong
/// thing measures nothing.
fn check_answers(address: SocketAddr, tokens: &Tokens, verifying: bool, log: &Path) -> Result<()> {
    let good = post(address, WEBHOOK_PATH, Some(&tokens.reused))?;
    if good != 202 {
        bail!(
            "a valid notification got {good}, expected 202 (log: {})",
            log.display()
        );
    }
    if verifying {
        let forged = post(address, WEBHOOK_PATH, Some(&tokens.forged))?;
        let missing = post(address, WEBHOOK_PATH, None)?;
        if forged != 401 || missing != 401 {
            bail!(
                "a forged token got {forged} and no token {missing}, expected 401 for both \
                 (log: {})",
                log.display()
            );
        }
    }
    Ok(())
}

/// callhook's count of accepted notifications, from `/metrics`.
fn accepted(address: SocketAddr) -> Option<u64> {
    let text = fetch(address, "/metrics").ok()?;
    metrics::sum(&text, metrics::REQUESTS, &[("outcome", "accepted")])
}

/// One wrk run, whose answers must all have been successes. It lasts `seconds`, or less when
/// `reached` (asked every [`POLL_INTERVAL`]) says the run has done what it is for; wrk then stops
/// on SIGINT and reports the run up to that moment.
fn load(
    wrk: &Wrk,
    cores: &Cores,
    settings: &Settings,
    script: &Path,
    address: SocketAddr,
    seconds: u32,
    reached: Option<&mut dyn FnMut() -> bool>,
) -> Result<LoadResult> {
    let url = format!("http://{address}{WEBHOOK_PATH}");
    let program = wrk.program().to_string_lossy();
    let script = script.to_string_lossy();
    let duration = format!("{seconds}s");
    let connections = settings.connections.to_string();
    let mut command = cores.pinned_to_generator_core(
        &program,
        &[
            "-t1",
            "-c",
            &connections,
            "-d",
            &duration,
            "--timeout",
            "5s",
            "-s",
            &script,
            &url,
        ],
    );
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = Running::spawn(command)?;
    if let Some(reached) = reached {
        // Bounded by wrk's own duration, after which it ends by itself, and by the deadline.
        let deadline = Instant::now() + Duration::from_secs(u64::from(seconds)) + WRK_GRACE;
        while !running.ended()? {
            if Instant::now() >= deadline {
                bail!(
                    "wrk did not end within {} s of its duration",
                    WRK_GRACE.as_secs()
                );
            }
            if reached() {
                running.interrupt();
                break;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    let (status, stdout, stderr) = running.finish()?;
    if !status.success() {
        bail!("wrk failed ({status}): {stdout}{stderr}");
    }
    let result = wrk::parse_result(&stdout)?;
    if result.status_errors > 0 || result.socket_errors > 0 || result.requests == 0 {
        bail!(
            "the load run had {} error answers and {} socket errors in {} requests:\n{stdout}",
            result.status_errors,
            result.socket_errors,
            result.requests
        );
    }
    Ok(result)
}

/// A running wrk, killed (by its id) if the xtask leaves before it ended, whatever happened.
struct Running {
    child: Child,
    finished: bool,
}

impl Running {
    fn spawn(mut command: Command) -> Result<Self> {
        let child = command.spawn().context("cannot run wrk")?;
        Ok(Self {
            child,
            finished: false,
        })
    }

    /// Whether wrk has exited (its output stays in the pipes until read).
    fn ended(&mut self) -> Result<bool> {
        Ok(self
            .child
            .try_wait()
            .context("cannot wait for wrk")?
            .is_some())
    }

    /// Asks wrk to end the run now. std can only send SIGKILL, after which wrk reports nothing, so
    /// kill(1) sends SIGINT to this child's id. If that fails, the run lasts its full duration.
    fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !sent {
            eprintln!("    warning: cannot interrupt wrk: the run lasts its full duration");
        }
    }

    /// Waits for wrk to end and returns its status and output. wrk prints a few lines only, so the
    /// pipes never fill while it runs.
    fn finish(&mut self) -> Result<(ExitStatus, String, String)> {
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_string(&mut stdout)
                .context("cannot read wrk's output")?;
        }
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr)
                .context("cannot read wrk's errors")?;
        }
        let status = self.child.wait().context("cannot wait for wrk")?;
        self.finished = true;
        Ok((status, stdout, stderr))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            // Ours, by its id: a load run left behind would disturb every later measurement.
            let _killed = self.child.kill();
            let _reaped = self.child.wait();
        }
    }
}

/// callhook's configurations under the benchmark.
#[derive(Debug, Clone)]
enum Setup {
    /// The synthetic runs: one worker, the log sink (the command line sets `--log warn`).
    Synthetic,
    /// The platform's reality: the defaults but for the socket and one worker, as the other rows.
    Platform,
    /// As `Synthetic`, with the forward sink posting to the bot at this address.
    Forward { bot: SocketAddr },
    /// As `Platform`, with the de-duplication store in the Redis at this address.
    PlatformRedis { redis: SocketAddr },
}

/// callhook's configuration file for `setup`, listening on `address`, keys from `openid`.
fn callhook_config(address: SocketAddr, openid: &str, setup: &Setup) -> String {
    if let Setup::PlatformRedis { redis } = setup {
        let platform = callhook_config(address, openid, &Setup::Platform);
        return format!("{platform}\n[dedup]\nstore = \"redis\"\nurl = \"redis://{redis}\"\n");
    }
    if matches!(setup, Setup::Platform) {
        // `webhook_path` is left to its default, `/api/calls`: the answers checked before the
        // run would fail if that ever changed. The key fetch's retry delays are left to theirs
        // too: the issuer answers before callhook starts.
        return format!(
            "# Generated by `cargo xtask bench`: the defaults but for the socket and the workers.\n\
             [server]\n\
             listen = \"{address}\"\n\
             workers = 1\n\
             \n\
             [auth]\n\
             app_id = \"{APP_ID}\"\n\
             openid_configuration = \"{openid}\"\n"
        );
    }
    let sink = match setup {
        Setup::Forward { bot } => format!("kind = \"forward\"\nurl = \"http://{bot}{BOT_PATH}\"\n"),
        Setup::Synthetic | Setup::Platform | Setup::PlatformRedis { .. } => {
            "kind = \"log\"\n".to_owned()
        }
    };
    format!(
        "# Generated by `cargo xtask bench`.\n\
         [server]\n\
         listen = \"{address}\"\n\
         webhook_path = \"{WEBHOOK_PATH}\"\n\
         workers = 1\n\
         \n\
         [auth]\n\
         app_id = \"{APP_ID}\"\n\
         openid_configuration = \"{openid}\"\n\
         retry_initial_ms = 50\n\
         retry_max_ms = 500\n\
         \n\
         [sink]\n\
         {sink}"
    )
}

/// Whether `redis-server` runs here.
fn has_redis_server() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A free port on 127.0.0.1 (released at once; nothing else here binds ports meanwhile).
fn free_address() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1")?;
    Ok(listener.local_addr()?)
}

/// A server process, killed when dropped, whatever happened.
struct ServerProcess {
    child: Child,
    log: PathBuf,
    /// The reader of its stderr, when that is a pipe rather than the log file.
    drain: Option<Drain>,
}

impl ServerProcess {
    /// The server with its stdout and stderr in the file `log`.
    fn spawn(mut command: Command, log: &Path) -> Result<Self> {
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("cannot start the server")?;
        Ok(Self {
            child,
            log: log.to_path_buf(),
            drain: None,
        })
    }

    /// The server with its stderr in a pipe that a thread of the xtask reads to its end, as a
    /// log collector (journald, a container runtime) would: a server logging every notification
    /// writes hundreds of megabytes in a run, which a file would keep on disk and /dev/null would
    /// take for free. The first [`KEPT_LOG_BYTES`] go to `log`, for the error messages; stdout,
    /// where `callhook serve` writes nothing, goes to the file `stdout`. The reading thread is
    /// pinned to `core`, when given.
    fn spawn_drained(
        mut command: Command,
        log: &Path,
        stdout: &Path,
        core: Option<usize>,
    ) -> Result<Self> {
        let head = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let stdout_file =
            File::create(stdout).with_context(|| format!("cannot create {}", stdout.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout_file)
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start the server")?;
        // From here on the process is killed on every path out, errors included.
        let mut process = Self {
            child,
            log: log.to_path_buf(),
            drain: None,
        };
        let stderr = process
            .child
            .stderr
            .take()
            .context("the server's stderr is not a pipe")?;
        process.drain = Some(Drain::start(stderr, head, core));
        Ok(process)
    }

    /// Waits until the server accepts connections (and, for callhook, `/readyz` says its keys
    /// are loaded), for at most [`START_LIMIT`].
    fn wait_until_listening(&self, address: SocketAddr, check_ready: bool) -> Result<()> {
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            let ready = if check_ready {
                get(address, "/readyz").is_ok_and(|status| status == 200)
            } else {
                TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
            };
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        bail!(
            "the server was not ready on {address} within {} s; its output:\n{log}",
            START_LIMIT.as_secs()
        )
    }

    /// `VmHWM` of `/proc/PID/status`: the peak resident set size, in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        parse_vm_hwm(&status)
    }

    /// What the drain has read of stderr so far, when stderr is drained.
    fn drained(&self) -> Option<Drained> {
        self.drain.as_ref().map(Drain::counts)
    }

    /// What the drain has read once the server's last lines reached it: callhook writes its log
    /// from a thread of its own, a little behind the requests. At most two seconds.
    fn settled_drain(&self) -> Option<Drained> {
        let mut last = self.drained()?;
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.drained()?;
            if now == last {
                break;
            }
            last = now;
        }
        Some(last)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // The process is ours (spawned above, by its id): a bench server has nothing to finish.
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
        // Its stderr is closed now, so the drain reaches the end of the pipe and returns.
        if let Some(drain) = self.drain.take() {
            drain.join();
        }
    }
}

/// What a drain read of a server's stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Drained {
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    /// The core the reading thread was pinned to, when pinning worked.
    pub(crate) pinned_to: Option<usize>,
}

/// A thread reading a server's stderr to its end: counted, the first bytes kept, the rest dropped.
struct Drain {
    lines: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    pinned: Arc<AtomicBool>,
    core: Option<usize>,
    thread: Option<JoinHandle<()>>,
}

impl Drain {
    fn start(mut source: ChildStderr, mut head: File, core: Option<usize>) -> Self {
        let lines = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let pinned = Arc::new(AtomicBool::new(false));
        let (counted_lines, counted_bytes, pinned_here) =
            (Arc::clone(&lines), Arc::clone(&bytes), Arc::clone(&pinned));
        let thread = std::thread::spawn(move || {
            if let Some(core) = core {
                pinned_here.store(pin_this_thread(core), Ordering::Relaxed);
            }
            let mut buffer = vec![0_u8; 64 * 1024];
            let mut kept = 0_usize;
            // Ends at the end of the pipe (the server exited or was killed); the hour only bounds
            // the loop should the xtask be stuck elsewhere.
            let deadline = Instant::now() + Duration::from_secs(3600);
            while Instant::now() < deadline {
                let read = match source.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let chunk = buffer.get(..read).unwrap_or_default();
                let newlines = chunk.iter().filter(|byte| **byte == b'\n').count();
                counted_lines.fetch_add(u64::try_from(newlines).unwrap_or(0), Ordering::Relaxed);
                counted_bytes.fetch_add(u64::try_from(read).unwrap_or(0), Ordering::Relaxed);
                if kept < KEPT_LOG_BYTES {
                    let keep = chunk
                        .get(..(KEPT_LOG_BYTES - kept).min(read))
                        .unwrap_or_default();
                    // A log that cannot be kept costs the error messages only, not the run.
                    let _written = head.write_all(keep);
                    kept += keep.len();
                }
            }
        });
        Self {
            lines,
            bytes,
            pinned,
            core,
            thread: Some(thread),
        }
    }

    fn counts(&self) -> Drained {
        Drained {
            lines: self.lines.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            pinned_to: self.core.filter(|_| self.pinned.load(Ordering::Relaxed)),
        }
    }

    /// Waits for the thread, which returns once the server's end of the pipe is closed.
    fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _joined = thread.join();
        }
    }
}

/// Pins the calling thread (not the whole xtask) to `core`: taskset on the thread's own id, which
/// `/proc/thread-self` names. Whether it worked.
fn pin_this_thread(core: usize) -> bool {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return false;
    };
    let Some(thread_id) = link.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    Command::new("taskset")
        .args(["-p", "-c", &core.to_string(), thread_id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The `VmHWM:` line of a `/proc/PID/status` text, in KiB.
pub(crate) fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// POSTs the benchmark's body to `path` with `token` (or none) and returns the status code.
fn post(address: SocketAddr, path: &str, token: Option<&str>) -> Result<u16> {
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let answer = exchange(address, &request)?;
    parse_status(&answer).context("the answer has no HTTP status line")
}

fn get(address: SocketAddr, path: &str) -> Result<u16> {
    let answer = exchange(address, &get_request(address, path))?;
    parse_status(&answer).context("the answer has no HTTP status line")
}

/// The body of a `GET path` that must answer 200.
fn fetch(address: SocketAddr, path: &str) -> Result<String> {
    let answer = exchange(address, &get_request(address, path))?;
    let status = parse_status(&answer).context("the answer has no HTTP status line")?;
    if status != 200 {
        bail!("GET {path} answered {status}");
    }
    Ok(body_of(&answer))
}

fn get_request(address: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
}

/// Sends one request on a new connection and returns the whole answer.
fn exchange(address: SocketAddr, request: &str) -> Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    // The answers are small (`/metrics` is a few KiB); the cap only bounds a misbehaving server.
    stream.take(1024 * 1024).read_to_end(&mut answer)?;
    Ok(answer)
}

/// The status code of an HTTP/1.1 answer.
pub(crate) fn parse_status(answer: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(answer.get(..answer.len().min(64))?).ok()?;
    let mut parts = text.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// What follows the head of an HTTP/1.1 answer (the servers here answer with a length, never in
/// chunks).
pub(crate) fn body_of(answer: &[u8]) -> String {
    let start = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(answer.len(), |head| head + 4);
    String::from_utf8_lossy(answer.get(start..).unwrap_or_default()).into_owned()
}

/// The issuer's OpenID configuration and JWKS, served on 127.0.0.1 from a thread of the xtask.
///
/// The thread blocks in `accept` and wakes only for a request (a server fetching its keys) or for
/// the connection that stops it. It must never wake on a timer: a thread of the xtask waking every
/// 20 ms (the issuer used to poll a non-blocking listener) took 15-20% off callhook's rate in every
/// run, while the no-op handler's did not move (docs/performance.md, the run of 2026-12-03,
/// second part; why a thread waking beside wrk costs callhook so much was not pinned down).
struct Issuer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Issuer {
    fn start(jwks: &Path) -> Result<Self> {
        let jwks = std::fs::read_to_string(jwks)
            .with_context(|| format!("cannot read {}", jwks.display()))?;
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1")?;
        let address = listener.local_addr()?;
        let openid = serde_json::json!({
            "issuer": "https://api.botframework.com",
            "jwks_uri": format!("http://{address}/v1/keys"),
            "id_token_signing_alg_values_supported": ["RSA256"],
        })
        .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // Bounded by the stop flag, set before the connection that wakes this thread.
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ignored = answer_issuer_request(stream, &openid, &jwks);
                }
            }
        });
        Ok(Self {
            address,
            stop,
            thread: Some(thread),
        })
    }

    fn openid_url(&self) -> String {
        format!("http://{}/v1/.well-known/OpenIdConfiguration", self.address)
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the thread's `accept`. Should the connection fail, the thread is left blocked
        // rather than joined: it holds nothing but its socket, which ends with the xtask.
        let woken = TcpStream::connect_timeout(&self.address, Duration::from_secs(2)).is_ok();
        if let Some(thread) = self.thread.take()
            && woken
        {
            let _joined = thread.join();
        }
    }
}

fn answer_issuer_request(mut stream: TcpStream, openid: &str, jwks: &str) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = Vec::new();
    let mut buffer = [0_u8; 1024];
    // Read the head only (a GET has no body), at most 16 KiB.
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(buffer.get(..read).unwrap_or_default());
    }
    let head = String::from_utf8_lossy(&request);
    let path = head.split(' ').nth(1).unwrap_or_default();
    let (status, body) = match path {
        "/v1/.well-known/OpenIdConfiguration" => ("200 OK", openid),
        "/v1/keys" => ("200 OK", jwks),
        _ => ("404 Not Found", ""),
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_rss_line() {
        let status =
            "Name:\tcallhook\nVmPeak:\t  300000 kB\nVmHWM:\t   18432 kB\nVmRSS:\t 17000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(18_432));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn reads_the_status_code_of_an_answer() {
        assert_eq!(parse_status(b"HTTP/1.1 202 Accepted\r\n\r\n"), Some(202));
        assert_eq!(parse_status(b"HTTP/1.1 401 Unauthorized\r\n"), Some(401));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn the_issuer_serves_the_openid_configuration_and_the_keys() {
        let directory = std::env::temp_dir().join(format!("xtask-issuer-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let jwks = directory.join("jwks.json");
        std::fs::write(&jwks, r#"{"keys":[]}"#).unwrap();
        let issuer = Issuer::start(&jwks).unwrap();
        let fetch = |path: &str| {
            let mut stream = TcpStream::connect(issuer.address).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        };
        let openid = fetch("/v1/.well-known/OpenIdConfiguration");
        let keys = fetch("/v1/keys");
        let missing = fetch("/elsewhere");
        drop(issuer);
        std::fs::remove_dir_all(&directory).unwrap();
        assert!(openid.starts_with("HTTP/1.1 200"), "{openid}");
        assert!(openid.contains("/v1/keys\""), "{openid}");
        assert!(keys.ends_with(r#"{"keys":[]}"#), "{keys}");
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    }

    #[test]
    fn callhook_runs_one_worker_with_the_log_sink() {
        let address = "127.0.0.1:8080".parse().unwrap();
        let config = callhook_config(address, "http://127.0.0.1:9/openid", &Setup::Synthetic);
        assert!(config.contains("workers = 1"));
        assert!(config.contains("kind = \"log\""));
        assert!(config.contains("openid_configuration = \"http://127.0.0.1:9/openid\""));
    }

    #[test]
    fn the_platform_run_leaves_everything_but_the_socket_and_the_workers_to_the_defaults() {
        let address = "127.0.0.1:8080".parse().unwrap();
        let config = callhook_config(address, "http://127.0.0.1:9/openid", &Setup::Platform);
        assert!(config.contains("listen = \"127.0.0.1:8080\""));
        assert!(config.contains("workers = 1"));
        assert!(!config.contains("[sink]"), "{config}");
        assert!(!config.contains("webhook_path"), "{config}");
        assert!(!config.contains("retry_"), "{config}");
        let sections = config.lines().filter(|line| line.starts_with('[')).count();
        assert_eq!(sections, 2, "{config}");
    }

    #[test]
    fn the_forward_run_posts_to_the_bot() {
        let address = "127.0.0.1:8080".parse().unwrap();
        let bot = "127.0.0.1:9000".parse().unwrap();
        let config = callhook_config(
            address,
            "http://127.0.0.1:9/openid",
            &Setup::Forward { bot },
        );
        assert!(
            config.contains("kind = \"forward\"\nurl = \"http://127.0.0.1:9000/notifications\"")
        );
        assert!(!config.contains("kind = \"log\""));
    }

    #[test]
    fn reads_the_body_of_an_answer() {
        assert_eq!(
            body_of(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\na 1"),
            "a 1"
        );
        assert_eq!(body_of(b"HTTP/1.1 200 OK\r\n"), "");
    }

    #[test]
    fn an_interrupted_run_ends_at_once_and_an_abandoned_one_is_killed() {
        let sleeper = || {
            let mut command = Command::new("sleep");
            command
                .arg("30")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            Running::spawn(command).unwrap()
        };
        let started = Instant::now();
        let mut interrupted = sleeper();
        interrupted.interrupt();
        let (status, _, _) = interrupted.finish().unwrap();
        assert!(!status.success());
        assert!(started.elapsed() < Duration::from_secs(10));

        let mut abandoned = sleeper();
        assert!(!abandoned.ended().unwrap());
        let id = abandoned.child.id();
        drop(abandoned);
        // Killed and reaped: its /proc entry is gone.
        assert!(!Path::new(&format!("/proc/{id}")).exists());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_drain_counts_every_line_and_keeps_the_head() {
        let directory = std::env::temp_dir().join(format!("xtask-drain-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let head = directory.join("head.log");
        // 300,000 lines of 10 bytes: more than the kept head, more than a pipe's buffer.
        let mut command = Command::new("sh");
        command.args(["-c", "yes 123456789 | head -n 300000 >&2"]);
        let process =
            ServerProcess::spawn_drained(command, &head, &directory.join("out.log"), None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while process.drained().unwrap().lines < 300_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let counts = process.drained().unwrap();
        drop(process);
        let kept = std::fs::metadata(&head).unwrap().len();
        std::fs::remove_dir_all(&directory).unwrap();
        assert_eq!(counts.lines, 300_000);
        assert_eq!(counts.bytes, 3_000_000);
        assert_eq!(counts.pinned_to, None);
        assert_eq!(kept, u64::try_from(KEPT_LOG_BYTES).unwrap());
    }
}
