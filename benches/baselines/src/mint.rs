//! Minting the benchmark's tokens with the committed development key.
//!
//! RSA signing costs about a thousand times more than verifying, so the distinct tokens (one per
//! request of the worst-case run) are minted once, on every core, with a lifetime of hours, and
//! the xtask reuses the directory while they stay valid.

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use callhook_auth::UnixTime;
use callhook_auth::testing::DevIssuer;
use serde_json::{Value, json};

/// Where and what to mint.
#[derive(Debug, clap::Args)]
pub(crate) struct MintArgs {
    /// The directory to write `jwks.json`, `reused.txt`, `distinct.txt`, `forged.txt` and,
    /// last, `meta.json` into.
    #[arg(long)]
    out: PathBuf,
    /// How many distinct tokens to mint.
    #[arg(long)]
    count: usize,
    /// The `aud` of every token.
    #[arg(long)]
    app_id: String,
    /// The `tid` of every token.
    #[arg(long)]
    tenant: String,
    /// Seconds from now until the tokens expire.
    #[arg(long, default_value_t = 6 * 60 * 60)]
    lifetime_secs: u64,
}

/// Mints every file; `meta.json` is written last, so a directory without it is incomplete.
pub(crate) fn run(arguments: &MintArgs) -> Result<()> {
    let out = &arguments.out;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // A stale description must not outlive the tokens it describes if this run fails halfway.
    let _absent = fs::remove_file(out.join("meta.json"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let issuer = DevIssuer::new();
    let claims = |jti: &str| -> Value {
        let mut claims = DevIssuer::standard_claims(
            &arguments.app_id,
            &arguments.tenant,
            UnixTime::from_secs(now),
        );
        if let Some(object) = claims.as_object_mut() {
            object.insert("exp".to_owned(), json!(now + arguments.lifetime_secs));
            object.insert("jti".to_owned(), json!(jti));
        }
        claims
    };

    write(&out.join("jwks.json"), &issuer.jwks_json())?;
    write(&out.join("reused.txt"), &issuer.mint(&claims("reused")))?;
    // Signed by another key under the accepted `kid`: every server must refuse it.
    let forger = DevIssuer::rotated().with_kid(issuer.kid());
    write(&out.join("forged.txt"), &forger.mint(&claims("forged")))?;

    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_thread = arguments.count.div_ceil(threads);
    let chunks: Vec<Vec<String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let issuer = &issuer;
                let claims = &claims;
                scope.spawn(move || {
                    let first = thread * per_thread;
                    let last = (first + per_thread).min(arguments.count);
                    (first..last)
                        .map(|number| issuer.mint(&claims(&format!("distinct-{number}"))))
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let minted: usize = chunks.iter().map(Vec::len).sum();
    anyhow::ensure!(
        minted == arguments.count,
        "minted {minted} tokens instead of {}",
        arguments.count
    );
    let path = out.join("distinct.txt");
    let file =
        fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = BufWriter::new(file);
    for token in chunks.iter().flatten() {
        writeln!(writer, "{token}")?;
    }
    writer.flush()?;

    let meta = json!({
        "count": arguments.count,
        "expires_at": now + arguments.lifetime_secs,
        "app_id": arguments.app_id,
        "tenant": arguments.tenant,
        "kid": issuer.kid(),
    });
    write(&out.join("meta.json"), &meta.to_string())?;
    println!(
        "minted {} distinct tokens into {}",
        arguments.count,
        out.display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
