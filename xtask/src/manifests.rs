//! `cargo xtask manifests`: the Kubernetes manifests under `deploy/kubernetes/`, checked two ways.
//!
//! 1. **callhook's side, in Rust** (always). The `callhook.toml` of the `ConfigMap` uses only keys
//!    that callhook knows, each with the type it expects; every `CALLHOOK_*` variable of the
//!    manifests names such a key; the required keys are set by one or the other. And the manifests
//!    agree with that configuration: the Ingress's body limit is `server.max_body_bytes`, the grace
//!    period outlasts the `preStop` sleep plus `server.shutdown_timeout_secs`, every replica of the
//!    `StatefulSet` has its own Service and Ingress path, on the host of `partition.public_url`.
//!
//!    callhook has no command that checks a configuration without serving it, and the server's
//!    loader is not a dependency of xtask (it would build the whole server for this). The keys
//!    come instead from `docs/configuration.md`, whose complete file lists every key with its
//!    default: `crates/callhook-server/tests/config_docs.rs` holds that page to the server's own
//!    types (its examples must load, and every key the server accepts must appear in it), so a key
//!    known here is a key the server accepts. Values are held to the documented value's type; what
//!    only the server can check (a URL's scheme, a value's range) it checks at startup, exit code 2.
//!
//! 2. **Kubernetes' side** (when Python is there): every document against the schemas of
//!    Kubernetes [`KUBERNETES_VERSION`], strictly (an unknown field fails), with the
//!    `kubernetes-validate` package, installed with pip when missing (into a virtual environment
//!    under `target/`). Without python3 or pip, or when the install fails, this part says so in
//!    one line and is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use yaml_rust2::{Yaml, YamlLoader};

use crate::util::{run_bounded, runs, workspace_root};

/// Where the manifests are, from the workspace root.
const MANIFESTS_DIR: &str = "deploy/kubernetes";

/// The page that lists every key of callhook's configuration.
const CONFIGURATION_DOC: &str = "docs/configuration.md";

/// The Kubernetes release whose schemas the manifests must satisfy: a recent one that the managed
/// services run. The manifests need 1.30 or later (the `preStop` sleep action).
const KUBERNETES_VERSION: &str = "1.34.0";

/// The checker, pinned so that a new release cannot change a passing run; it ships the schemas of
/// Kubernetes 1.30 to 1.37.
const CHECKER_PACKAGE: &str = "kubernetes-validate==1.37.0";

/// How long installing the checker may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// How long checking one file may take.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(120);

/// The prefix of callhook's environment variables (`CALLHOOK_AUTH__APP_ID` is `auth.app_id`).
const ENV_PREFIX: &str = "CALLHOOK_";

/// Variables with that prefix that belong to the command line, not to the file
/// (`COMMAND_LINE_VARIABLES` in `crates/callhook-server/src/config.rs`: `--log`, `--log-format`).
const COMMAND_LINE_VARIABLES: [&str; 2] = ["log", "log_format"];

/// Tables whose keys the operator names (region names), rather than callhook.
const OPERATOR_NAMED_TABLES: [&str; 1] = ["routing.deployments"];

/// Keys without a default: each must be set by the file or the environment.
const REQUIRED_KEYS: [&str; 1] = ["auth.app_id"];

/// Keys that `[partition]` needs once it is there.
const PARTITION_KEYS: [&str; 2] = ["partition.id", "partition.public_url"];

/// Defaults that the cross-checks need when the file leaves a key out (docs/configuration.md).
const DEFAULT_WEBHOOK_PATH: &str = "/api/calls";
const DEFAULT_MAX_BODY_BYTES: i64 = 262_144;
const DEFAULT_SHUTDOWN_TIMEOUT_SECS: i64 = 30;
/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_PERIOD_SECS: i64 = 30;

