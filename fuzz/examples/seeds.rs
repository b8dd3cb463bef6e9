//! Builds the committed seed corpus (`fuzz/seeds/<target>/`) from the project's test data:
//!
//! - `token`: every case of `callhook-auth/tests/data/verifier_cases.json`, as a signed header and
//!   claims pair (mode byte 1) and as a whole `Authorization` value minted from the committed test
//!   key (mode byte 0);
//! - `jwks`: every document of `callhook-auth/tests/data/jwks_cases.json`, with the test key's
//!   modulus and exponent filled in;
//! - `openid`: an OpenID configuration shaped like the platform's, paired with each JWKS seed,
//!   under each framing;
//! - `negotiate`: every payload under `callhook-model/tests/data` and `callhook-server/tests/data`;
//! - `config`: every TOML block of `docs/configuration.md` and of the contract's examples.
//!
//! Run from `fuzz/`: `cargo run --release --example seeds`. Files are named by content hash, so
//! running it again changes nothing unless the test data changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "a one-shot generator: a panic names the file that could not be read"
)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use callhook_auth::testing::DevIssuer;
use callhook_fuzz::{APP_ID, NOW, SEPARATOR};
use serde_json::{Map, Value, json};

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz.parent().expect("fuzz/ has a parent").to_path_buf();
    let seeds = fuzz.join("seeds");
    let issuer = DevIssuer::new();

    let cases: Vec<Value> =
        read_json(&root.join("crates/callhook-auth/tests/data/verifier_cases.json"));
    for case in &cases {
        let header = match case.get("raw_header").and_then(Value::as_str) {
            Some(raw) => expand_raw(raw, issuer.kid()),
            None => expand(&case["header"], issuer.kid()).to_string(),
        };
        let claims = match case.get("raw_claims").and_then(Value::as_str) {
            Some(raw) => expand_raw(raw, issuer.kid()),
            None => expand(&case["claims"], issuer.kid()).to_string(),
        };
        let mut signed = vec![1u8];
        signed.extend_from_slice(header.as_bytes());
        signed.push(SEPARATOR);
        signed.extend_from_slice(claims.as_bytes());
        write(&seeds, "token", &signed);
        let token = issuer.sign_raw(header.as_bytes(), claims.as_bytes());
        write(&seeds, "token", format!("\u{0}Bearer {token}").as_bytes());
    }
    for scheme in ["bearer", "BEARER", "Bearer  ", "Basic", ""] {
        let token = issuer.mint(&DevIssuer::standard_claims(
            APP_ID,
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            callhook_auth::UnixTime::from_secs(NOW),
        ));
        write(&seeds, "token", format!("\u{0}{scheme} {token}").as_bytes());
    }

    let jwks_cases: Vec<Value> =
        read_json(&root.join("crates/callhook-auth/tests/data/jwks_cases.json"));
    let jwk = issuer.jwk();
    let (modulus, exponent) = (jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
    let mut documents = Vec::new();
    for case in &jwks_cases {
        let text = match case.get("raw").and_then(Value::as_str) {
            Some(raw) => raw.to_owned(),
            None => expand_jwk(&case["document"], modulus, exponent).to_string(),
        };
        write(&seeds, "jwks", text.as_bytes());
        documents.push(text);
    }
    documents.push(DevIssuer::jwks_json_of(&[&issuer, &DevIssuer::rotated()]));
    write(&seeds, "jwks", documents.last().unwrap().as_bytes());

    let openid = issuer.openid_configuration_json("https://api.botframework.com", "$JWKS");
    for (index, document) in documents.iter().enumerate() {
        for framing in 0..6u8 {
            // Every framing with the platform's shape; the other documents honestly framed.
            if framing != 0 && index + 1 != documents.len() {
                continue;
            }
            let mut input = vec![0u8, framing];
            input.extend_from_slice(openid.as_bytes());
            input.push(SEPARATOR);
            input.extend_from_slice(document.as_bytes());
            write(&seeds, "openid", &input);
        }
    }
    let mut odd_openid = vec![1u8, 0];
    odd_openid.extend_from_slice(br#"{"jwks_uri":"$JWKS","jwks_uri":"$JWKS/other"}"#);
    write(&seeds, "openid", &odd_openid);

    for directory in [
        root.join("crates/callhook-model/tests/data/graph"),
        root.join("crates/callhook-model/tests/data/legacy"),
        root.join("crates/callhook-server/tests/data"),
    ] {
        for entry in std::fs::read_dir(&directory).expect("test data directory") {
            let path = entry.expect("directory entry").path();
            if path
                .extension()
                .is_some_and(|extension| extension == "json")
            {
                write(&seeds, "negotiate", &std::fs::read(&path).unwrap());
            }
        }
    }

    for document in [root.join("docs/configuration.md"), root.join("README.md")] {
        let Ok(text) = std::fs::read_to_string(&document) else {
            continue;
        };
        let mut blocks = toml_blocks(&text);
        // Each block alone, and all of them together with an `[auth]` section so that sections
        // which are examples of one part make a whole configuration.
        let whole = blocks.join("\n");
        blocks.push(whole);
        for block in blocks {
            write(&seeds, "config", block.as_bytes());
            let with_auth = format!("[auth]\napp_id = \"{APP_ID}\"\n{block}");
            write(&seeds, "config", with_auth.as_bytes());
        }
    }
    for file in ["crates/callhook-routing/tests/data/config_errors.json"] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        let cases: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        collect_toml_strings(&cases, &mut |toml| {
            write(
                &seeds,
                "config",
                format!("[auth]\napp_id = \"x\"\n{toml}").as_bytes(),
            );
        });
    }
    println!("seeds written under {}", seeds.display());
}

