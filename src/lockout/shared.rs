//! The same rules on a row that every host of a fleet shares (SPEC §12, §13): a password
//! attempt takes its place in the store's row, under the store's row lock, before it is
//! checked, so failures plus checks in flight on every host together never pass
//! `lockout-threshold`. The store runs these functions inside its transaction
//! ([`crate::store::Store::update_failure`]); this host's table then takes the result.

use super::Row;
use crate::settings::Settings;
use crate::store::SharedFailure;

/// How long a reserved place stays taken without a report. A host that dies mid-check
/// never gives its place back; after this the place is free again. A password check
/// that takes longer than this (a hung PAM module) is no longer counted in flight.
pub const LEASE_SECONDS: i64 = 60;

fn row_of(shared: &SharedFailure, now: i64) -> Row {
    let live = shared.in_flight_until > now;
    Row {
        failures: shared.row.count,
        in_flight: if live { shared.in_flight } else { 0 },
        window_start: shared.row.window_start,
        locked_until: shared.row.locked_until,
    }
}

fn store_back(row: &Row, shared: &mut SharedFailure) {
    shared.row.count = row.failures;
    shared.row.window_start = row.window_start;
    shared.row.locked_until = row.locked_until;
    shared.in_flight = row.in_flight;
    if row.in_flight == 0 {
        shared.in_flight_until = 0;
    }
}

/// Takes a place for one password check at `now`: false (and nothing taken) when the
/// user is locked or failures and checks in flight on every host reach the threshold.
pub fn reserve(shared: &mut SharedFailure, now: i64, s: &Settings) -> bool {
    let mut row = row_of(shared, now);
    let admitted = row.admit(now, s);
    store_back(&row, shared);
    if admitted {
        shared.in_flight_until = now.saturating_add(LEASE_SECONDS);
    }
    admitted
}

/// A check that held a place failed: counts it; true when it locked the user.
pub fn fail(shared: &mut SharedFailure, now: i64, s: &Settings) -> bool {
    let mut row = row_of(shared, now);
    let locked_now = row.fail(now, s);
    store_back(&row, shared);
    locked_now
}

/// A check that held a place succeeded or could not decide: gives the place back and
/// clears nothing (as [`super::Attempt::succeeded`]).
pub fn release(shared: &mut SharedFailure, now: i64) {
    let mut row = row_of(shared, now);
    row.in_flight = row.in_flight.saturating_sub(1);
    store_back(&row, shared);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(threshold: u32) -> Settings {
        let mut s = Settings::default();
        s.set("lockout-threshold", &threshold.to_string()).unwrap();
        s.set("lockout-window", "15m").unwrap();
        s.set("lockout-duration", "10m").unwrap();
        s
    }

    #[test]
    fn reserve_counts_places_in_flight_towards_the_threshold() {
        let s = settings(3);
        let mut row = SharedFailure::fresh("bob", 100);
        assert!((0..3).all(|_| reserve(&mut row, 100, &s)));
        assert!(!reserve(&mut row, 100, &s), "a fourth check in flight");
        release(&mut row, 100);
        assert!(reserve(&mut row, 100, &s), "a place given back is free");
        assert_eq!(row.row.count, 0, "reserving counts no failure");
    }

    #[test]
    fn failures_of_reserved_checks_lock_at_the_threshold() {
        let s = settings(2);
        let mut row = SharedFailure::fresh("bob", 100);
        assert!(reserve(&mut row, 100, &s) && reserve(&mut row, 100, &s));
        assert!(!fail(&mut row, 101, &s));
        assert!(fail(&mut row, 101, &s), "the second failure locks");
        assert_eq!(row.row.locked_until, Some(701));
        assert_eq!(row.in_flight, 0);
        assert!(!reserve(&mut row, 200, &s), "locked");
        assert!(!row.is_empty(200));
    }

    #[test]
    fn a_place_never_reported_is_free_after_its_lease() {
        let s = settings(1);
        let mut row = SharedFailure::fresh("bob", 100);
        assert!(reserve(&mut row, 100, &s));
        assert!(!reserve(&mut row, 100 + LEASE_SECONDS - 1, &s));
        assert!(
            row.is_empty(100 + LEASE_SECONDS),
            "only an expired place is left"
        );
        assert!(reserve(&mut row, 100 + LEASE_SECONDS, &s));
    }

    #[test]
    fn success_clears_no_failure() {
        let s = settings(3);
        let mut row = SharedFailure::fresh("bob", 0);
        assert!(reserve(&mut row, 0, &s));
        fail(&mut row, 0, &s);
        assert!(reserve(&mut row, 1, &s));
        release(&mut row, 1);
        assert_eq!((row.row.count, row.in_flight), (1, 0));
    }
}
