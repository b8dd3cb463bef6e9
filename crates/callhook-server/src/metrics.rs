//! `/metrics`: Prometheus text format, through `prometheus-client`.
//!
//! Request outcomes, verification failures by reason, sink deliveries and latencies are counted as
//! they happen; the key source's own counters are read at scrape time, so there is one source of
//! truth for them (the authenticator).

use std::sync::{Arc, OnceLock};

use callhook_auth::Authenticator;

use crate::dedup::DedupStore;
use crate::shared_dedup::SharedDedup;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `callhook_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Labels of `callhook_auth_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Labels of `callhook_sink_deliveries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    sink: &'static str,
    result: &'static str,
}

/// Labels of `callhook_key_refreshes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// The server's metrics, shared by every worker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<OutcomeLabels, Counter>,
    auth_failures: Family<ReasonLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    request_seconds: Histogram,
    delivery_seconds: Histogram,
    deliveries_in_flight: Gauge,
    shed: Family<SinkLabels, Counter>,
    hot: HotSeries,
}

/// The series nearly every request records, each held here once its first event created it in
/// its family: recording one then costs an atomic add instead of the family's lock and a hash of
/// its labels. A series still appears only once it was recorded, as the others do.
#[derive(Debug, Default)]
struct HotSeries {
    accepted: OnceLock<Counter>,
    delivered_to_log: OnceLock<Counter>,
    delivered_forward: OnceLock<Counter>,
}

/// Labels of `callhook_sink_shed_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    sink: &'static str,
}

/// Counts a delivery as in flight until dropped.
#[derive(Debug)]
pub struct InFlightDelivery(Gauge);

