//! The end-to-end part: each server started alone on its core, checked for correct answers, loaded
//! by wrk on the other core, and measured (throughput, latency, peak RSS).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::tokens::Tokens;
use super::wrk::{self, LoadResult, TokenMode, Wrk};
use super::{APP_ID, Binaries, Settings};
use crate::util::has_program;

/// The webhook path every server listens on.
const WEBHOOK_PATH: &str = "/api/calls";

/// The body of every request: a Graph incoming-call notification of about 1 KB.
const BODY: &str = include_str!("../../../benches/baselines/data/incoming-call.json");

/// How long a server may take to listen (and callhook to load its keys).
const START_LIMIT: Duration = Duration::from_secs(30);

/// The servers under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKind {
    /// The actix-web no-op handler.
    Noop,
    /// The actix-web handler verifying with jsonwebtoken on every request.
    Jwt,
    /// The real `callhook serve`.
    Callhook,
}

impl ServerKind {
    /// The name in the table.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Noop => "actix-web no-op handler",
            Self::Jwt => "actix-web + jsonwebtoken 9, verify every request",
            Self::Callhook => "callhook serve",
        }
    }
}

/// Everything measured on one server.
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
    /// callhook only, after the other runs: the reused token with a new message id on every
    /// request, and the peak RSS after it (each delivered id is remembered for 10 minutes).
    pub(crate) with_message_ids: Option<(LoadResult, Option<u64>)>,
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

    /// `program arguments`, pinned to the server's core.
    pub(crate) fn pinned_to_server_core(&self, program: &str, arguments: &[&str]) -> Command {
        self.pinned(self.pinning.map(|(server, _)| server), program, arguments)
    }

    fn pinned_to_generator_core(&self, program: &str, arguments: &[&str]) -> Command {
        self.pinned(
            self.pinning.map(|(_, generator)| generator),
            program,
            arguments,
        )
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

/// Runs every server in turn: the no-op handler, the jsonwebtoken server, callhook.
pub(crate) fn run_all(
    settings: &Settings,
    binaries: &Binaries,
    tokens: &Tokens,
    wrk: &Wrk,
    cores: &Cores,
    scratch: &Path,
) -> Result<Vec<ServerResult>> {
    let issuer = Issuer::start(&tokens.jwks)?;
    let mut results = Vec::new();
    for kind in [ServerKind::Noop, ServerKind::Jwt, ServerKind::Callhook] {
        eprintln!("\n==> load: {}", kind.label());
        let result = run_one(
            kind, settings, binaries, tokens, wrk, cores, scratch, &issuer,
        )
        .with_context(|| format!("end-to-end run of {}", kind.label()))?;
        eprintln!(
            "    reused token: {:.0} req/s, p99 {:.2} ms{}",
            result.reused.requests_per_second(),
            result.reused.p99_us / 1000.0,
            result
                .distinct
                .as_ref()
                .map_or_else(String::new, |distinct| format!(
                    "; distinct tokens: {:.0} req/s",
                    distinct.requests_per_second()
                ))
        );
        results.push(result);
    }
    Ok(results)
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename the same eight things"
)]
fn run_one(
    kind: ServerKind,
    settings: &Settings,
    binaries: &Binaries,
    tokens: &Tokens,
    wrk: &Wrk,
    cores: &Cores,
    scratch: &Path,
    issuer: &Issuer,
) -> Result<ServerResult> {
    let address = free_address()?;
    let listen = address.to_string();
    let log = scratch.join(format!("{kind:?}.log").to_lowercase());
    let server = match kind {
        ServerKind::Noop => {
            let baselines = binaries.baselines.to_string_lossy();
            let command = cores.pinned_to_server_core(&baselines, &["noop", "--listen", &listen]);
            ServerProcess::spawn(command, &log)?
        }
        ServerKind::Jwt => {
            let baselines = binaries.baselines.to_string_lossy();
            let jwks = tokens.jwks.to_string_lossy();
            let command = cores.pinned_to_server_core(
                &baselines,
                &[
                    "jwt", "--listen", &listen, "--jwks", &jwks, "--app-id", APP_ID,
                ],
            );
            ServerProcess::spawn(command, &log)?
        }
        ServerKind::Callhook => {
            let config = scratch.join("callhook.toml");
            std::fs::write(&config, callhook_config(address, &issuer.openid_url()))
                .with_context(|| format!("cannot write {}", config.display()))?;
            let callhook = binaries.callhook.to_string_lossy();
            let config = config.to_string_lossy();
            let command = cores
                .pinned_to_server_core(&callhook, &["serve", "--config", &config, "--log", "warn"]);
            ServerProcess::spawn(command, &log)?
        }
    };
    server.wait_until_listening(address, kind == ServerKind::Callhook)?;

    // Correct answers first: a fast server that answers the wrong thing measures nothing.
    let good = post(address, Some(&tokens.reused))?;
    if good != 202 {
        bail!(
            "a valid notification got {good}, expected 202 (log: {})",
            log.display()
        );
    }
    if kind != ServerKind::Noop {
        let forged = post(address, Some(&tokens.forged))?;
        let missing = post(address, None)?;
        if forged != 401 || missing != 401 {
            bail!(
                "a forged token got {forged} and no token {missing}, expected 401 for both \
                 (log: {})",
                log.display()
            );
        }
    }

    // Writes the wrk script of `mode` as `name` and loads the server with it for `seconds`.
    let run = |name: &str, mode: &TokenMode<'_>, seconds: u32| -> Result<LoadResult> {
        let script = scratch.join(name);
        std::fs::write(&script, wrk::script(mode, &listen, WEBHOOK_PATH, BODY))
            .with_context(|| format!("cannot write {}", script.display()))?;
        load(wrk, cores, settings, &script, address, seconds)
    };
    let reused_mode = TokenMode::Reused(&tokens.reused);
    if settings.warm_up_secs > 0 {
        run("reused.lua", &reused_mode, settings.warm_up_secs)?;
    }
    let reused = run("reused.lua", &reused_mode, settings.reused_secs)?;
    let (distinct, distinct_exhausted) = if kind == ServerKind::Noop {
        (None, false)
    } else {
        let distinct = run(
            "distinct.lua",
            &TokenMode::Distinct(&tokens.distinct),
            settings.distinct_secs,
        )?;
        let exhausted = usize::try_from(distinct.requests)
            .map_or(true, |requests| requests > tokens.distinct_count);
        (Some(distinct), exhausted)
    };
    let peak_rss_kib = server.peak_rss_kib();
    let with_message_ids = if kind == ServerKind::Callhook {
        let load = run(
            "message-ids.lua",
            &TokenMode::ReusedWithMessageIds(&tokens.reused),
            settings.message_id_secs,
        )?;
        Some((load, server.peak_rss_kib()))
    } else {
        None
    };
    drop(server);
    Ok(ServerResult {
        kind,
        reused,
        distinct,
        distinct_exhausted,
        peak_rss_kib,
        with_message_ids,
    })
}

