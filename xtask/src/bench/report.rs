//! The table and the goals: each round's from that round's numbers only, then the goals of the
//! rounds combined ([`combine`]).

use std::fmt::Write as _;

use super::micro::{self, Micro};
use super::servers::{
    EndToEnd, FORWARD_LABEL, PLATFORM_LABEL, PlatformCallhook, PlatformResult, REDIS_LABEL,
    ServerKind, ServerResult,
};
use super::wrk::LoadResult;

/// Everything one run measured.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) quick: bool,
    pub(crate) micro: Micro,
    pub(crate) endtoend: EndToEnd,
    /// Which round of the end-to-end runs this is, of how many.
    pub(crate) round: (usize, usize),
    pub(crate) connections: u32,
    pub(crate) cores: String,
    /// The server's core, where the forward row's bot runs too, when pinned, for the notes.
    pub(crate) server_core: Option<usize>,
    /// Where the servers' log files went.
    pub(crate) scratch: String,
    pub(crate) load_at_start: Option<f64>,
}

/// One goal of the issue, checked against one round, or against every round ([`combine`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Goal {
    pub(crate) description: &'static str,
    pub(crate) measured: String,
    pub(crate) passed: bool,
    /// The number the goal is about, for the median of the rounds; `None` when it was not
    /// measured, or not validly.
    value: Option<f64>,
    rule: Rule,
}

/// How a goal's rounds combine.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// A number with a threshold: the median of the rounds' numbers must meet it.
    Median(Threshold),
    /// A memory bound: met in every round, the worst one counting.
    EveryRound,
}

/// What a goal's number must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Threshold {
    /// A ratio of at least this.
    RatioAtLeast(f64),
    /// A latency in microseconds below this.
    LatencyBelow(f64),
}

impl Threshold {
    fn met(self, value: f64) -> bool {
        match self {
            Threshold::RatioAtLeast(at_least) => value >= at_least,
            Threshold::LatencyBelow(limit) => value < limit,
        }
    }

    fn text(self, value: f64) -> String {
        match self {
            Threshold::RatioAtLeast(_) => format!("{value:.2}×"),
            Threshold::LatencyBelow(_) => duration(value * 1000.0),
        }
    }
}

impl Goal {
    /// A goal on a number (a ratio or a latency) measured in one round; `None`: not measured.
    fn on(description: &'static str, value: Option<f64>, threshold: Threshold) -> Self {
        Goal {
            description,
            measured: value
                .map_or_else(|| "not measured".to_owned(), |value| threshold.text(value)),
            passed: value.is_some_and(|value| threshold.met(value)),
            value,
            rule: Rule::Median(threshold),
        }
    }

    /// A memory goal of one round, which every round must meet.
    fn every_round(description: &'static str, measured: String, passed: bool) -> Self {
        Goal {
            description,
            measured,
            passed,
            value: None,
            rule: Rule::EveryRound,
        }
    }
}

/// The goals of every round, combined goal by goal: a ratio or a latency by the median of the
/// rounds (each round's shown beside it), a memory goal by its worst round. One round's goals
/// are returned as they are.
pub(crate) fn combine(rounds: &[Vec<Goal>]) -> Vec<Goal> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    if rounds.len() == 1 {
        return first.clone();
    }
    first
        .iter()
        .enumerate()
        .map(|(index, goal)| {
            let each: Vec<&Goal> = rounds.iter().filter_map(|goals| goals.get(index)).collect();
            combine_one(goal, &each)
        })
        .collect()
}

fn combine_one(goal: &Goal, each: &[&Goal]) -> Goal {
    let combined = |measured: String, passed: bool, value: Option<f64>| Goal {
        description: goal.description,
        measured,
        passed,
        value,
        rule: goal.rule,
    };
    let listed = each
        .iter()
        .map(|goal| goal.measured.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let threshold = match goal.rule {
        Rule::Median(threshold) => threshold,
        Rule::EveryRound => {
            return match each.iter().enumerate().find(|(_, goal)| !goal.passed) {
                Some((missed, goal)) => combined(
                    format!("missed in round {}: {}", missed + 1, goal.measured),
                    false,
                    None,
                ),
                None => combined(format!("every round: {listed}"), true, None),
            };
        }
    };
    let values: Option<Vec<f64>> = each.iter().map(|goal| goal.value).collect();
    let Some(median) = values.and_then(median) else {
        // A round without a valid number: say which, and why.
        let (missing, reason) = each
            .iter()
            .enumerate()
            .find(|(_, goal)| goal.value.is_none())
            .map_or((0, "not measured"), |(index, goal)| {
                (index, goal.measured.as_str())
            });
        return combined(format!("round {}: {reason}", missing + 1), false, None);
    };
    combined(
        format!(
            "{} (median of {} rounds: {listed})",
            threshold.text(median),
            each.len()
        ),
        threshold.met(median),
        Some(median),
    )
}

/// The median of `values`: the middle one, or the midpoint of the two middle ones; `None` when
/// there are none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let upper = *values.get(values.len() / 2)?;
    if values.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = *values.get(values.len() / 2 - 1)?;
    Some(f64::midpoint(lower, upper))
}

