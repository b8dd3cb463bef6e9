//! Development tools: a local issuer, a local Microsoft Graph, a platform simulator, the demo's bot
//! and the zero-configuration demo.
//!
//! Nobody can try a calling bot without a Microsoft tenant, a registered bot and a public tunnel; these
//! tools stand in for the calling platform on one machine. The development issuer signs with the
//! committed test keys of `callhook_auth::testing` (public keys, for development only), and the
//! server checks its tokens with the same verification code as in production: only the configured
//! OpenID configuration differs.

pub mod bot;
pub mod demo;
pub mod graph;
pub mod issuer;
pub mod output;
pub mod simulate;

use std::net::TcpListener;

use actix_web::dev::ServerHandle;

/// The platform's side on loopback: the development issuer and the local Graph, each on a free
/// port, running on the current actix system.
#[derive(Debug)]
pub struct LocalPlatform {
    /// Where a verifier's `openid_configuration` should point.
    pub openid_configuration_url: String,
    /// The local Graph's URL: the authority and Graph root of `callhook_graph::Cloud::custom`.
    pub graph_url: String,
    /// What the local Graph receives.
    pub graph: graph::GraphRecorder,
    handles: [ServerHandle; 2],
}

impl LocalPlatform {
    /// Starts both. Must be called inside an actix system.
    ///
    /// # Errors
    ///
    /// A loopback port could not be bound.
    pub fn start() -> std::io::Result<Self> {
        let issuer = issuer::start(TcpListener::bind("127.0.0.1:0")?)?;
        let graph = graph::start(TcpListener::bind("127.0.0.1:0")?)?;
        let handles = [issuer.server.handle(), graph.server.handle()];
        actix_web::rt::spawn(issuer.server);
        actix_web::rt::spawn(graph.server);
        Ok(Self {
            openid_configuration_url: issuer.openid_configuration_url,
            graph_url: graph.url,
            graph: graph.recorder,
            handles,
        })
    }

    /// Stops both, without waiting for open connections.
    pub async fn stop(self) {
        for handle in self.handles {
            handle.stop(false).await;
        }
    }
}
