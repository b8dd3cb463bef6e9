//! Running commands with a printed trace and a clear error.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A command to run from the workspace root, described for the log.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(args).current_dir(workspace_root());
    command
}

/// Runs `command`, printing it first and its duration after; fails naming the step.
pub(crate) fn run_step(step: &str, mut command: Command) -> Result<()> {
    let shown = describe(&command);
    eprintln!("\n==> {step}: {shown}");
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("{step}: could not start `{shown}`"))?;
    let took = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{step} failed after {took:.1}s ({status}): `{shown}`");
    }
    eprintln!("==> {step}: ok ({took:.1}s)");
    Ok(())
}

/// Whether `program --version` runs.
pub(crate) fn has_program(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn describe(command: &Command) -> String {
    let mut shown = String::new();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            shown.push_str(&format!(
                "{}={} ",
                key.to_string_lossy(),
                value.to_string_lossy()
            ));
        }
    }
    shown.push_str(&command.get_program().to_string_lossy());
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    shown
}

/// Installs Debian's `package` when `program` is missing and apt can install it (as root), within
/// five minutes; true when `program` runs afterwards. `needed_by` names what skips without it. A
/// service the package starts is stopped again: tests start their own servers, on their own ports.
pub(crate) fn ensure_debian_package(program: &str, package: &str, needed_by: &str) -> bool {
    if has_program(program, &["-v"]) {
        return true;
    }
    if !has_program("apt-get", &["--version"]) {
        eprintln!("xtask: {program} is missing and apt-get is not here: {needed_by} skip");
        return false;
    }
    let script = format!(
        "timeout 300 apt-get update -qq && \
         DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq {package}"
    );
    let mut install = Command::new("sh");
    install.args(["-c", &script]);
    if let Err(error) = run_step(&format!("install {package} (Debian's package)"), install) {
        eprintln!("xtask: {error:#}: {needed_by} skip");
        return false;
    }
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!("service {package} stop >/dev/null 2>&1 || true"),
        ])
        .status();
    has_program(program, &["-v"])
}
