//! The server's configuration: a TOML file layered under `CALLHOOK_<SECTION>__<KEY>` environment
//! variables (figment), checked in full before the server starts.
//!
//! The sections embed the library crates' own configuration types (`[auth]` is
//! [`callhook_auth::AuthConfig`], `[routing]` is [`callhook_routing::RoutingConfig`], ...), so a key
//! documented by a crate is the key the server reads. Every struct denies unknown fields: a typo is a
//! startup error naming the key, never a silently ignored setting.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use callhook_auth::AuthConfig;
use callhook_protocol::LegacyPolicy;
use callhook_routing::{PartitionConfig, RoutingConfig};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "CALLHOOK_";

/// The whole configuration of `callhook serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: where and how to listen.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[auth]`: token verification and the key source.
    pub auth: AuthConfig,
    /// `[protocol]`: what to do with legacy Skype-format bodies.
    #[serde(default)]
    pub protocol: ProtocolConfig,
    /// `[routing]`: optional region affinity.
    #[serde(default)]
    pub routing: Option<RoutingConfig>,
    /// `[partition]`: optional identity of this instance for per-call callbacks.
    #[serde(default)]
    pub partition: Option<PartitionConfig>,
    /// `[sink]`: where verified notifications go.
    #[serde(default)]
    pub sink: SinkConfig,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The socket address to listen on.
    pub listen: SocketAddr,
    /// The webhook's path; partition callbacks arrive at `{webhook_path}/{partition id}`.
    pub webhook_path: String,
    /// Bodies larger than this get `413 Payload Too Large`.
    pub max_body_bytes: usize,
    /// Worker threads of the HTTP server; 0 means one per core.
    pub workers: usize,
    /// How long a graceful shutdown waits for in-flight requests, in seconds.
    pub shutdown_timeout_secs: u64,
    /// How long the head of each request may take to arrive once its first byte did, in
    /// milliseconds; a late head gets `408` and the connection is closed. It applies to every
    /// request of a kept-alive connection, not only the first.
    pub header_timeout_ms: u64,
    /// How long a request's whole body may take to arrive once its head did, in milliseconds; a
    /// late body gets `408` and the connection is closed.
    pub body_timeout_ms: u64,
    /// At most this many connections are open at once (split evenly between the workers); further
    /// clients wait in the listen backlog. Bounds the memory unauthenticated clients can hold.
    pub max_connections: usize,
    /// The listen backlog: connections the kernel queues before callhook accepts them.
    pub backlog: u32,
    /// At most this many delivered message ids are remembered for de-duplication.
    pub dedup_capacity: usize,
    /// How long a delivered message id is remembered, in seconds: a retry within it is answered
    /// `202` and not delivered again.
    pub dedup_window_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            webhook_path: "/api/calls".to_owned(),
            max_body_bytes: 262_144,
            workers: 0,
            shutdown_timeout_secs: 30,
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            max_connections: 1_024,
            backlog: 1_024,
            dedup_capacity: 1_000_000,
            dedup_window_secs: 600,
        }
    }
}

/// `[protocol]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolConfig {
    /// `"redeliver"` (answer 204 so the platform re-sends in Graph format) or `"accept"`.
    pub legacy: LegacyPolicy,
}

/// `[sink]`: where verified notifications go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkConfig {
    /// One structured log line per notification.
    #[default]
    Log,
    /// One POST per accepted request to the bot behind callhook.
    Forward(ForwardConfig),
}

/// `[sink]` with `kind = "forward"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// The bot's URL; `http://` is fine on a private network, `https://` is verified with the
    /// platform's roots.
    pub url: url::Url,
    /// How long one delivery may take before the platform is told to retry (502).
    #[serde(default = "default_forward_timeout_ms")]
    pub timeout_ms: u64,
    /// When set (`whsec_` followed by base64), every forwarded request is signed in the Standard
    /// Webhooks format (`webhook-id`, `webhook-timestamp`, `webhook-signature`), so that the bot can
    /// check with any Standard Webhooks library that it came through callhook unchanged.
    #[serde(default)]
    pub signing_secret: Option<Secret>,
    /// At most this many deliveries to the bot at once; the connections to the bot are pooled and
    /// kept alive up to this number.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long a delivery waits for one of the `max_in_flight` places, in milliseconds, before the
    /// platform is answered `503` with `Retry-After` (and retries).
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
}

fn default_max_in_flight() -> usize {
    64
}

fn default_max_wait_ms() -> u64 {
    1_000
}

/// A configured secret: deserialized like a string, never shown by `Debug`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn default_forward_timeout_ms() -> u64 {
    5_000
}