/// The label the `StatefulSet` controller puts on each of its pods, with the pod's name.
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
const BODY_SIZE_ANNOTATION: &str = "nginx.ingress.kubernetes.io/proxy-body-size";

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    eprintln!("\n==> manifests: {MANIFESTS_DIR}/");
    let manifests = read_manifests(&root)?;
    let doc_path = root.join(CONFIGURATION_DOC);
    let markdown = std::fs::read_to_string(&doc_path)
        .with_context(|| format!("cannot read {}", doc_path.display()))?;
    let catalogue = Catalogue::from_markdown(&markdown)?;
    for line in check_deployment(&manifests, &catalogue)? {
        eprintln!("{line}");
    }
    validate_schemas(&root, &manifests)?;
    eprintln!(
        "==> manifests: ok ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One YAML file: its path from the workspace root and its documents (empty ones left out).
#[derive(Debug)]
struct Manifest {
    path: String,
    documents: Vec<Yaml>,
}

impl Manifest {
    fn parse(path: &str, text: &str) -> Result<Manifest> {
        let documents = YamlLoader::load_from_str(text)
            .map_err(|error| anyhow::anyhow!("{path}: not YAML: {error}"))?
            .into_iter()
            .filter(|document| !document.is_null())
            .collect();
        Ok(Manifest {
            path: path.to_owned(),
            documents,
        })
    }
}

/// Every `.yaml` and `.yml` file under the manifests' folder, in order, parsed.
fn read_manifests(root: &Path) -> Result<Vec<Manifest>> {
    let mut files = Vec::new();
    collect_yaml_files(&root.join(MANIFESTS_DIR), &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!("no YAML file under {MANIFESTS_DIR}/");
    }
    files
        .iter()
        .map(|file| {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(file)
                .display()
                .to_string();
            let text =
                std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
            Manifest::parse(&shown, &text)
        })
        .collect()
}

fn collect_yaml_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml_files(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml")
        {
            files.push(path);
        }
    }
    Ok(())
}

/// The keys of callhook's configuration, as `docs/configuration.md` lists them.
#[derive(Debug, Default)]
struct Catalogue {
    /// `server.listen` → the documented value's TOML type (`None` when the line's value does not
    /// parse alone).
    keys: BTreeMap<String, Option<&'static str>>,
    /// `server`, `routing.deployments`, ...
    tables: BTreeSet<String>,
    /// `routing.rules`.
    arrays_of_tables: BTreeSet<String>,
}

