//! The configuration loader: any text as a `callhook.toml`.
//!
//! Beyond "never panics": a refused configuration names at least one problem, each on one line;
//! an accepted one validates again, and its routing policy and partition (the parts that decide
//! every `Location` callhook ever writes) build.
#![no_main]

use callhook_server::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml_str(text) {
        Ok(config) => {
            config
                .validate()
                .expect("an accepted configuration validates again");
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
