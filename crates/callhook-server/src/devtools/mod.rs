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