/// The goals' thresholds.
const REUSED_VERSUS_NOOP: f64 = 0.6;
/// The simplification issue (#14) restated this goal at 3× (it was 4×).
const REUSED_VERSUS_JWT: f64 = 3.0;
/// The framework integration issue (#15): the layer within 10% of authenticating by hand.
const LAYER_VERSUS_BY_HAND: f64 = 0.9;
const DISTINCT_VERSUS_JWT: f64 = 0.95;
const P99_LIMIT_US: f64 = 1_000.0;
const RSS_LIMIT_KIB: u64 = 64 * 1024;
const PLATFORM_VERSUS_NOOP: f64 = 0.75;
const PLATFORM_VERSUS_JWT: f64 = 3.0;
/// The platform run's RSS goal counts only for a run that delivered more ids than this...
const DELIVERED_IDS_FLOOR: u64 = 1_000_000;
/// ...and whose de-duplication store still remembers at least this many at the end: callhook's
/// default capacity, 1,000,000 ids, which a full store holds exactly (it forgets the oldest id for
/// each new one), so "over a million remembered" means a store at its default capacity. A store
/// remembering fewer would make the RSS meaningless.
const REMEMBERED_IDS_FLOOR: u64 = 1_000_000;

/// The tokens column of the platform's script.
const PLATFORM_TOKENS: &str = "reused + new message id";

impl Report {
    fn server(&self, kind: ServerKind) -> Option<&ServerResult> {
        self.endtoend
            .servers
            .iter()
            .find(|result| result.kind == kind)
    }

    fn rate(&self, kind: ServerKind, distinct: bool) -> Option<f64> {
        let server = self.server(kind)?;
        let load: &LoadResult = if distinct {
            server.distinct.as_ref()?
        } else {
            &server.reused
        };
        Some(load.requests_per_second())
    }

    fn platform(&self, kind: ServerKind) -> Option<&PlatformResult> {
        self.endtoend
            .platform
            .iter()
            .find(|result| result.kind == kind)
    }

    fn platform_rate(&self, kind: ServerKind) -> Option<f64> {
        Some(self.platform(kind)?.load.requests_per_second())
    }

    /// What callhook's own process counted in the platform run.
    fn platform_callhook(&self) -> Option<(&PlatformResult, &PlatformCallhook)> {
        let result = self.platform(ServerKind::Callhook)?;
        Some((result, result.callhook.as_ref()?))
    }

