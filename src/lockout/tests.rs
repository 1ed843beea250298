//! The failure table's rules on a manual clock.

use super::*;
use crate::clock::{Clock, ManualClock};

fn settings(threshold: u32, window: &str, duration: &str) -> Settings {
    let mut s = Settings::default();
    s.set("lockout-threshold", &threshold.to_string()).unwrap();
    s.set("lockout-window", window).unwrap();
    s.set("lockout-duration", duration).unwrap();
    s
}

fn fail(l: &Lockout, user: &str, now: i64, s: &Settings) -> Option<FailureChange> {
    l.begin(user, true, now, s)?.failed(now, s)
}

#[test]
fn begin_counts_attempts_in_flight_towards_the_threshold() {
    let l = Lockout::default();
    let s = settings(3, "15m", "10m");
    let held: Vec<_> = (0..3)
        .map(|_| l.begin("bob", true, 100, &s).unwrap())
        .collect();
    assert!(
        l.begin("bob", true, 100, &s).is_none(),
        "a fourth check in flight"
    );
    assert!(!l.is_locked("bob", 100));
    drop(held);
    // Unreported attempts (the check could not decide) count as nothing.
    assert!(l.begin("bob", true, 100, &s).is_some());
}

#[test]
fn failures_at_threshold_lock_for_duration_on_a_manual_clock() {
    let clock = ManualClock::at(100);
    let l = Lockout::default();
    let s = settings(3, "15m", "10m");
    assert!(!fail(&l, "bob", clock.now(), &s).unwrap().locked_now);
    clock.advance(1);
    assert!(!fail(&l, "bob", clock.now(), &s).unwrap().locked_now);
    clock.advance(1);
    let third = fail(&l, "bob", clock.now(), &s).unwrap();
    assert!(third.locked_now);
    assert_eq!(third.row.locked_until, Some(702));
    assert!(l.begin("bob", true, 701, &s).is_none());
    assert!(l.is_locked("bob", 701));
    assert!(!l.is_locked("bob", 702));
    assert!(l.begin("bob", true, 702, &s).is_some(), "the lock ended");
}

#[test]
fn failures_outside_window_restart_count() {
    let l = Lockout::default();
    let s = settings(2, "1m", "10m");
    fail(&l, "bob", 0, &s);
    assert!(!fail(&l, "bob", 61, &s).unwrap().locked_now);
    assert!(fail(&l, "bob", 62, &s).unwrap().locked_now);
}

#[test]
fn zero_duration_locks_until_reset() {
    let l = Lockout::default();
    let s = settings(1, "1m", "0");
    assert!(fail(&l, "bob", 0, &s).unwrap().locked_now);
    assert!(l.is_locked("bob", i64::MAX - 1));
    l.reset("bob");
    assert!(!l.is_locked("bob", 10));
}

#[test]
fn zero_threshold_disables() {
    let l = Lockout::default();
    let s = settings(0, "1m", "0");
    for _ in 0..100 {
        assert!(fail(&l, "bob", 0, &s).is_none());
    }
    assert!(l.snapshot(0).is_empty());
}

#[test]
fn success_clears_nothing_within_the_window() {
    let l = Lockout::default();
    let s = settings(3, "15m", "10m");
    fail(&l, "bob", 0, &s);
    l.begin("bob", true, 1, &s).unwrap().succeeded();
    fail(&l, "bob", 2, &s);
    l.begin("bob", true, 3, &s).unwrap().succeeded();
    fail(&l, "bob", 4, &s);
    assert!(
        l.begin("bob", true, 5, &s).is_none(),
        "three failures in the window lock, whatever succeeded in between"
    );
    assert!(l.is_locked("bob", 5));
}

#[test]
fn invented_names_filling_the_table_never_lock_out_an_account() {
    let l = Lockout::default();
    let s = settings(10, "15m", "10m");
    for i in 0..MAX_USERS {
        assert!(fail(&l, &format!("x{i}"), 0, &s).is_some());
    }
    assert!(
        l.begin("x-new", false, 1, &s).is_none(),
        "full: no new name"
    );
    let alice = l.begin("alice", true, 1, &s);
    assert!(alice.is_some(), "an account is still checked");
    assert!(alice.and_then(|a| a.failed(1, &s)).is_some(), "and counted");
}

#[test]
fn sweep_drops_unlocked_rows_when_their_window_ends() {
    let l = Lockout::default();
    let s = settings(2, "1m", "10m");
    fail(&l, "alice", 0, &s);
    fail(&l, "bob", 0, &s);
    fail(&l, "bob", 0, &s);
    l.sweep(30, &s);
    assert_eq!(l.snapshot(30).len(), 2);
    l.sweep(60, &s);
    let left = l.snapshot(60);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].user, "bob");
    l.sweep(600, &s);
    assert!(l.snapshot(600).is_empty(), "the lock ended");
}
