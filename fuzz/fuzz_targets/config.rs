//! The configuration loader: any text as a `callhook.toml`.
//!
//! Beyond "never panics": a refused configuration names at least one problem, each on one line;
//! an accepted one is checked, carries the routing policy and partition (the parts that decide
//! every `Location` callhook ever writes) exactly when it has their sections, and they build again
//! from its sections.
#![no_main]

use callhook_server::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml_str(text) {
        Ok(config) => {
            assert!(config.is_checked(), "an accepted configuration was checked");
            assert_eq!(config.routing.is_some(), config.region_policy().is_some());
            assert_eq!(config.partition.is_some(), config.partition_identity().is_some());
            let path = &config.server.webhook_path;
            assert!(
                path.starts_with('/') && !path.ends_with('/'),
                "webhook_path {path:?}"
            );
            if let Some(routing) = &config.routing {
                callhook_routing::RegionPolicy::build(routing).expect("routing builds");
            }
            if let Some(partition) = &config.partition {
                callhook_routing::Partition::build(partition, path).expect("partition builds");
            }
        }
        Err(error) => {
            assert!(!error.problems().is_empty(), "a refusal without a problem");
            let shown = error.to_string();
            assert!(shown.starts_with("invalid configuration"), "{shown}");
        }
    }
});
