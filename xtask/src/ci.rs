//! `cargo xtask ci`: the checks every change must pass, in order, stopping at the first failure.

use anyhow::Result;

use crate::util::{cargo, has_program, run_step};

/// The cargo-deny release installed when the machine has none.
const CARGO_DENY_VERSION: &str = "0.20.2";

pub(crate) fn run() -> Result<()> {
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
    if has_program("cargo-nextest", &["nextest", "--version"]) {
        run_step(
            "tests",
            cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
                "--failure-output",
                "final",
            ]),
        )?;
    } else {
        eprintln!("cargo-nextest not found: running the tests with cargo test");
        run_step(
            "tests",
            cargo(&[
                "test",
                "--workspace",
                "--locked",
                "--lib",
                "--bins",
                "--tests",
            ]),
        )?;
    }
    crate::fuzz::ci_smoke()?;
    crate::bench::ci_smoke()?;
    run_step(
        "doc tests",
        cargo(&["test", "--workspace", "--locked", "--doc"]),
    )?;
    crate::outside::run()?;
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
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}
