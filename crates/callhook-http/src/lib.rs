//! HTTP plumbing shared by callhook's crates, so that each rule is written once:
//!
//! - [`parse_https_or_loopback`]: the rule for every URL callhook fetches from or hands out
//!   (key documents, deployment and callback URLs): https, or plain http on a loopback host only,
//!   where nobody else on the network can read or alter it.
//! - [`client_builder`] (feature `client`): a reqwest client builder whose TLS is rustls on ring's
//!   provider with the platform's root certificates. ring is callhook's only crypto library; this
//!   builder is how the key source, the server's forward sink and the Graph client keep it so.
//!
//! ```
//! use callhook_http::{UrlProblem, parse_https_or_loopback};
//!
//! assert!(parse_https_or_loopback("https://bot.example.com/api/calls").is_ok());
//! assert!(parse_https_or_loopback("http://127.0.0.1:8080/api/calls").is_ok());
//! assert!(matches!(
//!     parse_https_or_loopback("http://bot.example.com/api/calls"),
//!     Err(UrlProblem::NotHttps { .. })
//! ));
//! ```
#![warn(missing_docs)]

use std::fmt;

use url::Host;
pub use url::Url;

/// Why a URL breaks the https-or-loopback rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlProblem {
    /// The text is not an absolute URL.
    Unparseable(url::ParseError),
    /// The URL has no host.
    NoHost,
    /// The scheme is neither https nor http on a loopback host.
    NotHttps {
        /// The scheme the URL has.
        scheme: String,
    },
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlProblem::Unparseable(error) => write!(formatter, "not an absolute URL ({error})"),
            UrlProblem::NoHost => formatter.write_str("the URL has no host"),
            UrlProblem::NotHttps { scheme } if scheme == "http" => formatter
                .write_str("not an https URL (plain http is allowed only for loopback hosts)"),
            UrlProblem::NotHttps { scheme } => write!(
                formatter,
                "scheme `{scheme}` is not allowed; expected https (or http on a loopback host)"
            ),
        }
    }
}

impl std::error::Error for UrlProblem {}

/// Parses `text` as an absolute URL that is https, or http on a loopback host.
///
/// # Errors
///
/// The [`UrlProblem`]: not a URL, no host, or a scheme other than https off loopback.
pub fn parse_https_or_loopback(text: &str) -> Result<Url, UrlProblem> {
    let url = Url::parse(text).map_err(UrlProblem::Unparseable)?;
    let host = url.host().ok_or(UrlProblem::NoHost)?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        other => {
            return Err(UrlProblem::NotHttps {
                scheme: other.to_owned(),
            });
        }
    }
    Ok(url)
}

/// Loopback means 127.0.0.0/8, `::1` or the name `localhost`: the only hosts where plain http
/// cannot be read or altered by anyone else on the network.
#[must_use]
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(address) => address.is_loopback(),
        Host::Ipv6(address) => address.is_loopback(),
    }
}

/// The HTTP client could not be set up (rustls refused its configuration).
#[cfg(feature = "client")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the HTTP client cannot be set up: {0}")]
pub struct ClientSetupError(String);

/// A reqwest client builder whose TLS is rustls on ring's provider, passed explicitly (no
/// process-wide provider is installed), verifying servers against the platform's root
/// certificates. Without any system roots, https requests fail with a certificate error while
/// plain http still works. ALPN offers h2 and http/1.1.
///
/// Callers add their own timeouts, redirect policy and user agent.
///
/// # Errors
///
/// [`ClientSetupError`] when rustls refuses the configuration.
#[cfg(feature = "client")]
pub fn client_builder() -> Result<reqwest::ClientBuilder, ClientSetupError> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls_client_config()?))
}

#[cfg(feature = "client")]
fn tls_client_config() -> Result<rustls::ClientConfig, ClientSetupError> {
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| ClientSetupError(error.to_string()))?;
    let mut config = match rustls_platform_verifier::Verifier::new(provider) {
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
        Err(error) => {
            tracing::error!(%error, "no platform root certificates: https requests will fail");
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        for allowed in [
            "https://api.aps.skype.com/v1/keys",
            "http://127.0.0.1:8080/keys",
            "http://127.8.9.1/keys",
            "http://[::1]:1/keys",
            "http://localhost:9/keys",
            "http://LOCALHOST:9/keys",
        ] {
            assert!(parse_https_or_loopback(allowed).is_ok(), "{allowed}");
        }
        for (refused, problem) in [
            ("http://api.aps.skype.com/v1/keys", "plain http"),
            ("http://10.0.0.1/keys", "plain http"),
            ("http://[::2]/keys", "plain http"),
            ("http://localhost.evil.example/keys", "plain http"),
            ("http://127.0.0.1.nip.io/keys", "plain http"),
            ("ftp://127.0.0.1/keys", "scheme `ftp`"),
            ("file:///etc/keys", "no host"),
            ("not a url", "not an absolute URL"),
        ] {
            let error = parse_https_or_loopback(refused).expect_err(refused);
            assert!(error.to_string().contains(problem), "{refused}: {error}");
        }
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