impl Drop for InFlightDelivery {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// Registers every metric; `authenticator` provides the key-source counters, and `dedup` and
    /// `shared` (when `[dedup] store = "redis"`) the de-duplication stores' figures at scrape time.
    pub fn new(
        authenticator: Arc<Authenticator>,
        dedup: Arc<DedupStore>,
        shared: Option<Arc<SharedDedup>>,
    ) -> Self {
        let mut registry = Registry::with_prefix("callhook");
        let requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "requests",
            "Webhook requests by outcome (accepted, redelivered, duplicate, redirected, \
             rejected_auth, keys_unavailable, bad_request, body_timeout, misdirected, too_large, \
             sink_failed, sink_busy, dedup_unavailable)",
            requests.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Token verification failures by reason",
            auth_failures.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "sink_deliveries",
            "Deliveries to the sink by result",
            deliveries.clone(),
        );
        let request_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "request_duration_seconds",
            "Time from the request's start to its answer, for webhook requests",
            request_seconds.clone(),
        );
        let delivery_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 18));
        registry.register(
            "sink_delivery_duration_seconds",
            "Time the sink took to take one notification",
            delivery_seconds.clone(),
        );
        let deliveries_in_flight = Gauge::default();
        registry.register(
            "sink_in_flight",
            "Deliveries to the sink in flight now",
            deliveries_in_flight.clone(),
        );
        let shed = Family::<SinkLabels, Counter>::default();
        registry.register(
            "sink_shed",
            "Deliveries refused with 503 because every in-flight place of the sink stayed taken \
             for the bounded wait (sink.max_in_flight, sink.max_wait_ms)",
            shed.clone(),
        );
        registry.register_collector(Box::new(KeySourceCollector { authenticator }));
        registry.register_collector(Box::new(ProcessCollector { dedup, shared }));
        Self {
            deliveries_in_flight,
            shed,
            registry,
            requests,
            auth_failures,
            deliveries,
            request_seconds,
            delivery_seconds,
            hot: HotSeries::default(),
        }
    }

    /// Counts one answered webhook request.
    pub fn record_request(&self, outcome: &'static str, seconds: f64) {
        let labels = OutcomeLabels { outcome };
        match outcome {
            "accepted" => self
                .hot
                .accepted
                .get_or_init(|| self.requests.get_or_create(&labels).clone())
                .inc(),
            _ => self.requests.get_or_create(&labels).inc(),
        };
        self.request_seconds.observe(seconds);
    }

    /// Counts one failed token verification.
    pub fn record_auth_failure(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Counts one delivery attempt to the sink.
    pub fn record_delivery(&self, sink: &'static str, result: &'static str, seconds: f64) {
        let labels = DeliveryLabels { sink, result };
        let hot = match (sink, result) {
            ("log", "delivered") => Some(&self.hot.delivered_to_log),
            ("forward", "delivered") => Some(&self.hot.delivered_forward),
            _ => None,
        };
        match hot {
            Some(series) => series
                .get_or_init(|| self.deliveries.get_or_create(&labels).clone())
                .inc(),
            None => self.deliveries.get_or_create(&labels).inc(),
        };
        self.delivery_seconds.observe(seconds);
    }

    /// Counts one delivery refused because the sink was saturated.
    pub fn record_shed(&self, sink: &'static str) {
        self.shed.get_or_create(&SinkLabels { sink }).inc();
    }

    /// Counts a delivery in flight until the returned guard is dropped.
    pub fn delivery_started(&self) -> InFlightDelivery {
        self.deliveries_in_flight.inc();
        InFlightDelivery(self.deliveries_in_flight.clone())
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Reads the key source's counters at scrape time.
#[derive(Debug)]
struct KeySourceCollector {
    authenticator: Arc<Authenticator>,
}

impl Collector for KeySourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let status = self.authenticator.key_status();
        let mut metric = encoder.encode_descriptor(
            "key_refreshes",
            "Fetches of the OpenID configuration and key set, by result",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (result, value) in [
            ("success", status.refresh_succeeded),
            ("failure", status.refresh_failed),
        ] {
            ConstCounter::new(value).encode(metric.encode_family(&ResultLabels { result })?)?;
        }
        let keys = ConstGauge::new(i64::try_from(status.key_count).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "signing_keys",
            "Usable signing keys currently loaded",
            None,
            keys.metric_type(),
        )?;
        keys.encode(metric)?;
        let ready = ConstGauge::new(i64::from(status.ready));
        let metric = encoder.encode_descriptor(
            "keys_ready",
            "1 once signing keys were loaded at least once, else 0",
            None,
            ready.metric_type(),
        )?;
        ready.encode(metric)?;
        Ok(())
    }
}

/// Reads the de-duplication store and the log writer at scrape time.
#[derive(Debug)]
struct ProcessCollector {
    dedup: Arc<DedupStore>,
    shared: Option<Arc<SharedDedup>>,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let to_i64 = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        for (name, help, value) in [
            (
                "dedup_remembered_ids",
                "Delivered message ids remembered now for de-duplication",
                to_i64(self.dedup.remembered()),
            ),
            (
                "dedup_in_flight_ids",
                "Message ids whose delivery is in flight now",
                to_i64(self.dedup.in_flight()),
            ),
            (
                "dedup_bytes",
                "Approximate heap bytes of the de-duplication store",
                to_i64(self.dedup.approximate_bytes()),
            ),
        ] {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        for (name, help, value) in [
            (
                "dedup_forgotten_early",
                "Message ids forgotten before their window ended because the store was full \
                 (server.dedup_capacity)",
                self.dedup.forgotten_early(),
            ),
            (
                "log_lines_dropped",
                "Log lines dropped because the log buffer was full or stderr could not be written",
                crate::logging::dropped_lines(),
            ),
        ] {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        if let Some(shared) = &self.shared {
            let reachable = ConstGauge::new(i64::from(shared.is_reachable()));
            let metric = encoder.encode_descriptor(
                "dedup_store_reachable",
                "1 while the shared de-duplication store (Redis) answers, else 0",
                None,
                reachable.metric_type(),
            )?;
            reachable.encode(metric)?;
            for (name, help, value) in [
                (
                    "dedup_store_errors",
                    "Commands to the shared de-duplication store that failed or timed out",
                    shared.errors(),
                ),
                (
                    "dedup_delivered_without_check",
                    "Notifications delivered without the shared check because the store was \
                     unreachable (dedup.on_store_error = \"deliver\")",
                    shared.delivered_without_check(),
                ),
            ] {
                let counter = ConstCounter::new(value);
                let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
                counter.encode(metric)?;
            }
        }
        Ok(())
    }
}
