//! callhook-protocol: work in progress.
