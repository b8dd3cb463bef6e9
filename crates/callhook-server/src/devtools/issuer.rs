//! The development issuer over HTTP: the OpenID configuration and key set of the committed test key,
//! served on loopback, shaped like the platform's.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use callhook_auth::UnixTime;
use callhook_auth::testing::{DEV_ISSUER, DevIssuer};

/// The path of the OpenID configuration, the same as the platform's.
pub const OPENID_CONFIGURATION_PATH: &str = "/v1/.well-known/OpenIdConfiguration";
/// The path of the key set, the same as the platform's.
pub const KEYS_PATH: &str = "/v1/keys";

/// A development issuer started on a socket.
#[allow(
    missing_debug_implementations,
    reason = "actix's Server has no Debug; nothing here is worth printing but the URL"
)]
pub struct RunningIssuer {
    /// The server; await it to run it (or spawn it), stop it through its handle.
    pub server: Server,
    /// Where callhook's `auth.openid_configuration` should point.
    pub openid_configuration_url: String,
}

/// Starts serving the development issuer's documents on `listener` (one worker: it answers a few
/// requests a day). Must be called inside an actix system.
pub fn start(listener: TcpListener) -> std::io::Result<RunningIssuer> {
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    let dev = DevIssuer::new();
    let openid = dev.openid_configuration_json(DEV_ISSUER, &format!("{base}{KEYS_PATH}"));
    let keys = dev.jwks_json();
    let server = HttpServer::new(move || {
        let openid = openid.clone();
        let keys = keys.clone();
        App::new()
            .route(
                OPENID_CONFIGURATION_PATH,
                web::get().to(move || {
                    let openid = openid.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(openid)
                    }
                }),
            )
            .route(
                KEYS_PATH,
                web::get().to(move || {
                    let keys = keys.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(keys)
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(RunningIssuer {
        server,
        openid_configuration_url: format!("{base}{OPENID_CONFIGURATION_PATH}"),
    })
}

/// A token of the development issuer for `app_id` and `tenant`, issued at `now` and valid for
/// `lifetime_secs` (the platform's tokens live 300 s).
pub fn mint_token(app_id: &str, tenant: &str, now: UnixTime, lifetime_secs: u64) -> String {
    let mut claims = DevIssuer::standard_claims(app_id, tenant, now);
    if let Some(object) = claims.as_object_mut() {
        object.insert(
            "exp".to_owned(),
            serde_json::Value::from(now.as_secs().saturating_add(lifetime_secs)),
        );
    }
    DevIssuer::new().mint(&claims)
}