    /// The markdown table: micro rows, then the synthetic, platform and forward rows, then notes
    /// saying what each end-to-end row ran.
    pub(crate) fn table(&self) -> String {
        let mut table = String::new();
        let _ = writeln!(
            table,
            "callhook benchmark ({}{}): {}; {} connections; ~1 KB body; RS256, 2048-bit key{}",
            if self.quick {
                "quick mode, unoptimized dev build: a smoke run, not a measurement"
            } else {
                "full mode, release build"
            },
            self.round_of(),
            self.cores,
            self.connections,
            self.load_at_start.map_or_else(String::new, |load| format!(
                "; load average at start {load:.2}"
            )),
        );
        table.push('\n');
        table.push_str("| benchmark | tokens | result | p50 | p99 | peak RSS | ratio |\n");
        table.push_str("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
        self.micro_rows(&mut table);
        self.synthetic_rows(&mut table);
        self.platform_rows(&mut table);
        self.forward_row(&mut table);
        self.redis_row(&mut table);
        table.push('\n');
        self.notes(&mut table);
        table
    }

    /// ", round 1 of 3" when there are rounds.
    fn round_of(&self) -> String {
        let (round, rounds) = self.round;
        if rounds > 1 {
            format!(", round {round} of {rounds}")
        } else {
            String::new()
        }
    }

    /// The table of a later round: its synthetic and platform rows only, the micro benchmarks
    /// and the rows measured once being in the first round's [`Report::table`].
    pub(crate) fn round_table(&self) -> String {
        let (round, rounds) = self.round;
        let mut table =
            format!("round {round} of {rounds}: the end-to-end rows again, in fresh processes\n\n");
        table.push_str("| benchmark | tokens | result | p50 | p99 | peak RSS | ratio |\n");
        table.push_str("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
        self.synthetic_rows(&mut table);
        self.platform_rows(&mut table);
        table
    }

    fn micro_rows(&self, table: &mut String) {
        let raw = self.micro.mean(micro::RAW_VERIFY);
        let cold = self.micro.mean(micro::COLD_VERIFY);
        for (id, label) in micro::MEASURED {
            let Some(mean) = self.micro.mean(id) else {
                continue;
            };
            let ratio = match id {
                micro::RAW_VERIFY => "1.00× (the floor of verifying)".to_owned(),
                micro::COLD_VERIFY => {
                    raw.map_or_else(String::new, |raw| format!("{:.2}× raw verify", mean / raw))
                }
                micro::CACHED_VERIFY => cold.map_or_else(String::new, |cold| {
                    format!("cold is {:.0}× slower", cold / mean)
                }),
                _ => raw.map_or_else(String::new, |raw| format!("{:.3}× raw verify", mean / raw)),
            };
            let _ = writeln!(
                table,
                "| micro: {label} | {} | {} | | | | {ratio} |",
                if matches!(id, micro::CACHED_VERIFY) {
                    "seen"
                } else if matches!(id, micro::RAW_VERIFY | micro::COLD_VERIFY) {
                    "new"
                } else {
                    ""
                },
                duration(mean),
            );
        }
    }

    fn synthetic_rows(&self, table: &mut String) {
        let noop = self.rate(ServerKind::Noop, false);
        for server in &self.endtoend.servers {
            let modes: [(&str, Option<&LoadResult>, bool); 2] = [
                ("reused", Some(&server.reused), false),
                ("distinct", server.distinct.as_ref(), true),
            ];
            for (mode, load, distinct) in modes {
                let Some(load) = load else {
                    continue;
                };
                let rate = load.requests_per_second();
                let jwt = self.rate(ServerKind::Jwt, distinct);
                let mut ratios = Vec::new();
                if server.kind != ServerKind::Noop
                    && let Some(noop) = noop
                {
                    ratios.push(format!("{:.2}× no-op", rate / noop));
                }
                if server.kind == ServerKind::Callhook
                    && let Some(jwt) = jwt
                {
                    ratios.push(format!("{:.2}× jsonwebtoken", rate / jwt));
                }
                if server.kind == ServerKind::AxumLayer
                    && let Some(by_hand) = self.rate(ServerKind::AxumByHand, distinct)
                {
                    ratios.push(format!("{:.2}× by hand", rate / by_hand));
                }
                if distinct && server.distinct_exhausted {
                    ratios.push("INVALID: ran out of distinct tokens".to_owned());
                }
                load_row(
                    table,
                    server.kind.label(),
                    mode,
                    load,
                    server.peak_rss_kib,
                    &ratios.join(", "),
                );
            }
        }
    }

    /// The same script against the three servers, with ratios between them only.
    fn platform_rows(&self, table: &mut String) {
        let noop = self.platform_rate(ServerKind::Noop);
        let jwt = self.platform_rate(ServerKind::Jwt);
        for result in &self.endtoend.platform {
            let rate = result.load.requests_per_second();
            let mut ratios = Vec::new();
            match result.kind {
                ServerKind::Noop => {
                    // What the script itself costs (wrk builds each request in Lua).
                    if let Some(without) = self.rate(ServerKind::Noop, false) {
                        ratios.push(format!("{:.2}× its rate without ids", rate / without));
                    }
                }
                ServerKind::Jwt | ServerKind::AxumLayer | ServerKind::AxumByHand => {
                    if let Some(noop) = noop {
                        ratios.push(format!("{:.2}× no-op", rate / noop));
                    }
                }
                ServerKind::Callhook => {
                    if let Some(noop) = noop {
                        ratios.push(format!("{:.2}× no-op", rate / noop));
                    }
                    if let Some(jwt) = jwt {
                        ratios.push(format!("{:.2}× jsonwebtoken", rate / jwt));
                    }
                    if let Some(counted) = &result.callhook {
                        ratios.push(format!(
                            "ids remembered: {} of {} delivered",
                            counted
                                .remembered_ids
                                .map_or_else(|| "n/a".to_owned(), thousands),
                            counted
                                .delivered
                                .map_or_else(|| "n/a".to_owned(), thousands)
                        ));
                        if let Some(dropped) = counted.log_lines_dropped
                            && dropped > 0
                        {
                            ratios.push(format!("{} log lines dropped", thousands(dropped)));
                        }
                        if let Some(target) = counted.target_requests
                            && result.load.requests < target
                        {
                            ratios.push(format!(
                                "ended at the {} s cap before {} requests",
                                counted.cap_secs,
                                thousands(target)
                            ));
                        }
                    }
                }
            }
            let label = if result.kind == ServerKind::Callhook {
                PLATFORM_LABEL
            } else {
                result.kind.label()
            };
            load_row(
                table,
                label,
                PLATFORM_TOKENS,
                &result.load,
                result.peak_rss_kib,
                &ratios.join(", "),
            );
        }
    }

    fn redis_row(&self, table: &mut String) {
        let Some(redis) = &self.endtoend.redis else {
            let _ = writeln!(
                table,
                "| {REDIS_LABEL} | reused + new message id | skipped: no redis-server | | | | |"
            );
            return;
        };
        let rate = redis.load.requests_per_second();
        let mut ratios = Vec::new();
        if let Some(memory) = self.platform(ServerKind::Callhook) {
            ratios.push(format!(
                "{:.2}× the in-memory store",
                rate / memory.load.requests_per_second()
            ));
        }
        if let Some(errors) = redis.store_errors
            && errors > 0
        {
            ratios.push(format!(
                "{} store errors, {} delivered unchecked",
                thousands(errors),
                redis.unchecked.map_or_else(|| "n/a".to_owned(), thousands)
            ));
        }
        ratios.push("not a goal".to_owned());
        load_row(
            table,
            REDIS_LABEL,
            PLATFORM_TOKENS,
            &redis.load,
            redis.peak_rss_kib,
            &ratios.join(", "),
        );
    }

    fn forward_row(&self, table: &mut String) {
        let Some(forward) = &self.endtoend.forward else {
            return;
        };
        let rate = forward.load.requests_per_second();
        let mut ratios = Vec::new();
        if let Some(noop) = self.rate(ServerKind::Noop, false) {
            ratios.push(format!("{:.2}× no-op", rate / noop));
        }
        if let Some(log_sink) = self.rate(ServerKind::Callhook, false) {
            ratios.push(format!("{:.2}× callhook's log sink", rate / log_sink));
        }
        ratios.push("not a goal".to_owned());
        load_row(
            table,
            FORWARD_LABEL,
            "reused",
            &forward.load,
            forward.peak_rss_kib,
            &ratios.join(", "),
        );
    }

    /// What each end-to-end row ran, and where callhook's stderr went.
    fn notes(&self, table: &mut String) {
        let scratch = &self.scratch;
        let bot_core = self.server_core.map_or_else(
            || "unpinned".to_owned(),
            |core| format!("pinned to core {core}"),
        );
        let _ = writeln!(
            table,
            "- **Synthetic rows** (tokens `reused` / `distinct`): no message ids. callhook: \
             `[sink] kind = \"log\"`, `--log warn` (the sink's `info` line is filtered out), one \
             worker. Every server's stdout and stderr go to a file in {scratch}."
        );
        let baseline_secs = self
            .platform(ServerKind::Noop)
            .map_or(0, |noop| noop.load.duration_us / 1_000_000);
        let _ = write!(
            table,
            "- **Platform rows** (tokens `{PLATFORM_TOKENS}`): one wrk script for the three \
             servers: the reused token and a new GUID-shaped `X-Microsoft-Skype-Message-ID` on \
             every request, as the platform sends them. The baselines ran it ~{baseline_secs} s \
             each, after their synthetic runs in the same process, and remember nothing. callhook \
             ran it in a process of its own with its defaults: no `--log` (the filter is `info`), \
             no `[sink]` (the log sink writes one `info` line per notification), `[server]` \
             defaults but `listen` and `workers = 1`."
        );
        if let Some((result, counted)) = self.platform_callhook() {
            let drain = counted.log.pinned_to.map_or_else(
                || "unpinned".to_owned(),
                |core| format!("pinned to core {core}, wrk's"),
            );
            let length = match counted.target_requests {
                Some(target) => format!(
                    "until {} requests (callhook's accepted count in `/metrics`) or {} s, \
                     after a {} s warm-up with other ids",
                    thousands(target),
                    counted.cap_secs,
                    counted.warm_up_secs,
                ),
                None => format!(
                    "{} s (quick mode: no request target; the RSS and ids goal is not checked)",
                    counted.cap_secs
                ),
            };
            #[allow(
                clippy::cast_precision_loss,
                reason = "a duration in microseconds is far below 2^52"
            )]
            let seconds = result.load.duration_us as f64 / 1e6;
            let _ = write!(
                table,
                " Its stderr was a pipe that a thread of the xtask ({drain}) read to the end and \
                 discarded: {} lines, {} over the process's life; lines callhook dropped: {}. The \
                 run lasted {length}: {} requests in {seconds:.1} s. Its peak RSS is over the \
                 process's whole life; ids remembered is `callhook_dedup_remembered_ids` after the \
                 run, ids delivered its accepted count (every accepted request had a new id).",
                thousands(counted.log.lines),
                mebibytes(counted.log.bytes / 1024),
                counted
                    .log_lines_dropped
                    .map_or_else(|| "n/a".to_owned(), thousands),
                thousands(result.load.requests),
            );
        }
        table.push('\n');
        if let Some(redis) = &self.endtoend.redis {
            let _ = writeln!(
                table,
                "- **Redis row**: callhook as in the platform row, with `[dedup] store = \"redis\"` \
                 on a `redis-server` of its own (no persistence) running {bot_core}, beside callhook, \
                 under the platform's script (a new message id on every request: one `SET NX PX` \
                 claim and one `PSETEX` confirmation each) for the baselines' length. Its ratio is \
                 to the platform row's in-memory store. Accepted: {}.",
                redis.delivered.map_or_else(|| "n/a".to_owned(), thousands),
            );
        }
        if let Some(forward) = &self.endtoend.forward {
            let _ = writeln!(
                table,
                "- **Forward row**: callhook with `[sink] kind = \"forward\"` posting every \
                 notification to a bot on loopback (the baselines' no-op handler, 202 to `POST \
                 /notifications`), `--log warn`, stdout and stderr to a file in {scratch}. The bot \
                 runs one worker {bot_core}, beside callhook, so the row pays for callhook, its \
                 HTTP client and the bot on one core while wrk keeps the other; its peak RSS is \
                 callhook's (the bot's: {}). Deliveries counted by callhook: {}. No goal: the \
                 issue sets none, and the number is mostly what a second HTTP exchange on the same \
                 core costs.",
                forward
                    .bot_peak_rss_kib
                    .map_or_else(|| "?".to_owned(), mebibytes),
                forward
                    .delivered
                    .map_or_else(|| "n/a".to_owned(), thousands),
            );
        }
    }

