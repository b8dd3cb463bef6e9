//! callhook-server: work in progress.
