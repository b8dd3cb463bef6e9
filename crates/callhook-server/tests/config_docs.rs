//! `docs/configuration.md` cannot drift from the code: its examples must load, and every key the
//! server accepts must be documented there.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

use callhook_server::config::{Config, SinkConfig};

fn documentation() -> String {
    let path = format!("{}/../../docs/configuration.md", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The keys a section accepts, read from the server's own error for an unknown key (serde's
/// `deny_unknown_fields` lists the expected ones), so the list comes from the types themselves.
fn accepted_keys(toml_with_probe: &str, probe_path: &str) -> Vec<String> {
    let error = Config::from_toml_str(toml_with_probe).unwrap_err();
    let problem = error
        .problems()
        .iter()
        .find(|problem| problem.starts_with(probe_path))
        .unwrap_or_else(|| panic!("no problem for {probe_path} in {:?}", error.problems()));
    let (_, expected) = problem
        .split_once("expected one of: ")
        .unwrap_or_else(|| panic!("no expected keys in {problem:?}"));
    let expected = expected.split(" (").next().unwrap();
    expected.split(", ").map(str::to_owned).collect()
}

const AUTH: &str = "[auth]\napp_id = \"x\"\n";

#[test]
fn every_example_in_the_documentation_loads() {
    let blocks = toml_blocks(&documentation());
    assert_eq!(blocks.len(), 2, "the complete file and the forward sink");
    let complete = Config::from_toml_str(&blocks[0]).unwrap_or_else(|error| panic!("{error}"));
    assert!(complete.routing.is_some() && complete.partition.is_some());
    assert_eq!(complete.routing.as_ref().unwrap().rules.len(), 4);
    let forward = Config::from_toml_str(&blocks[1]).unwrap_or_else(|error| panic!("{error}"));
    assert!(matches!(forward.sink, SinkConfig::Forward(_)));
}

#[test]
fn the_documented_defaults_are_the_defaults() {
    let documented = Config::from_toml_str(&toml_blocks(&documentation())[0]).unwrap();
    let defaults = Config::from_toml_str(AUTH).unwrap();
    assert_eq!(documented.server.listen, defaults.server.listen);
    assert_eq!(documented.server.webhook_path, defaults.server.webhook_path);
    assert_eq!(
        documented.server.max_body_bytes,
        defaults.server.max_body_bytes
    );
    assert_eq!(documented.server.workers, defaults.server.workers);
    assert_eq!(
        documented.server.shutdown_timeout_secs,
        defaults.server.shutdown_timeout_secs
    );
    let mut documented_auth = documented.auth.clone();
    documented_auth.app_id = defaults.auth.app_id.clone();
    assert_eq!(documented_auth, defaults.auth, "the [auth] defaults");
    assert!(matches!(defaults.sink, SinkConfig::Log));
    assert_eq!(documented.dedup, defaults.dedup, "the [dedup] defaults");
}

#[test]
fn every_key_the_server_accepts_is_documented() {
    let markdown = documentation();
    let documented = |key: &str| {
        markdown.lines().any(|line| {
            let line = line.trim_start().trim_start_matches("# ");
            line.starts_with(&format!("{key} ="))
                || line.starts_with(&format!("[{key}]"))
                || line.starts_with(&format!("[[{key}]]"))
        })
    };
    let probes = [
        ("", format!("__probe = 1\n{AUTH}")),
        ("server", format!("[server]\n__probe = 1\n{AUTH}")),
        ("auth", "[auth]\napp_id = \"x\"\n__probe = 1\n".to_owned()),
        ("protocol", format!("[protocol]\n__probe = 1\n{AUTH}")),
        (
            "routing",
            format!("[routing]\nregion = \"a\"\n__probe = 1\n{AUTH}"),
        ),
        (
            "routing.rules",
            format!(
                "[routing]\nregion = \"a\"\n[[routing.rules]]\nregion = \"a\"\n__probe = 1\n{AUTH}"
            ),
        ),
        (
            "partition",
            format!(
                "[partition]\nid = \"a\"\npublic_url = \"https://a.example\"\n__probe = 1\n{AUTH}"
            ),
        ),
        (
            "sink",
            format!(
                "[sink]\nkind = \"forward\"\nurl = \"http://127.0.0.1:1/\"\n__probe = 1\n{AUTH}"
            ),
        ),
        ("dedup", format!("[dedup]\n__probe = 1\n{AUTH}")),
    ];
    let mut checked = 0;
    for (section, toml) in probes {
        let probe_path = if section.is_empty() {
            "__probe".to_owned()
        } else {
            section.to_owned()
        };
        for key in accepted_keys(&toml, &probe_path) {
            let full = if section.is_empty() || section == "routing.rules" {
                key.clone()
            } else {
                format!("{section}.{key}")
            };
            // Sections are documented as `[server]`; keys as `key =` under their section.
            assert!(
                documented(&key) || documented(&full),
                "`{full}` is accepted by the server but not documented in docs/configuration.md"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "only {checked} keys were checked: the probes found too few"
    );
}

/// An unknown or missing key is named once, by its dotted path, as the contract writes it.
#[test]
fn a_problem_names_its_key_once() {
    let unknown =
        Config::from_toml_str("[server]\nlisen = \"127.0.0.1:1\"\n[auth]\napp_id = \"x\"\n")
            .unwrap_err();
    assert!(
        unknown
            .problems()
            .iter()
            .any(|problem| problem.starts_with("server.lisen: unknown key; expected one of: ")),
        "{:?}",
        unknown.problems()
    );
    let missing = Config::from_toml_str("[auth]\n").unwrap_err();
    assert!(
        missing
            .problems()
            .iter()
            .any(|problem| problem.starts_with("auth.app_id: required key is missing")),
        "{:?}",
        missing.problems()
    );
}

#[test]
fn a_dedup_capacity_outside_what_the_store_can_number_is_refused_by_name() {
    for capacity in ["0", "1073741825"] {
        let refused = Config::from_toml_str(&format!(
            "[server]\ndedup_capacity = {capacity}\n[auth]\napp_id = \"x\"\n"
        ))
        .unwrap_err();
        let expected = format!(
            "server.dedup_capacity: expected a number of ids from 1 to 1073741824, got {capacity}"
        );
        assert!(
            refused.problems().contains(&expected),
            "{:?}",
            refused.problems()
        );
    }
    assert!(
        Config::from_toml_str("[server]\ndedup_capacity = 1073741824\n[auth]\napp_id = \"x\"\n")
            .is_ok()
    );
}