impl Catalogue {
    /// Reads the ```` ```toml ```` blocks of the page: section headers, and the lines `key = value`
    /// under them, commented out or not (`# url = ...` documents a key without a default).
    fn from_markdown(markdown: &str) -> Result<Catalogue> {
        let mut catalogue = Catalogue::default();
        let mut in_block = false;
        let mut section = String::new();
        for line in markdown.lines() {
            let line = line.trim();
            if !in_block {
                if line == "```toml" {
                    in_block = true;
                    section.clear();
                }
                continue;
            }
            if line == "```" {
                in_block = false;
                continue;
            }
            let line = line.strip_prefix('#').map_or(line, str::trim_start);
            if let Some(header) = line.strip_prefix("[[") {
                let name = header.split("]]").next().unwrap_or_default().trim();
                catalogue.arrays_of_tables.insert(name.to_owned());
                name.clone_into(&mut section);
            } else if let Some(header) = line.strip_prefix('[') {
                let name = header.split(']').next().unwrap_or_default().trim();
                catalogue.tables.insert(name.to_owned());
                name.clone_into(&mut section);
            } else if let Some((name, _)) = line.split_once('=') {
                let name = name.trim();
                let is_key = !name.is_empty()
                    && name.bytes().all(|byte| {
                        byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'
                    });
                if !is_key || OPERATOR_NAMED_TABLES.contains(&section.as_str()) {
                    continue;
                }
                let kind = line
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|table| table.get(name).map(type_name));
                catalogue.keys.insert(dotted(&section, name), kind);
            }
        }
        // A sanity floor: the page lists about forty keys; far fewer means it was not read.
        if catalogue.keys.len() < 30 || !catalogue.tables.contains("server") {
            bail!(
                "{CONFIGURATION_DOC}: found {} keys in its toml blocks; expected the complete file",
                catalogue.keys.len()
            );
        }
        Ok(catalogue)
    }

    /// Whether `path` (`auth.app_id`, `routing.deployments.amer`) is a key callhook reads.
    fn knows(&self, path: &str) -> bool {
        self.keys.contains_key(path)
            || OPERATOR_NAMED_TABLES.iter().any(|table| {
                path.strip_prefix(table)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|name| !name.is_empty() && !name.contains('.'))
            })
    }

    /// The problems of a `callhook.toml`, each naming the key; the keys it sets go to `set`.
    fn check_table(
        &self,
        table: &toml::Table,
        prefix: &str,
        set: &mut BTreeSet<String>,
        problems: &mut Vec<String>,
    ) {
        for (name, value) in table {
            let path = dotted(prefix, name);
            if OPERATOR_NAMED_TABLES.contains(&path.as_str()) {
                match value.as_table() {
                    Some(entries) => {
                        for (entry, url) in entries {
                            if !url.is_str() {
                                problems.push(format!(
                                    "{path}.{entry}: expected a string (a URL), found {}",
                                    type_name(url)
                                ));
                            }
                        }
                    }
                    None => problems.push(format!(
                        "{path}: expected a table, found {}",
                        type_name(value)
                    )),
                }
                continue;
            }
            match value {
                toml::Value::Table(inner) if self.tables.contains(&path) => {
                    self.check_table(inner, &path, set, problems);
                }
                toml::Value::Array(items) if self.arrays_of_tables.contains(&path) => {
                    for item in items {
                        match item.as_table() {
                            Some(inner) => self.check_table(inner, &path, set, problems),
                            None => problems.push(format!(
                                "{path}: expected tables ([[{path}]]), found {}",
                                type_name(item)
                            )),
                        }
                    }
                }
                _ => match self.keys.get(&path) {
                    None => problems.push(format!(
                        "{path}: unknown key (not in {CONFIGURATION_DOC}){}",
                        self.siblings(prefix)
                    )),
                    Some(Some(expected)) if *expected != type_name(value) => problems.push(
                        format!("{path}: expected {expected}, found {}", type_name(value)),
                    ),
                    Some(_) => {
                        set.insert(path);
                    }
                },
            }
        }
    }

    /// "; expected one of: ..." for the keys of `section`, as callhook says it.
    fn siblings(&self, section: &str) -> String {
        let names: Vec<&str> = self
            .keys
            .keys()
            .filter_map(|path| {
                let rest = if section.is_empty() {
                    Some(path.as_str())
                } else {
                    path.strip_prefix(section)?.strip_prefix('.')
                };
                rest.filter(|rest| !rest.contains('.'))
            })
            .collect();
        if names.is_empty() {
            String::new()
        } else {
            format!("; expected one of: {}", names.join(", "))
        }
    }
}

fn dotted(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "string",
        toml::Value::Integer(_) => "integer",
        toml::Value::Float(_) => "float",
        toml::Value::Boolean(_) => "boolean",
        toml::Value::Datetime(_) => "datetime",
        toml::Value::Array(_) => "array",
        toml::Value::Table(_) => "table",
    }
}

/// The configuration key of a `CALLHOOK_` variable (`CALLHOOK_AUTH__APP_ID` → `auth.app_id`), as
/// callhook's environment provider reads it; `None` for the command line's variables and for names
/// without the prefix.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
    if COMMAND_LINE_VARIABLES.contains(&rest.as_str()) {
        return None;
    }
    Some(rest.split("__").collect::<Vec<_>>().join("."))
}

/// `metadata.name` and friends: a path of mapping keys.
pub(crate) fn at<'a>(yaml: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(yaml, |yaml, key| &yaml[*key])
}

pub(crate) fn string_at<'a>(yaml: &'a Yaml, path: &[&str]) -> Option<&'a str> {
    at(yaml, path).as_str()
}

pub(crate) fn items<'a>(yaml: &'a Yaml, path: &[&str]) -> &'a [Yaml] {
    at(yaml, path).as_vec().map_or(&[], Vec::as_slice)
}

/// `StatefulSet/emea`.
fn describe(document: &Yaml) -> String {
    format!(
        "{}/{}",
        string_at(document, &["kind"]).unwrap_or("?"),
        string_at(document, &["metadata", "name"]).unwrap_or("?")
    )
}

/// The documents of one kind, with the file each is in.
fn of_kind<'a>(
    manifests: &'a [Manifest],
    kind: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Yaml)> {
    manifests.iter().flat_map(move |manifest| {
        manifest
            .documents
            .iter()
            .filter(move |document| string_at(document, &["kind"]) == Some(kind))
            .map(|document| (manifest.path.as_str(), document))
    })
}

