//! Failure rows: saved, loaded only while they matter, expired.

use super::{event, events};
use crate::store::{FailureRow, Store};

fn row(user: &str, count: u32, window_start: i64, locked_until: Option<i64>) -> FailureRow {
    FailureRow {
        user: user.into(),
        count,
        window_start,
        locked_until,
    }
}

pub fn failures_save_load_reset(store: &dyn Store) {
    let bob = row("bob", 2, 10, None);
    store.save_failure(&bob, None).unwrap();
    let locked = row("carol", 3, 10, Some(i64::MAX));
    store
        .save_failure(&locked, Some(&event("user.lockout", "carol")))
        .unwrap();
    assert_eq!(
        store.failures(20, 60, 100).unwrap(),
        vec![bob.clone(), locked]
    );
    store
        .reset_failures("bob", &event("failures.reset", "bob"))
        .unwrap();
    store
        .reset_failures("carol", &event("failures.reset", "carol"))
        .unwrap();
    assert!(store.failures(20, 60, 100).unwrap().is_empty());
    // A row without count or lock is not kept.
    store.save_failure(&bob, None).unwrap();
    store.save_failure(&row("bob", 0, 10, None), None).unwrap();
    assert!(store.failures(20, 60, 100).unwrap().is_empty());
    assert_eq!(
        events(store),
        ["failures.reset", "failures.reset", "user.lockout"]
    );
}

pub fn failures_load_only_live_rows_within_bound(store: &dyn Store) {
    let now = 1000;
    let rows = [
        row("in-window", 1, now - 10, None),
        row("window-over", 4, now - 100, None),
        row("locked", 9, now - 500, Some(now + 60)),
        row("lock-over", 9, now - 20, Some(now - 1)),
        row("until-reset", 9, 0, Some(i64::MAX)),
    ];
    for r in &rows {
        store.save_failure(r, None).unwrap();
    }
    let live: Vec<String> = store
        .failures(now, 60, 100)
        .unwrap()
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(live, ["in-window", "locked", "until-reset"]);
    for i in 0..20 {
        store
            .save_failure(&row(&format!("u{i:02}"), 1, now - i, None), None)
            .unwrap();
    }
    let bounded = store.failures(now, 60, 5).unwrap();
    assert_eq!(bounded.len(), 5);
    // The most recent windows are the ones kept.
    assert!(bounded.iter().all(|r| r.window_start >= now - 10));
}

pub fn failures_expire_and_drop_bound_the_table(store: &dyn Store) {
    let now = 1000;
    for i in 0..50 {
        store
            .save_failure(&row(&format!("random-{i}"), 1, now - 100, None), None)
            .unwrap();
    }
    store
        .save_failure(&row("locked", 9, now - 100, Some(now + 60)), None)
        .unwrap();
    store
        .save_failure(&row("fresh", 1, now - 5, None), None)
        .unwrap();
    assert_eq!(store.expire_failures(now, 60).unwrap(), 50);
    store.drop_failure("fresh").unwrap();
    let left: Vec<String> = store
        .failures(now, 60, 100)
        .unwrap()
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(left, ["locked"]);
    assert_eq!(store.expire_failures(now + 61, 60).unwrap(), 1);
}

/// `update_failure`: a fresh row for a new user, what `f` leaves is stored with its
/// event, an empty row is deleted, and the row lock lets concurrent updates add up.
pub fn failures_update_is_read_modify_write(store: &dyn Store) {
    let seen = store
        .update_failure("dave", 50, &mut |r| {
            assert_eq!((r.row.count, r.in_flight, r.row.window_start), (0, 0, 50));
            r.in_flight = 2;
            r.in_flight_until = 110;
            None
        })
        .unwrap();
    assert_eq!(seen.in_flight, 2);
    store
        .update_failure("dave", 60, &mut |r| {
            assert_eq!((r.in_flight, r.in_flight_until), (2, 110), "stored as left");
            (r.in_flight, r.in_flight_until) = (1, 1000);
            r.row.count = 3;
            r.row.locked_until = Some(700);
            Some(event("user.lockout", "dave"))
        })
        .unwrap();
    assert_eq!(
        store.failures(60, 900, 10).unwrap(),
        vec![row("dave", 3, 50, Some(700))]
    );
    assert_eq!(events(store), ["user.lockout"]);
    // Expiry keeps a row while a check holds a place in it.
    store.expire_failures(800, 900).unwrap();
    let kept = store.update_failure("dave", 800, &mut |_| None).unwrap();
    assert_eq!(kept.row.count, 3, "a place in flight keeps the row");
    store
        .update_failure("dave", 900, &mut |r| {
            *r = crate::store::SharedFailure::fresh("dave", 900);
            None
        })
        .unwrap();
    assert!(
        store.failures(900, 900, 10).unwrap().is_empty(),
        "an empty row goes"
    );
}

/// Concurrent increments of one user's row from several threads all count.
pub fn failures_update_serialises_concurrent_writers(store: &dyn Store) {
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    store
                        .update_failure("erin", 5, &mut |r| {
                            r.row.count += 1;
                            None
                        })
                        .unwrap();
                }
            });
        }
    });
    let rows = store.failures(5, 60, 10).unwrap();
    assert_eq!(rows[0].count, 40, "{rows:?}");
}