/// Why the configuration could not be loaded; the server exits with code 2 on any of these.
#[derive(Debug)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl ConfigError {
    fn single(problem: String) -> Self {
        Self {
            problems: vec![problem],
        }
    }

    /// Each problem, one line each, naming the key.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Loads `file`, then the environment (`CALLHOOK_<SECTION>__<KEY>`, which wins), and validates.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        if !file.is_file() {
            return Err(ConfigError::single(format!(
                "configuration file `{}` does not exist or is not a file",
                file.display()
            )));
        }
        Self::from_figment(
            &Figment::new()
                .merge(Toml::file_exact(file))
                .merge(environment()),
        )
    }

    /// Loads a configuration from TOML text alone, without the environment (for tests and the
    /// demo, which must not pick up the operator's variables).
    pub fn from_toml_str(toml: &str) -> Result<Self, ConfigError> {
        Self::from_figment(&Figment::new().merge(Toml::string(toml)))
    }

    fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|error| ConfigError {
            problems: error
                .into_iter()
                .map(|error| describe_figment_error(&error))
                .collect(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: values that parse but make no sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let path = &self.server.webhook_path;
        if !path.starts_with('/') || path.len() < 2 || path.ends_with('/') || path.contains("//") {
            problems.push(format!(
                "server.webhook_path: expected a path such as \"/api/calls\" (leading slash, no \
                 trailing slash), got {path:?}"
            ));
        }
        if self.server.max_body_bytes == 0 {
            problems.push("server.max_body_bytes: expected a positive number of bytes".to_owned());
        }
        for (key, value) in [
            ("server.header_timeout_ms", self.server.header_timeout_ms),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
            ("server.dedup_window_secs", self.server.dedup_window_secs),
        ] {
            if value == 0 {
                problems.push(format!("{key}: expected a positive number, got 0"));
            }
        }
        if self.server.max_connections == 0 {
            problems.push(
                "server.max_connections: expected a positive number of connections, got 0"
                    .to_owned(),
            );
        }
        if self.server.backlog == 0 || self.server.backlog > i32::MAX as u32 {
            problems.push(format!(
                "server.backlog: expected a number of connections from 1 to {}, got {}",
                i32::MAX,
                self.server.backlog
            ));
        }
        if self.server.dedup_capacity == 0 {
            problems
                .push("server.dedup_capacity: expected a positive number of ids, got 0".to_owned());
        }
        if let Err(error) = self.auth.validate() {
            problems.push(format!("auth.{}: {}", error.key, error.problem));
        }
        if let Some(routing) = &self.routing
            && let Err(error) = callhook_routing::RegionPolicy::build(routing)
        {
            problems.push(error.to_string());
        }
        if let Some(partition) = &self.partition
            && let Err(error) = callhook_routing::Partition::build(partition, path)
        {
            problems.push(error.to_string());
        }
        if let SinkConfig::Forward(forward) = &self.sink {
            if !matches!(forward.url.scheme(), "http" | "https") {
                problems.push(format!(
                    "sink.url: expected an http:// or https:// URL, got {}",
                    forward.url
                ));
            }
            if forward.timeout_ms == 0 {
                problems.push("sink.timeout_ms: expected a positive number of milliseconds".into());
            }
            if forward.max_in_flight == 0 {
                problems.push(
                    "sink.max_in_flight: expected a positive number of deliveries, got 0".into(),
                );
            }
            if let Some(secret) = &forward.signing_secret
                && let Err(error) =
                    callhook_auth::webhook_signature::WebhookSigner::from_secret(secret.expose())
            {
                problems.push(format!("sink.signing_secret: {error}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// Variables with the configuration's prefix that belong to the command line, not to the file.
pub const COMMAND_LINE_VARIABLES: [&str; 2] = ["log", "log_format"];

/// The environment provider: `CALLHOOK_AUTH__APP_ID` sets `auth.app_id`. `CALLHOOK_LOG` and
/// `CALLHOOK_LOG_FORMAT` are the command line's (`--log`, `--log-format`) and are left out; every
/// other `CALLHOOK_` variable must name a key, so a typo is an error rather than a silent no-op.
fn environment() -> Env {
    Env::prefixed(ENV_PREFIX)
        .ignore(&COMMAND_LINE_VARIABLES)
        .split("__")
}

/// One line naming the key (as a dotted path, or the environment variable it came from) and what
/// was wrong.
fn describe_figment_error(error: &figment::Error) -> String {
    use figment::error::Kind;

    let mut path = error.path.join(".");
    let what = match &error.kind {
        Kind::UnknownField(field, expected) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
            if expected.is_empty() {
                "unknown key".to_owned()
            } else {
                format!("unknown key; expected one of: {}", expected.join(", "))
            }
        }
        Kind::MissingField(field) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
            "required key is missing".to_owned()
        }
        Kind::UnknownVariant(variant, expected) => {
            format!(
                "unknown value `{variant}`; expected one of: {}",
                expected.join(", ")
            )
        }
        other => other.to_string(),
    };
    let source = error
        .metadata
        .as_ref()
        .map(|metadata| match &metadata.source {
            Some(figment::Source::File(file)) => format!(" (in {})", file.display()),
            Some(other) => format!(" (from {other})"),
            None => format!(" (from {})", metadata.name),
        })
        .unwrap_or_default();
    if path.is_empty() {
        format!("{what}{source}")
    } else {
        format!("{path}: {what}{source}")
    }
}
