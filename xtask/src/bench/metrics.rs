//! Reading callhook's `/metrics` (Prometheus text format), which is how the bench learns what the
//! server counted: the requests it accepted (to end the platform run), the ids it remembers, the log
//! lines it dropped and the deliveries of the forward sink.

/// `callhook_requests_total`, by `outcome`.
pub(crate) const REQUESTS: &str = "callhook_requests_total";

/// The gauge of message ids the de-duplication remembers.
pub(crate) const REMEMBERED_IDS: &str = "callhook_dedup_remembered_ids";

/// Log lines callhook dropped (its log buffer was full or stderr could not be written).
pub(crate) const LOG_LINES_DROPPED: &str = "callhook_log_lines_dropped_total";

/// `callhook_sink_deliveries_total`, by `sink` and `result`.
pub(crate) const DELIVERIES: &str = "callhook_sink_deliveries_total";

/// The sum of every sample of `name` whose labels include all of `labels`, or `None` when the
/// text has no such sample (a metric the server does not export is not zero).
pub(crate) fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
    let mut total: Option<f64> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // The name must end here: `callhook_requests_total_x` is another metric.
        let (label_text, value) = if let Some(labelled) = rest.strip_prefix('{') {
            let Some((inside, after)) = labelled.split_once('}') else {
                continue;
            };
            (inside, after)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue;
        };
        let matches = labels
            .iter()
            .all(|(key, wanted)| label_text.contains(&format!("{key}=\"{wanted}\"")));
        if !matches {
            continue;
        }
        let Some(value) = value
            .split_whitespace()
            .next()
            .and_then(|value| value.parse::<f64>().ok())
        else {
            continue;
        };
        *total.get_or_insert(0.0) += value;
    }
    total
        .filter(|total| total.is_finite() && *total >= 0.0)
        .map(|total| {
            // A count read from the server: non-negative and far below 2^52.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a non-negative count, checked above"
            )]
            let count = total.round() as u64;
            count
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP callhook_requests Webhook requests by outcome.\n\
        # TYPE callhook_requests counter\n\
        callhook_requests_total{outcome=\"accepted\"} 1100042\n\
        callhook_requests_total{outcome=\"rejected_auth\"} 2\n\
        callhook_requests_total_other{outcome=\"accepted\"} 5\n\
        callhook_sink_deliveries_total{sink=\"forward\",result=\"delivered\"} 800000\n\
        callhook_dedup_remembered_ids 1000000\n\
        # EOF\n";

    #[test]
    fn reads_a_sample_by_name_and_labels() {
        assert_eq!(
            sum(TEXT, REQUESTS, &[("outcome", "accepted")]),
            Some(1_100_042)
        );
        assert_eq!(sum(TEXT, REQUESTS, &[]), Some(1_100_044));
        assert_eq!(
            sum(
                TEXT,
                DELIVERIES,
                &[("sink", "forward"), ("result", "delivered")]
            ),
            Some(800_000)
        );
        assert_eq!(sum(TEXT, REMEMBERED_IDS, &[]), Some(1_000_000));
    }

    #[test]
    fn a_metric_the_server_does_not_export_is_absent_not_zero() {
        assert_eq!(sum(TEXT, REQUESTS, &[("outcome", "duplicate")]), None);
        assert_eq!(
            sum("callhook_requests_total 3\n", REMEMBERED_IDS, &[]),
            None
        );
        assert_eq!(sum("", REMEMBERED_IDS, &[]), None);
        assert_eq!(
            sum("callhook_dedup_remembered_ids NaN\n", REMEMBERED_IDS, &[]),
            None
        );
    }
}
