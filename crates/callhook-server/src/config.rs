//! The server's configuration: a TOML file layered under `CALLHOOK_<SECTION>__<KEY>` environment
//! variables (figment), checked in full before the server starts.
//!
//! The file format is the server's: `[auth]` is [`AuthSection`], whose keys (`leeway_secs`, ...)
//! become the typed settings of [`callhook_auth::AuthenticatorBuilder`]; `[routing]` and
//! `[partition]` are the routing crate's plain settings types. Every struct denies unknown fields:
//! a typo is a startup error naming the key, never a silently ignored setting, and every error
//! names the key with its path in the file.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use std::time::Duration;

use callhook_auth::{Authenticator, AuthenticatorBuilder, Setting};
use callhook_protocol::LegacyPolicy;
use callhook_routing::{Partition, PartitionConfig, PartitionEntry, RegionPolicy, RoutingConfig};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "CALLHOOK_";

/// The whole configuration of `callhook serve`, as [`Config::load`] and [`Config::from_toml_str`]
/// make it: read, checked in full, and with the parts that a check has to build (the routing
/// policy, the partition) kept for the server, so that nothing is built twice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: where and how to listen.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[auth]`: token verification and the key source.
    pub auth: AuthSection,
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
    /// `[dedup]`: where delivered ids are remembered, in this process or shared through Redis.
    #[serde(default)]
    pub dedup: DedupConfig,
    /// What checking `[routing]` and `[partition]` built.
    #[serde(skip)]
    built: Built,
}

