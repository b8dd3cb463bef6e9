//! `cargo xtask fuzz`: every cargo-fuzz target in `fuzz/`, one after the other.
//!
//! `fuzz/` is its own workspace with its own lock file, so that the fuzz build (sanitizer flags,
//! nightly features) never touches the main workspace. Each target starts from the committed
//! seeds (`fuzz/seeds/<target>`, built from the test data) and keeps what it learns in
//! `fuzz/corpus/<target>` (ignored by git). A crash leaves its input in `fuzz/artifacts/<target>`
//! and fails the task; turn it into a regression test in the crate where the bug was.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{has_program, run_step, workspace_root};

/// The targets, in the order they run.
const TARGETS: [&str; 5] = ["token", "jwks", "openid", "negotiate", "config"];

/// The cargo-fuzz release installed when the machine has none.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Seconds per target of the smoke run in `cargo xtask ci`.
const CI_SMOKE_SECONDS: u64 = 10;

/// Runs every fuzz target for `seconds` each and prints a table of the runs.
pub(crate) fn run(seconds: u64) -> Result<()> {
    run_with(seconds, Build::Optimized)
}

/// How the targets are compiled.
#[derive(Debug, Clone, Copy)]
enum Build {
    /// cargo-fuzz's default: optimized, with debug assertions, overflow checks and
    /// the address sanitizer. For the long runs.
    Optimized,
    /// Unoptimized (`--dev`): builds in half the time; for CI's smoke run, where the build costs
    /// more than the fuzzing.
    Dev,
}

impl Build {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Build::Optimized => &[],
            Build::Dev => &["--dev"],
        }
    }
}

fn run_with(seconds: u64, build: Build) -> Result<()> {
    let toolchain = prepare(build)?;
    let mut runs = Vec::new();
    for target in TARGETS {
        runs.push(run_target(&toolchain, build, target, seconds)?);
    }
    print_table(&runs);
    Ok(())
}

/// The short fuzzing run of CI: each target for [`CI_SMOKE_SECONDS`], built unoptimized.
pub(crate) fn ci_smoke() -> Result<()> {
    run_with(CI_SMOKE_SECONDS, Build::Dev)
}

/// How cargo-fuzz is invoked: nightly when rustup has one, else the default toolchain with
/// `RUSTC_BOOTSTRAP=1` so that it accepts the sanitizer flags.
enum Toolchain {
    Nightly,
    Bootstrapped,
}

impl Toolchain {
    fn cargo_fuzz(&self, args: &[&str]) -> Command {
        let mut command = match self {
            Toolchain::Nightly => {
                let mut command = Command::new("rustup");
                command.args(["run", "nightly", "cargo", "fuzz"]);
                command
            }
            Toolchain::Bootstrapped => {
                let mut command = Command::new("cargo");
                command.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
                command
            }
        };
        // The variables cargo sets for xtask itself would pin the fuzz build to xtask's toolchain,
        // and crates that read them at build time would be rebuilt whenever they differ from a
        // plain `cargo fuzz` in a shell.
        for (variable, _) in std::env::vars_os() {
            let name = variable.to_string_lossy();
            let set_by_cargo = name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || name.starts_with("CARGO_CRATE_")
                || name.starts_with("CARGO_BIN_")
                || matches!(
                    name.as_ref(),
                    "CARGO"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_DIR"
                        | "RUSTUP_TOOLCHAIN"
                        | "RUSTC"
                        | "RUSTDOC"
                );
            if set_by_cargo {
                command.env_remove(&variable);
            }
        }
        command.args(args).current_dir(fuzz_dir());
        command
    }
}

fn fuzz_dir() -> PathBuf {
    workspace_root().join("fuzz")
}

/// Installs cargo-fuzz when missing, picks the toolchain and builds every target once.
fn prepare(build: Build) -> Result<Toolchain> {
    if !has_program("cargo-fuzz", &["fuzz", "--version"]) {
        let mut install = Command::new("cargo");
        install.args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ]);
        install.env_remove("RUSTUP_TOOLCHAIN");
        run_step("install cargo-fuzz", install)?;
    }
    let toolchain = if has_program("rustup", &["run", "nightly", "rustc", "--version"]) {
        Toolchain::Nightly
    } else {
        eprintln!("no nightly toolchain: fuzzing with the default one and RUSTC_BOOTSTRAP=1");
        Toolchain::Bootstrapped
    };
    let mut arguments = vec!["build"];
    arguments.extend(build.flags());
    run_step("fuzz build", toolchain.cargo_fuzz(&arguments))?;
    Ok(toolchain)
}

/// What one target's run did.
struct TargetRun {
    target: &'static str,
    seconds: f64,
    executions: Option<u64>,
    corpus: Option<String>,
}

fn run_target(
    toolchain: &Toolchain,
    build: Build,
    target: &'static str,
    seconds: u64,
) -> Result<TargetRun> {
    let corpus = fuzz_dir().join("corpus").join(target);
    let seeds = fuzz_dir().join("seeds").join(target);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let max_total_time = format!("-max_total_time={seconds}");
    let mut arguments = vec!["run"];
    // The same flags as the build, or cargo-fuzz would build the target again.
    arguments.extend(build.flags());
    arguments.extend([
        target,
        path_str(&corpus)?,
        path_str(&seeds)?,
        "--",
        &max_total_time,
        "-print_final_stats=1",
        // A slow input or a runaway allocation is a finding too, not a hang of CI.
        "-timeout=20",
        "-rss_limit_mb=4096",
    ]);
    let mut command = toolchain.cargo_fuzz(&arguments);
    command.stderr(Stdio::piped());
    eprintln!("\n==> fuzz {target}: {seconds} s");
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("fuzz {target}: could not start cargo fuzz"))?;
    let mut executions = None;
    let mut corpus_line = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(count) = line.strip_prefix("stat::number_of_executed_units:") {
                executions = count.trim().parse().ok();
            }
            if line.contains("DONE") || line.contains("INITED") {
                corpus_line = line
                    .split_whitespace()
                    .skip_while(|word| *word != "corp:")
                    .nth(1)
                    .map(str::to_owned)
                    .or(corpus_line);
            }
            eprintln!("{line}");
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("fuzz {target}: cargo fuzz did not finish"))?;
    let took = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!(
            "fuzz {target} failed after {took:.0} s ({status}): the crashing input is in \
             fuzz/artifacts/{target}; reproduce with `cargo fuzz run {target} FILE` in fuzz/ and \
             add it as a regression test"
        );
    }
    Ok(TargetRun {
        target,
        seconds: took,
        executions,
        corpus: corpus_line,
    })
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

fn print_table(runs: &[TargetRun]) {
    eprintln!("\n| target | seconds | executions | corpus (entries/bytes) | result |");
    eprintln!("| --- | ---: | ---: | --- | --- |");
    for run in runs {
        let executions = run
            .executions
            .map_or_else(|| "?".to_owned(), |count| count.to_string());
        let corpus = run.corpus.as_deref().unwrap_or("?");
        eprintln!(
            "| {} | {:.0} | {executions} | {corpus} | no crash |",
            run.target, run.seconds
        );
    }
}