    /// The goals, each checked against this round's numbers.
    pub(crate) fn goals(&self) -> Vec<Goal> {
        let ratio = |description, numerator: Option<f64>, denominator: Option<f64>, at_least| {
            let value = numerator
                .zip(denominator)
                .filter(|&(_, denominator)| denominator > 0.0)
                .map(|(numerator, denominator)| numerator / denominator);
            Goal::on(description, value, Threshold::RatioAtLeast(at_least))
        };
        let callhook = self.server(ServerKind::Callhook);
        let mut goals = vec![
            ratio(
                "synthetic, reused tokens: callhook ≥ 0.6× the no-op actix-web handler",
                self.rate(ServerKind::Callhook, false),
                self.rate(ServerKind::Noop, false),
                REUSED_VERSUS_NOOP,
            ),
            ratio(
                "synthetic, reused tokens: callhook ≥ 3× the jsonwebtoken-per-request server",
                self.rate(ServerKind::Callhook, false),
                self.rate(ServerKind::Jwt, false),
                REUSED_VERSUS_JWT,
            ),
            ratio(
                "synthetic, distinct tokens: callhook ≥ 0.95× the jsonwebtoken-per-request server",
                self.rate(ServerKind::Callhook, true),
                self.rate(ServerKind::Jwt, true),
                DISTINCT_VERSUS_JWT,
            ),
        ];
        let exhausted = self
            .endtoend
            .servers
            .iter()
            .any(|server| server.distinct_exhausted);
        if exhausted && let Some(goal) = goals.last_mut() {
            goal.passed = false;
            goal.value = None;
            goal.measured
                .push_str(" (INVALID: a server used more requests than distinct tokens)");
        }
        goals.push(Goal::on(
            "synthetic, reused tokens: callhook p99 latency < 1 ms",
            callhook.map(|callhook| callhook.reused.p99_us),
            Threshold::LatencyBelow(P99_LIMIT_US),
        ));
        let rss = callhook.and_then(|callhook| callhook.peak_rss_kib);
        goals.push(Goal::every_round(
            "synthetic: callhook peak RSS < 64 MiB during its runs",
            rss.map_or_else(|| "not measured".to_owned(), mebibytes),
            rss.is_some_and(|rss| rss < RSS_LIMIT_KIB),
        ));
        goals.push(ratio(
            "platform script: callhook (defaults) ≥ 0.75× the no-op actix-web handler",
            self.platform_rate(ServerKind::Callhook),
            self.platform_rate(ServerKind::Noop),
            PLATFORM_VERSUS_NOOP,
        ));
        goals.push(ratio(
            "platform script: callhook (defaults) ≥ 3× the jsonwebtoken-per-request server",
            self.platform_rate(ServerKind::Callhook),
            self.platform_rate(ServerKind::Jwt),
            PLATFORM_VERSUS_JWT,
        ));
        goals.push(self.platform_memory_goal());
        goals.push(ratio(
            "axum, reused tokens: `AuthLayer` ≥ 0.9× authenticating by hand",
            self.rate(ServerKind::AxumLayer, false),
            self.rate(ServerKind::AxumByHand, false),
            LAYER_VERSUS_BY_HAND,
        ));
        goals.push(ratio(
            "axum, distinct tokens: `AuthLayer` ≥ 0.9× authenticating by hand",
            self.rate(ServerKind::AxumLayer, true),
            self.rate(ServerKind::AxumByHand, true),
            LAYER_VERSUS_BY_HAND,
        ));
        goals
    }