/// A size as nginx writes it (`256k`, `1m`, `262144`), in bytes.
fn nginx_size(text: &str) -> Option<i64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (at, unit) if unit.is_ascii_alphabetic() => (text.get(..at)?, unit.to_ascii_lowercase()),
        _ => (text, 'b'),
    };
    let number: i64 = digits.parse().ok()?;
    let factor = match unit {
        'b' => 1,
        'k' => 1024,
        'm' => 1024 * 1024,
        'g' => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// The host of an `https://host[:port][/path]` URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    (!host.is_empty()).then_some(host)
}

/// How long a container's `preStop` hook waits: the sleep action, or an exec of `sleep N`.
fn pre_stop_secs(container: &Yaml) -> Result<i64, String> {
    let pre_stop = at(container, &["lifecycle", "preStop"]);
    if pre_stop.is_badvalue() {
        return Ok(0);
    }
    if let Some(seconds) = at(pre_stop, &["sleep", "seconds"]).as_i64() {
        return Ok(seconds);
    }
    let command: Vec<&str> = items(pre_stop, &["exec", "command"])
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let words: Vec<&str> = command
        .iter()
        .flat_map(|part| part.split_whitespace())
        .collect();
    match words.as_slice() {
        [.., "sleep", seconds] => seconds
            .parse()
            .map_err(|_| format!("preStop: cannot read the sleep of {command:?}")),
        _ => Err(format!(
            "preStop: cannot tell how long {command:?} takes; use the sleep action or `sleep N`"
        )),
    }
}

