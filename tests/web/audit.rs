//! The audit trail pages by the store's `seq` cursor: every event once, newest first,
//! and a cursor that is not one is refused (an offset such as the old `o100000` included,
//! which read every row up to it).

use std::collections::HashSet;

use crate::harness::{assert_error, json, WebDaemon};

#[test]
fn web_audit_pages_by_seq_cursor_each_event_once() {
    let w = WebDaemon::start(&[], "");
    let t = w.manage_token("root");
    for i in 0..7 {
        let name = format!("audit-{i}");
        let out = w.daemon.cli(&["create", "--user", "root", "--name", &name]);
        assert!(out.status.success());
    }
    let all = json(&w.bearer("GET", "/api/v1/audit?limit=1000", &t, None));
    let before: HashSet<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(before.len() >= 8, "{all}");
    assert!(all["next"].is_null(), "{all}");
    let mut seen = HashSet::new();
    let mut last_seq = i64::MAX;
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/audit?limit=3&after={a}"),
            None => "/api/v1/audit?limit=3".to_string(),
        };
        let page = json(&w.bearer("GET", &path, &t, None));
        pages += 1;
        for e in page["events"].as_array().unwrap() {
            let seq = e["seq"].as_i64().expect("every event has its seq");
            assert!(seq < last_seq, "newest first, no repeats: {page}");
            last_seq = seq;
            assert!(seen.insert(seq));
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
        assert!(pages < 100, "paging does not end");
    }
    // Requests may add events of their own while paging; those are newer than the rest.
    assert!(before.is_subset(&seen), "every event once");
    let newest = before.iter().max().unwrap();
    assert!(seen.difference(&before).all(|s| s > newest));
    assert!(pages >= before.len().div_ceil(3));
    for bad in ["o100000", "-1", "0", "x", "9223372036854775808"] {
        let r = w.bearer("GET", &format!("/api/v1/audit?after={bad}"), &t, None);
        assert_error(&r, 400, "malformed");
    }
}
