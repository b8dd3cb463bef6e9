//! Every notification body of `shared/realworld` (third-party captures, issue threads and Microsoft's
//! documentation back to 2018), checked against the label its `SOURCES.md` gives it.
//!
//! The bodies are other projects' data and stay out of this repository: they are read from
//! `shared/realworld/` beside the checkout. Without it, each test prints one line saying so and
//! passes.
//!
//! For each body:
//! - `negotiate` names the labelled protocol, and `verdict` and the facts reader agree with it;
//! - a body labelled `neither` gets a reason of one line that says what is wrong;
//! - for a Graph body, the accessors a bot uses give what the raw JSON says, read here by hand:
//!   call id, tenant, caller, targets, call chain id, state, `resultInfo` code and subcode,
//!   `meetingInfo` and `applicationMetadata`. A call or operation the model keeps only as raw JSON
//!   (because one of its members did not fit) fails, since its accessors would all say nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a panic is a failing test, and a skip is said on stdout"
)]

use std::path::PathBuf;

use callhook_model::graph::MeetingInfo;
use callhook_model::graph::facts::read_facts;
use callhook_model::{CommsNotification, Resource, ResourceData};
use callhook_protocol::{InvalidBody, LegacyPolicy, Protocol, negotiate, verdict};
use serde_json::Value;

/// `shared/realworld`, or `None` (after saying so) when it is absent.
fn realworld() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realworld");
    if path.join("SOURCES.md").is_file() {
        Some(path)
    } else {
        println!(
            "skipped: the real-world bodies are not at {} (they live in shared/realworld)",
            path.display()
        );
        None
    }
}

/// A body, its label (`graph`, `legacy` or `neither`) and its bytes.
struct Labelled {
    name: String,
    label: String,
    bytes: Vec<u8>,
}

/// Every body that `SOURCES.md` labels, in its order. Each line reads
/// ``- `bodies/NAME` ... **expected: LABEL ...``.
fn bodies(root: &std::path::Path) -> Vec<Labelled> {
    let sources = std::fs::read_to_string(root.join("SOURCES.md")).unwrap();
    let mut bodies = Vec::new();
    for line in sources.lines() {
        let Some(rest) = line.strip_prefix("- `bodies/") else {
            continue;
        };
        let name = rest.split('`').next().unwrap().to_owned();
        let label = line
            .split("**expected: ")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no label"))
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap()
            .to_owned();
        assert!(
            ["graph", "legacy", "neither"].contains(&label.as_str()),
            "{name}: label {label:?}"
        );
        let bytes = std::fs::read(root.join("bodies").join(&name)).unwrap();
        bodies.push(Labelled { name, label, bytes });
    }
    bodies
}

#[test]
fn every_labelled_body_is_read_as_its_label_says() {
    let Some(root) = realworld() else { return };
    let bodies = bodies(&root);
    assert_eq!(bodies.len(), 135, "SOURCES.md counts 135 bodies");
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for body in &bodies {
        *counts.entry(body.label.as_str()).or_default() += 1;
        let negotiation = negotiate(&body.bytes, LegacyPolicy::default());
        let found = negotiation.protocol().map_or("neither", Protocol::as_str);
        assert_eq!(
            found,
            body.label,
            "{}: {:?}",
            body.name,
            negotiation.invalid().map(ToString::to_string)
        );
        // Every reader of a body makes the same decision.
        for policy in [LegacyPolicy::Redeliver, LegacyPolicy::Accept] {
            assert_eq!(
                verdict(&body.bytes, policy),
                negotiate(&body.bytes, policy).verdict(),
                "{}",
                body.name
            );
        }
        match body.label.as_str() {
            "graph" => {
                let facts = read_facts(&body.bytes)
                    .unwrap_or_else(|error| panic!("{}: facts: {error}", body.name));
                let model = negotiation.graph().unwrap();
                assert_eq!(facts.len(), model.len(), "{}", body.name);
                for (notification, facts) in model.iter().zip(facts.notifications()) {
                    assert_eq!(facts.call_id(), notification.call_id(), "{}", body.name);
                    assert_eq!(
                        facts.resource_url(),
                        notification.resource_path(),
                        "{}",
                        body.name
                    );
                    assert_eq!(
                        facts.is_new_incoming_call(),
                        notification.is_new_incoming_call(),
                        "{}",
                        body.name
                    );
                }
            }
            "neither" => {
                let reason = negotiation.invalid().unwrap().to_string();
                assert!(
                    !reason.is_empty() && !reason.contains('\n'),
                    "{}",
                    body.name
                );
                assert!(read_facts(&body.bytes).is_err(), "{}", body.name);
            }
            _ => {}
        }
    }
    assert_eq!(
        counts,
        [("graph", 97), ("legacy", 10), ("neither", 28)].into(),
        "the counts of SOURCES.md"
    );
}

