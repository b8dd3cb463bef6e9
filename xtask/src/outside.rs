//! The framework integrations of `callhook-auth`, compiled as a user writes them: two small apps
//! outside the workspace that depend on `callhook-auth` by path, one with feature `axum`, one with
//! feature `actix`, whose code is the snippet of the integration's contract.
//!
//! The apps live under `target/outside-workspace/` (each its own workspace root), use the
//! workspace's `Cargo.lock` so that they resolve the same versions, and share the workspace's
//! target directory so that nothing already built is built again.

use std::path::Path;

use anyhow::{Context, Result};

use crate::util::{cargo, run_step, workspace_root};

/// The axum app: the contract's snippet, with a body for the handler.
const AXUM_MAIN: &str = r#"use axum::{Router, body::Bytes, http::StatusCode, routing::post};
use callhook_auth::{Authenticator, VerifiedClaims};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("OPENID_CONFIGURATION")?;
    let authenticator = Authenticator::builder("my-bot-app-id")        // the expected `aud`
        .openid_configuration(url)                                    // default: the public cloud's
        .build()?;                                                    // Result<Authenticator, ConfigError>
    let app = Router::new()
        .route("/api/calls", post(webhook))
        .layer(callhook_auth::tower::AuthLayer::new(authenticator.clone()));
    axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
    Ok(())
}

async fn webhook(claims: VerifiedClaims, body: Bytes) -> StatusCode {
    let _ = (claims.tenant_id(), body);
    StatusCode::ACCEPTED
}
"#;

/// The actix-web app: the contract's snippet.
const ACTIX_MAIN: &str = r#"use actix_web::{App, HttpResponse, HttpServer, web};
use callhook_auth::{Authenticator, VerifiedClaims};

async fn handler(claims: VerifiedClaims) -> HttpResponse {
    let _ = claims.tenant_id();
    HttpResponse::Accepted().finish()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let authenticator = Authenticator::builder("my-bot-app-id").build()?;
    HttpServer::new(move || {
        App::new().wrap(callhook_auth::actix::Authenticate::new(authenticator.clone()))
            .route("/api/calls", web::post().to(handler))   // handler takes `claims: VerifiedClaims`
    })
    .bind("127.0.0.1:3000")?
    .run()
    .await?;
    Ok(())
}
"#;

pub(crate) fn run() -> Result<()> {
    let root = workspace_root();
    let base = root.join("target/outside-workspace");
    let auth = root.join("crates/callhook-auth");
    let apps = [
        (
            "axum-app",
            "axum",
            "axum = { version = \"0.8\", default-features = false, features = [\"http1\", \"tokio\"] }\n\
             tokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\", \"net\"] }\n",
            AXUM_MAIN,
        ),
        (
            "actix-app",
            "actix",
            "actix-web = { version = \"4\", default-features = false, features = [\"macros\"] }\n",
            ACTIX_MAIN,
        ),
    ];
    for (name, feature, dependencies, main) in apps {
        let app = base.join(name);
        write_app(&app, &auth, feature, dependencies, main, &root)?;
        let mut check = cargo(&["check", "--quiet"]);
        check
            .current_dir(&app)
            .env("CARGO_TARGET_DIR", root.join("target"));
        run_step(
            &format!("callhook-auth with feature `{feature}` in an app outside the workspace"),
            check,
        )?;
    }
    Ok(())
}

fn write_app(
    app: &Path,
    auth: &Path,
    feature: &str,
    dependencies: &str,
    main: &str,
    root: &Path,
) -> Result<()> {
    std::fs::create_dir_all(app.join("src"))
        .with_context(|| format!("cannot create {}", app.display()))?;
    let manifest = format!(
        "[package]\nname = \"callhook-outside-{feature}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[workspace]\n\n[dependencies]\n\
         callhook-auth = {{ path = {auth:?}, features = [\"{feature}\"] }}\n{dependencies}",
        auth = auth.display().to_string(),
    );
    std::fs::write(app.join("Cargo.toml"), manifest)?;
    std::fs::write(app.join("src/main.rs"), main)?;
    // The workspace's versions, so that the shared target directory already holds the build.
    std::fs::copy(root.join("Cargo.lock"), app.join("Cargo.lock"))
        .context("cannot copy Cargo.lock")?;
    Ok(())
}
