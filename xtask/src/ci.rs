//! `cargo xtask ci`: the checks every change must pass, in order, stopping at the first failure.

use anyhow::Result;

use crate::util::{cargo, has_program, run_step, workspace_root};

/// The cargo-deny release installed when the machine has none.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// About what a run from a fresh clone writes to `target/` and `fuzz/target/` at its peak (6.6 GB
/// measured on 2026-12-02), with room to spare.
const DISK_NEEDED_GIB: u64 = 10;

pub(crate) fn run() -> Result<()> {
    warn_when_disk_is_short();
    run_step("format", cargo(&["fmt", "--all", "--", "--check"]))?;
    run_step(
        "clippy",
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            // Every feature, so that code behind features (the auth crate's `testing` issuer and
            // the benches that need it) is linted and compiled too.
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The shared de-duplication tests run against a real redis-server; with it installed they
    // fail rather than skip. (Not a `CALLHOOK_` name: callhook reads those as configuration, and
    // the tests' servers inherit the environment.)
    let redis =
        crate::util::ensure_debian_package("redis-server", "redis-server", "the Redis tests");
    let require_redis = |mut command: std::process::Command| {
        if redis {
            command.env("XTASK_REQUIRE_REDIS", "1");
        }
        command
    };
    if has_program("cargo-nextest", &["nextest", "--version"]) {
        run_step(
            "tests",
            require_redis(cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
                "--failure-output",
                "final",
            ])),
        )?;
    } else {
        eprintln!("cargo-nextest not found: running the tests with cargo test");
        run_step(
            "tests",
            require_redis(cargo(&[
                "test",
                "--workspace",
                "--locked",
                "--lib",
                "--bins",
                "--tests",
            ])),
        )?;
    }
    crate::fuzz::ci_smoke()?;
    crate::bench::ci_smoke()?;
    run_step(
        "doc tests",
        cargo(&["test", "--workspace", "--locked", "--doc"]),
    )?;
    crate::outside::run()?;
    crate::manifests::run()?;
    crate::dockerfile::run()?;
    // The release tarball, built twice in two directories and required byte-identical. On the
    // `dist-check` profile (dist unoptimised): two builds of the `dist` profile itself take
    // about twenty minutes here, past CI's budget; `crate::dist::ci` says what that leaves out.
    crate::dist::ci()?;
    // About 10 s once nginx is installed (under a minute with the install), so it runs here
    // rather than as a step of its own in `.ci/run`.
    eprintln!("\n==> e2e cluster: cargo xtask e2e-cluster");
    crate::cluster::run()?;
    // Every feature, as docs.rs builds them: the auth crate's framework integrations are features.
    let mut doc = cargo(&[
        "doc",
        "--workspace",
        "--no-deps",
        "--locked",
        "--all-features",
    ]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    run_step("docs", doc)?;
    if !has_program("cargo-deny", &["--version"]) {
        run_step(
            "install cargo-deny",
            // `--debug`: an unoptimised build takes half the time of a release one, and checking
            // this workspace's graph takes under a second either way.
            cargo(&[
                "install",
                "cargo-deny",
                "--locked",
                "--debug",
                "--version",
                CARGO_DENY_VERSION,
            ]),
        )?;
    }
    // Advisories are left out: the advisory database lives on a git host these machines cannot
    // reach (see deny.toml).
    run_step(
        "cargo deny",
        cargo(&["deny", "--locked", "check", "licenses", "bans", "sources"]),
    )?;
    if let Some(free) = free_gib() {
        eprintln!("xtask ci: {free} GiB free on the target directory's disk");
    }
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}

/// Says, before anything is built, when the disk may be too small for the run: a build that runs
/// out of space fails deep inside a compiler with an error that does not say so plainly.
fn warn_when_disk_is_short() {
    match free_gib() {
        Some(free) if free < DISK_NEEDED_GIB => eprintln!(
            "xtask ci: warning: {free} GiB free on the target directory's disk; a run from a fresh \
             clone needs about {DISK_NEEDED_GIB} GiB (`cargo clean` frees the space of old builds)"
        ),
        Some(free) => eprintln!("xtask ci: {free} GiB free on the target directory's disk"),
        None => {}
    }
}

/// The free space of the disk that holds the workspace, in GiB, from `df -Pk`; `None` when `df`
/// is not there or prints something else.
fn free_gib() -> Option<u64> {
    let output = std::process::Command::new("df")
        .arg("-Pk")
        .arg(workspace_root())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    // The second line: filesystem, size, used, available, capacity, mount point.
    let available_kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(available_kib / (1024 * 1024))
}
