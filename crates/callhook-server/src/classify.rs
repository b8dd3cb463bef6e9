//! `callhook classify [FILE|-]`: what callhook makes of one captured notification body.

use std::io::Read;
use std::path::Path;

use callhook_protocol::{LegacyPolicy, Negotiation, negotiate};

/// Why a body could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The file or standard input could not be read.
    #[error("cannot read {source_name}: {error}")]
    Read {
        /// The file name, or "standard input".
        source_name: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The body is neither a Graph nor a legacy notification.
    #[error("{source_name}: {reason}")]
    Invalid {
        /// The file name, or "standard input".
        source_name: String,
        /// Why, in words a person can act on.
        reason: String,
    },
}

/// Reads `source` (a path, or `-` for standard input) and returns the classification as one line
/// of JSON.
pub fn classify_source(source: &str) -> Result<String, ClassifyError> {
    let (source_name, body) = if source == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|error| ClassifyError::Read {
                source_name: "standard input".to_owned(),
                error,
            })?;
        ("standard input".to_owned(), body)
    } else {
        let body = std::fs::read(Path::new(source)).map_err(|error| ClassifyError::Read {
            source_name: source.to_owned(),
            error,
        })?;
        (source.to_owned(), body)
    };
    classify_bytes(&body).map_err(|reason| ClassifyError::Invalid {
        source_name,
        reason,
    })
}

/// Classifies one body: one line of JSON, or the reason it is neither format.
pub fn classify_bytes(body: &[u8]) -> Result<String, String> {
    let negotiation = negotiate(body, LegacyPolicy::Accept);
    if let Negotiation::Invalid(reason) = &negotiation {
        return Err(reason.to_string());
    }
    let summary = negotiation
        .summary()
        .ok_or_else(|| "the body is neither a Graph nor a legacy notification".to_owned())?;
    serde_json::to_string(&summary).map_err(|error| error.to_string())
}
