//! callhook-model: work in progress.
