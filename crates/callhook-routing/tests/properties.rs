//! Properties over generated inputs: callbackUri build and parse are inverse, the indexed decision
//! equals the linear reference, and nothing panics on arbitrary text.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code fails the test by panicking, which is what it is for"
)]

use std::collections::BTreeMap;

use callhook_routing::{
    Partition, PartitionConfig, RegionPolicy, RoutingConfig, RoutingInput, RuleConfig,
    build_callback_uri, is_hop_marked, parse_callback_uri, validate_partition_id,
};
use proptest::prelude::*;

const VALID_ID: &str = "[A-Za-z0-9_-]{1,64}";

fn public_url() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("https"), Just("http")],
        prop_oneof![
            "[a-wyz][a-z0-9-]{0,10}(\\.[a-z][a-z0-9]{0,8}){1,3}",
            Just("127.0.0.1".to_owned()),
            Just("localhost".to_owned()),
            Just("[::1]".to_owned()),
        ],
        proptest::option::of(1_u16..),
        "(/[a-z0-9._~-]{1,8}){0,2}/?",
    )
        .prop_map(|(scheme, host, port, path)| match port {
            Some(port) => format!("{scheme}://{host}:{port}{path}"),
            None => format!("{scheme}://{host}{path}"),
        })
}

fn webhook_path() -> impl Strategy<Value = String> {
    "/|(/[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,8}){1,3}/?"
}

proptest! {
    #[test]
    fn build_then_parse_gives_the_id_back(
        id in VALID_ID,
        public_url in public_url(),
        webhook_path in webhook_path(),
    ) {
        // Plain http to a public host is refused, and then there is nothing to parse.
        if let Ok(uri) = build_callback_uri(&public_url, &webhook_path, &id) {
            prop_assert_eq!(parse_callback_uri(&uri, &public_url, &webhook_path), Some(id.clone()));
            let partition = Partition::build(
                &PartitionConfig { id: id.clone(), public_url: public_url.clone(), url_template: None },
                &webhook_path,
            ).unwrap();
            prop_assert_eq!(partition.callback_uri(), uri.as_str());
        } else {
            prop_assert!(public_url.starts_with("http://"));
        }
    }

    #[test]
    fn parse_then_build_gives_the_uri_back(
        uri in "https://bot\\.example\\.com/api/calls/[ -~]{0,20}",
    ) {
        if let Some(id) = parse_callback_uri(&uri, "https://bot.example.com", "/api/calls") {
            prop_assert_eq!(
                build_callback_uri("https://bot.example.com", "/api/calls", &id).unwrap(),
                uri
            );
        }
    }

    #[test]
    fn ids_outside_the_safe_set_are_refused(
        prefix in "[A-Za-z0-9_-]{0,5}",
        odd in "[^A-Za-z0-9_-]",
        suffix in "[A-Za-z0-9_-]{0,5}",
    ) {
        let id = format!("{prefix}{odd}{suffix}");
        prop_assert!(validate_partition_id(&id).is_err());
        prop_assert!(build_callback_uri("https://bot.example.com", "/api/calls", &id).is_err());
        let partition = Partition::build(
            &PartitionConfig {
                id: "own".to_owned(),
                public_url: "https://bot.example.com".to_owned(),
                url_template: Some("https://bot.example.com/api/calls/{id}".to_owned()),
            },
            "/api/calls",
        ).unwrap();
        prop_assert_eq!(
            partition.decide_path_segment(&id),
            callhook_routing::PartitionDecision::Misdirected
        );
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}", other in "\\PC{0,20}") {
        let _ = is_hop_marked(&text);
        let _ = parse_callback_uri(&text, &other, "/api/calls");
        let _ = parse_callback_uri(&text, "https://bot.example.com", &other);
        let _ = build_callback_uri(&text, &other, "a");
        let _ = validate_partition_id(&text);
        let config = RoutingConfig {
            region: other.clone(),
            deployments: BTreeMap::from([(other.clone(), text.clone())]),
            rules: vec![RuleConfig { region: other.clone(), phone_prefix: Some(text.clone()), ..RuleConfig::default() }],
        };
        let _ = RegionPolicy::build(&config);
    }

    #[test]
    fn the_index_decides_exactly_like_the_linear_scan(
        rules in proptest::collection::vec(rule(), 0..30),
        input in input_values(),
    ) {
        let config = RoutingConfig {
            region: "emea".to_owned(),
            deployments: BTreeMap::from([
                ("amer".to_owned(), "https://amer.example.com/".to_owned()),
                ("apac".to_owned(), "https://apac.example.com/".to_owned()),
            ]),
            rules,
        };
        let Ok(policy) = RegionPolicy::build(&config) else {
            // Only rules without any condition are invalid here.
            let some_rule_has_no_condition = config.rules.iter().any(|rule| {
                rule.tenant.is_none() && rule.caller_region.is_none() && rule.source_region.is_none()
                    && rule.phone_prefix.is_none() && rule.target_id.is_none()
            });
            prop_assert!(some_rule_has_no_condition);
            return Ok(());
        };
        let (new_call, tenant, caller, source, phone, targets, hop) = &input;
        let target_refs: Vec<&str> = targets.iter().map(String::as_str).collect();
        let routing_input = RoutingInput {
            is_new_incoming_call: *new_call,
            tenant_id: tenant.as_deref(),
            caller_region_header: caller.as_deref(),
            source_region: source.as_deref(),
            caller_phone_number: phone.as_deref(),
            target_ids: &target_refs,
            hop_marked: *hop,
        };
        prop_assert_eq!(policy.decide(&routing_input), policy.decide_without_index(&routing_input));
    }
}

/// Small value sets, so that generated inputs often hit generated rules.
fn tenant_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("t-one".to_owned()),
        Just("T-ONE".to_owned()),
        Just("t-two".to_owned())
    ]
}

fn region_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("amer".to_owned()),
        Just("APAC".to_owned()),
        Just("emea".to_owned())
    ]
}

fn phone_prefix_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("+1".to_owned()),
        Just("+61".to_owned()),
        Just("+1425".to_owned())
    ]
}

fn rule() -> impl Strategy<Value = RuleConfig> {
    (
        region_value(),
        proptest::option::of(tenant_value()),
        proptest::option::of(region_value()),
        proptest::option::of(region_value()),
        proptest::option::of(phone_prefix_value()),
        proptest::option::of(tenant_value()),
    )
        .prop_map(
            |(region, tenant, caller_region, source_region, phone_prefix, target_id)| RuleConfig {
                region,
                tenant,
                caller_region,
                source_region,
                phone_prefix,
                target_id,
            },
        )
}

type InputValues = (
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<String>,
    bool,
);

fn input_values() -> impl Strategy<Value = InputValues> {
    (
        proptest::bool::weighted(0.9),
        proptest::option::of(tenant_value()),
        proptest::option::of(region_value()),
        proptest::option::of(region_value()),
        proptest::option::of(prop_oneof![
            Just("+14255550123".to_owned()),
            Just("+61299990000".to_owned())
        ]),
        proptest::collection::vec(tenant_value(), 0..3),
        proptest::bool::weighted(0.2),
    )
}
