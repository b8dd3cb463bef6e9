//! `cargo xtask e2e-cluster`: two regions of callhook on real nginx and real Redis, on loopback,
//! played by `callhook simulate` and by a platform-like client with retries.
//!
//! Each region has an nginx front (`deploy/nginx/callhook.conf`, filled in), two `callhook serve`
//! instances with partitions `{region}-0` and `{region}-1`, one `redis-server` shared by both for
//! de-duplication, and one `callhook bot` per instance behind its forward sink. The bots record the
//! message id of every delivery they take, and the checks count those records. One development
//! issuer signs every token; `callhook simulate --graph-listen` plays Graph for the bots' answers.
//!
//! Everything listens on 127.0.0.1, every wait is bounded, and every process and file is gone at the
//! end, on failure too (the guards below kill on drop).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{cargo, ensure_debian_package, run_step, workspace_root};

mod fronts;

/// The bot's app id: the demo's, which the development tools use by default.
const APP_ID: &str = "00000000-0000-0000-0000-00000000de70";
/// The webhook path, callhook's default.
const WEBHOOK_PATH: &str = "/api/calls";
/// How long a start, a readiness or a stop may take before the check fails.
const PROCESS_WAIT: Duration = Duration::from_secs(30);
/// How long each instance drains on SIGTERM (`server.shutdown_timeout_secs`).
const DRAIN_SECS: u64 = 10;
/// A platform-like client's attempts per notification, and the pause between them.
const ATTEMPTS: u32 = 60;
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The rolling restart's steady traffic: threads per region.
const TRAFFIC_THREADS: usize = 2;
/// A body of a call in progress (no incoming call, so the bots do not call Graph for it).
const TRAFFIC_PAYLOAD: &str = "crates/callhook-server/scenarios/established.json";

/// One region of the cluster, as configured.
struct RegionPlan {
    name: &'static str,
    /// The tenant whose calls this region owns.
    tenant: &'static str,
}

const REGIONS: [RegionPlan; 2] = [
    RegionPlan {
        name: "emea",
        tenant: "11111111-2222-3333-4444-555555555555",
    },
    RegionPlan {
        name: "amer",
        tenant: "99999999-8888-7777-6666-555555555555",
    },
];

pub(crate) fn run() -> Result<()> {
    let nginx = ensure_debian_package("nginx", "nginx", "the cluster test");
    let redis = ensure_debian_package("redis-server", "redis-server", "the cluster test");
    if !nginx || !redis {
        eprintln!(
            "xtask e2e-cluster: SKIPPED: needs nginx and redis-server, and they could not be \
             installed here (see above)"
        );
        return Ok(());
    }
    run_step(
        "build callhook",
        cargo(&[
            "build",
            "--locked",
            "-p",
            "callhook-server",
            "--bin",
            "callhook",
        ]),
    )?;
    let binary = target_dir().join("debug").join("callhook");
    let started = Instant::now();
    let mut checks = Checks::default();
    let cluster = Cluster::start(&binary)?;
    checks.record(
        "the cluster is up: 2 regions × (nginx, 2 instances, 2 bots, Redis)",
        Ok(format!(
            "emea on {}, amer on {}",
            cluster.regions[0].front(),
            cluster.regions[1].front()
        )),
    );
    let mut client = Platform::new(&cluster)?;

    checks.record(
        "a call for an amer tenant reaching emea",
        redirected_call(&cluster),
    );
    checks.record(
        "an emea call's later notifications reach the instance that answered it",
        answered_call(&cluster),
    );
    checks.record(
        "a retry landing on the other instance is not delivered again",
        retry_on_other_instance(&cluster, &mut client),
    );
    checks.record(
        "the same notification on both instances at once is delivered once",
        concurrent_duplicate(&cluster, &mut client),
    );
    checks.record(
        "a partition this region does not have is refused by the front",
        unknown_partition(&cluster, &client),
    );
    checks.record(
        "https through deploy/nginx (callhook.conf with tls.conf) reaches the region",
        fronts::nginx_tls(&cluster, &mut client),
    );
    checks.record(
        "https through deploy/caddy/Caddyfile reaches the region",
        fronts::caddy(&cluster, &mut client),
    );
    let mut cluster = cluster;
    checks.record(
        "a stopped instance's callbacks fail loudly, the rest of the region works",
        stopped_instance(&mut cluster, &mut client),
    );
    checks.record(
        "a rolling restart of every instance under steady traffic loses nothing",
        rolling_restart(&mut cluster, &mut client),
    );
    checks.record(
        "every notification acknowledged with 202 reached a bot exactly once",
        nothing_lost(&cluster, &client),
    );
    drop(cluster);
    eprintln!(
        "\nxtask e2e-cluster: {} passed, {} failed ({:.1} s)",
        checks.passed,
        checks.failed,
        started.elapsed().as_secs_f64()
    );
    if checks.failed > 0 {
        bail!("{} of the cluster's checks failed", checks.failed);
    }
    Ok(())
}

