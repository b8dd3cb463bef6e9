//! Verifies one bearer token from the command line, as a bot's webhook would.
//!
//! ```text
//! verify-token --app-id <APP_ID> --jwks <FILE|URL> [--issuer <ISS>]... [--tenant <TID>]... [--now <UNIX_SECS>] <TOKEN|->
//! verify-token --app-id <APP_ID> --openid <URL> <TOKEN|->
//! ```
//!
//! The token may start with `Bearer `. On success the verified claims are printed as JSON and the
//! exit code is 0; a refused token prints the reason (for a human: a server would answer 401
//! without saying why) and exits with 1.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program reports on stdout/stderr"
)]

use anyhow::{Context as _, bail};
use callhook_auth::{KeyFetcher, KeySet, UnixTime, Verifier, VerifierConfig};
use std::io::Read as _;
use std::time::Duration;

struct Arguments {
    app_id: String,
    jwks: Option<String>,
    openid: Option<String>,
    issuers: Vec<String>,
    tenants: Vec<String>,
    now: Option<u64>,
    token: String,
}

const USAGE: &str = "usage: verify-token --app-id <APP_ID> (--jwks <FILE|URL> | --openid <URL>) \
                     [--issuer <ISS>]... [--tenant <TID>]... [--now <UNIX_SECS>] <TOKEN|->";

fn parse_arguments() -> anyhow::Result<Arguments> {
    let mut arguments = std::env::args().skip(1);
    let (mut app_id, mut jwks, mut openid, mut now, mut token) = (None, None, None, None, None);
    let (mut issuers, mut tenants) = (Vec::new(), Vec::new());
    while let Some(argument) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .with_context(|| format!("{argument} needs a value\n{USAGE}"))
        };
        match argument.as_str() {
            "--app-id" => app_id = Some(value()?),
            "--jwks" => jwks = Some(value()?),
            "--openid" => openid = Some(value()?),
            "--issuer" => issuers.push(value()?),
            "--tenant" => tenants.push(value()?),
            "--now" => now = Some(value()?.parse().context("--now takes Unix seconds")?),
            "--help" | "-h" => bail!("{USAGE}"),
            _ if token.is_none() => token = Some(argument),
            _ => bail!("unexpected argument {argument:?}\n{USAGE}"),
        }
    }
    let token = match token.as_deref() {
        None => bail!("no token given\n{USAGE}"),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the token from stdin")?;
            text
        }
        Some(text) => text.to_owned(),
    };
    let token = token.trim();
    let token = match token.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        _ => token,
    };
    Ok(Arguments {
        app_id: app_id.with_context(|| format!("--app-id is required\n{USAGE}"))?,
        jwks,
        openid,
        issuers,
        tenants,
        now,
        token: token.to_owned(),
    })
}

async fn load_keys(arguments: &Arguments) -> anyhow::Result<KeySet> {
    let fetcher = || KeyFetcher::new(Duration::from_secs(5));
    let (keys, skipped) = match (&arguments.jwks, &arguments.openid) {
        (Some(source), None) if source.starts_with("https://") || source.starts_with("http://") => {
            fetcher()?.fetch_jwks(source).await?
        }
        (Some(file), None) => {
            let document = std::fs::read(file).with_context(|| format!("reading {file}"))?;
            KeySet::from_jwks_json(&document)?
        }
        (None, Some(url)) => fetcher()?.fetch_from_openid_configuration(url).await?,
        _ => bail!("give exactly one of --jwks and --openid\n{USAGE}"),
    };
    for key in &skipped {
        eprintln!("skipped key {:?} (#{}): {}", key.kid, key.index, key.reason);
    }
    Ok(keys)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let arguments = parse_arguments()?;
    let keys = load_keys(&arguments).await?;
    let mut config = VerifierConfig::for_app_id(&arguments.app_id);
    if !arguments.issuers.is_empty() {
        config.issuers.clone_from(&arguments.issuers);
    }
    config.tenants.clone_from(&arguments.tenants);
    let now = match arguments.now {
        Some(seconds) => UnixTime::from_secs(seconds),
        None => callhook_auth::Clock::now(&callhook_auth::SystemClock),
    };
    match Verifier::new(config).verify(&arguments.token, &keys, now) {
        Ok(claims) => {
            println!("{}", serde_json::to_string_pretty(claims.claims())?);
            Ok(())
        }
        Err(rejection) => {
            eprintln!("rejected: {rejection} (reason: {})", rejection.reason());
            std::process::exit(1);
        }
    }
}
