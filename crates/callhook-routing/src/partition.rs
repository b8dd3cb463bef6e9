//! Partitions: which instance of this deployment owns a call, via the per-call `callbackUri`.

use std::fmt;

use url::Url;

use crate::config::PartitionConfig;
use crate::url_rules::{UrlRejection, parse_webhook_url};

/// The usual webhook path, the reference server's default.
pub const DEFAULT_WEBHOOK_PATH: &str = "/api/calls";

/// The longest partition id, in characters.
pub const PARTITION_ID_MAX_CHARS: usize = 64;

/// The placeholder for the partition id in [`PartitionConfig::url_template`].
pub const URL_TEMPLATE_ID_PLACEHOLDER: &str = "{id}";

/// This instance's partition: its id, its `callbackUri`, and where other partitions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    id: String,
    callback_uri: String,
    /// The URL template split at each `{id}`; empty when no template is configured.
    url_template_pieces: Vec<String>,
}

/// What to do with a request that arrived on `{webhook_path}/{segment}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionDecision {
    /// The segment names this instance's partition: handle the request.
    Own,
    /// The segment names another partition, or is not a partition id at all: answer
    /// `421 Misdirected Request`.
    Misdirected,
    /// The segment names another partition and a URL template is configured: redirect there.
    Redirect {
        /// The owner's webhook URL, built from the template and a validated id only.
        location: String,
    },
}

/// Why a partition id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionIdProblem {
    /// The id is empty.
    Empty,
    /// The id is longer than [`PARTITION_ID_MAX_CHARS`].
    TooLong,
    /// The id holds a character outside `A-Z a-z 0-9 - _`.
    ForbiddenCharacter(char),
}

impl fmt::Display for PartitionIdProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => formatter.write_str("is empty"),
            Self::TooLong => write!(
                formatter,
                "is longer than {PARTITION_ID_MAX_CHARS} characters"
            ),
            Self::ForbiddenCharacter(character) => write!(
                formatter,
                "holds {character:?}; allowed are A-Z, a-z, 0-9, `-` and `_`"
            ),
        }
    }
}

/// Why a webhook path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookPathProblem {
    /// The path does not start with `/`.
    NoLeadingSlash,
    /// The path holds a character outside `A-Z a-z 0-9 - . _ ~ /`.
    ForbiddenCharacter(char),
    /// The path holds an empty segment (`//`) or a `.` or `..` segment, which URL normalisation would
    /// change.
    UnnormalisedSegment,
}

impl fmt::Display for WebhookPathProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoLeadingSlash => formatter.write_str("must start with `/`"),
            Self::ForbiddenCharacter(character) => write!(
                formatter,
                "holds {character:?}; allowed are A-Z, a-z, 0-9, `-`, `.`, `_`, `~` and `/`"
            ),
            Self::UnnormalisedSegment => {
                formatter.write_str("must not hold empty, `.` or `..` segments")
            }
        }
    }
}

/// Why a URL template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlTemplateProblem {
    /// The template has no `{id}`, so every partition would get the same URL.
    NoIdPlaceholder,
    /// The template holds a `{` or `}` that is not part of `{id}`.
    UnknownPlaceholder,
    /// With this instance's id filled in, the template is not an acceptable URL.
    InvalidUrl(UrlRejection),
    /// With this instance's id filled in, the template is not this instance's `callbackUri`. Every
    /// instance checks this for its own id, so a redirect to partition `X` reaches the instance whose
    /// id is `X`, which handles it instead of redirecting again.
    DisagreesWithCallbackUri {
        /// This instance's `callbackUri`.
        callback_uri: String,
    },
}

impl fmt::Display for UrlTemplateProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIdPlaceholder => write!(formatter, "has no `{URL_TEMPLATE_ID_PLACEHOLDER}`"),
            Self::UnknownPlaceholder => write!(
                formatter,
                "holds `{{` or `}}` outside `{URL_TEMPLATE_ID_PLACEHOLDER}`"
            ),
            Self::InvalidUrl(problem) => write!(formatter, "with the id filled in: {problem}"),
            Self::DisagreesWithCallbackUri { callback_uri } => write!(
                formatter,
                "with this instance's id filled in, must give this instance's callbackUri `{callback_uri}`"
            ),
        }
    }
}

