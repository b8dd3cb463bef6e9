//! The micro part: the workspace's criterion benches, read back from criterion's own result files.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::Settings;
use super::servers::Cores;
use crate::util::{cargo, run_step};

/// The criterion ids this run needs, and what the table calls them.
pub(crate) const MEASURED: [(&str, &str); 7] = [
    (RAW_VERIFY, "raw ring RS256 verify (2048-bit)"),
    (COLD_VERIFY, "callhook-auth cold verify"),
    (CACHED_VERIFY, "callhook-auth cached verify"),
    (NEGOTIATE, "negotiate a typical incoming call"),
    (VERDICT, "verdict (the decision only) of the same call"),
    (DECIDE_HIT, "routing decision, 1,000 rules (hit)"),
    (DECIDE_MISS, "routing decision, 1,000 rules (miss)"),
];

pub(crate) const RAW_VERIFY: &str = "raw_ring_rs256";
pub(crate) const COLD_VERIFY: &str = "cold_verify";
pub(crate) const CACHED_VERIFY: &str = "cached_verify";
pub(crate) const NEGOTIATE: &str = "per_request/negotiate_incoming_call_graph";
pub(crate) const VERDICT: &str = "per_request/verdict_incoming_call_graph";
pub(crate) const DECIDE_HIT: &str = "decide_1000_tenant_rules/indexed/hit";
pub(crate) const DECIDE_MISS: &str = "decide_1000_tenant_rules/indexed/miss";

/// Mean time per iteration of each measured benchmark, in nanoseconds, by criterion id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Micro {
    pub(crate) mean_ns: BTreeMap<String, f64>,
}

impl Micro {
    /// The mean of `id`, when it was measured.
    pub(crate) fn mean(&self, id: &str) -> Option<f64> {
        self.mean_ns.get(id).copied()
    }

    /// The raw RS256 verification time: the floor of any server verifying every token.
    pub(crate) fn raw_verify_ns(&self) -> f64 {
        self.mean(RAW_VERIFY).unwrap_or(RAW_VERIFY_FALLBACK_NS)
    }
}

/// The issue's measurement of raw ring verification on this class of machine, used only if
/// criterion did not report one (it always should).
const RAW_VERIFY_FALLBACK_NS: f64 = 19_000.0;

/// The cargo arguments shared by the build and the run, so that the run never recompiles.
const CARGO_BENCH: [&str; 16] = [
    "bench",
    "--locked",
    "-p",
    "callhook-auth",
    "-p",
    "callhook-protocol",
    "-p",
    "callhook-routing",
    "--features",
    "callhook-auth/testing",
    "--bench",
    "verify",
    "--bench",
    "negotiate",
    "--bench",
    "decide",
];

/// Builds the three benches, runs them pinned to the server's core, and reads their results.
pub(crate) fn run(settings: &Settings, target: &Path, cores: &Cores) -> Result<Micro> {
    let profile = ["--profile", settings.profile];
    let mut build = cargo(&CARGO_BENCH);
    build.args(profile).arg("--no-run");
    run_step("build the micro benchmarks", build)?;

    let started = SystemTime::now();
    let filter = format!(
        "^({})$",
        MEASURED
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
            .join("|")
    );
    let mut arguments: Vec<&str> = CARGO_BENCH.to_vec();
    arguments.extend(profile);
    arguments.push("--");
    arguments.extend(settings.criterion_args.iter().copied());
    arguments.push(&filter);
    let mut command = cores.pinned_to_server_core(&cargo_program(), &arguments);
    // Criterion's report goes to stderr with the other progress: stdout is for the table.
    command.stdout(std::process::Stdio::from(std::io::stderr()));
    run_step("micro benchmarks (criterion)", command)?;

    let micro = read_results(&target.join("criterion"), started)?;
    for (id, _) in MEASURED {
        if micro.mean(id).is_none() {
            bail!("criterion did not report `{id}` in this run");
        }
    }
    Ok(micro)
}

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Reads every `new/benchmark.json` + `new/estimates.json` pair under `directory` written since
/// `since` (older files belong to earlier runs and are ignored).
pub(crate) fn read_results(directory: &Path, since: SystemTime) -> Result<Micro> {
    let mut micro = Micro::default();
    let mut pending = vec![directory.to_path_buf()];
    // Criterion's tree is a few levels deep; the bound only guards against a symlink loop.
    let mut visited = 0_usize;
    while let Some(current) = pending.pop() {
        visited += 1;
        if visited > 100_000 {
            bail!("{} has too many directories", directory.display());
        }
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.file_name().is_none_or(|name| name != "estimates.json")
                || path
                    .parent()
                    .and_then(Path::file_name)
                    .is_none_or(|name| name != "new")
            {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if modified < since {
                continue;
            }
            let Some(folder) = path.parent() else {
                continue;
            };
            let benchmark = std::fs::read_to_string(folder.join("benchmark.json"))
                .with_context(|| format!("no benchmark.json beside {}", path.display()))?;
            let estimates = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let (id, mean) = parse_result(&benchmark, &estimates)
                .with_context(|| format!("cannot understand {}", path.display()))?;
            micro.mean_ns.insert(id, mean);
        }
    }
    Ok(micro)
}

