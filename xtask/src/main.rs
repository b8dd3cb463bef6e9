//! callhook's automation, in Rust so that it runs wherever cargo does.
//!
//! `cargo xtask ci` is the project's test command: the README names it, `.ci/run` calls it.
//! `cargo xtask release` cuts a release of one crate (docs/releasing.md).
#![allow(
    clippy::print_stderr,
    clippy::print_stdout,
    reason = "xtask is a command-line tool whose output is for people"
)]

mod bench;
mod ci;
mod cluster;
mod dist;
mod dockerfile;
mod fuzz;
mod manifests;
mod outside;
mod release;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// callhook's automation tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Everything CI checks: fmt, clippy, tests, doc tests, docs, cargo deny.
    Ci,
    /// Micro and end-to-end benchmarks, printed as one table with baselines from the same run.
    Bench {
        /// A smoke run of seconds (no goals checked), as CI does.
        #[arg(long)]
        quick: bool,
    },
    /// Compiles callhook-auth's framework integrations in apps outside the workspace (a step of `ci`).
    Outside,
    /// Two regions of callhook behind real nginx, with Redis, played like the platform: redirects,
    /// callbacks to their owner, retries, the TLS fronts (nginx and Caddy), a stopped instance and a
    /// rolling restart.
    E2eCluster,
    /// Checks `deploy/kubernetes/`: Kubernetes schemas, callhook's keys (a step of `ci`).
    Manifests,
    /// Lints the Dockerfile (hadolint) and checks it against the binary and the manifests (a step
    /// of `ci`).
    Dockerfile,
    /// Releases one crate up to a commit and a tag `CRATE-vVERSION`: clean tree, `ci`, public API
    /// against the previous tag (cargo-semver-checks), versions, requirements and changelog,
    /// `cargo package`. It never uploads: docs/releasing.md says how to publish.
    Release {
        /// Everything but the commit and the tag; prints what it would do and leaves the tree as
        /// it was.
        #[arg(long)]
        dry_run: bool,
        /// Leaves out `cargo xtask ci` (for the tests of the xtask itself).
        #[arg(long)]
        skip_ci: bool,
        /// Releases even when the changelog's Unreleased section has no entry.
        #[arg(long)]
        allow_empty_changelog: bool,
        /// The crate to release, for example `callhook-auth`.
        #[arg(value_name = "CRATE")]
        crate_name: String,
        /// The new version (`X.Y.Z`), or `patch`, `minor` or `major`.
        #[arg(value_name = "VERSION | patch | minor | major")]
        bump: release::Bump,
    },
    /// The release tarball `callhook-VERSION-TARGET.tar.gz` in `target/dist/`: a reproducible,
    /// stripped build without the development commands, its dependency list embedded
    /// (cargo auditable), with the licences, the README and SHA256SUMS; checked after packing.
    Dist {
        /// Build from a work tree with uncommitted changes (the tarball is named `-dirty`).
        #[arg(long)]
        allow_dirty: bool,
        /// Build a second time from a copy of the sources at another path, and fail unless both
        /// tarballs are byte-identical.
        #[arg(long)]
        check_reproducible: bool,
        /// The cargo profile. `dist-check` is `dist` unoptimised, for CI's check of
        /// reproducibility; its tarball goes to `target/dist-check/` and is named after it.
        #[arg(long, default_value = dist::DIST_PROFILE)]
        profile: String,
    },
    /// Runs every fuzz target (cargo-fuzz, in `fuzz/`).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        time: u64,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.task {
        Task::Ci => ci::run(),
        Task::Bench { quick } => bench::run(quick),
        Task::Outside => outside::run(),
        Task::Manifests => manifests::run(),
        Task::Dockerfile => dockerfile::run(),
        Task::Fuzz { time } => fuzz::run(time),
        Task::Dist {
            allow_dirty,
            check_reproducible,
            profile,
        } => dist::run(&dist::Options {
            allow_dirty,
            check_reproducible,
            profile,
        }),
        Task::E2eCluster => cluster::run(),
        Task::Release {
            dry_run,
            skip_ci,
            allow_empty_changelog,
            crate_name,
            bump,
        } => release::run(&release::Options {
            dry_run,
            skip_ci,
            allow_empty_changelog,
            ..release::Options::new(crate_name, bump)
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: FAILED: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