/// The checks of callhook's side; the lines to print, or every problem found.
fn check_deployment(manifests: &[Manifest], catalogue: &Catalogue) -> Result<Vec<String>> {
    let mut report = Vec::new();
    let mut problems = Vec::new();

    // Every callhook.toml of every ConfigMap: known keys, right types.
    let mut configs = BTreeMap::new();
    for (path, config_map) in of_kind(manifests, "ConfigMap") {
        let Some(data) = at(config_map, &["data"]).as_hash() else {
            continue;
        };
        for (key, value) in data {
            let (Some(key), Some(text)) = (key.as_str(), value.as_str()) else {
                continue;
            };
            if !key.ends_with(".toml") {
                continue;
            }
            let origin = format!("{path}: {} {key}", describe(config_map));
            match text.parse::<toml::Table>() {
                Ok(table) => {
                    let mut set = BTreeSet::new();
                    let before = problems.len();
                    catalogue.check_table(&table, "", &mut set, &mut problems);
                    for problem in problems.iter_mut().skip(before) {
                        *problem = format!("{origin}: {problem}");
                    }
                    report.push(format!(
                        "{origin}: {} keys, each known to callhook with the documented type",
                        set.len()
                    ));
                    let name = string_at(config_map, &["metadata", "name"]).unwrap_or_default();
                    configs.insert(name.to_owned(), (table, set));
                }
                Err(error) => problems.push(format!("{origin}: not TOML: {error}")),
            }
        }
    }
    if configs.is_empty() {
        problems.push(format!(
            "{MANIFESTS_DIR}: no ConfigMap holds a callhook.toml"
        ));
    }

    // Every workload running callhook: its variables, its configuration, its drain.
    let mut workloads = 0;
    for kind in ["StatefulSet", "Deployment"] {
        for (path, workload) in of_kind(manifests, kind) {
            let origin = format!("{path}: {}", describe(workload));
            let pod = at(workload, &["spec", "template", "spec"]);
            for container in items(pod, &["containers"]) {
                let image = string_at(container, &["image"]).unwrap_or_default();
                let env = items(container, &["env"]);
                let names: Vec<&str> = env
                    .iter()
                    .filter_map(|variable| string_at(variable, &["name"]))
                    .collect();
                let runs_callhook = image.contains("callhook")
                    || names.iter().any(|name| name.starts_with(ENV_PREFIX));
                if !runs_callhook {
                    continue;
                }
                workloads += 1;
                let container_name = string_at(container, &["name"]).unwrap_or("?");
                let origin = format!("{origin} container {container_name}");
                let mut from_env = BTreeSet::new();
                let mut mapped = Vec::new();
                for variable in env {
                    let Some(name) = string_at(variable, &["name"]) else {
                        continue;
                    };
                    let Some(key) = env_key(name) else {
                        continue;
                    };
                    if catalogue.knows(&key) {
                        mapped.push(format!("{name} = {key}"));
                        from_env.insert(key.clone());
                    } else {
                        problems.push(format!(
                            "{origin}: {name} would set `{key}`, which is not a key of callhook \
                             (CALLHOOK_<SECTION>__<KEY>; see {CONFIGURATION_DOC})"
                        ));
                    }
                    if key == "partition.id"
                        && kind == "StatefulSet"
                        && string_at(variable, &["valueFrom", "fieldRef", "fieldPath"])
                            != Some("metadata.name")
                    {
                        problems.push(format!(
                            "{origin}: {name} must come from the pod's name \
                             (valueFrom.fieldRef.fieldPath: metadata.name), one partition per pod"
                        ));
                    }
                }
                report.push(format!("{origin}: environment {}", mapped.join(", ")));

                let Some((config_name, table, set)) = mounted_config(pod, &configs) else {
                    problems.push(format!(
                        "{origin}: mounts no ConfigMap of this folder with a callhook.toml"
                    ));
                    continue;
                };
                let is_set = |key: &str| set.contains(key) || from_env.contains(key);
                let mut required: Vec<&str> = REQUIRED_KEYS.to_vec();
                if PARTITION_KEYS.iter().any(|key| is_set(key)) {
                    required.extend(PARTITION_KEYS);
                }
                for key in required {
                    if !is_set(key) {
                        problems.push(format!(
                            "{origin}: `{key}` is required and set neither in ConfigMap \
                             {config_name} nor by a variable"
                        ));
                    }
                }

                let shutdown = integer(table, &["server", "shutdown_timeout_secs"])
                    .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT_SECS);
                let grace = at(pod, &["terminationGracePeriodSeconds"])
                    .as_i64()
                    .unwrap_or(DEFAULT_GRACE_PERIOD_SECS);
                match pre_stop_secs(container) {
                    Ok(sleep) if grace > sleep + shutdown => report.push(format!(
                        "{origin}: terminationGracePeriodSeconds {grace} > preStop {sleep} + \
                         server.shutdown_timeout_secs {shutdown}"
                    )),
                    Ok(sleep) => problems.push(format!(
                        "{origin}: terminationGracePeriodSeconds {grace} must exceed the preStop \
                         sleep ({sleep} s) plus server.shutdown_timeout_secs ({shutdown} s), or \
                         the kubelet kills callhook mid-drain"
                    )),
                    Err(problem) => problems.push(format!("{origin}: {problem}")),
                }
                if kind == "StatefulSet" {
                    check_partitions(
                        manifests,
                        workload,
                        table,
                        &origin,
                        &mut report,
                        &mut problems,
                    );
                }
            }
        }
    }
    if workloads == 0 {
        problems.push(format!(
            "{MANIFESTS_DIR}: no StatefulSet or Deployment runs callhook"
        ));
    }

    // The front's body limit is callhook's.
    let max_body = configs
        .values()
        .next()
        .and_then(|(table, _)| integer(table, &["server", "max_body_bytes"]))
        .unwrap_or(DEFAULT_MAX_BODY_BYTES);
    for (path, ingress) in of_kind(manifests, "Ingress") {
        let origin = format!("{path}: {}", describe(ingress));
        let annotation = at(ingress, &["metadata", "annotations", BODY_SIZE_ANNOTATION]);
        match annotation.as_str().map(|text| (text, nginx_size(text))) {
            Some((_, Some(bytes))) if bytes == max_body => report.push(format!(
                "{origin}: {BODY_SIZE_ANNOTATION} = server.max_body_bytes ({max_body})"
            )),
            Some((text, _)) => problems.push(format!(
                "{origin}: {BODY_SIZE_ANNOTATION} is {text:?}, but server.max_body_bytes is \
                 {max_body} ({}k)",
                max_body / 1024
            )),
            None => problems.push(format!(
                "{origin}: no {BODY_SIZE_ANNOTATION} (a string); nginx's default of 1m is not \
                 server.max_body_bytes ({max_body})"
            )),
        }
    }

    if problems.is_empty() {
        Ok(report)
    } else {
        for problem in &problems {
            eprintln!("manifests: {problem}");
        }
        bail!(
            "{} problem(s) in {MANIFESTS_DIR}/; the first: {}",
            problems.len(),
            problems.first().map_or("", String::as_str)
        )
    }
}

