//! The crate's place in the workspace: the outbound half depends on neither the server, nor a web
//! framework, nor the inbound token verifier, directly or through a workspace crate it uses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

const FORBIDDEN: [&str; 4] = ["callhook-server", "callhook-auth", "actix-web", "axum"];

/// The names in the `[dependencies]` table of a manifest (not dev-dependencies).
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap().trim();
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn neither_the_server_nor_a_framework_nor_the_verifier_is_a_dependency() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut seen = vec!["callhook-graph".to_owned()];
    let mut index = 0;
    // The workspace crates reachable from this one, through their `[dependencies]`.
    while let Some(name) = seen.get(index).cloned() {
        index += 1;
        let manifest = crates.join(&name).join("Cargo.toml");
        assert!(manifest.exists(), "{name} is a workspace crate");
        for dependency in dependencies(&manifest) {
            assert!(
                !FORBIDDEN.contains(&dependency.as_str()),
                "{name} depends on {dependency}"
            );
            if dependency.starts_with("callhook-") && !seen.contains(&dependency) {
                seen.push(dependency);
            }
        }
    }
    assert!(seen.contains(&"callhook-model".to_owned()), "{seen:?}");
    assert!(seen.contains(&"callhook-routing".to_owned()), "{seen:?}");
}