    /// callhook's peak RSS over the platform run, which counts only with its de-duplication store
    /// full: over a million ids delivered, 1,000,000 (the default capacity) still remembered. A server that does
    /// not say how many it remembers misses it.
    fn platform_memory_goal(&self) -> Goal {
        let description = "platform run: callhook peak RSS ≤ 64 MiB after over 1,000,000 ids \
                           delivered, 1,000,000 still remembered";
        let Some((result, counted)) = self.platform_callhook() else {
            return Goal::every_round(description, "not measured".to_owned(), false);
        };
        let rss = result.peak_rss_kib;
        let remembered = counted.remembered_ids;
        let delivered = counted.delivered;
        Goal::every_round(
            description,
            format!(
                "{}; {} delivered, {} remembered",
                rss.map_or_else(|| "RSS not measured".to_owned(), mebibytes),
                delivered.map_or_else(|| "n/a".to_owned(), thousands),
                remembered.map_or_else(|| "n/a".to_owned(), thousands)
            ),
            rss.is_some_and(|rss| rss <= RSS_LIMIT_KIB)
                && delivered.is_some_and(|ids| ids > DELIVERED_IDS_FLOOR)
                && remembered.is_some_and(|ids| ids >= REMEMBERED_IDS_FLOOR),
        )
    }
}

/// The goals as a markdown table with PASS/MISS.
pub(crate) fn goals_table(goals: &[Goal]) -> String {
    let mut table = String::from("| goal | measured | |\n| --- | ---: | --- |\n");
    for goal in goals {
        let _ = writeln!(
            table,
            "| {} | {} | {} |",
            goal.description,
            goal.measured,
            if goal.passed { "PASS" } else { "MISS" }
        );
    }
    table
}

/// A duration in nanoseconds, in the unit that reads best.
fn duration(nanoseconds: f64) -> String {
    if nanoseconds < 1_000.0 {
        format!("{nanoseconds:.1} ns")
    } else if nanoseconds < 1_000_000.0 {
        format!("{:.2} µs", nanoseconds / 1_000.0)
    } else {
        format!("{:.2} ms", nanoseconds / 1_000_000.0)
    }
}

/// One end-to-end row of the table.
fn load_row(
    table: &mut String,
    label: &str,
    mode: &str,
    load: &LoadResult,
    peak_rss_kib: Option<u64>,
    ratios: &str,
) {
    let _ = writeln!(
        table,
        "| {label} | {mode} | {:.0} req/s | {} | {} | {} | {ratios} |",
        load.requests_per_second(),
        duration(load.p50_us * 1000.0),
        duration(load.p99_us * 1000.0),
        peak_rss_kib.map_or_else(|| "?".to_owned(), mebibytes),
    );
}

/// KiB as MiB with one decimal.
fn mebibytes(kibibytes: u64) -> String {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a resident set size in KiB is far below 2^52"
    )]
    let mebibytes = kibibytes as f64 / 1024.0;
    format!("{mebibytes:.1} MiB")
}