/// The parts of a configuration that checking it builds.
#[derive(Debug, Clone, Default)]
struct Built {
    checked: bool,
    region_policy: Option<RegionPolicy>,
    partition: Option<Partition>,
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

/// `[auth]`: the settings of the authenticator, in the file's units (`_secs`, `_ms`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// The bot's app id: the expected `aud`. Required.
    pub app_id: String,
    /// Where the signing keys are published (an OIDC configuration whose `jwks_uri` is followed).
    #[serde(default = "default_openid_configuration")]
    pub openid_configuration: String,
    /// Accepted issuers, exact match.
    #[serde(default = "default_issuers")]
    pub issuers: Vec<String>,
    /// Allow-list of tenants (`tid`); empty means any tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// At most one key refresh per this many seconds is triggered by unknown `kid`s.
    #[serde(default = "default_refresh_cooldown_secs")]
    pub refresh_cooldown_secs: u64,
    /// Seconds between periodic refreshes (up to 5% jitter is added).
    #[serde(default = "default_refresh_interval_secs")]
    pub refresh_interval_secs: u64,
    /// Timeout of each HTTP request for keys, in milliseconds.
    #[serde(default = "default_fetch_timeout_ms")]
    pub fetch_timeout_ms: u64,
    /// How many verified tokens are remembered (the platform reuses a token for its lifetime).
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: u64,
    /// First delay before retrying a failed key fetch, in milliseconds (doubles up to the maximum).
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest delay between retries of failed key fetches, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

/// The library's defaults, written in the file's units.
fn library_defaults() -> callhook_auth::AuthConfig {
    callhook_auth::AuthConfig::new("")
}
fn default_openid_configuration() -> String {
    library_defaults().openid_configuration
}
fn default_issuers() -> Vec<String> {
    library_defaults().issuers
}
fn default_leeway_secs() -> u64 {
    library_defaults().leeway.as_secs()
}
fn default_refresh_cooldown_secs() -> u64 {
    library_defaults().refresh.unknown_kid_cooldown.as_secs()
}
fn default_refresh_interval_secs() -> u64 {
    library_defaults().refresh.interval.as_secs()
}
fn default_fetch_timeout_ms() -> u64 {
    whole_millis(library_defaults().fetch_timeout)
}
fn default_cache_capacity() -> u64 {
    library_defaults().cache_capacity
}
fn default_retry_initial_ms() -> u64 {
    whole_millis(library_defaults().refresh.retry_initial)
}
fn default_retry_max_ms() -> u64 {
    whole_millis(library_defaults().refresh.retry_max)
}
fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl AuthSection {
    /// The section with every default and this app id.
    pub fn new(app_id: &str) -> AuthSection {
        AuthSection {
            app_id: app_id.to_owned(),
            openid_configuration: default_openid_configuration(),
            issuers: default_issuers(),
            tenants: Vec::new(),
            leeway_secs: default_leeway_secs(),
            refresh_cooldown_secs: default_refresh_cooldown_secs(),
            refresh_interval_secs: default_refresh_interval_secs(),
            fetch_timeout_ms: default_fetch_timeout_ms(),
            cache_capacity: default_cache_capacity(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_ms: default_retry_max_ms(),
        }
    }

    /// The authenticator's builder with every setting of this section.
    pub fn builder(&self) -> AuthenticatorBuilder {
        Authenticator::builder(&self.app_id)
            .openid_configuration(&self.openid_configuration)
            .issuers(self.issuers.iter().cloned())
            .tenants(self.tenants.iter().cloned())
            .leeway(Duration::from_secs(self.leeway_secs))
            .refresh(
                Duration::from_secs(self.refresh_interval_secs),
                Duration::from_secs(self.refresh_cooldown_secs),
            )
            .fetch_timeout(Duration::from_millis(self.fetch_timeout_ms))
            .retry_backoff(
                Duration::from_millis(self.retry_initial_ms),
                Duration::from_millis(self.retry_max_ms),
            )
            .cache_capacity(self.cache_capacity)
    }

    /// The authenticator of this section, its key refresh started on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The problem, naming the key as the file spells it (`auth.leeway_secs: ...`).
    pub fn build(&self) -> Result<Authenticator, AuthSectionError> {
        self.builder().build().map_err(AuthSectionError)
    }
}

/// A setting of `[auth]` that cannot work, displayed with the key's path in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth.{}: {}", auth_key(.0.setting), .0.problem)]
pub struct AuthSectionError(pub callhook_auth::ConfigError);

/// The key of `[auth]` that holds an authenticator's setting.
pub fn auth_key(setting: Setting) -> &'static str {
    match setting {
        Setting::AppId => "app_id",
        Setting::OpenidConfiguration => "openid_configuration",
        Setting::Issuers => "issuers",
        Setting::Tenants => "tenants",
        Setting::Leeway => "leeway_secs",
        Setting::RefreshInterval => "refresh_interval_secs",
        Setting::RefreshCooldown => "refresh_cooldown_secs",
        Setting::FetchTimeout => "fetch_timeout_ms",
        Setting::RetryInitial => "retry_initial_ms",
        Setting::RetryMax => "retry_max_ms",
        Setting::CacheCapacity => "cache_capacity",
        // The runtime, and settings a later version of the library adds under its own name.
        other => other.name(),
    }
}

/// `[dedup]`: the de-duplication store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupConfig {
    /// `"memory"` (this process, sized by `server.dedup_capacity`) or `"redis"` (shared by every
    /// instance that names the same Redis and key prefix).
    pub store: DedupStoreKind,
    /// The Redis URL: `redis://host:port[/db]`, or `rediss://` for TLS.
    pub url: Option<String>,
    /// The prefix of every key callhook writes.
    pub key_prefix: String,
    /// How long connecting to Redis may take.
    pub connect_timeout_ms: u64,
    /// How long one Redis command may take.
    pub command_timeout_ms: u64,
    /// How long a delivery's claim lives; longer than the longest delivery (`sink.timeout_ms` and
    /// the in-flight wait), so that a live delivery never loses its claim.
    pub claim_ttl_ms: u64,
    /// What to do when Redis is unreachable: `"deliver"` (at least once) or `"retry"` (503).
    pub on_store_error: OnStoreError,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            store: DedupStoreKind::Memory,
            url: None,
            key_prefix: "callhook:dedup:".to_owned(),
            connect_timeout_ms: 1_000,
            command_timeout_ms: 500,
            claim_ttl_ms: 30_000,
            on_store_error: OnStoreError::Deliver,
        }
    }
}

/// `dedup.store`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupStoreKind {
    /// In this process.
    #[default]
    Memory,
    /// In Redis, shared by instances.
    Redis,
}

