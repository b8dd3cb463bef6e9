//! Where tokens and Graph live: the public cloud, the sovereign clouds, or loopback for tests.

use callhook_http::{UrlProblem, parse_https_or_loopback};

/// The Graph API version every request goes to.
pub const GRAPH_VERSION: &str = "v1.0";

/// A Microsoft cloud: the identity platform's authority, Microsoft Graph's root, and the scope of
/// an app token for that Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    authority: String,
    graph: String,
    scope: String,
}

/// A [`Cloud::custom`] URL that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{which} `{url}`: {problem}")]
pub struct CloudError {
    /// Which URL: `authority` or `graph`.
    pub which: &'static str,
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub problem: UrlProblem,
}

impl Cloud {
    /// The public (commercial) cloud: `login.microsoftonline.com` and `graph.microsoft.com`.
    #[must_use]
    pub fn public() -> Self {
        Self::preset(
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        )
    }

    /// US Government L4 (GCC High): `login.microsoftonline.us` and `graph.microsoft.us`.
    #[must_use]
    pub fn us_government_l4() -> Self {
        Self::preset(
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        )
    }

    /// US Government L5 (DoD): `login.microsoftonline.us` and `dod-graph.microsoft.us`.
    #[must_use]
    pub fn us_government_l5_dod() -> Self {
        Self::preset(
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        )
    }

    /// Microsoft Graph operated by 21Vianet in China: `login.chinacloudapi.cn` and
    /// `microsoftgraph.chinacloudapi.cn`.
    #[must_use]
    pub fn china() -> Self {
        Self::preset(
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        )
    }

    fn preset(authority: &str, graph: &str) -> Self {
        Self {
            authority: authority.to_owned(),
            graph: graph.to_owned(),
            scope: format!("{graph}/.default"),
        }
    }

    /// Any other authority and Graph root, for a proxy or a local Graph in tests. Each must be https,
    /// or plain http on a loopback host. The scope is `{graph}/.default`; see [`Cloud::with_scope`].
    ///
    /// # Errors
    ///
    /// A [`CloudError`] naming the URL that is refused and why.
    pub fn custom(authority: &str, graph: &str) -> Result<Self, CloudError> {
        let check = |which: &'static str, url: &str| {
            parse_https_or_loopback(url).map_err(|problem| CloudError {
                which,
                url: url.to_owned(),
                problem,
            })
        };
        check("authority", authority)?;
        check("graph", graph)?;
        Ok(Self::preset(
            authority.trim_end_matches('/'),
            graph.trim_end_matches('/'),
        ))
    }

    /// The same cloud, asking tokens for another scope (for example a public cloud's
    /// `https://graph.microsoft.com/.default` through a proxy).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The identity platform's authority, without a trailing slash.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Microsoft Graph's root, without the version and without a trailing slash.
    #[must_use]
    pub fn graph(&self) -> &str {
        &self.graph
    }

    /// The scope of an app token: `{graph}/.default`.
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The token endpoint of `tenant`: `{authority}/{tenant}/oauth2/v2.0/token`.
    #[must_use]
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    /// The URL of a Graph path such as `/communications/calls/{id}/answer`.
    #[must_use]
    pub fn graph_url(&self, path: &str) -> String {
        format!("{}/{GRAPH_VERSION}{path}", self.graph)
    }
}

impl Default for Cloud {
    fn default() -> Self {
        Self::public()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_name_the_documented_hosts() {
        let public = Cloud::public();
        assert_eq!(
            public.token_endpoint("contoso"),
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
        );
        assert_eq!(public.scope(), "https://graph.microsoft.com/.default");
        assert_eq!(
            public.graph_url("/communications/calls/1/answer"),
            "https://graph.microsoft.com/v1.0/communications/calls/1/answer"
        );
        assert_eq!(
            Cloud::us_government_l5_dod().scope(),
            "https://dod-graph.microsoft.us/.default"
        );
        assert_eq!(
            Cloud::us_government_l4().authority(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            Cloud::china().graph(),
            "https://microsoftgraph.chinacloudapi.cn"
        );
    }

    #[test]
    fn custom_urls_must_be_https_or_loopback() {
        let local = Cloud::custom("http://127.0.0.1:9/", "http://127.0.0.1:9").expect("loopback");
        assert_eq!(
            local.token_endpoint("t"),
            "http://127.0.0.1:9/t/oauth2/v2.0/token"
        );
        let error = Cloud::custom("http://login.example.com", "https://graph.example.com")
            .expect_err("plain http off loopback");
        assert_eq!(error.which, "authority");
        assert!(error.to_string().contains("plain http"), "{error}");
        let error = Cloud::custom("https://login.example.com", "not a url").expect_err("bad graph");
        assert_eq!(error.which, "graph");
    }
}