/// The `ConfigMap` with a `callhook.toml` that `pod` mounts: its name, table and the keys it sets.
fn mounted_config<'a>(
    pod: &Yaml,
    configs: &'a BTreeMap<String, (toml::Table, BTreeSet<String>)>,
) -> Option<(&'a str, &'a toml::Table, &'a BTreeSet<String>)> {
    items(pod, &["volumes"]).iter().find_map(|volume| {
        let name = string_at(volume, &["configMap", "name"])?;
        configs
            .get_key_value(name)
            .map(|(name, (table, set))| (name.as_str(), table, set))
    })
}

fn integer(table: &toml::Table, path: &[&str]) -> Option<i64> {
    let (last, sections) = path.split_last()?;
    let mut table = table;
    for section in sections {
        table = table.get(*section)?.as_table()?;
    }
    table.get(*last)?.as_integer()
}

/// Every pod `{name}-{i}` of the `StatefulSet` has a Service selecting only it, and an Ingress path
/// `{webhook_path}/{name}-{i}` to that Service on the host of `partition.public_url`.
fn check_partitions(
    manifests: &[Manifest],
    stateful_set: &Yaml,
    table: &toml::Table,
    origin: &str,
    report: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    let name = string_at(stateful_set, &["metadata", "name"]).unwrap_or_default();
    let replicas = at(stateful_set, &["spec", "replicas"])
        .as_i64()
        .unwrap_or(1);
    let webhook_path = table
        .get("server")
        .and_then(|server| server.get("webhook_path"))
        .and_then(toml::Value::as_str)
        .unwrap_or(DEFAULT_WEBHOOK_PATH);
    let host = table
        .get("partition")
        .and_then(|partition| partition.get("public_url"))
        .and_then(toml::Value::as_str)
        .and_then(url_host);
    let routes: Vec<(Option<&str>, &str, &str)> = of_kind(manifests, "Ingress")
        .flat_map(|(_, ingress)| items(ingress, &["spec", "rules"]))
        .flat_map(|rule| {
            let rule_host = string_at(rule, &["host"]);
            items(rule, &["http", "paths"])
                .iter()
                .filter_map(move |path| {
                    Some((
                        rule_host,
                        string_at(path, &["path"])?,
                        string_at(path, &["backend", "service", "name"])?,
                    ))
                })
        })
        .collect();
    for ordinal in 0..replicas {
        let pod = format!("{name}-{ordinal}");
        let service = of_kind(manifests, "Service").find_map(|(_, service)| {
            (string_at(service, &["spec", "selector", POD_NAME_LABEL]) == Some(pod.as_str()))
                .then(|| string_at(service, &["metadata", "name"]))
                .flatten()
        });
        let Some(service) = service else {
            problems.push(format!(
                "{origin}: pod {pod} has no Service selecting {POD_NAME_LABEL}: {pod}"
            ));
            continue;
        };
        let expected = format!("{webhook_path}/{pod}");
        let route = routes.iter().find(|(_, path, backend)| {
            *backend == service && path.trim_end_matches('$').eq_ignore_ascii_case(&expected)
        });
        match route {
            None => problems.push(format!(
                "{origin}: no Ingress path {expected}$ to Service {service}: the callbacks of \
                 the calls {pod} answers would get 404"
            )),
            Some((route_host, _, _)) if host.is_some() && *route_host != host => {
                problems.push(format!(
                    "{origin}: the Ingress path {expected} is on host {}, but partition.public_url \
                     is on {}",
                    route_host.unwrap_or("(any)"),
                    host.unwrap_or_default()
                ));
            }
            Some(_) => report.push(format!(
                "{origin}: pod {pod}: Service {service}, Ingress {}{expected}",
                host.unwrap_or_default()
            )),
        }
    }
}