/// A [`PartitionConfig`] (or webhook path) that cannot be used. [`PartitionError::entry`] says
/// which entry; the message says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionError {
    /// `id` is not a valid partition id.
    #[error("`{id}` {problem}")]
    InvalidId {
        /// The configured id.
        id: String,
        /// What is wrong with it.
        problem: PartitionIdProblem,
    },
    /// `public_url` breaks the https-or-loopback rule, or has a query or fragment.
    #[error("`{url}`: {problem}")]
    PublicUrl {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        problem: UrlRejection,
    },
    /// The webhook path cannot be part of a `callbackUri`.
    #[error("`{path}` {problem}")]
    InvalidWebhookPath {
        /// The configured path.
        path: String,
        /// What is wrong with it.
        problem: WebhookPathProblem,
    },
    /// `url_template` is unusable.
    #[error("`{template}` {problem}")]
    UrlTemplate {
        /// The configured template.
        template: String,
        /// What is wrong with it.
        problem: UrlTemplateProblem,
    },
}

/// The entry a [`PartitionError`] is about. Its `Display` is the field's name in
/// [`PartitionConfig`], or `webhook_path` for the path given to [`Partition::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionEntry {
    /// [`PartitionConfig::id`].
    Id,
    /// [`PartitionConfig::public_url`].
    PublicUrl,
    /// [`PartitionConfig::url_template`].
    UrlTemplate,
    /// The webhook path given to [`Partition::build`].
    WebhookPath,
}

impl fmt::Display for PartitionEntry {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            PartitionEntry::Id => "id",
            PartitionEntry::PublicUrl => "public_url",
            PartitionEntry::UrlTemplate => "url_template",
            PartitionEntry::WebhookPath => "webhook_path",
        })
    }
}

impl PartitionError {
    /// The entry that is wrong.
    #[must_use]
    pub fn entry(&self) -> PartitionEntry {
        match self {
            PartitionError::InvalidId { .. } => PartitionEntry::Id,
            PartitionError::PublicUrl { .. } => PartitionEntry::PublicUrl,
            PartitionError::InvalidWebhookPath { .. } => PartitionEntry::WebhookPath,
            PartitionError::UrlTemplate { .. } => PartitionEntry::UrlTemplate,
        }
    }
}

impl Partition {
    /// Validates `config` and computes this instance's `callbackUri`.
    ///
    /// `webhook_path` is the path the platform posts to (usually [`DEFAULT_WEBHOOK_PATH`]).
    ///
    /// # Errors
    ///
    /// A [`PartitionError`] naming the offending setting.
    pub fn build(config: &PartitionConfig, webhook_path: &str) -> Result<Self, PartitionError> {
        let callback_uri = build_callback_uri(&config.public_url, webhook_path, &config.id)?;
        let url_template_pieces = match &config.url_template {
            None => Vec::new(),
            Some(template) => {
                parse_url_template(template, &config.id, &callback_uri).map_err(|problem| {
                    PartitionError::UrlTemplate {
                        template: template.clone(),
                        problem,
                    }
                })?
            }
        };
        Ok(Self {
            id: config.id.clone(),
            callback_uri,
            url_template_pieces,
        })
    }

    /// This instance's partition id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `callbackUri` a bot names when it answers a call, so that every later notification of that
    /// call comes back to this instance: `{public_url}{webhook_path}/{id}`, with the public URL in its
    /// normalised form and without a trailing slash.
    pub fn callback_uri(&self) -> &str {
        &self.callback_uri
    }

    /// Whether [`PartitionConfig::url_template`] is set.
    pub fn has_url_template(&self) -> bool {
        !self.url_template_pieces.is_empty()
    }

    /// The webhook URL of partition `id` from the URL template, when a template is configured and `id`
    /// is a valid partition id.
    pub fn location_for_partition(&self, id: &str) -> Option<String> {
        if !self.has_url_template() || validate_partition_id(id).is_err() {
            return None;
        }
        let location = self.url_template_pieces.join(id);
        // The template was checked with this instance's id; checking again guards ids that make a
        // different URL valid or not (a host label, for instance).
        parse_webhook_url(&location, true).ok()?;
        Some(location)
    }

    /// Decides a request that arrived on `{webhook_path}/{segment}`.
    ///
    /// The segment is compared exactly. A segment that is not a valid partition id is misdirected and
    /// never copied into a `Location`.
    pub fn decide_path_segment(&self, segment: &str) -> PartitionDecision {
        if segment == self.id {
            return PartitionDecision::Own;
        }
        match self.location_for_partition(segment) {
            Some(location) => PartitionDecision::Redirect { location },
            None => PartitionDecision::Misdirected,
        }
    }
}