#[test]
fn bodies_that_are_no_notification_get_a_reason_that_names_the_problem() {
    let Some(root) = realworld() else { return };
    for body in bodies(&root)
        .into_iter()
        .filter(|body| body.label == "neither")
    {
        let invalid = negotiate(&body.bytes, LegacyPolicy::default())
            .invalid()
            .cloned()
            .unwrap();
        let parses = serde_json::from_slice::<Value>(&body.bytes).is_ok();
        match invalid {
            // Invalid JSON (comments, trailing commas, fragments of issue threads): where it stops.
            InvalidBody::NotJson { line, detail, .. } => {
                assert!(!parses, "{}", body.name);
                assert!(line >= 1 && !detail.is_empty(), "{}", body.name);
            }
            // The documentation's examples of one item without `{"value": [...]}` around it.
            InvalidBody::NotificationWithoutEnvelope => {
                assert!(parses, "{}", body.name);
                assert!(
                    body.name.contains("commsnotification-example"),
                    "{}",
                    body.name
                );
            }
            other => panic!("{}: unexpected reason {other}", body.name),
        }
    }
    // A fragment that starts with a member says so, rather than only "trailing characters".
    let fragment = std::fs::read(
        root.join("bodies/122-issue-fragment-incoming-incidentbot-incomingcontext.json"),
    )
    .unwrap();
    let reason = negotiate(&fragment, LegacyPolicy::default())
        .invalid()
        .unwrap()
        .to_string();
    assert!(reason.contains("starts with a member"), "{reason}");
}

/// What the raw JSON says, read by hand: the oracle for the model's accessors.
fn text<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// A number sent as a number or as a numeric string.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The name of a Graph type, without `#` and the `microsoft.graph.` namespace, lower-cased.
fn type_name(value: &Value) -> Option<String> {
    let full = text(value, "/@odata.type")?;
    let full = full.strip_prefix('#').unwrap_or(full).to_ascii_lowercase();
    Some(
        full.strip_prefix("microsoft.graph.")
            .unwrap_or(&full)
            .to_owned(),
    )
}

/// The id after the `calls` segment of a resource path.
fn call_id_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.find(|segment| segment.eq_ignore_ascii_case("calls"))?;
    segments.next().filter(|id| !id.is_empty())
}

fn check_call(name: &str, raw: &Value, resource: &Resource) {
    let Resource::Call(call) = resource else {
        panic!("{name}: a call read as {}", resource.kind_name());
    };
    let state = text(raw, "/state").or_else(|| text(raw, "/callState"));
    assert_eq!(
        call.state()
            .map(|state| state.as_str().to_ascii_lowercase()),
        state.map(str::to_ascii_lowercase),
        "{name}: state"
    );
    let tenant = text(raw, "/tenantId").or_else(|| text(raw, "/source/identity/user/tenantId"));
    assert_eq!(call.tenant_id(), tenant, "{name}: tenant");
    assert_eq!(
        call.caller().is_some(),
        raw.pointer("/source/identity")
            .is_some_and(Value::is_object),
        "{name}: caller"
    );
    if let Some(caller) = call.caller() {
        let raw_identity = raw.pointer("/source/identity").unwrap();
        for (kind, identity) in [
            ("user", &caller.user),
            ("phone", &caller.phone),
            ("application", &caller.application),
            ("applicationInstance", &caller.application_instance),
        ] {
            assert_eq!(
                identity
                    .as_ref()
                    .and_then(|identity| identity.id.as_deref()),
                text(raw_identity, &format!("/{kind}/id")),
                "{name}: caller {kind}"
            );
        }
    }
    let raw_targets = raw.get("targets").and_then(Value::as_array);
    assert_eq!(
        call.targets().len(),
        raw_targets.map_or(0, Vec::len),
        "{name}: targets"
    );
    for (target, raw_target) in call.targets().iter().zip(raw_targets.into_iter().flatten()) {
        let identity = target.identity.as_ref();
        let application = identity
            .and_then(|identity| {
                identity
                    .application
                    .as_ref()
                    .or(identity.application_instance.as_ref())
                    .or(identity.user.as_ref())
            })
            .and_then(|identity| identity.id.as_deref());
        let raw_application = text(raw_target, "/identity/application/id")
            .or_else(|| text(raw_target, "/identity/applicationInstance/id"))
            .or_else(|| text(raw_target, "/identity/user/id"));
        assert_eq!(application, raw_application, "{name}: target");
    }
    assert_eq!(
        call.call_chain_id(),
        text(raw, "/callChainId"),
        "{name}: call chain id"
    );
    check_result_info(name, raw, call.result_info());
    assert_eq!(
        call.application_metadata().is_some(),
        raw.get("applicationMetadata")
            .is_some_and(|value| !value.is_null()),
        "{name}: applicationMetadata"
    );
    let raw_meeting = raw.get("meetingInfo").filter(|value| value.is_object());
    assert_eq!(
        call.meeting_info().map(MeetingInfo::odata_type),
        raw_meeting.map(|meeting| text(meeting, "/@odata.type")),
        "{name}: meetingInfo"
    );
    if let (Some(meeting), Some(raw_meeting)) = (call.meeting_info(), raw_meeting) {
        let organizer = text(raw_meeting, "/organizer/user/id");
        if organizer.is_some() {
            let MeetingInfo::Organizer(info) = meeting else {
                panic!("{name}: an organizer meeting info read as another kind");
            };
            let id = info
                .organizer
                .as_ref()
                .and_then(|organizer| organizer.user.as_ref())
                .and_then(|user| user.id.as_deref());
            assert_eq!(id, organizer, "{name}: meeting organizer");
        }
    }
}