/// Validates every file against the Kubernetes schemas with `kubernetes-validate`, installing it
/// when missing; skips (Ok) with one line when that cannot be done.
fn validate_schemas(root: &Path, manifests: &[Manifest]) -> Result<()> {
    let python = match checker_python(root) {
        Ok(python) => python,
        Err(why) => {
            eprintln!("manifests: SKIPPED the Kubernetes schema check: {why}");
            return Ok(());
        }
    };
    let mut failed = Vec::new();
    for manifest in manifests {
        let mut validate = Command::new(&python);
        validate
            .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
            .args(["--kubernetes-version", KUBERNETES_VERSION])
            .arg(&manifest.path)
            .current_dir(root);
        let (passed, output) = run_bounded(&mut validate, VALIDATE_TIMEOUT)
            .with_context(|| format!("{}: kubernetes-validate", manifest.path))?;
        let resources: Vec<String> = manifest.documents.iter().map(describe).collect();
        if passed {
            eprintln!(
                "{}: valid Kubernetes {KUBERNETES_VERSION} (strict): {}",
                manifest.path,
                resources.join(", ")
            );
            for line in output.lines().filter(|line| !line.trim().is_empty()) {
                eprintln!("  {line}");
            }
        } else {
            eprintln!(
                "{}: INVALID against Kubernetes {KUBERNETES_VERSION}:",
                manifest.path
            );
            for line in output.lines().filter(|line| !line.trim().is_empty()) {
                eprintln!("  {line}");
            }
            let first = output
                .lines()
                .find(|line| line.starts_with("ERROR") || line.starts_with("FATAL"))
                .or_else(|| output.lines().find(|line| !line.trim().is_empty()))
                .unwrap_or("(no output)");
            failed.push(format!("{}: {}", manifest.path, first.trim()));
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} file(s) do not validate against Kubernetes {KUBERNETES_VERSION}:\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }
    Ok(())
}

/// The Python with the checker (see [`crate::util::python_with`]).
fn checker_python(root: &Path) -> Result<PathBuf, String> {
    crate::util::python_with(
        root,
        &crate::util::PipPackage {
            requirement: CHECKER_PACKAGE,
            step: "manifests",
            timeout: INSTALL_TIMEOUT,
            installed: checker_installed,
        },
    )
}