/// The target directory cargo builds into.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The checks' tally, one line each.
#[derive(Default)]
struct Checks {
    passed: usize,
    failed: usize,
}

impl Checks {
    fn record(&mut self, name: &str, result: Result<String>) {
        match result {
            Ok(detail) => {
                self.passed += 1;
                eprintln!("ok    {name}: {detail}");
            }
            Err(error) => {
                self.failed += 1;
                eprintln!("FAIL  {name}: {error:#}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// `callhook simulate --scenario redirected-call` at emea with an amer tenant: 302 once, 202 in
/// amer, answered there, and the call's later notifications at the answering amer instance.
fn redirected_call(cluster: &Cluster) -> Result<String> {
    let (emea, amer) = (&cluster.regions[0], &cluster.regions[1]);
    let before = cluster.deliveries()?;
    let run = cluster.simulate(emea, "redirected-call", amer.plan.tenant)?;
    let after = cluster.deliveries()?;
    let delivered = new_ids_by_partition(&before, &after, &run.message_id_prefix);
    let emea_got: usize = emea
        .instances
        .iter()
        .map(|instance| delivered.get(&instance.partition).map_or(0, Vec::len))
        .sum();
    if emea_got > 0 {
        bail!(
            "emea's bots took {emea_got} of the call's notifications; the redirect was delivered"
        );
    }
    let owner = one_owner(amer, &delivered, 4)?;
    Ok(format!(
        "302 to amer, answered by {owner}'s bot, and the 3 later notifications at {owner} only"
    ))
}

/// `callhook simulate --scenario answered-call` at emea: every later notification at the instance
/// whose bot answered.
fn answered_call(cluster: &Cluster) -> Result<String> {
    let emea = &cluster.regions[0];
    let before = cluster.deliveries()?;
    let run = cluster.simulate(emea, "answered-call", emea.plan.tenant)?;
    let after = cluster.deliveries()?;
    let delivered = new_ids_by_partition(&before, &after, &run.message_id_prefix);
    let owner = one_owner(emea, &delivered, 6)?;
    Ok(format!(
        "answered by {owner}'s bot; the 5 later notifications at {owner} only"
    ))
}

/// The platform's retry of a delivery that succeeded (its 202 was lost), landing on the other
/// instance: 202 there, and not delivered again.
fn retry_on_other_instance(cluster: &Cluster, client: &mut Platform) -> Result<String> {
    let emea = &cluster.regions[0];
    let id = client.fresh_id("retry");
    let body = client.body.clone();
    let first = client.post_once(&emea.instances[0].direct(), &id, &body, emea)?;
    let retry = client.post_once(&emea.instances[1].direct(), &id, &body, emea)?;
    if (first, retry) != (202, 202) {
        bail!("expected 202 then 202, got {first} then {retry}");
    }
    let count = cluster.delivered_count(emea, &id)?;
    if count != 1 {
        bail!("`{id}` reached emea's bots {count} times");
    }
    Ok(format!(
        "202 at {} and at {}, delivered once",
        emea.instances[0].partition, emea.instances[1].partition
    ))
}

/// The same message id posted to both instances at the same moment.
fn concurrent_duplicate(cluster: &Cluster, client: &mut Platform) -> Result<String> {
    let amer = &cluster.regions[1];
    let id = client.fresh_id("twin");
    let body = client.body.clone();
    let statuses: Vec<Result<u16>> = std::thread::scope(|scope| {
        let handles: Vec<_> = amer
            .instances
            .iter()
            .map(|instance| {
                let (client, id, body) = (&*client, &id, &body);
                scope.spawn(move || client.post_once(&instance.direct(), id, body, amer))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client thread panicked")))
            })
            .collect()
    });
    let statuses = statuses.into_iter().collect::<Result<Vec<_>>>()?;
    for status in &statuses {
        if *status != 202 {
            bail!("expected 202 on both, got {statuses:?}");
        }
    }
    client.acknowledged(amer, &id);
    let count = cluster.delivered_count(amer, &id)?;
    if count != 1 {
        bail!("`{id}` reached amer's bots {count} times");
    }
    Ok("202 on both amer instances, delivered once".to_owned())
}

/// A callbackUri naming a partition of another region, at this region's front.
fn unknown_partition(cluster: &Cluster, client: &Platform) -> Result<String> {
    let emea = &cluster.regions[0];
    let url = format!("{}/amer-0", emea.front());
    let status = client.post_once(&url, &client.fresh_id("stray"), &client.body, emea)?;
    if status != 421 {
        bail!("expected 421 at {url}, got {status}");
    }
    Ok("421 Misdirected Request from nginx".to_owned())
}

/// emea-1 stopped: its callbacks answer 502 or 503, the bare path and emea-0's callbacks still 202;
/// started again, its callbacks work again.
fn stopped_instance(cluster: &mut Cluster, client: &mut Platform) -> Result<String> {
    let stopped = cluster.regions[0].instances[1].partition.clone();
    let drained = cluster.stop_instance(0, 1)?;
    let emea = &cluster.regions[0];
    let body = client.body.clone();
    let url = format!("{}/{stopped}", emea.front());
    let status = client.post_once(&url, &client.fresh_id("orphan"), &body, emea)?;
    if !matches!(status, 502 | 503) {
        bail!("a callback to the stopped {stopped} answered {status}, not 502 or 503");
    }
    let mut bare = Vec::new();
    for _ in 0..10 {
        let id = client.fresh_id("survivor");
        let answer = client.post_once(&emea.front(), &id, &body, emea)?;
        if answer == 202 {
            client.acknowledged(emea, &id);
        }
        bare.push(answer);
    }
    if bare.iter().any(|status| *status != 202) {
        bail!("with {stopped} stopped, the bare path answered {bare:?}");
    }
    let owner_url = format!("{}/{}", emea.front(), emea.instances[0].partition);
    let id = client.fresh_id("survivor");
    let owner = client.post_once(&owner_url, &id, &body, emea)?;
    if owner != 202 {
        bail!("with {stopped} stopped, {owner_url} answered {owner}");
    }
    client.acknowledged(emea, &id);
    cluster.start_instance(0, 1)?;
    let emea = &cluster.regions[0];
    let id = client.fresh_id("returned");
    let back = client.post_once(&url, &id, &body, emea)?;
    if back != 202 {
        bail!("{stopped} started again, but its callback answered {back}");
    }
    client.acknowledged(emea, &id);
    Ok(format!(
        "{stopped} drained in {:.1} s; its callback got {status}; 10 of 10 new calls and \
         {}'s callback got 202; back up, its callback got 202",
        drained.as_secs_f64(),
        emea.instances[0].partition
    ))
}

/// Steady traffic to each region's bare path and to each `{region}-0` partition, with the
/// platform's retries, while every instance is stopped with SIGTERM and started again in turn.
fn rolling_restart(cluster: &mut Cluster, client: &mut Platform) -> Result<String> {
    let stop = AtomicBool::new(false);
    let mut restarts = Vec::new();
    let outcomes: Vec<Traffic> = std::thread::scope(|scope| -> Result<Vec<Traffic>> {
        let mut handles = Vec::new();
        for region in &cluster.regions {
            let owner = format!("{}/{}", region.front(), region.instances[0].partition);
            let targets =
                std::iter::repeat_n(region.front(), TRAFFIC_THREADS).chain(std::iter::once(owner));
            for url in targets {
                let (client, stop, name) = (&*client, &stop, region.plan.name);
                handles.push(scope.spawn(move || client.steady(name, &url, stop)));
            }
        }
        // Let the traffic settle, then restart every instance, one at a time.
        std::thread::sleep(Duration::from_millis(500));
        let mut outcome = Ok(());
        for region in 0..2 {
            for instance in 0..2 {
                let step = cluster
                    .restart_instance(region, instance)
                    .map(|took| restarts.push(took));
                if let Err(error) = step {
                    outcome = Err(error);
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        let traffic = handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| Traffic {
                    failed: vec!["a client thread panicked".to_owned()],
                    ..Traffic::default()
                })
            })
            .collect();
        outcome.map(|()| traffic)
    })?;
    let mut total = Traffic::default();
    for traffic in outcomes {
        total.sent += traffic.sent;
        total.retried += traffic.retried;
        total.failed.extend(traffic.failed);
        for (region, ids) in traffic.acknowledged {
            total.acknowledged.entry(region).or_default().extend(ids);
        }
    }
    if let Some(example) = total.failed.first() {
        bail!(
            "{} of {} notifications were never accepted, e.g. {example}",
            total.failed.len(),
            total.sent,
        );
    }
    let mut lost = Vec::new();
    for region in &cluster.regions {
        let ids = total
            .acknowledged
            .remove(region.plan.name)
            .unwrap_or_default();
        let counts = cluster.delivered_counts(region)?;
        for id in &ids {
            if counts.get(id).copied().unwrap_or(0) != 1 {
                lost.push(format!(
                    "{id}: delivered {} times",
                    counts.get(id).copied().unwrap_or(0)
                ));
            }
        }
        client.acknowledged_many(region, ids);
    }
    if let Some(example) = lost.first() {
        bail!(
            "{} notifications not delivered exactly once, e.g. {example}",
            lost.len()
        );
    }
    let slowest_drain = restarts
        .iter()
        .map(|(drain, _)| *drain)
        .max()
        .unwrap_or_default();
    let slowest_start = restarts
        .iter()
        .map(|(_, start)| *start)
        .max()
        .unwrap_or_default();
    Ok(format!(
        "{} instances restarted (drain at most {:.1} s, ready again at most {:.1} s); {} \
         notifications, {} retried after a 5xx or a dropped connection, every one delivered once",
        restarts.len(),
        slowest_drain.as_secs_f64(),
        slowest_start.as_secs_f64(),
        total.sent,
        total.retried
    ))
}

/// Every id the client saw acknowledged, in the bots' records of its region, exactly once.
fn nothing_lost(cluster: &Cluster, client: &Platform) -> Result<String> {
    let mut checked = 0;
    for region in &cluster.regions {
        let counts = cluster.delivered_counts(region)?;
        let ids = client
            .acknowledged
            .get(region.plan.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for id in ids {
            let count = counts.get(id).copied().unwrap_or(0);
            if count != 1 {
                bail!(
                    "`{id}` was acknowledged by {} but reached its bots {count} times",
                    region.plan.name
                );
            }
        }
        checked += ids.len();
    }
    if checked == 0 {
        bail!("no notification was acknowledged: nothing to check");
    }
    Ok(format!("{checked} acknowledged, {checked} delivered once"))
}

/// The partition (of `region`) whose bot took every one of the run's `expected` notifications.
fn one_owner(
    region: &Region,
    delivered: &BTreeMap<String, Vec<String>>,
    expected: usize,
) -> Result<String> {
    let got: Vec<(String, usize)> = region
        .instances
        .iter()
        .map(|instance| {
            let count = delivered.get(&instance.partition).map_or(0, Vec::len);
            (instance.partition.clone(), count)
        })
        .collect();
    match got.iter().find(|(_, count)| *count > 0) {
        Some((owner, count))
            if *count == expected && got.iter().filter(|(_, c)| *c > 0).count() == 1 =>
        {
            Ok(owner.clone())
        }
        _ => bail!("expected all {expected} notifications at one instance, got {got:?}"),
    }
}

/// The ids new in `after`, starting with `prefix`, by partition.
fn new_ids_by_partition(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
    prefix: &str,
) -> BTreeMap<String, Vec<String>> {
    after
        .iter()
        .map(|(partition, ids)| {
            let seen = before.get(partition).map_or(0, Vec::len);
            let new = ids
                .iter()
                .skip(seen)
                .filter(|id| id.starts_with(prefix))
                .cloned()
                .collect();
            (partition.clone(), new)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The platform-like client.

/// Posts notifications like the platform: a token of the development issuer per region's tenant,
/// a fresh message id per notification, retries after a 5xx or a dropped connection.
struct Platform {
    agent: ureq::Agent,
    tokens: BTreeMap<&'static str, String>,
    body: Vec<u8>,
    run: String,
    sequence: AtomicU64,
    /// The ids each region acknowledged with 202.
    acknowledged: BTreeMap<&'static str, Vec<String>>,
}

/// What one steady-traffic thread saw.
#[derive(Default)]
struct Traffic {
    sent: usize,
    retried: usize,
    failed: Vec<String>,
    acknowledged: BTreeMap<&'static str, Vec<String>>,
}

impl Platform {
    fn new(cluster: &Cluster) -> Result<Self> {
        let mut tokens = BTreeMap::new();
        for region in &cluster.regions {
            tokens.insert(region.plan.name, cluster.mint(region.plan.tenant)?);
        }
        let payload = workspace_root().join(TRAFFIC_PAYLOAD);
        let body =
            std::fs::read(&payload).with_context(|| format!("reading {}", payload.display()))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .new_agent();
        Ok(Self {
            agent,
            tokens,
            body,
            run: format!("e2e-{}", std::process::id()),
            sequence: AtomicU64::new(0),
            acknowledged: BTreeMap::new(),
        })
    }

    fn fresh_id(&self, what: &str) -> String {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        format!("{}-{what}-{sequence}", self.run)
    }

    fn acknowledged(&mut self, region: &Region, id: &str) {
        self.acknowledged
            .entry(region.plan.name)
            .or_default()
            .push(id.to_owned());
    }

    fn acknowledged_many(&mut self, region: &Region, ids: Vec<String>) {
        self.acknowledged
            .entry(region.plan.name)
            .or_default()
            .extend(ids);
    }

    /// One POST; the status, or an error when no answer came.
    fn post_once(&self, url: &str, id: &str, body: &[u8], region: &Region) -> Result<u16> {
        self.post_as(url, id, body, region.plan.name)
    }

    /// One POST with the token of region `name`'s tenant.
    fn post_as(&self, url: &str, id: &str, body: &[u8], name: &str) -> Result<u16> {
        let token = self.tokens.get(name).context("no token for the region")?;
        let response = self
            .agent
            .post(url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("X-Microsoft-Skype-Message-ID", id)
            .send(body)
            .with_context(|| format!("POST {url}"))?;
        Ok(response.status().as_u16())
    }

    /// Fresh notifications to `url` until `stop`, each retried like the platform until it gets a
    /// 202 (at most `ATTEMPTS` times).
    fn steady(&self, region: &'static str, url: &str, stop: &AtomicBool) -> Traffic {
        let mut traffic = Traffic::default();
        while !stop.load(Ordering::Relaxed) {
            let id = self.fresh_id("steady");
            traffic.sent += 1;
            let mut last = String::new();
            let mut accepted = false;
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    std::thread::sleep(RETRY_PAUSE);
                }
                match self.post_as(url, &id, &self.body, region) {
                    Ok(202) => {
                        accepted = true;
                        if attempt > 0 {
                            traffic.retried += 1;
                        }
                        break;
                    }
                    Ok(status) => last = format!("{status}"),
                    Err(error) => last = format!("{error:#}"),
                }
            }
            if accepted {
                traffic.acknowledged.entry(region).or_default().push(id);
            } else {
                traffic
                    .failed
                    .push(format!("{id} at {url}: {ATTEMPTS} attempts, last {last}"));
            }
        }
        traffic
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster's processes.

/// A child process, killed and reaped on drop.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Self> {
        let file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let stderr = file.try_clone()?;
        command.stdin(Stdio::null()).stdout(file).stderr(stderr);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// Fails, with the end of its log, when the process has exited.
    fn alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, tail(&self.log));
        }
        Ok(())
    }

    /// SIGTERM, then waits for the exit; fails when it does not exit in time or exits non-zero.
    fn terminate(mut self) -> Result<Duration> {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.name);
        }
        while started.elapsed() < PROCESS_WAIT {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!(
                        "{} exited {status} after SIGTERM:\n{}",
                        self.name,
                        tail(&self.log)
                    );
                }
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{} did not exit within {PROCESS_WAIT:?} of SIGTERM",
            self.name
        )
    }
}

impl Drop for Process {
    /// SIGTERM first, SIGKILL after a grace of two seconds: nginx's master stops its workers on
    /// SIGTERM, whereas a SIGKILL would leave them running, orphaned, on their ports.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(2) {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of a log file, for a failure's message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    lines.get(start..).unwrap_or_default().join("\n")
}

/// A temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let path =
            std::env::temp_dir().join(format!("callhook-e2e-cluster-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `callhook serve` and the bot behind it.
struct Instance {
    partition: String,
    port: u16,
    config: PathBuf,
    record: PathBuf,
    starts: u32,
    server: Option<Process>,
    // Dropped after the server, which forwards to it.
    _bot: Process,
}

impl Instance {
    /// Its own address, bypassing nginx.
    fn direct(&self) -> String {
        format!("http://127.0.0.1:{}{WEBHOOK_PATH}", self.port)
    }
}

struct Region {
    plan: &'static RegionPlan,
    front_port: u16,
    instances: [Instance; 2],
    _nginx: Process,
    _redis: Process,
}

impl Region {
    /// The region's public webhook URL: its nginx front.
    fn front(&self) -> String {
        format!("http://127.0.0.1:{}{WEBHOOK_PATH}", self.front_port)
    }
}

/// What a `callhook simulate` run sent.
struct SimulateRun {
    /// Every message id of the run starts with it.
    message_id_prefix: String,
}

struct Cluster {
    binary: PathBuf,
    regions: [Region; 2],
    graph_port: u16,
    _issuer: Process,
    // Last: removed after every process is gone.
    dir: TempDir,
}

impl Cluster {
    fn start(binary: &Path) -> Result<Self> {
        let dir = TempDir::new()?;
        let issuer_port = free_port()?;
        let graph_port = free_port()?;
        let mut issuer_command = Command::new(binary);
        issuer_command.args([
            "issuer",
            "serve",
            "--listen",
            &format!("127.0.0.1:{issuer_port}"),
        ]);
        let issuer = Process::spawn("the issuer", issuer_command, &dir.0.join("issuer.log"))?;
        let openid = format!("http://127.0.0.1:{issuer_port}/v1/.well-known/OpenIdConfiguration");
        wait_for_status(&openid, 200)?;
        let front_ports = [free_port()?, free_port()?];
        let template = std::fs::read_to_string(workspace_root().join("deploy/nginx/callhook.conf"))
            .context("reading deploy/nginx/callhook.conf")?;
        let mut regions = Vec::new();
        for (plan, other, front_port, other_port) in [
            (&REGIONS[0], &REGIONS[1], front_ports[0], front_ports[1]),
            (&REGIONS[1], &REGIONS[0], front_ports[1], front_ports[0]),
        ] {
            let redis_port = free_port()?;
            let redis_dir = dir.0.join(format!("redis-{}", plan.name));
            std::fs::create_dir_all(&redis_dir)?;
            let mut redis_command = Command::new("redis-server");
            redis_command.args(crate::util::redis_server_args(redis_port, &redis_dir));
            let redis = Process::spawn(
                &format!("{}'s redis-server", plan.name),
                redis_command,
                &dir.0.join(format!("redis-{}.log", plan.name)),
            )?;
            let mut instances = Vec::new();
            for ordinal in 0..2 {
                let partition = format!("{}-{ordinal}", plan.name);
                let (port, bot_port) = (free_port()?, free_port()?);
                let record = dir.0.join(format!("deliveries-{partition}.txt"));
                let mut bot_command = Command::new(binary);
                bot_command.args([
                    "bot",
                    "--listen",
                    &format!("127.0.0.1:{bot_port}"),
                    "--graph-url",
                    &format!("http://127.0.0.1:{graph_port}"),
                    "--app-id",
                    APP_ID,
                    "--tenant",
                    plan.tenant,
                    "--record",
                    &record.display().to_string(),
                ]);
                let bot = Process::spawn(
                    &format!("{partition}'s bot"),
                    bot_command,
                    &dir.0.join(format!("bot-{partition}.log")),
                )?;
                let config = dir.0.join(format!("{partition}.toml"));
                std::fs::write(
                    &config,
                    instance_config(&InstanceSettings {
                        port,
                        openid: &openid,
                        region: plan,
                        front_port,
                        other,
                        other_port,
                        partition: &partition,
                        bot_port,
                        redis_port,
                    }),
                )?;
                instances.push(Instance {
                    partition,
                    port,
                    config,
                    record,
                    starts: 0,
                    server: None,
                    _bot: bot,
                });
            }
            let instances: [Instance; 2] = instances
                .try_into()
                .map_err(|_| anyhow::anyhow!("a region has two instances"))?;
            let nginx = start_nginx(&dir.0, &template, plan.name, front_port, &instances)?;
            regions.push(Region {
                plan,
                front_port,
                instances,
                _nginx: nginx,
                _redis: redis,
            });
        }
        let regions: [Region; 2] = regions
            .try_into()
            .map_err(|_| anyhow::anyhow!("the cluster has two regions"))?;
        let mut cluster = Self {
            binary: binary.to_path_buf(),
            regions,
            graph_port,
            _issuer: issuer,
            dir,
        };
        for region in 0..2 {
            for instance in 0..2 {
                cluster.start_instance(region, instance)?;
            }
        }
        for region in &cluster.regions {
            wait_for_status(&format!("http://127.0.0.1:{}/", region.front_port), 404)?;
        }
        Ok(cluster)
    }

    /// Instance `instance` of region `region`.
    fn instance_mut(&mut self, region: usize, instance: usize) -> Result<&mut Instance> {
        self.regions
            .get_mut(region)
            .and_then(|region| region.instances.get_mut(instance))
            .with_context(|| format!("no instance {instance} in region {region}"))
    }

    /// Starts `callhook serve` for an instance and waits until `/readyz` says 200.
    fn start_instance(&mut self, region: usize, instance: usize) -> Result<Duration> {
        let started = Instant::now();
        let log_dir = self.dir.0.clone();
        let binary = self.binary.clone();
        let target = self.instance_mut(region, instance)?;
        let mut command = Command::new(&binary);
        command.args(["serve", "--config", &target.config.display().to_string()]);
        // A log per start, so that a failure shows every run of the instance.
        target.starts += 1;
        let log = log_dir.join(format!("serve-{}-{}.log", target.partition, target.starts));
        let mut process = Process::spawn(&target.partition, command, &log)?;
        let ready = format!("http://127.0.0.1:{}/readyz", target.port);
        let outcome = wait_for_status(&ready, 200);
        if let Err(error) = outcome {
            process.alive()?;
            return Err(error.context(format!("{} did not become ready", target.partition)));
        }
        target.server = Some(process);
        Ok(started.elapsed())
    }

    /// SIGTERM to an instance; the time it took to drain and exit.
    fn stop_instance(&mut self, region: usize, instance: usize) -> Result<Duration> {
        let target = self.instance_mut(region, instance)?;
        let process = target
            .server
            .take()
            .with_context(|| format!("{} is not running", target.partition))?;
        process.terminate()
    }

    /// Stops and starts an instance: how long it took to drain and exit, and to be ready again.
    fn restart_instance(&mut self, region: usize, instance: usize) -> Result<(Duration, Duration)> {
        let stopped = self.stop_instance(region, instance)?;
        Ok((stopped, self.start_instance(region, instance)?))
    }

    /// A token of the development issuer for `tenant`, valid for an hour.
    fn mint(&self, tenant: &str) -> Result<String> {
        let output = Command::new(&self.binary)
            .args(["issuer", "mint", "--app-id", APP_ID, "--tenant", tenant])
            .args(["--lifetime-secs", "3600"])
            .output()
            .context("running callhook issuer mint")?;
        if !output.status.success() {
            bail!(
                "callhook issuer mint failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    }

    /// Plays `scenario` at `region`'s front as a caller of `tenant`, with the local Graph.
    fn simulate(&self, region: &Region, scenario: &str, tenant: &str) -> Result<SimulateRun> {
        let mut child = Command::new(&self.binary)
            .args([
                "simulate",
                "--target",
                &region.front(),
                "--scenario",
                scenario,
            ])
            .args(["--app-id", APP_ID, "--tenant", tenant])
            .args(["--graph-listen", &format!("127.0.0.1:{}", self.graph_port)])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting callhook simulate")?;
        let message_id_prefix = format!("callhook-sim-{}-", child.id());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("callhook simulate --scenario {scenario} did not end within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut printed = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut printed);
        }
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut printed);
        }
        if !status.success() {
            bail!("callhook simulate --scenario {scenario} failed ({status}):\n{printed}");
        }
        Ok(SimulateRun { message_id_prefix })
    }

    /// Every instance's recorded deliveries, by partition, in order.
    fn deliveries(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut all = BTreeMap::new();
        for region in &self.regions {
            for instance in &region.instances {
                all.insert(instance.partition.clone(), read_record(&instance.record)?);
            }
        }
        Ok(all)
    }

    /// How many times each id reached `region`'s bots.
    fn delivered_counts(&self, region: &Region) -> Result<BTreeMap<String, usize>> {
        let mut counts = BTreeMap::new();
        for instance in &region.instances {
            for id in read_record(&instance.record)? {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    fn delivered_count(&self, region: &Region, id: &str) -> Result<usize> {
        Ok(self.delivered_counts(region)?.get(id).copied().unwrap_or(0))
    }
}

/// A bot's record: one message id per line.
fn read_record(path: &Path) -> Result<Vec<String>> {
    match std::fs::File::open(path) {
        Ok(file) => BufReader::new(file)
            .lines()
            .map(|line| line.with_context(|| format!("reading {}", path.display())))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

struct InstanceSettings<'a> {
    port: u16,
    openid: &'a str,
    region: &'a RegionPlan,
    front_port: u16,
    other: &'a RegionPlan,
    other_port: u16,
    partition: &'a str,
    bot_port: u16,
    redis_port: u16,
}

/// An instance's `callhook.toml`.
fn instance_config(settings: &InstanceSettings<'_>) -> String {
    let InstanceSettings {
        port,
        openid,
        region,
        front_port,
        other,
        other_port,
        partition,
        bot_port,
        redis_port,
    } = settings;
    let mut text = String::new();
    let _ = write!(
        text,
        r#"[server]
listen = "127.0.0.1:{port}"
webhook_path = "{WEBHOOK_PATH}"
shutdown_timeout_secs = {DRAIN_SECS}

[auth]
app_id = "{APP_ID}"
openid_configuration = "{openid}"

[routing]
region = "{region}"
[routing.deployments]
{other} = "http://127.0.0.1:{other_port}{WEBHOOK_PATH}"
[[routing.rules]]
tenant = "{other_tenant}"
region = "{other}"

[partition]
id = "{partition}"
public_url = "http://127.0.0.1:{front_port}"

[sink]
kind = "forward"
url = "http://127.0.0.1:{bot_port}/notifications"

[dedup]
store = "redis"
url = "redis://127.0.0.1:{redis_port}"
key_prefix = "callhook:{region}:"
"#,
        region = region.name,
        other = other.name,
        other_tenant = other.tenant,
    );
    text
}

/// The values of `deploy/nginx/callhook.conf`'s names for a region's front listening on `listen`.
fn front_values(
    region: &str,
    listen: String,
    instances: &[Instance; 2],
) -> BTreeMap<&'static str, String> {
    let mut values = BTreeMap::new();
    values.insert("REGION", region.to_owned());
    values.insert("LISTEN", listen);
    values.insert("SERVER_NAME", "localhost".to_owned());
    values.insert("WEBHOOK_PATH", WEBHOOK_PATH.to_owned());
    values.insert("INSTANCE_0", format!("127.0.0.1:{}", instances[0].port));
    values.insert("INSTANCE_1", format!("127.0.0.1:{}", instances[1].port));
    values
}

/// Fills in `deploy/nginx/callhook.conf` for a region and starts nginx with it (see [`run_nginx`]).
fn start_nginx(
    dir: &Path,
    template: &str,
    region: &str,
    port: u16,
    instances: &[Instance; 2],
) -> Result<Process> {
    let values = front_values(region, format!("127.0.0.1:{port}"), instances);
    let site = fill_in("deploy/nginx/callhook.conf", template, &values)?;
    let site_path = dir.join(format!("nginx-{region}-site.conf"));
    std::fs::write(&site_path, site)?;
    run_nginx(dir, region, &[site_path])
}

/// Wraps `includes` (files of nginx's `http` context) in a main configuration whose files all live
/// in `dir`, checks it with `nginx -t` and starts nginx in the foreground; `name` tells it apart.
fn run_nginx(dir: &Path, name: &str, includes: &[PathBuf]) -> Result<Process> {
    let prefix = dir.join(format!("nginx-{name}"));
    std::fs::create_dir_all(&prefix)?;
    let p = prefix.display();
    let mut included = String::new();
    for include in includes {
        let _ = writeln!(included, "    include {};", include.display());
    }
    let main = format!(
        "daemon off;\n\
         worker_processes 1;\n\
         pid {p}/nginx.pid;\n\
         error_log {p}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n\
         \x20   access_log {p}/access.log;\n\
         \x20   client_body_temp_path {p}/body;\n\
         \x20   proxy_temp_path {p}/proxy;\n\
         \x20   fastcgi_temp_path {p}/fastcgi;\n\
         \x20   uwsgi_temp_path {p}/uwsgi;\n\
         \x20   scgi_temp_path {p}/scgi;\n\
         {included}\
         }}\n"
    );
    let main_path = prefix.join("nginx.conf");
    std::fs::write(&main_path, main)?;
    let nginx = nginx_program();
    let args = |command: &mut Command| {
        command
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&main_path)
            .arg("-e")
            .arg(prefix.join("error.log"));
    };
    let mut test = Command::new(&nginx);
    args(&mut test);
    let tested = test.arg("-t").output().context("running nginx -t")?;
    if !tested.status.success() {
        bail!(
            "nginx -t refused the filled-in deploy/nginx files for {name}:\n{}",
            String::from_utf8_lossy(&tested.stderr)
        );
    }
    let mut command = Command::new(&nginx);
    args(&mut command);
    Process::spawn(
        &format!("{name}'s nginx"),
        command,
        &prefix.join("stderr.log"),
    )
}

/// `nginx` from the PATH, or Debian's, which lives in /usr/sbin (not on every user's PATH).
fn nginx_program() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("nginx")
    }
}

/// Replaces every `${NAME}` of `template` (the text of `file`) by its value; fails naming a
/// `${NAME}` it does not know, except inside a comment, which may speak of names in general.
fn fill_in(file: &str, template: &str, values: &BTreeMap<&str, String>) -> Result<String> {
    let mut filled = String::with_capacity(template.len());
    for (number, line) in template.split_inclusive('\n').enumerate() {
        let comment = line.trim_start().starts_with('#');
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            let (before, after) = rest.split_at(start);
            filled.push_str(before);
            let name = after
                .get(2..)
                .and_then(|after| after.split_once('}'))
                .map(|(name, _)| name);
            match (name.and_then(|name| values.get(name)), name) {
                (Some(value), Some(name)) => {
                    filled.push_str(value);
                    rest = after.get(name.len() + 3..).unwrap_or_default();
                }
                _ if comment => {
                    filled.push_str("${");
                    rest = after.get(2..).unwrap_or_default();
                }
                (_, Some(name)) => bail!("{file}:{}: no value for ${{{name}}}", number + 1),
                (_, None) => bail!("{file}:{}: a `${{` without its `}}`", number + 1),
            }
        }
        filled.push_str(rest);
    }
    Ok(filled)
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Polls `url` with GET until it answers `status`, for at most `PROCESS_WAIT`.
fn wait_for_status(url: &str, status: u16) -> Result<()> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .new_agent();
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < PROCESS_WAIT {
        match agent.get(url).call() {
            Ok(response) if response.status().as_u16() == status => return Ok(()),
            Ok(response) => last = format!("answered {}", response.status()),
            Err(error) => last = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{url} did not answer {status} within {PROCESS_WAIT:?} ({last})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_in_replaces_every_name_and_refuses_an_unknown_one() {
        let mut values = BTreeMap::new();
        values.insert("REGION", "emea".to_owned());
        assert_eq!(
            fill_in("t.conf", "upstream callhook_${REGION} { $host }", &values).unwrap(),
            "upstream callhook_emea { $host }"
        );
        let error = fill_in("t.conf", "a\n${REGION} ${NOPE}", &values).unwrap_err();
        assert!(
            error.to_string().contains("t.conf:2: no value for ${NOPE}"),
            "{error}"
        );
        assert!(fill_in("t.conf", "${REGION", &values).is_err());
        assert_eq!(
            fill_in("t.conf", "  # ${NAME} is ${REGION}\n", &values).unwrap(),
            "  # ${NAME} is emea\n"
        );
    }

    #[test]
    fn the_nginx_template_names_only_what_the_cluster_fills_in() {
        let template =
            std::fs::read_to_string(workspace_root().join("deploy/nginx/callhook.conf")).unwrap();
        let mut values = BTreeMap::new();
        for name in [
            "REGION",
            "LISTEN",
            "SERVER_NAME",
            "WEBHOOK_PATH",
            "INSTANCE_0",
            "INSTANCE_1",
        ] {
            values.insert(name, "x".to_owned());
        }
        fill_in("deploy/nginx/callhook.conf", &template, &values).unwrap();
        let tls = std::fs::read_to_string(workspace_root().join("deploy/nginx/tls.conf")).unwrap();
        let mut values = BTreeMap::new();
        for name in ["SERVER_NAME", "TLS_DIR"] {
            values.insert(name, "x".to_owned());
        }
        fill_in("deploy/nginx/tls.conf", &tls, &values).unwrap();
    }
}