/// Checks a partition id: 1 to [`PARTITION_ID_MAX_CHARS`] characters from `A-Z a-z 0-9 - _`, so that
/// it is safe in a URL path, a host label and a log line.
///
/// # Errors
///
/// The first problem found.
pub fn validate_partition_id(id: &str) -> Result<(), PartitionIdProblem> {
    if id.is_empty() {
        return Err(PartitionIdProblem::Empty);
    }
    if let Some(character) = id.chars().find(|&character| {
        !(character.is_ascii_alphanumeric() || character == '-' || character == '_')
    }) {
        return Err(PartitionIdProblem::ForbiddenCharacter(character));
    }
    if id.len() > PARTITION_ID_MAX_CHARS {
        return Err(PartitionIdProblem::TooLong);
    }
    Ok(())
}

/// Builds the `callbackUri` of partition `id`: `{public_url}{webhook_path}/{id}`.
///
/// The public URL is normalised (lower-case host, default port dropped) and loses a trailing slash;
/// a trailing slash on the webhook path is dropped too. [`parse_callback_uri`] is the inverse.
///
/// # Errors
///
/// A [`PartitionError`] when the id, the public URL or the webhook path is invalid.
pub fn build_callback_uri(
    public_url: &str,
    webhook_path: &str,
    id: &str,
) -> Result<String, PartitionError> {
    validate_partition_id(id).map_err(|problem| PartitionError::InvalidId {
        id: id.to_owned(),
        problem,
    })?;
    let mut uri = callback_prefix(public_url, webhook_path)?;
    uri.push_str(id);
    Ok(uri)
}

/// The partition id in `uri`, when `uri` is exactly a `callbackUri` built by [`build_callback_uri`]
/// from this `public_url` and `webhook_path`; `None` for anything else, including invalid settings.
pub fn parse_callback_uri(uri: &str, public_url: &str, webhook_path: &str) -> Option<String> {
    let prefix = callback_prefix(public_url, webhook_path).ok()?;
    let id = uri.strip_prefix(prefix.as_str())?;
    validate_partition_id(id).ok()?;
    Some(id.to_owned())
}

/// `{normalised public_url}{webhook_path}/`, the part of every `callbackUri` before the id.
fn callback_prefix(public_url: &str, webhook_path: &str) -> Result<String, PartitionError> {
    let url: Url =
        parse_webhook_url(public_url, false).map_err(|problem| PartitionError::PublicUrl {
            url: public_url.to_owned(),
            problem,
        })?;
    let path = normalise_webhook_path(webhook_path).map_err(|problem| {
        PartitionError::InvalidWebhookPath {
            path: webhook_path.to_owned(),
            problem,
        }
    })?;
    let mut prefix = url.as_str().trim_end_matches('/').to_owned();
    prefix.push_str(path);
    prefix.push('/');
    Ok(prefix)
}

/// The webhook path without its trailing slash (so `/` becomes the empty path), after checking that
/// URL normalisation would not change it.
fn normalise_webhook_path(path: &str) -> Result<&str, WebhookPathProblem> {
    let rest = path
        .strip_prefix('/')
        .ok_or(WebhookPathProblem::NoLeadingSlash)?;
    if let Some(character) = path.chars().find(|&character| {
        !(character.is_ascii_alphanumeric() || matches!(character, '-' | '.' | '_' | '~' | '/'))
    }) {
        return Err(WebhookPathProblem::ForbiddenCharacter(character));
    }
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    if !trimmed.is_empty()
        && trimmed
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(WebhookPathProblem::UnnormalisedSegment);
    }
    Ok(path.strip_suffix('/').unwrap_or(path))
}

fn parse_url_template(
    template: &str,
    own_id: &str,
    own_callback_uri: &str,
) -> Result<Vec<String>, UrlTemplateProblem> {
    let pieces: Vec<String> = template
        .split(URL_TEMPLATE_ID_PLACEHOLDER)
        .map(str::to_owned)
        .collect();
    if pieces.len() < 2 {
        return Err(UrlTemplateProblem::NoIdPlaceholder);
    }
    if pieces
        .iter()
        .any(|piece| piece.contains('{') || piece.contains('}'))
    {
        return Err(UrlTemplateProblem::UnknownPlaceholder);
    }
    let own_location =
        parse_webhook_url(&pieces.join(own_id), true).map_err(UrlTemplateProblem::InvalidUrl)?;
    // Both sides are compared in their normalised form, so `BOT.example.com:443` equals
    // `bot.example.com`.
    let agrees = Url::parse(own_callback_uri)
        .is_ok_and(|own_callback| own_callback.as_str() == own_location.as_str());
    if !agrees {
        return Err(UrlTemplateProblem::DisagreesWithCallbackUri {
            callback_uri: own_callback_uri.to_owned(),
        });
    }
    Ok(pieces)
}
