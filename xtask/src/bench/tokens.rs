//! The benchmark's tokens: minted once by the baselines binary, reused while they stay valid.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::{APP_ID, Settings, TENANT};
use crate::util::run_step;

/// Tokens are re-minted when they would expire within this many seconds.
const MINIMUM_REMAINING_SECS: u64 = 60 * 60;

/// Never fewer distinct tokens than this, so that a quick run after a full one reuses its set.
const MINIMUM_DISTINCT: usize = 20_000;

/// The files of a minted token set.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    /// The JWKS document with the signing key.
    pub(crate) jwks: PathBuf,
    /// The token reused on every request of the "reused" mode.
    pub(crate) reused: String,
    /// A token under the accepted `kid` signed by another key: every server must refuse it.
    pub(crate) forged: String,
    /// One distinct token per line.
    pub(crate) distinct: PathBuf,
    /// How many lines `distinct` has.
    pub(crate) distinct_count: usize,
}

/// How many distinct tokens the distinct-token runs need: as many as a server verifying every token
/// could possibly consume, i.e. the run's length at the raw RS256 verification rate of one core,
/// with a margin. A server that still runs out is not verifying every token, and the run says so.
pub(crate) fn needed(settings: &Settings, raw_verify_ns: f64) -> usize {
    let per_second = 1e9 / raw_verify_ns.max(1_000.0);
    let needed = f64::from(settings.distinct_secs) * per_second * 1.25;
    // The float is positive and far below usize::MAX (at most ~1.25e6 per second of run).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive count bounded by the verification rate, rounded up"
    )]
    let needed = needed.ceil() as usize;
    needed.max(MINIMUM_DISTINCT)
}

/// The token set in `directory`, minted anew unless a complete one with at least `count` tokens
/// stays valid for another hour.
pub(crate) fn ensure(baselines: &Path, directory: &Path, count: usize) -> Result<Tokens> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let existing = std::fs::read_to_string(directory.join("meta.json")).ok();
    if existing
        .as_deref()
        .is_some_and(|meta| reusable(meta, count, now))
    {
        eprintln!(
            "\n==> tokens: reusing the tokens in {} (at least {count} distinct, valid for another \
             hour)",
            directory.display()
        );
    } else {
        let mut mint = Command::new(baselines);
        mint.arg("mint")
            .arg("--out")
            .arg(directory)
            .args([
                "--count",
                &count.to_string(),
                "--app-id",
                APP_ID,
                "--tenant",
                TENANT,
            ])
            .stdout(std::process::Stdio::from(std::io::stderr()));
        run_step(
            &format!("mint {count} distinct RS256 tokens (once; reused for hours)"),
            mint,
        )?;
    }
    let meta = std::fs::read_to_string(directory.join("meta.json"))
        .context("the minted token set has no meta.json")?;
    let distinct_count = meta_count(&meta).context("meta.json has no count")?;
    let read = |name: &str| -> Result<String> {
        let path = directory.join(name);
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .trim()
            .to_owned())
    };
    Ok(Tokens {
        jwks: directory.join("jwks.json"),
        reused: read("reused.txt")?,
        forged: read("forged.txt")?,
        distinct: directory.join("distinct.txt"),
        distinct_count,
    })
}

/// Whether the set described by `meta` has `count` tokens for this app and tenant, valid for
/// another hour after `now`.
pub(crate) fn reusable(meta: &str, count: usize, now: u64) -> bool {
    let Ok(meta) = serde_json::from_str::<serde_json::Value>(meta) else {
        return false;
    };
    let expires_at = meta
        .get("expires_at")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let same_audience = meta.get("app_id").and_then(serde_json::Value::as_str) == Some(APP_ID)
        && meta.get("tenant").and_then(serde_json::Value::as_str) == Some(TENANT);
    same_audience
        && meta_count(&meta.to_string()).is_some_and(|minted| minted >= count)
        && expires_at >= now.saturating_add(MINIMUM_REMAINING_SECS)
}

fn meta_count(meta: &str) -> Option<usize> {
    let meta: serde_json::Value = serde_json::from_str(meta).ok()?;
    usize::try_from(meta.get("count")?.as_u64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(count: usize, expires_at: u64) -> String {
        serde_json::json!({
            "count": count,
            "expires_at": expires_at,
            "app_id": APP_ID,
            "tenant": TENANT,
            "kid": "callhook-dev-1",
        })
        .to_string()
    }

    #[test]
    fn a_set_is_reused_only_when_large_enough_and_valid_for_another_hour() {
        let now = 1_700_000_000;
        assert!(reusable(&meta(300_000, now + 7_200), 250_000, now));
        assert!(!reusable(&meta(200_000, now + 7_200), 250_000, now));
        assert!(!reusable(&meta(300_000, now + 1_800), 250_000, now));
        assert!(!reusable("{}", 1, now));
        assert!(!reusable("truncated {", 1, now));
        let other_audience = meta(300_000, now + 7_200).replace(APP_ID, "someone-else");
        assert!(!reusable(&other_audience, 1, now));
    }

    #[test]
    fn enough_tokens_for_a_server_verifying_at_the_raw_rate() {
        let mut settings = Settings::new(false);
        settings.distinct_secs = 4;
        // 20 µs per verification: 50,000 per second, 4 seconds, 25% margin.
        assert_eq!(needed(&settings, 20_000.0), 250_000);
        // A small run still mints the minimum, so that the set serves later runs.
        settings.distinct_secs = 0;
        assert_eq!(needed(&settings, 20_000.0), MINIMUM_DISTINCT);
        // An absurdly fast measurement cannot ask for more than a bounded number.
        settings.distinct_secs = 1;
        assert_eq!(needed(&settings, 0.0), 1_250_000);
    }
}