/// One wrk run, whose answers must all have been successes.
fn load(
    wrk: &Wrk,
    cores: &Cores,
    settings: &Settings,
    script: &Path,
    address: SocketAddr,
    seconds: u32,
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
    let output = command
        .stdin(Stdio::null())
        .output()
        .context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
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

/// callhook's configuration under the benchmark: one worker, the log sink, keys from `openid`.
fn callhook_config(address: SocketAddr, openid: &str) -> String {
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
         kind = \"log\"\n"
    )
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
}

impl ServerProcess {
    fn spawn(mut command: Command, log: &Path) -> Result<Self> {
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("cannot start the server")?;
        Ok(Self {
            child,
            log: log.to_path_buf(),
        })
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
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // The process is ours (spawned above, by its id): a bench server has nothing to drain.
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
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

/// POSTs the benchmark's body with `token` (or none) and returns the status code.
fn post(address: SocketAddr, token: Option<&str>) -> Result<u16> {
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {address}\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    exchange(address, &request)
}

fn get(address: SocketAddr, path: &str) -> Result<u16> {
    exchange(
        address,
        &format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends one request on a new connection and returns the answer's status code.
fn exchange(address: SocketAddr, request: &str) -> Result<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    // The answers are tiny; the cap only bounds a misbehaving server.
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    parse_status(&answer).context("the answer has no HTTP status line")
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

/// The issuer's OpenID configuration and JWKS, served on 127.0.0.1 from a thread of the xtask.
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
        listener.set_nonblocking(true)?;
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
            // Bounded by the stop flag, and by an hour in case the xtask is stuck elsewhere.
            let deadline = Instant::now() + Duration::from_secs(3600);
            while !stopped.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ignored = answer_issuer_request(stream, &openid, &jwks);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
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
        if let Some(thread) = self.thread.take() {
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
        let config = callhook_config(
            "127.0.0.1:8080".parse().unwrap(),
            "http://127.0.0.1:9/openid",
        );
        assert!(config.contains("workers = 1"));
        assert!(config.contains("kind = \"log\""));
        assert!(config.contains("openid_configuration = \"http://127.0.0.1:9/openid\""));
    }
}
