//! The `max-validity` matrix of SPEC section 5: which `--expires` values each bound accepts,
//! and the validity a token gets without `--expires`.

use crate::common::{stderr, Daemon};
use crate::{assert_code, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// A date `days` from today, as `--expires` takes it.
fn date_in(days: i64) -> String {
    let date = (OffsetDateTime::now_utc() + Duration::days(days)).date();
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap()
}

/// `--expires` values and whether they are accepted, per `max-validity`.
fn matrix() -> Vec<(&'static str, Vec<(String, bool)>)> {
    let near = date_in(20);
    let far = date_in(3 * 366);
    let row = |cases: &[(&str, bool)]| {
        let mut v: Vec<(String, bool)> = cases.iter().map(|(e, ok)| (e.to_string(), *ok)).collect();
        v.push((near.clone(), true));
        v
    };
    vec![
        ("never", {
            let mut r = row(&[
                ("never", true),
                ("6m", true),
                ("1y", true),
                ("2y", true),
                ("800d", true),
            ]);
            r.push((far.clone(), true));
            r
        }),
        ("6m", {
            let mut r = row(&[
                ("never", false),
                ("6m", true),
                ("1y", false),
                ("2y", false),
                ("30d", true),
                ("150d", true),
                ("200d", false),
            ]);
            r.push((far.clone(), false));
            r
        }),
        ("1y", {
            let mut r = row(&[
                ("never", false),
                ("6m", true),
                ("1y", true),
                ("2y", false),
                ("300d", true),
                ("400d", false),
            ]);
            r.push((far.clone(), false));
            r
        }),
        ("2y", {
            let mut r = row(&[
                ("never", false),
                ("6m", true),
                ("1y", true),
                ("2y", true),
                ("700d", true),
                ("800d", false),
            ]);
            r.push((far.clone(), false));
            r
        }),
    ]
}

fn token_count(d: &Daemon) -> usize {
    json(&d.cli(&["list", "--all", "--json"]))
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn create_expires_matrix_follows_max_validity() {
    let d = Daemon::start();
    for (max, cases) in matrix() {
        assert_code(&d.cli(&["settings", "set", "max-validity", max]), 0);
        for (expires, ok) in cases {
            let before = token_count(&d);
            let out = d.cli(&["create", "--expires", &expires, "--name", "matrix"]);
            let context = format!("max-validity={max} --expires {expires}: {}", stderr(&out));
            if ok {
                assert_eq!(crate::code(&out), 0, "{context}");
                assert_eq!(token_count(&d), before + 1, "{context}");
            } else {
                assert_eq!(crate::code(&out), 1, "{context}");
                assert!(
                    stderr(&out).contains(max),
                    "the refusal must name the limit: {context}"
                );
                assert!(out.stdout.is_empty(), "{context}");
                assert_eq!(token_count(&d), before, "{context}");
            }
        }
    }
}

/// Days from now the default validity must land in, per `max-validity` (None: never).
const DEFAULTS: [(&str, Option<(i64, i64)>); 4] = [
    ("never", None),
    ("6m", Some((180, 185))),
    ("1y", Some((364, 367))),
    ("2y", Some((729, 732))),
];

#[test]
fn create_without_expires_gets_longest_allowed_validity() {
    let d = Daemon::start();
    for (max, window) in DEFAULTS {
        assert_code(&d.cli(&["settings", "set", "max-validity", max]), 0);
        let (_, v) = d.create_json(&["--name", "default"]);
        match window {
            None => assert!(v["expires"].is_null(), "max-validity={max}: {v}"),
            Some((lo, hi)) => {
                let at = OffsetDateTime::parse(v["expires"].as_str().unwrap(), &Rfc3339).unwrap();
                let days = (at - OffsetDateTime::now_utc()).whole_hours() as f64 / 24.0;
                assert!(
                    (lo as f64) <= days.ceil() && days.ceil() <= hi as f64,
                    "max-validity={max}: expires in {days} days: {v}"
                );
            }
        }
    }
}

#[test]
fn create_expires_days_and_date_set_expiry() {
    let d = Daemon::start();
    let (_, v) = d.create_json(&["--expires", "10d"]);
    let at = OffsetDateTime::parse(v["expires"].as_str().unwrap(), &Rfc3339).unwrap();
    let hours = (at - OffsetDateTime::now_utc()).whole_hours();
    assert!(
        (9 * 24..=11 * 24).contains(&hours),
        "10d expires in {hours} h: {v}"
    );
    // A date means "through that day": expiry at its start, its end or the next midnight.
    let (date, next) = (date_in(40), date_in(41));
    let (_, v) = d.create_json(&["--expires", &date]);
    let expires = v["expires"].as_str().unwrap();
    let within = expires.starts_with(&date) || expires == format!("{next}T00:00:00Z");
    assert!(within, "--expires {date}: {v}");
}

#[test]
fn create_malformed_expires_is_error() {
    let d = Daemon::start();
    for bad in ["5x", "0d", "2021-13-40", "2020-01-01", "yesterday"] {
        let out = d.cli(&["create", "--expires", bad]);
        assert_code(&out, 1);
        assert!(
            stderr(&out).contains("--help") || stderr(&out).contains(bad),
            "{bad}: {}",
            stderr(&out)
        );
    }
    assert_eq!(token_count(&d), 0);
}

#[test]
fn settings_set_bad_value_is_error_and_changes_nothing() {
    let d = Daemon::start();
    for (key, value) in [
        ("max-validity", "5y"),
        ("password-auth", "maybe"),
        ("no-such-key", "1"),
        ("lockout-threshold", "many"),
    ] {
        assert_code(&d.cli(&["settings", "set", key, value]), 1);
    }
    let v = json(&d.cli(&["settings", "--json"]));
    assert_eq!(v["max-validity"], "never");
    assert_eq!(v["password-auth"], "on");
}

#[test]
fn expires_near_misses_say_what_is_wrong_and_create_nothing() {
    let d = Daemon::start();
    let cases = [
        ("3m", "months come as 6m only"),
        ("2027-02-30", "no such day (February 2027 has 28 days)"),
    ];
    for (expires, said) in cases {
        let out = d.cli(&["create", "--user", "alice", "--expires", expires]);
        assert_code(&out, 1);
        let text = stderr(&out);
        assert!(text.contains(said), "--expires {expires}: {text}");
        assert_eq!(text.lines().count(), 2, "--expires {expires}: {text}");
    }
    assert_eq!(
        json(&d.cli(&["list", "--all", "--json"])),
        serde_json::json!([])
    );
}
