//! Running commands with a printed trace and a clear error, and installing Python tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    ensure_debian_program(program, &["-v"], package, needed_by)
}

/// [`ensure_debian_package`] for a program whose version is asked with `version_args` rather than
/// `-v` (`openssl version`, `caddy version`).
pub(crate) fn ensure_debian_program(
    program: &str,
    version_args: &[&str],
    package: &str,
    needed_by: &str,
) -> bool {
    if has_program(program, version_args) {
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
    has_program(program, version_args)
}

/// A Python package that a step installs with pip when missing.
pub(crate) struct PipPackage {
    /// pip's requirement, pinned (`kubernetes-validate==1.37.0`).
    pub(crate) requirement: &'static str,
    /// The step that needs it, for the log lines (`manifests`).
    pub(crate) step: &'static str,
    /// How long installing it may take.
    pub(crate) timeout: Duration,
    /// Whether the package is usable with this Python (for example `python -m tool --version`).
    pub(crate) installed: fn(&Path) -> bool,
}

/// The virtual environment that the project installs its Python tools into.
pub(crate) fn xtask_python_environment(root: &Path) -> PathBuf {
    root.join("target").join("xtask-python")
}

/// A Python with `package`: `python3` when it has it, else a virtual environment of the project's
/// own ([`xtask_python_environment`]), made and filled with pip when missing. A virtual
/// environment keeps the machine's Python as it is, and works where that Python refuses pip
/// installs (PEP 668, as Debian's does). Without the `venv` module (Debian without
/// `python3-venv`), pip installs into `python3` itself. `Err` says why none could be had.
pub(crate) fn python_with(root: &Path, package: &PipPackage) -> Result<PathBuf, String> {
    let system = PathBuf::from("python3");
    if (package.installed)(&system) {
        return Ok(system);
    }
    let environment = xtask_python_environment(root);
    let private = environment.join("bin").join("python");
    if (package.installed)(&private) {
        return Ok(private);
    }
    if !runs(Command::new(&system).arg("--version")) {
        return Err(format!(
            "python3 is not here (it would install {})",
            package.requirement
        ));
    }
    let mut venv = Command::new(&system);
    venv.args(["-m", "venv"]).arg(&environment);
    let mut why = String::new();
    if private.is_file() || runs(&mut venv) {
        match pip_install(&private, package) {
            Ok(()) => return Ok(private),
            Err(problem) => why = problem,
        }
    }
    match pip_install(&system, package) {
        Ok(()) => Ok(system),
        Err(problem) if why.is_empty() => Err(problem),
        Err(problem) => Err(format!("{why}; and into python3: {problem}")),
    }
}

/// Installs `package` into `python` with pip, within its timeout; `Err` is pip's last line or why
/// it could not run.
fn pip_install(python: &Path, package: &PipPackage) -> Result<(), String> {
    let PipPackage {
        requirement, step, ..
    } = package;
    let mut install = Command::new(python);
    install
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(requirement)
        // pip's warning about running as root says nothing about this install.
        .env("PIP_ROOT_USER_ACTION", "ignore");
    eprintln!(
        "{step}: installing {requirement} into {} with pip",
        python.display()
    );
    let started = Instant::now();
    match run_bounded(&mut install, package.timeout) {
        Ok((true, _)) if (package.installed)(python) => {
            eprintln!(
                "{step}: installed {requirement} ({:.1}s)",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Ok((_, output)) => {
            let last = output.lines().rev().find(|line| !line.trim().is_empty());
            Err(format!(
                "`{} -m pip install {requirement}` failed: {}",
                python.display(),
                last.unwrap_or("(no output)").trim()
            ))
        }
        Err(error) => Err(format!(
            "`{} -m pip install {requirement}`: {error:#}",
            python.display()
        )),
    }
}

/// Whether `command` succeeds within a minute.
pub(crate) fn runs(command: &mut Command) -> bool {
    run_bounded(command, Duration::from_secs(60)).is_ok_and(|(success, _)| success)
}

/// Runs `command` for at most `limit`; whether it succeeded, and its stdout and stderr together.
pub(crate) fn run_bounded(command: &mut Command, limit: Duration) -> Result<(bool, String)> {
    let (status, stdout, stderr) = run_captured(command, limit, false)?;
    Ok((status.success(), stdout + &stderr))
}

/// [`run_bounded`], with the output also shown on stderr line by line as it comes, for a long
/// command whose progress a person follows.
pub(crate) fn run_bounded_showing(
    command: &mut Command,
    limit: Duration,
) -> Result<(bool, String)> {
    let (status, stdout, stderr) = run_captured(command, limit, true)?;
    Ok((status.success(), stdout + &stderr))
}

/// Runs `command` for at most `limit` and returns its stdout; fails when it cannot start, runs
/// too long or exits non-zero, with the last line of its stderr. `what` names the command in the
/// error (`git status`).
pub(crate) fn stdout_of(command: &mut Command, limit: Duration, what: &str) -> Result<String> {
    let (status, stdout, stderr) =
        run_captured(command, limit, false).with_context(|| what.to_owned())?;
    if !status.success() {
        let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
        bail!(
            "{what} failed ({status}): {}",
            last.unwrap_or("(no output)").trim()
        );
    }
    Ok(stdout)
}

/// `cargo metadata --no-deps` of the workspace: its packages, without resolving dependencies,
/// and its target directory.
pub(crate) fn workspace_metadata() -> Result<serde_json::Value> {
    let stdout = stdout_of(
        &mut cargo(&["metadata", "--format-version", "1", "--no-deps"]),
        Duration::from_secs(120),
        "cargo metadata",
    )?;
    serde_json::from_str(&stdout).context("cargo metadata printed no JSON")
}

/// Cargo's target directory, from [`workspace_metadata`] (it may be moved by `CARGO_TARGET_DIR`
/// or configuration).
pub(crate) fn target_directory(metadata: &serde_json::Value) -> PathBuf {
    metadata
        .get("target_directory")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// Runs `command` for at most `limit`; its exit status, stdout and stderr, shown on stderr as
/// they come when `show`.
fn run_captured(
    command: &mut Command,
    limit: Duration,
    show: bool,
) -> Result<(std::process::ExitStatus, String, String)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start it")?;
    // Read both pipes on threads, so that a chatty child never blocks on a full pipe.
    let stdout = child.stdout.take().map(|pipe| drain(pipe, show));
    let stderr = child.stderr.take().map(|pipe| drain(pipe, show));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("still running after {} s: stopped", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let joined = |pipe: Option<std::thread::JoinHandle<String>>| {
        pipe.map(|pipe| pipe.join().unwrap_or_default())
            .unwrap_or_default()
    };
    Ok((status, joined(stdout), joined(stderr)))
}

fn drain(pipe: impl std::io::Read + Send + 'static, show: bool) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = String::new();
        let mut reader = std::io::BufReader::new(pipe);
        let mut line = Vec::new();
        // Lines as bytes, so that output that is not UTF-8 is kept (lossily) rather than cut.
        while std::io::BufRead::read_until(&mut reader, b'\n', &mut line).is_ok_and(|read| read > 0)
        {
            let text = String::from_utf8_lossy(&line);
            if show {
                eprint!("{text}");
            }
            kept.push_str(&text);
            line.clear();
        }
        kept
    })
}

/// The arguments of a throwaway `redis-server` for tests and benchmarks: loopback only, on `port`,
/// nothing saved, its files in `dir`.
pub(crate) fn redis_server_args(port: u16, dir: &std::path::Path) -> Vec<String> {
    let port = port.to_string();
    let dir = dir.display().to_string();
    [
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir,
    ]
    .map(str::to_owned)
    .to_vec()
}
