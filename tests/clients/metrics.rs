//! `/metrics` as Prometheus reads it: `promtool check metrics` on the live text after
//! decisions from every front end.

use crate::common::http::unix_request;
use crate::common::run::{external, run_with_input};
use crate::common::tokens::bearer;
use crate::common::Daemon;
use crate::{require, shown, TOKENS_ONLY};

#[test]
fn metrics_pass_promtool_check_with_via_labels_and_buckets_to_10s() {
    require("promtool", "prometheus");
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let token = daemon.create_token("alice");
    let sock = daemon.http_sock();
    for auth in [bearer(&token), bearer(&token), bearer("atk_nope")] {
        unix_request(&sock, "GET", "/auth", &[("Authorization", &auth)], b"");
    }
    let check = daemon.check_sock();
    assert_eq!(
        external(&check, "192.0.2.9", None, "alice", &token),
        Some(0)
    );
    assert_eq!(
        external(&check, "192.0.2.9", None, "alice", "wrong"),
        Some(1)
    );
    let text = unix_request(&sock, "GET", "/metrics", &[], b"").text();

    let mut promtool = std::process::Command::new("promtool");
    promtool.args(["check", "metrics"]);
    let out = run_with_input(&mut promtool, text.as_bytes());
    assert!(out.status.success(), "promtool: {}\n{text}", shown(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool found problems: {}\n{text}",
        shown(&out)
    );
    for line in [
        "# TYPE apitokend_cache_entries gauge",
        "apitokend_requests_total{via=\"http\",result=\"allow\"} 2",
        "apitokend_requests_total{via=\"http\",result=\"unauthorized\"} 1",
        "apitokend_requests_total{via=\"external\",result=\"allow\"} 1",
        "apitokend_requests_total{via=\"external\",result=\"unauthorized\"} 1",
        "apitokend_decision_seconds_bucket{via=\"pam\",le=\"10\"} 0",
        "apitokend_decision_seconds_bucket{via=\"http\",le=\"+Inf\"} 3",
    ] {
        assert!(text.contains(line), "no {line:?} in /metrics:\n{text}");
    }
}
