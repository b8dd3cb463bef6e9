//! Names of the HTTP headers the calling platform sends and expects, shared by the server and by
//! bots that build their own webhook. HTTP header names compare case-insensitively.

/// The delivery id, unique per delivery and reused on retries (de-duplicate on it).
pub const MESSAGE_ID: &str = "X-Microsoft-Skype-Message-ID";

/// The delivery id of the original message, on re-sent notifications.
pub const ORIGINAL_MESSAGE_ID: &str = "X-Microsoft-Skype-Original-Message-ID";

/// The call chain id.
pub const CHAIN_ID: &str = "X-Microsoft-Skype-Chain-ID";

/// The caller's region (for example `amer`, `emea`, `apac`), on incoming calls.
pub const CALLER_REGION: &str = "X-Microsoft-Skype-Caller-Region";

/// The scenario id, sent by the platform and echoed back by the official SDK.
pub const SCENARIO_ID: &str = "Scenario-Id";

/// The response header that echoes the request's [`MESSAGE_ID`].
pub const CLIENT_REQUEST_ID: &str = "Client-Request-Id";

/// The Teams ring the platform runs the call on.
pub const MS_TEAMS_RING: &str = "MS-Teams-Ring";

/// The Teams partition the platform runs the call on.
pub const MS_TEAMS_PARTITION: &str = "MS-Teams-Partition";

/// The Teams region the platform runs the call on.
pub const MS_TEAMS_REGION: &str = "MS-Teams-Region";

/// The platform's user agent, `Microsoft-Skype/3.0,(Calling/1.0)`, for logs; never trust it.
pub const USER_AGENT_OF_THE_PLATFORM: &str = "Microsoft-Skype/3.0,(Calling/1.0)";
