//! callhook-auth: work in progress.
