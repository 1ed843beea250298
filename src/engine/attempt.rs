//! Counting a password attempt before it is checked (SPEC §13 "Lockout counts every
//! attempt"). On one host the attempt takes its place in this host's table (`lockout`,
//! memory only). When hosts share the store (a fleet, SPEC §12) it also reserves its
//! place in the store's row of the user, under the store's row lock, and waits for the
//! answer: failures plus checks in flight on every host never pass the threshold. Its
//! result then goes to the store in the same way, and this host's table takes over the
//! row as the store left it; the other hosts learn of it through the change log.

use std::sync::Arc;

use super::account::LockNews;
use super::Engine;
use crate::audit::Event;
use crate::lockout::{shared, Attempt, FailureChange};
use crate::settings::Settings;
use crate::store::SharedFailure;

/// A password attempt that holds its place; report it with [`Engine::attempt_failed`] or
/// [`Engine::attempt_done`].
pub(super) struct Counted<'a> {
    local: Attempt<'a>,
    /// The user whose row in the shared store holds a place (a fleet), if any.
    shared: Option<String>,
}

/// Whether an attempt may be checked.
pub(super) enum Begun<'a> {
    Check(Counted<'a>),
    /// Locked, or the threshold is reached with checks in flight: refused unchecked.
    Locked,
    /// The shared store did not answer: the attempt cannot be counted, so not checked.
    Unavailable,
}

/// What a result does to the user's row in the shared store.
#[derive(Clone, Copy)]
enum Step {
    Reserve,
    Fail,
    Release,
}

fn update(step: Step, row: &mut SharedFailure, now: i64, s: &Settings) -> (bool, Option<Event>) {
    match step {
        Step::Reserve => (shared::reserve(row, now, s), None),
        Step::Release => {
            shared::release(row, now);
            (false, None)
        }
        Step::Fail => {
            let locked_now = shared::fail(row, now, s);
            let event = locked_now.then(|| {
                Event::new("user.lockout", now)
                    .with("user", row.row.user.as_str())
                    .with("failures", row.row.count.to_string())
            });
            (locked_now, event)
        }
    }
}

impl Engine {
    /// Lets one password attempt for `user` be checked, or says why not.
    pub(super) async fn begin_attempt(
        &self,
        user: &str,
        account: bool,
        now: i64,
        s: &Arc<Settings>,
    ) -> Begun<'_> {
        let Some(local) = self.lockout.begin(user, account, now, s) else {
            return Begun::Locked;
        };
        if !self.store.shared() || s.lockout_threshold == 0 {
            return Begun::Check(Counted {
                local,
                shared: None,
            });
        }
        match self.shared_step(user, Step::Reserve, now, s).await {
            Some((_, true)) => Begun::Check(Counted {
                local,
                shared: Some(user.to_string()),
            }),
            Some((_, false)) => Begun::Locked,
            None => Begun::Unavailable,
        }
    }

    /// The attempt was checked and wrong: counts it (in a fleet, in the store first).
    pub(super) async fn attempt_failed(
        &self,
        counted: Counted<'_>,
        now: i64,
        s: &Arc<Settings>,
    ) -> LockNews {
        let Some(user) = counted.shared else {
            return LockNews::from_failure(counted.local.failed(now, s));
        };
        // The shared row counts it; this host's place is given back, the row taken over.
        drop(counted.local);
        match self.shared_step(&user, Step::Fail, now, s).await {
            Some((row, locked_now)) => LockNews::Shared(FailureChange { row, locked_now }),
            // The place stays taken in the store until its lease ends: never under-counted.
            None => LockNews::None,
        }
    }

    /// The attempt was checked and right, or could not be decided: gives its place back
    /// and clears nothing. In a fleet the store is told off the request path.
    pub(super) fn attempt_done(&self, counted: Counted<'_>, now: i64, s: &Arc<Settings>) {
        drop(counted.local);
        if let Some(user) = counted.shared {
            let (store, s) = (self.store.clone(), s.clone());
            tokio::task::spawn_blocking(move || {
                let mut f = |row: &mut SharedFailure| update(Step::Release, row, now, &s).1;
                if let Err(e) = store.update_failure(&user, now, &mut f) {
                    eprintln!("apitokend: cannot give back a password check of {user}: {e}");
                }
            });
        }
    }

    /// Runs one step on `user`'s row in the shared store and takes the row over in this
    /// host's table: the row and the step's answer, or `None` when the store failed.
    async fn shared_step(
        &self,
        user: &str,
        step: Step,
        now: i64,
        s: &Arc<Settings>,
    ) -> Option<(crate::store::FailureRow, bool)> {
        let (store, who, s2) = (self.store.clone(), user.to_string(), s.clone());
        let done = tokio::task::spawn_blocking(move || {
            let mut answer = false;
            let mut f = |row: &mut SharedFailure| {
                let (a, event) = update(step, row, now, &s2);
                answer = a;
                event
            };
            store.update_failure(&who, now, &mut f).map(|r| (r, answer))
        })
        .await;
        match done {
            Ok(Ok((row, answer))) => {
                self.lockout.replace(user, Some(&row.row));
                Some((row.row, answer))
            }
            Ok(Err(e)) => {
                eprintln!("apitokend: cannot count a password attempt of {user}: {e}");
                None
            }
            Err(_) => None,
        }
    }
}