fn check_result_info(name: &str, raw: &Value, result: Option<&callhook_model::ResultInfo>) {
    let raw_result = raw.get("resultInfo").filter(|value| value.is_object());
    assert_eq!(result.is_some(), raw_result.is_some(), "{name}: resultInfo");
    if let (Some(result), Some(raw_result)) = (result, raw_result) {
        assert_eq!(
            result.code_value(),
            number(raw_result.get("code")),
            "{name}: code"
        );
        let subcode = raw_result.get("subcode").or(raw_result.get("subCode"));
        assert_eq!(result.subcode_value(), number(subcode), "{name}: subcode");
    }
}

fn check_resource(name: &str, raw: &Value, resource: &Resource) {
    match type_name(raw).as_deref() {
        Some("call") => check_call(name, raw, resource),
        Some("participant") => assert!(
            matches!(resource, Resource::Participant(_)),
            "{name}: a participant read as {}",
            resource.kind_name()
        ),
        Some(kind) if kind.ends_with("operation") => {
            let result = match resource {
                Resource::Operation(operation) => operation.result_info.as_ref(),
                Resource::PlayPromptOperation(operation) => operation.result_info.as_ref(),
                Resource::RecordOperation(operation) => operation.result_info.as_ref(),
                other => panic!("{name}: an operation read as {}", other.kind_name()),
            };
            check_result_info(name, raw, result);
        }
        _ => {}
    }
}

fn check_notification(name: &str, raw: &Value, notification: &CommsNotification) {
    let path = text(raw, "/resourceUrl").or_else(|| text(raw, "/resource"));
    assert_eq!(notification.resource_path(), path, "{name}: path");
    let id = path
        .and_then(call_id_of)
        .or_else(|| text(raw, "/resource").and_then(call_id_of))
        .or_else(|| text(raw, "/resourceData/id"));
    assert_eq!(notification.call_id(), id, "{name}: call id");
    let change = text(raw, "/changeType").map(str::to_ascii_lowercase);
    assert_eq!(
        notification
            .change_type()
            .map(|change| change.as_str().to_ascii_lowercase()),
        change,
        "{name}: changeType"
    );
    match (&notification.resource_data, raw.get("resourceData")) {
        (ResourceData::Object(resource), Some(raw)) => check_resource(name, raw, resource),
        (ResourceData::Array(resources), Some(Value::Array(raw))) => {
            assert_eq!(resources.len(), raw.len(), "{name}: resources");
            for (resource, raw) in resources.iter().zip(raw) {
                check_resource(name, raw, resource);
            }
        }
        (ResourceData::Absent, raw) => assert!(
            raw.is_none_or(|raw| !raw.is_object() && !raw.is_array()),
            "{name}: resourceData"
        ),
        (_, raw) => panic!("{name}: resourceData read from {raw:?}"),
    }
}

#[test]
fn the_accessors_a_bot_uses_say_what_the_captures_say() {
    let Some(root) = realworld() else { return };
    let mut calls = 0;
    for body in bodies(&root)
        .into_iter()
        .filter(|body| body.label == "graph")
    {
        let negotiation = negotiate(&body.bytes, LegacyPolicy::default());
        let model = negotiation.graph().unwrap();
        let text = std::str::from_utf8(&body.bytes).unwrap();
        let raw: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
        let items = raw["value"].as_array().unwrap();
        assert_eq!(model.len(), items.len(), "{}", body.name);
        for (index, (notification, item)) in model.iter().zip(items).enumerate() {
            check_notification(&format!("{}[{index}]", body.name), item, notification);
            calls += usize::from(notification.call().is_some());
        }
    }
    // Most of the captures carry a call; all of those were read as calls above.
    assert!(calls >= 50, "only {calls} calls read");
}