/// A count with thousands separators, as the issue writes them: 1,100,000.
fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::super::servers::{Drained, ForwardResult, RedisRow};
    use super::*;

    fn load(requests_per_second: u64, p99_us: f64) -> LoadResult {
        LoadResult {
            requests: requests_per_second * 10,
            duration_us: 10_000_000,
            p50_us: p99_us / 2.0,
            p99_us,
            status_errors: 0,
            socket_errors: 0,
        }
    }

    /// The platform run of callhook: `rate` for 14 s, so 1,120,000 requests at 80,000 req/s, and
    /// 160,000 more in the warm-up.
    fn platform_callhook(rate: u64, rss_kib: u64, ids: Option<u64>) -> PlatformResult {
        PlatformResult {
            kind: ServerKind::Callhook,
            load: LoadResult {
                requests: rate * 14,
                duration_us: 14_000_000,
                p50_us: 300.0,
                p99_us: 900.0,
                status_errors: 0,
                socket_errors: 0,
            },
            peak_rss_kib: Some(rss_kib),
            callhook: Some(PlatformCallhook {
                remembered_ids: ids,
                delivered: Some(rate * 14 + 160_001),
                log_lines_dropped: Some(0),
                log: Drained {
                    lines: 1_140_003,
                    bytes: 400 * 1024 * 1024,
                    pinned_to: Some(0),
                },
                target_requests: Some(1_100_000),
                cap_secs: 60,
                warm_up_secs: 2,
            }),
        }
    }

    fn report(callhook_reused: u64, callhook_distinct: u64, rss_kib: u64) -> Report {
        let mut micro = Micro::default();
        for (id, mean) in [
            (micro::RAW_VERIFY, 19_000.0),
            (micro::COLD_VERIFY, 21_000.0),
            (micro::CACHED_VERIFY, 250.0),
            (micro::NEGOTIATE, 3_000.0),
            (micro::DECIDE_HIT, 60.0),
        ] {
            micro.mean_ns.insert(id.to_owned(), mean);
        }
        Report {
            quick: false,
            micro,
            endtoend: EndToEnd {
                servers: vec![
                    ServerResult {
                        kind: ServerKind::Noop,
                        reused: load(150_000, 400.0),
                        distinct: None,
                        distinct_exhausted: false,
                        peak_rss_kib: Some(8_000),
                    },
                    ServerResult {
                        kind: ServerKind::Jwt,
                        reused: load(22_000, 2_000.0),
                        distinct: Some(load(21_000, 2_100.0)),
                        distinct_exhausted: false,
                        peak_rss_kib: Some(9_000),
                    },
                    ServerResult {
                        kind: ServerKind::Callhook,
                        reused: load(callhook_reused, 600.0),
                        distinct: Some(load(callhook_distinct, 2_000.0)),
                        distinct_exhausted: false,
                        peak_rss_kib: Some(rss_kib),
                    },
                    ServerResult {
                        kind: ServerKind::AxumByHand,
                        reused: load(120_000, 500.0),
                        distinct: Some(load(20_000, 2_000.0)),
                        distinct_exhausted: false,
                        peak_rss_kib: Some(6_000),
                    },
                    ServerResult {
                        kind: ServerKind::AxumLayer,
                        reused: load(115_000, 500.0),
                        distinct: Some(load(19_800, 2_000.0)),
                        distinct_exhausted: false,
                        peak_rss_kib: Some(6_000),
                    },
                ],
                platform: vec![
                    PlatformResult {
                        kind: ServerKind::Noop,
                        load: load(100_000, 500.0),
                        peak_rss_kib: Some(8_100),
                        callhook: None,
                    },
                    PlatformResult {
                        kind: ServerKind::Jwt,
                        load: load(21_000, 2_000.0),
                        peak_rss_kib: Some(9_100),
                        callhook: None,
                    },
                    platform_callhook(80_000, 40 * 1024, Some(1_000_000)),
                ],
                forward: Some(ForwardResult {
                    load: load(45_000, 1_000.0),
                    peak_rss_kib: Some(12_000),
                    bot_peak_rss_kib: Some(5_000),
                    delivered: Some(450_001),
                }),
                redis: Some(RedisRow {
                    load: load(40_000, 1_500.0),
                    peak_rss_kib: Some(30_000),
                    delivered: Some(400_001),
                    store_errors: Some(0),
                    unchecked: Some(0),
                }),
            },
            round: (1, 1),
            connections: 32,
            cores: "pinned".to_owned(),
            server_core: Some(1),
            scratch: "target/bench".to_owned(),
            load_at_start: Some(0.1),
        }
    }

    fn set_platform_callhook(report: &mut Report, result: PlatformResult) {
        if let Some(last) = report.endtoend.platform.last_mut() {
            *last = result;
        }
    }

    #[test]
    fn every_goal_passes_on_numbers_that_meet_them() {
        let report = report(100_000, 21_000, 20_000);
        let goals = report.goals();
        assert_eq!(goals.len(), 10);
        assert_eq!(goals[8].measured, "0.96×");
        assert_eq!(goals[9].measured, "0.99×");
        assert!(goals.iter().all(|goal| goal.passed), "{goals:#?}");
        assert_eq!(goals[5].measured, "0.80×");
        assert_eq!(goals[6].measured, "3.81×");
        assert_eq!(
            goals[7].measured,
            "40.0 MiB; 1,280,001 delivered, 1,000,000 remembered"
        );
    }

    /// Rounds of the passing report, the platform row of each at the given rate against the
    /// no-op's 100,000 req/s.
    fn rounds_at(platform_rates: &[u64]) -> Vec<Vec<Goal>> {
        platform_rates
            .iter()
            .map(|&rate| {
                let mut round = report(100_000, 21_000, 20_000);
                set_platform_callhook(
                    &mut round,
                    platform_callhook(rate, 40 * 1024, Some(1_000_000)),
                );
                round.goals()
            })
            .collect()
    }

    #[test]
    fn one_round_is_its_own_verdict() {
        let rounds = rounds_at(&[70_000, 80_000, 90_000]);
        assert_eq!(combine(&rounds[..1]), rounds[0]);
        assert!(combine(&[]).is_empty());
    }

    #[test]
    fn a_ratio_goal_is_the_median_of_its_rounds() {
        // 0.70×, 0.80×, 0.90×: one round misses 0.75×, the median (0.80×) meets it.
        let goals = combine(&rounds_at(&[70_000, 80_000, 90_000]));
        assert_eq!(goals.len(), 10);
        assert!(goals[5].passed, "{:#?}", goals[5]);
        assert_eq!(
            goals[5].measured,
            "0.80× (median of 3 rounds: 0.70×; 0.80×; 0.90×)"
        );
        // The order of the rounds does not matter, only the middle value.
        let goals = combine(&rounds_at(&[90_000, 70_000, 80_000]));
        assert!(goals[5].passed);
        assert!(goals[5].measured.starts_with("0.80× "));
        // Two rounds of three missing: the median misses, whatever the third.
        let goals = combine(&rounds_at(&[70_000, 74_000, 99_000]));
        assert!(!goals[5].passed, "{:#?}", goals[5]);
        assert!(goals[5].measured.starts_with("0.74× "));
        // An even number of rounds takes the midpoint of the two middle ones: 0.745× misses.
        let goals = combine(&rounds_at(&[99_000, 70_000, 75_000, 74_000]));
        assert!(!goals[5].passed, "{:#?}", goals[5]);
        assert!(
            goals[5]
                .value
                .is_some_and(|median| (median - 0.745).abs() < 1e-9)
        );
    }

    #[test]
    fn a_latency_goal_is_the_median_of_its_rounds() {
        let mut rounds = Vec::new();
        for p99_us in [900.0, 1_200.0, 1_100.0] {
            let mut round = report(100_000, 21_000, 20_000);
            for server in &mut round.endtoend.servers {
                if server.kind == ServerKind::Callhook {
                    server.reused = load(100_000, p99_us);
                }
            }
            rounds.push(round.goals());
        }
        let goals = combine(&rounds);
        assert!(!goals[3].passed, "{:#?}", goals[3]);
        assert!(
            goals[3].measured.starts_with("1.10 ms "),
            "{}",
            goals[3].measured
        );
    }

    #[test]
    fn a_memory_goal_must_hold_in_every_round() {
        let mut rounds = rounds_at(&[80_000, 80_000, 80_000]);
        assert!(combine(&rounds)[7].passed);
        let mut fat = report(100_000, 21_000, 20_000);
        set_platform_callhook(
            &mut fat,
            platform_callhook(80_000, 65 * 1024, Some(1_000_000)),
        );
        rounds[1] = fat.goals();
        let goals = combine(&rounds);
        assert!(!goals[7].passed);
        assert!(
            goals[7].measured.starts_with("missed in round 2: 65.0 MiB"),
            "{}",
            goals[7].measured
        );
        // The same for the synthetic row's RSS.
        let mut rounds = rounds_at(&[80_000, 80_000, 80_000]);
        rounds[2] = report(100_000, 21_000, 70 * 1024).goals();
        assert!(!combine(&rounds)[4].passed);
    }

    #[test]
    fn a_round_without_a_valid_number_fails_the_goal() {
        let mut rounds = rounds_at(&[80_000, 80_000, 80_000]);
        let mut exhausted = report(100_000, 21_000, 20_000);
        for server in &mut exhausted.endtoend.servers {
            server.distinct_exhausted = true;
        }
        rounds[0] = exhausted.goals();
        let goals = combine(&rounds);
        assert!(!goals[2].passed);
        assert!(
            goals[2].measured.starts_with("round 1: ") && goals[2].measured.contains("INVALID")
        );
        assert!(goals[0].passed && goals[5].passed);
    }

    #[test]
    fn the_layer_goals_miss_when_the_layer_costs_more_than_a_tenth() {
        let mut report = report(100_000, 21_000, 20_000);
        for server in &mut report.endtoend.servers {
            if server.kind == ServerKind::AxumLayer {
                // 100,000 / 120,000 = 0.83 and 17,000 / 20,000 = 0.85: both under 0.9.
                server.reused = load(100_000, 500.0);
                server.distinct = Some(load(17_000, 2_000.0));
            }
        }
        let goals = report.goals();
        assert!(!goals[8].passed && !goals[9].passed);
        assert!(goals[..8].iter().all(|goal| goal.passed), "{goals:#?}");
    }

    #[test]
    fn each_goal_misses_on_its_own_numbers() {
        // 60,000 req/s is 0.4× the no-op's 150,000 and 2.7× jsonwebtoken's 22,000: both miss.
        let slow = report(60_000, 21_000, 20_000).goals();
        assert!(!slow[0].passed && !slow[1].passed && slow[2].passed);
        // 19,000 / 21,000 = 0.90 < 0.95.
        let uncached = report(100_000, 19_000, 20_000).goals();
        assert!(!uncached[2].passed && uncached[0].passed);
        // 70 MiB.
        let fat = report(100_000, 21_000, 70 * 1024).goals();
        assert!(!fat[4].passed && fat[3].passed);
        // Under the platform's script: 70,000 is 0.70× the no-op's 100,000 and 3.33× jsonwebtoken.
        let mut platform_slow = report(100_000, 21_000, 20_000);
        set_platform_callhook(
            &mut platform_slow,
            platform_callhook(70_000, 40 * 1024, Some(1_000_000)),
        );
        let goals = platform_slow.goals();
        assert!(!goals[5].passed && goals[6].passed && goals[7].passed);
        // 60,000 is 2.86× jsonwebtoken's 21,000.
        let mut slower = report(100_000, 21_000, 20_000);
        set_platform_callhook(
            &mut slower,
            platform_callhook(60_000, 40 * 1024, Some(1_000_000)),
        );
        assert!(!slower.goals()[6].passed);
    }

    #[test]
    fn the_memory_goal_needs_a_full_store_and_64_mib_at_most() {
        let mut report = report(100_000, 21_000, 20_000);
        let goal = |report: &Report| report.goals()[7].clone();
        set_platform_callhook(
            &mut report,
            platform_callhook(80_000, 64 * 1024, Some(1_000_000)),
        );
        assert!(goal(&report).passed);
        set_platform_callhook(
            &mut report,
            platform_callhook(80_000, 64 * 1024 + 1, Some(1_000_000)),
        );
        assert!(!goal(&report).passed);
        // A store remembering far fewer ids than it took in is not the full store of the goal.
        set_platform_callhook(
            &mut report,
            platform_callhook(80_000, 40 * 1024, Some(999_999)),
        );
        assert!(!goal(&report).passed);
        // A run that delivered a million ids or fewer misses it, whatever the store says.
        let mut short = platform_callhook(80_000, 40 * 1024, Some(1_000_000));
        if let Some(counted) = short.callhook.as_mut() {
            counted.delivered = Some(1_000_000);
        }
        set_platform_callhook(&mut report, short);
        assert!(!goal(&report).passed);
        // A server without the gauge: "n/a", never a made-up count, and the goal misses.
        set_platform_callhook(&mut report, platform_callhook(80_000, 40 * 1024, None));
        let missing = goal(&report);
        assert!(!missing.passed);
        assert_eq!(
            missing.measured,
            "40.0 MiB; 1,280,001 delivered, n/a remembered"
        );
        assert!(
            report
                .table()
                .contains("ids remembered: n/a of 1,280,001 delivered")
        );
    }

    #[test]
    fn running_out_of_distinct_tokens_invalidates_the_distinct_goal() {
        let mut report = report(100_000, 60_000, 20_000);
        if let Some(callhook) = report
            .endtoend
            .servers
            .iter_mut()
            .find(|server| server.kind == ServerKind::Callhook)
        {
            callhook.distinct_exhausted = true;
        }
        let goals = report.goals();
        assert!(!goals[2].passed);
        assert!(goals[2].measured.contains("INVALID"));
        assert!(report.table().contains("ran out of distinct tokens"));
    }

    #[test]
    fn the_table_shows_every_measurement_with_its_ratio() {
        let table = report(100_000, 21_000, 20_000).table();
        assert!(table.contains("| micro: callhook-auth cold verify | new | 21.00 µs |"));
        assert!(table.contains("1.11× raw verify"));
        assert!(table.contains("cold is 84× slower"));
        assert!(
            table.contains(
                "| callhook serve: log sink, `--log warn`, stderr → file | reused | 100000 req/s |"
            ),
            "{table}"
        );
        assert!(table.contains("0.67× no-op, 4.55× jsonwebtoken"));
        assert!(table.contains("19.5 MiB"));
        let goals = goals_table(&report(100_000, 21_000, 20_000).goals());
        assert_eq!(goals.matches("PASS").count(), 10);
        assert!(table.contains("0.96× by hand"), "{table}");
    }

    #[test]
    fn the_table_says_what_the_platform_and_forward_rows_ran() {
        let table = report(100_000, 21_000, 20_000).table();
        assert!(
            table.contains("| actix-web no-op handler | reused + new message id | 100000 req/s |"),
            "{table}"
        );
        assert!(table.contains("| 0.67× its rate without ids |"), "{table}");
        assert!(
            table.contains(&format!(
                "| {PLATFORM_LABEL} | reused + new message id | 80000 req/s |"
            )),
            "{table}"
        );
        assert!(
            table.contains(
                "| 40.0 MiB | 0.80× no-op, 3.81× jsonwebtoken, ids remembered: 1,000,000 of \
                 1,280,001 delivered |"
            ),
            "{table}"
        );
        assert!(table.contains("lines callhook dropped: 0"), "{table}");
        assert!(table.contains("1,140,003 lines, 400.0 MiB"), "{table}");
        assert!(table.contains("pinned to core 0, wrk's"), "{table}");
        assert!(table.contains("until 1,100,000 requests"), "{table}");
        assert!(
            table.contains(&format!("| {FORWARD_LABEL} | reused | 45000 req/s |")),
            "{table}"
        );
        assert!(
            table.contains("| 0.30× no-op, 0.45× callhook's log sink, not a goal |"),
            "{table}"
        );
        assert!(
            table.contains("Deliveries counted by callhook: 450,001"),
            "{table}"
        );
        assert!(
            table.contains(&format!(
                "| {REDIS_LABEL} | reused + new message id | 40000 req/s |"
            )),
            "{table}"
        );
        assert!(
            table.contains("| 0.50× the in-memory store, not a goal |"),
            "{table}"
        );
        assert!(
            table.contains("runs one worker pinned to core 1"),
            "{table}"
        );
    }

    #[test]
    fn a_platform_run_that_hits_the_cap_says_so() {
        let mut report = report(100_000, 21_000, 20_000);
        // 15,000 req/s for 14 s: 210,000 requests, far from the target.
        set_platform_callhook(
            &mut report,
            platform_callhook(15_000, 30 * 1024, Some(210_000)),
        );
        let table = report.table();
        assert!(
            table.contains("ended at the 60 s cap before 1,100,000 requests"),
            "{table}"
        );
        assert!(!report.goals()[7].passed);
    }

    #[test]
    fn counts_are_written_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_100_000), "1,100,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