/// The id (`full_id` of benchmark.json) and the mean's point estimate (ns) of one result.
pub(crate) fn parse_result(benchmark_json: &str, estimates_json: &str) -> Result<(String, f64)> {
    let benchmark: serde_json::Value = serde_json::from_str(benchmark_json)?;
    let estimates: serde_json::Value = serde_json::from_str(estimates_json)?;
    let id = benchmark
        .get("full_id")
        .and_then(serde_json::Value::as_str)
        .context("benchmark.json has no full_id")?;
    let mean = estimates
        .get("mean")
        .and_then(|mean| mean.get("point_estimate"))
        .and_then(serde_json::Value::as_f64)
        .context("estimates.json has no mean.point_estimate")?;
    Ok((id.to_owned(), mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_and_the_mean_of_a_criterion_result() {
        let benchmark = r#"{"group_id":"decide_1000_tenant_rules","function_id":"indexed/hit",
            "value_str":null,"throughput":null,"full_id":"decide_1000_tenant_rules/indexed/hit",
            "directory_name":"decide_1000_tenant_rules/indexed_hit","title":"x"}"#;
        let estimates = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,
            "lower_bound":60.1,"upper_bound":61.0},"point_estimate":60.5,"standard_error":0.2},
            "median":{"point_estimate":60.4}}"#;
        let (id, mean) = parse_result(benchmark, estimates).unwrap();
        assert_eq!(id, DECIDE_HIT);
        assert!((mean - 60.5).abs() < f64::EPSILON);
    }

    #[test]
    fn a_result_without_a_mean_is_an_error() {
        assert!(parse_result(r#"{"full_id":"x"}"#, r#"{"median":{"point_estimate":1}}"#).is_err());
        assert!(parse_result(r#"{"group_id":"x"}"#, r#"{"mean":{"point_estimate":1}}"#).is_err());
        assert!(parse_result("not json", "{}").is_err());
    }

    #[test]
    fn results_older_than_the_run_are_ignored() {
        let directory = std::env::temp_dir().join(format!("xtask-micro-{}", std::process::id()));
        let folder = directory.join("cold_verify").join("new");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("benchmark.json"),
            r#"{"full_id":"cold_verify"}"#,
        )
        .unwrap();
        std::fs::write(
            folder.join("estimates.json"),
            r#"{"mean":{"point_estimate":21000.0}}"#,
        )
        .unwrap();
        let before = SystemTime::now() - std::time::Duration::from_secs(3600);
        let after = SystemTime::now() + std::time::Duration::from_secs(3600);
        let fresh = read_results(&directory, before).unwrap();
        let stale = read_results(&directory, after).unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        assert_eq!(fresh.mean(COLD_VERIFY), Some(21000.0));
        assert_eq!(stale.mean(COLD_VERIFY), None);
    }
}
