//! The one rule for every URL that callhook hands to the platform: https, or http on a loopback host.

use std::fmt;

use callhook_http::UrlProblem;
use url::Url;

/// Why a configured URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlRejection {
    /// The text is not an absolute URL.
    Unparseable(url::ParseError),
    /// The scheme is neither https nor http on a loopback host.
    NotHttps,
    /// The URL has no host.
    NoHost,
    /// The URL carries a user name or password, which would end up in a `Location` header.
    HasCredentials,
    /// The URL has a query string where none is allowed.
    HasQuery,
    /// The URL has a fragment, which has no meaning for a webhook.
    HasFragment,
    /// The URL already carries the hop marker parameter, so every redirect to it would look like a
    /// second hop.
    HasHopMarker,
}

impl fmt::Display for UrlRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparseable(error) => write!(formatter, "not an absolute URL ({error})"),
            Self::NotHttps => {
                formatter.write_str("not an https URL (http is allowed only for loopback hosts)")
            }
            Self::NoHost => formatter.write_str("the URL has no host"),
            Self::HasCredentials => {
                formatter.write_str("the URL must not carry a user name or password")
            }
            Self::HasQuery => formatter.write_str("the URL must not have a query string"),
            Self::HasFragment => formatter.write_str("the URL must not have a fragment"),
            Self::HasHopMarker => write!(
                formatter,
                "the URL must not already carry the hop marker parameter `{}`",
                crate::HOP_MARKER_PARAM
            ),
        }
    }
}

/// Parses `raw` and checks it against the https-or-loopback rule of every URL callhook hands out
/// (written once, in `callhook-http`), then against what a webhook URL must not carry.
pub(crate) fn parse_webhook_url(raw: &str, allow_query: bool) -> Result<Url, UrlRejection> {
    let url = callhook_http::parse_https_or_loopback(raw).map_err(|problem| match problem {
        UrlProblem::Unparseable(error) => UrlRejection::Unparseable(error),
        UrlProblem::NoHost => UrlRejection::NoHost,
        _ => UrlRejection::NotHttps,
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRejection::HasCredentials);
    }
    if url.fragment().is_some() {
        return Err(UrlRejection::HasFragment);
    }
    if let Some(query) = url.query() {
        if !allow_query {
            return Err(UrlRejection::HasQuery);
        }
        if crate::region::is_hop_marked(query) {
            return Err(UrlRejection::HasHopMarker);
        }
    }
    Ok(url)
}
