//! Counters for `/metrics` (Prometheus text format), all lock-free atomics.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

/// Decision outcomes counted separately.
pub const RESULTS: [&str; 5] = ["allow", "unauthorized", "forbidden", "ignore", "error"];

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    results: [AtomicU64; 5],
    buckets: [AtomicU64; 10],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
    pub argon2_verifications: AtomicU64,
    pub argon2_skipped: AtomicU64,
    pub password_checks: AtomicU64,
}

impl Metrics {
    /// Counts one decision with its result index (into [`RESULTS`]) and latency.
    pub fn observe(&self, result: usize, elapsed: Duration) {
        if let Some(c) = self.results.get(result) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text, with extra gauges/counters appended by the caller.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str("# HELP apitokend_requests_total Authentication decisions by result.\n# TYPE apitokend_requests_total counter\n");
        for (name, c) in RESULTS.iter().zip(&self.results) {
            let _ = writeln!(
                out,
                "apitokend_requests_total{{result=\"{name}\"}} {}",
                get(c)
            );
        }
        out.push_str("# HELP apitokend_decision_seconds Time to decide.\n# TYPE apitokend_decision_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += get(c);
            let _ = writeln!(
                out,
                "apitokend_decision_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "apitokend_decision_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "apitokend_decision_seconds_sum {}",
            get(&self.latency_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "apitokend_decision_seconds_count {count}");
        let mut counters = vec![
            (
                "apitokend_argon2_verifications_total",
                "argon2 verifications run.",
                get(&self.argon2_verifications),
            ),
            (
                "apitokend_argon2_skipped_total",
                "Verifications refused unhashed by flood limits.",
                get(&self.argon2_skipped),
            ),
            (
                "apitokend_password_checks_total",
                "Password backend checks run.",
                get(&self.password_checks),
            ),
        ];
        counters.extend_from_slice(extra);
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_results_and_buckets() {
        let m = Metrics::default();
        m.observe(0, Duration::from_micros(50));
        m.observe(1, Duration::from_millis(3));
        let text = m.render(&[("apitokend_cache_hits_total", "Cache hits.", 7)]);
        assert!(text.contains("apitokend_requests_total{result=\"allow\"} 1"));
        assert!(text.contains("apitokend_requests_total{result=\"unauthorized\"} 1"));
        assert!(text.contains("apitokend_decision_seconds_bucket{le=\"0.0001\"} 1"));
        assert!(text.contains("apitokend_decision_seconds_count 2"));
        assert!(text.contains("apitokend_cache_hits_total 7"));
    }
}