/// The placeholders of the JWKS cases, as the JWKS tests expand them.
fn expand_jwk(value: &Value, modulus: &str, exponent: &str) -> Value {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match value {
        Value::String(text) => match text.as_str() {
            "$n" => json!(modulus),
            "$n==" => json!(format!("{modulus}==")),
            "$n_leading_zero" => {
                let mut bytes = vec![0];
                bytes.extend(engine.decode(modulus).unwrap());
                json!(engine.encode(bytes))
            }
            "$e" => json!(exponent),
            "$weak" => DevIssuer::weak_rsa_1024_jwk("weak"),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| expand_jwk(item, modulus, exponent))
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, item)| (name.clone(), expand_jwk(item, modulus, exponent)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

fn read_json(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn write(seeds: &Path, target: &str, bytes: &[u8]) {
    let directory = seeds.join(target);
    std::fs::create_dir_all(&directory).unwrap();
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    std::fs::write(directory.join(format!("{:016x}", hasher.finish())), bytes).unwrap();
}

fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```toml") => current = Some(String::new()),
            (Some(block), fence) if fence.starts_with("```") => {
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

fn collect_toml_strings(value: &Value, found: &mut dyn FnMut(&str)) {
    match value {
        Value::String(text) if text.contains('=') && text.contains('\n') => found(text),
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_toml_strings(item, found)),
        Value::Object(members) => members
            .values()
            .for_each(|item| collect_toml_strings(item, found)),
        _ => {}
    }
}

/// The placeholders of the verifier cases, as the verifier tests expand them.
fn expand(value: &Value, kid: &str) -> Value {
    match value {
        Value::String(text) => {
            if let Some(rest) = text.strip_prefix("STRING:") {
                return Value::String(expand_number_text(rest).to_string());
            }
            match text.as_str() {
                "$kid" => json!(kid),
                "$app" => json!(APP_ID),
                "$APP_UPPER" => json!(APP_ID.to_uppercase()),
                _ if text.starts_with("$now") => expand_number_text(text),
                _ => value.clone(),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| expand(item, kid)).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, item)| (name.clone(), expand(item, kid)))
                .collect::<Map<_, _>>(),
        ),
        _ => value.clone(),
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    reason = "offsets of a few hours around a 2022 timestamp"
)]
fn expand_number_text(text: &str) -> Value {
    let offset = text.strip_prefix("$now").unwrap_or(text);
    if offset.is_empty() {
        return json!(NOW);
    }
    let (sign, magnitude) = offset.split_at(1);
    let magnitude: f64 = magnitude.parse().unwrap_or(0.0);
    let magnitude = if sign == "-" { -magnitude } else { magnitude };
    if magnitude.fract() == 0.0 {
        json!((NOW as i64 + magnitude as i64) as u64)
    } else {
        json!(NOW as f64 + magnitude)
    }
}

fn expand_raw(text: &str, kid: &str) -> String {
    text.replace("$kid", kid)
        .replace("$app", APP_ID)
        .replace("$now+300", &(NOW + 300).to_string())
}