/// `dedup.on_store_error`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnStoreError {
    /// Deliver without the shared check: at least once.
    #[default]
    Deliver,
    /// Answer 503 with `Retry-After`: the platform retries.
    Retry,
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
    /// The problems of `[dedup]`.
    fn dedup_problems(&self, problems: &mut Vec<String>) {
        let dedup = &self.dedup;
        for (key, value) in [
            ("dedup.connect_timeout_ms", dedup.connect_timeout_ms),
            ("dedup.command_timeout_ms", dedup.command_timeout_ms),
            ("dedup.claim_ttl_ms", dedup.claim_ttl_ms),
        ] {
            if value == 0 {
                problems.push(format!("{key}: expected a positive number, got 0"));
            }
        }
        match (dedup.store, dedup.url.as_deref()) {
            (DedupStoreKind::Memory, Some(_)) => problems.push(
                "dedup.url: only used with store = \"redis\"; remove it or set store = \"redis\""
                    .to_owned(),
            ),
            (DedupStoreKind::Redis, None) => problems.push(
                "dedup.url: required with store = \"redis\", for example \"redis://127.0.0.1:6379\""
                    .to_owned(),
            ),
            (DedupStoreKind::Redis, Some(url)) => {
                let scheme_ok = url.starts_with("redis://") || url.starts_with("rediss://");
                if !scheme_ok || redis::Client::open(url).is_err() {
                    problems.push(
                        "dedup.url: expected a redis:// or rediss:// URL such as \"redis://127.0.0.1:6379\""
                            .to_owned(),
                    );
                }
            }
            (DedupStoreKind::Memory, None) => {}
        }
        if dedup.key_prefix.len() > 256 {
            problems.push("dedup.key_prefix: expected at most 256 bytes".to_owned());
        }
        if let SinkConfig::Forward(forward) = &self.sink
            && dedup.store == DedupStoreKind::Redis
            && dedup.claim_ttl_ms <= forward.timeout_ms
        {
            problems.push(format!(
                "dedup.claim_ttl_ms: expected more than sink.timeout_ms ({}), so that a \
                     delivery in flight keeps its claim; got {}",
                forward.timeout_ms, dedup.claim_ttl_ms
            ));
        }
    }

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
        let mut config: Config = figment.extract().map_err(|error| ConfigError {
            problems: error
                .into_iter()
                .map(|error| describe_figment_error(&error))
                .collect(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// The routing policy of `[routing]`, built when the configuration was checked.
    pub fn region_policy(&self) -> Option<&RegionPolicy> {
        self.built.region_policy.as_ref()
    }

    /// This instance's partition of `[partition]`, built when the configuration was checked.
    pub fn partition_identity(&self) -> Option<&Partition> {
        self.built.partition.as_ref()
    }

    /// Whether this configuration was checked (made by [`Config::load`] or
    /// [`Config::from_toml_str`]), rather than deserialized by other means.
    pub fn is_checked(&self) -> bool {
        self.built.checked
    }

    /// Checks what serde cannot (values that parse but make no sense together), and keeps the
    /// parts built on the way.
    fn check(&mut self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut built = Built {
            checked: true,
            ..Built::default()
        };
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
        let max_ids = crate::dedup::DedupStore::MAX_CAPACITY;
        if self.server.dedup_capacity == 0 || self.server.dedup_capacity > max_ids {
            problems.push(format!(
                "server.dedup_capacity: expected a number of ids from 1 to {max_ids}, got {}",
                self.server.dedup_capacity
            ));
        }
        self.dedup_problems(&mut problems);
        if let Err(error) = self.auth.builder().validate() {
            problems.push(AuthSectionError(error).to_string());
        }
        if let Some(routing) = &self.routing {
            match RegionPolicy::build(routing) {
                Ok(policy) => built.region_policy = Some(policy),
                Err(error) => problems.push(format!("routing.{}: {error}", error.entry())),
            }
        }
        if let Some(partition) = &self.partition {
            match Partition::build(partition, path) {
                Ok(partition) => built.partition = Some(partition),
                Err(error) => {
                    let key = match error.entry() {
                        PartitionEntry::WebhookPath => "server.webhook_path".to_owned(),
                        entry => format!("partition.{entry}"),
                    };
                    problems.push(format!("{key}: {error}"));
                }
            }
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
                    crate::webhook_signature::WebhookSigner::from_secret(secret.expose())
            {
                problems.push(format!("sink.signing_secret: {error}"));
            }
        }
        if problems.is_empty() {
            self.built = built;
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
    // Figment puts the field itself at the end of the path of some errors and not of others, by
    // version and by provider; the path names it once either way.
    let mut name_field = |field: &str| {
        if error.path.last().map(String::as_str) != Some(field) {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
        }
    };
    let what = match &error.kind {
        Kind::UnknownField(field, expected) => {
            name_field(field);
            if expected.is_empty() {
                "unknown key".to_owned()
            } else {
                format!("unknown key; expected one of: {}", expected.join(", "))
            }
        }
        Kind::MissingField(field) => {
            name_field(field);
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
