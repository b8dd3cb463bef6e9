//! callhook-routing: work in progress.