/// Whether `python -m kubernetes_validate --version` runs.
fn checker_installed(python: &Path) -> bool {
    runs(Command::new(python).args(["-m", "kubernetes_validate", "--version"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        let markdown = std::fs::read_to_string(workspace_root().join(CONFIGURATION_DOC)).unwrap();
        Catalogue::from_markdown(&markdown).unwrap()
    }

    fn the_manifests() -> Vec<Manifest> {
        read_manifests(&workspace_root()).unwrap()
    }

    /// The manifests with `from` replaced by `to` in `file` (which must contain it).
    fn edited(file: &str, from: &str, to: &str) -> Vec<Manifest> {
        let mut manifests = the_manifests();
        let path = format!("{MANIFESTS_DIR}/{file}");
        let text = std::fs::read_to_string(workspace_root().join(&path)).unwrap();
        assert!(text.contains(from), "{path} has no {from:?}");
        let manifest = manifests
            .iter_mut()
            .find(|manifest| manifest.path == path)
            .unwrap();
        *manifest = Manifest::parse(&path, &text.replacen(from, to, 1)).unwrap();
        manifests
    }

    /// The manifests with `from` replaced by `to` in `file` fail, with a problem containing
    /// `expected` (which names the file the problem is reported in).
    fn check(file: &str, from: &str, to: &str, expected: &str) {
        let error = check_deployment(&edited(file, from, to), &catalogue()).unwrap_err();
        let problem = format!("{error:#}");
        assert!(
            problem.contains(expected),
            "{file}: {from:?} -> {to:?}: {problem}"
        );
    }

    #[test]
    fn the_documentation_lists_every_section_with_typed_keys() {
        let catalogue = catalogue();
        assert_eq!(catalogue.keys.get("server.listen"), Some(&Some("string")));
        assert_eq!(
            catalogue.keys.get("server.max_body_bytes"),
            Some(&Some("integer"))
        );
        assert_eq!(catalogue.keys.get("auth.tenants"), Some(&Some("array")));
        // Documented commented out: a key without a default.
        assert_eq!(catalogue.keys.get("dedup.url"), Some(&Some("string")));
        // From the forward sink's block.
        assert!(catalogue.keys.contains_key("sink.signing_secret"));
        assert!(catalogue.keys.contains_key("routing.rules.caller_region"));
        assert!(catalogue.arrays_of_tables.contains("routing.rules"));
        assert!(catalogue.knows("routing.deployments.amer"));
        assert!(!catalogue.keys.contains_key("routing.deployments.amer"));
    }

    #[test]
    fn the_manifests_of_the_repository_pass() {
        let report = check_deployment(&the_manifests(), &catalogue()).unwrap();
        let report = report.join("\n");
        assert!(
            report.contains("CALLHOOK_PARTITION__ID = partition.id"),
            "{report}"
        );
        assert!(report.contains("pod emea-1: Service emea-1"), "{report}");
    }

    #[test]
    fn each_kind_of_mistake_fails_naming_the_file_and_the_key() {
        // (file, text, replaced by, the problem says)
        let cases = [
            (
                "configmap.yaml",
                "max_body_bytes =",
                "max_body_byte =",
                "configmap.yaml: ConfigMap/emea-callhook callhook.toml: server.max_body_byte: unknown key",
            ),
            (
                "configmap.yaml",
                "shutdown_timeout_secs = 30",
                "shutdown_timeout_secs = \"30s\"",
                "server.shutdown_timeout_secs: expected integer, found string",
            ),
            (
                "configmap.yaml",
                "[[routing.rules]]",
                "[[routing.rule]]",
                "routing.rule: unknown key",
            ),
            (
                "statefulset.yaml",
                "CALLHOOK_AUTH__APP_ID",
                "CALLHOOK_AUTH_APP_ID",
                "statefulset.yaml: StatefulSet/emea container callhook: CALLHOOK_AUTH_APP_ID would set `auth_app_id`",
            ),
            (
                "statefulset.yaml",
                "- name: CALLHOOK_AUTH__APP_ID",
                "- name: CALLHOOK_AUTH__TENANTS",
                "`auth.app_id` is required",
            ),
            (
                "statefulset.yaml",
                "fieldPath: metadata.name",
                "fieldPath: metadata.namespace",
                "must come from the pod's name",
            ),
            (
                "statefulset.yaml",
                "terminationGracePeriodSeconds: 45",
                "terminationGracePeriodSeconds: 30",
                "terminationGracePeriodSeconds 30 must exceed",
            ),
            (
                "statefulset.yaml",
                "replicas: 2",
                "replicas: 3",
                "pod emea-2 has no Service",
            ),
            (
                "ingress.yaml",
                "/api/calls/emea-1$",
                "/api/calls/emea-l$",
                "no Ingress path /api/calls/emea-1$",
            ),
            (
                "ingress.yaml",
                "proxy-body-size: 256k",
                "proxy-body-size: 1m",
                "ingress.yaml: Ingress/emea-webhook: nginx.ingress.kubernetes.io/proxy-body-size is \"1m\", but server.max_body_bytes is 262144",
            ),
        ];
        for (file, from, to, expected) in cases {
            check(file, from, to, expected);
        }
    }

    #[test]
    fn sizes_and_hosts_are_read_as_nginx_and_urls_write_them() {
        assert_eq!(nginx_size("256k"), Some(262_144));
        assert_eq!(nginx_size("262144"), Some(262_144));
        assert_eq!(nginx_size("1M"), Some(1_048_576));
        assert_eq!(nginx_size("big"), None);
        assert_eq!(nginx_size(""), None);
        assert_eq!(
            url_host("https://emea.bot.example.com"),
            Some("emea.bot.example.com")
        );
        assert_eq!(url_host("https://h.example:8443/x"), Some("h.example"));
        assert_eq!(
            env_key("CALLHOOK_PARTITION__ID").as_deref(),
            Some("partition.id")
        );
        assert_eq!(env_key("CALLHOOK_LOG_FORMAT"), None);
        assert_eq!(env_key("HOME"), None);
    }
}
