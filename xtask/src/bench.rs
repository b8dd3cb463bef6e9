//! `cargo xtask bench`: micro benchmarks (criterion) and end-to-end load (wrk) in one run, printed
//! as one table with ratios, so that machine noise cancels out of the comparisons.
//!
//! The end-to-end part runs the real `callhook serve` binary (release, one worker, log sink at warn
//! level) and two baselines built in the same invocation with the same profile
//! (`benches/baselines`): an actix-web no-op handler and an actix-web handler verifying with
//! jsonwebtoken 9 on every request. The server gets one core and wrk the other (`taskset`), 32
//! connections, a ~1 KB incoming-call body, RS256 tokens from a 2048-bit key, in two token modes:
//! the platform's reality (one token reused for many notifications) and the worst case (a token
//! never seen before on every request).
//!
//! `--quick` is CI's smoke run: seconds per measurement, the same table, no goal checked.

mod micro;
mod report;
mod servers;
mod tokens;
mod wrk;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{cargo, run_step, workspace_root};

/// The bot's app id in every token and configuration of the benchmark.
pub(crate) const APP_ID: &str = "6a0c6e6c-1f2a-4c1e-9d6b-0a1b2c3d4e5f";

/// The tenant of every token of the benchmark.
pub(crate) const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// How long each part of the run lasts.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The cargo profile everything is built with: `release` for the measured run; the quick run
    /// uses `dev`, which the tests have already built, since it measures nothing.
    pub(crate) profile: &'static str,
    /// Criterion's arguments for every micro benchmark.
    pub(crate) criterion_args: Vec<&'static str>,
    /// Seconds of load, discarded, before each server's measurements.
    pub(crate) warm_up_secs: u32,
    /// Seconds of load with the reused token.
    pub(crate) reused_secs: u32,
    /// Seconds of load with a distinct token on every request.
    pub(crate) distinct_secs: u32,
    /// callhook's extra run with a message id on every request (not one of the goals).
    pub(crate) message_id_secs: u32,
    /// Concurrent connections of the load generator.
    pub(crate) connections: u32,
}

impl Settings {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                profile: "dev",
                criterion_args: vec![
                    "--warm-up-time",
                    "0.3",
                    "--measurement-time",
                    "0.7",
                    "--sample-size",
                    "10",
                ],
                warm_up_secs: 0,
                reused_secs: 1,
                distinct_secs: 1,
                message_id_secs: 1,
                connections: 32,
            }
        } else {
            Self {
                profile: "release",
                criterion_args: vec!["--warm-up-time", "1", "--measurement-time", "3"],
                warm_up_secs: 2,
                reused_secs: 10,
                distinct_secs: 4,
                message_id_secs: 5,
                connections: 32,
            }
        }
    }
}

/// Runs the benchmarks and prints the table; in full mode, also the goals, failing when one is
/// missed.
pub(crate) fn run(quick: bool) -> Result<()> {
    let started = Instant::now();
    let settings = Settings::new(quick);
    let target = target_directory()?;
    let scratch = target.join("bench");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let load_at_start = load_average();

    let wrk = wrk::find_or_install()?;
    let binaries = build(&target, settings.profile)?;
    let cores = servers::Cores::detect();

    let micro = micro::run(&settings, &target, &cores)?;
    let tokens = tokens::ensure(
        &binaries.baselines,
        &scratch.join("tokens"),
        tokens::needed(&settings, micro.raw_verify_ns()),
    )?;
    let endtoend = servers::run_all(&settings, &binaries, &tokens, &wrk, &cores, &scratch)?;

    let report = report::Report {
        quick,
        micro,
        endtoend,
        connections: settings.connections,
        cores: cores.describe(),
        load_at_start,
    };
    println!("{}", report.table());
    let took = started.elapsed().as_secs();
    if quick {
        println!(
            "\nquick mode ({took} s): no goal checked; run `cargo xtask bench` for the goals."
        );
        return Ok(());
    }
    let goals = report.goals();
    println!("\n{}", report::goals_table(&goals));
    println!("\nfull run took {took} s");
    let missed = goals.iter().filter(|goal| !goal.passed).count();
    if missed > 0 {
        bail!(
            "{missed} of {} goals missed (see the table above)",
            goals.len()
        );
    }
    Ok(())
}

/// CI's smoke run (after the tests): the whole pipeline for a few seconds, no speed asserted.
/// It runs the binaries and benches of the `dev` profile, which the tests have already built, so
/// that CI does not build the whole tree once more for a run that measures nothing.
pub(crate) fn ci_smoke() -> Result<()> {
    run(true)
}

/// The binaries the end-to-end part runs.
#[derive(Debug)]
pub(crate) struct Binaries {
    /// `target/<profile>/callhook`.
    pub(crate) callhook: PathBuf,
    /// `target/<profile>/callhook-bench-baselines`.
    pub(crate) baselines: PathBuf,
}

/// Builds callhook and the baselines with `profile`, in two invocations so that the baselines' use
/// of the auth crate's `testing` feature never reaches the callhook binary.
fn build(target: &Path, profile: &str) -> Result<Binaries> {
    run_step(
        &format!("build callhook ({profile})"),
        cargo(&[
            "build",
            "--profile",
            profile,
            "--locked",
            "-p",
            "callhook-server",
            "--bin",
            "callhook",
        ]),
    )?;
    run_step(
        &format!("build the baselines ({profile})"),
        cargo(&[
            "build",
            "--profile",
            profile,
            "--locked",
            "-p",
            "callhook-bench-baselines",
        ]),
    )?;
    let directory = target.join(profile_directory(profile));
    let binaries = Binaries {
        callhook: directory.join("callhook"),
        baselines: directory.join("callhook-bench-baselines"),
    };
    for binary in [&binaries.callhook, &binaries.baselines] {
        if !binary.is_file() {
            bail!("the build did not produce {}", binary.display());
        }
    }
    Ok(binaries)
}

/// The directory under the target directory where cargo puts what `profile` builds.
fn profile_directory(profile: &str) -> &str {
    if profile == "dev" { "debug" } else { profile }
}

/// Cargo's target directory (it may be moved by `CARGO_TARGET_DIR` or configuration).
fn target_directory() -> Result<PathBuf> {
    let output = cargo(&["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    Ok(metadata
        .get("target_directory")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| workspace_root().join("target"), PathBuf::from))
}

/// The one-minute load average, so that a reader can tell a busy machine from a slow program.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
