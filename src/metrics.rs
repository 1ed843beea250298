//! Counters for `/metrics` (Prometheus text format), all lock-free atomics.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds: from a cached token
/// (tens of microseconds) to a PAM password check (seconds, with pam_faildelay).
const BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 2.5, 5.0, 10.0,
];

/// Decision outcomes counted separately.
pub const RESULTS: [&str; 5] = ["allow", "unauthorized", "forbidden", "ignore", "error"];

/// Front ends, the `via` label (as in `auth.*` events; `cli` is `apitoken verify`, `web`
/// the REST API and its login form).
pub const VIAS: [&str; 5] = ["http", "pam", "external", "cli", "web"];

/// One front end's decisions: counts by result and the latency histogram.
#[derive(Default)]
struct PerVia {
    results: [AtomicU64; RESULTS.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    vias: [PerVia; VIAS.len()],
    pub argon2_verifications: AtomicU64,
    pub argon2_skipped: AtomicU64,
    pub password_checks: AtomicU64,
}

/// A metric computed by the caller when rendering: name, help, value.
pub type Sample<'a> = (&'a str, &'a str, u64);

impl Metrics {
    /// Counts one decision of front end `via` (one of [`VIAS`]) with its result index
    /// (into [`RESULTS`]) and latency.
    pub fn observe(&self, via: &str, result: usize, elapsed: Duration) {
        let Some(v) = VIAS.iter().position(|&n| n == via) else {
            return;
        };
        let per = &self.vias[v];
        if let Some(c) = per.results.get(result) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            per.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        per.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        per.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text, with the caller's counters and gauges appended.
    pub fn render(&self, counters: &[Sample<'_>], gauges: &[Sample<'_>]) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut all = vec![
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
        all.extend_from_slice(counters);
        let typed = all
            .iter()
            .map(|s| (s, "counter"))
            .chain(gauges.iter().map(|s| (s, "gauge")));
        for ((name, help, value), kind) in typed {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }

    fn render_requests(&self, out: &mut String) {
        out.push_str(
            "# HELP apitokend_requests_total Authentication decisions by front end and result.\n\
             # TYPE apitokend_requests_total counter\n",
        );
        for (via, per) in VIAS.iter().zip(&self.vias) {
            for (result, c) in RESULTS.iter().zip(&per.results) {
                let _ = writeln!(
                    out,
                    "apitokend_requests_total{{via=\"{via}\",result=\"{result}\"}} {}",
                    c.load(Ordering::Relaxed)
                );
            }
        }
    }

    fn render_latency(&self, out: &mut String) {
        out.push_str(
            "# HELP apitokend_decision_seconds Time to decide, by front end.\n\
             # TYPE apitokend_decision_seconds histogram\n",
        );
        for (via, per) in VIAS.iter().zip(&self.vias) {
            let mut cumulative = 0;
            for (bound, c) in BUCKETS.iter().zip(&per.buckets) {
                cumulative += c.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "apitokend_decision_seconds_bucket{{via=\"{via}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            // Read once so +Inf and _count agree even while requests are counted.
            let count = per.count.load(Ordering::Relaxed).max(cumulative);
            let sum = per.micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "apitokend_decision_seconds_bucket{{via=\"{via}\",le=\"+Inf\"}} {count}\n\
                 apitokend_decision_seconds_sum{{via=\"{via}\"}} {sum}\n\
                 apitokend_decision_seconds_count{{via=\"{via}\"}} {count}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_results_and_buckets_per_via() {
        let m = Metrics::default();
        m.observe("http", 0, Duration::from_micros(50));
        m.observe("http", 1, Duration::from_millis(3));
        m.observe("pam", 0, Duration::from_secs(7));
        m.observe("web", 2, Duration::from_millis(1));
        m.observe("nonsense", 0, Duration::from_secs(1));
        let text = m.render(
            &[("apitokend_cache_hits_total", "Cache hits.", 7)],
            &[("apitokend_cache_entries", "Tokens cached.", 3)],
        );
        for line in [
            "apitokend_requests_total{via=\"http\",result=\"allow\"} 1",
            "apitokend_requests_total{via=\"http\",result=\"unauthorized\"} 1",
            "apitokend_requests_total{via=\"pam\",result=\"allow\"} 1",
            "apitokend_requests_total{via=\"external\",result=\"allow\"} 0",
            "apitokend_requests_total{via=\"web\",result=\"forbidden\"} 1",
            "apitokend_decision_seconds_bucket{via=\"http\",le=\"0.0001\"} 1",
            "apitokend_decision_seconds_count{via=\"http\"} 2",
            "apitokend_decision_seconds_bucket{via=\"pam\",le=\"5\"} 0",
            "apitokend_decision_seconds_bucket{via=\"pam\",le=\"10\"} 1",
            "apitokend_decision_seconds_bucket{via=\"pam\",le=\"+Inf\"} 1",
            "# TYPE apitokend_cache_hits_total counter\napitokend_cache_hits_total 7",
            "# TYPE apitokend_cache_entries gauge\napitokend_cache_entries 3",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
    }
}
