//! Changes made by other hosts of a fleet (SPEC §12), as the store's change-log follower
//! hands them over: the one entry point through which they reach the core's state. Each
//! is applied the way the local change operation applies its own: a token's cache entry
//! goes, the settings are replaced, a user's failure row is taken over.

use std::sync::{Arc, Weak};

use super::Engine;
use crate::store::{Applied, ChangeSink};

impl Engine {
    /// Applies what other hosts changed, in log order.
    pub fn apply_remote_changes(&self, changes: Vec<Applied>) {
        let mut ids = Vec::new();
        for change in changes {
            match change {
                Applied::Token(id) => ids.push(id),
                Applied::Settings(s) => self.replace_settings(s),
                Applied::Failure(user, row) => self.lockout.replace(&user, row.as_ref()),
                Applied::Everything => self.verifier.clear(),
            }
        }
        if !ids.is_empty() {
            self.verifier.invalidate(&ids);
        }
    }

    /// The sink to give the store's follower; it does not keep the engine alive.
    pub fn remote_sink(self: &Arc<Self>) -> Arc<dyn ChangeSink> {
        Arc::new(RemoteSink(Arc::downgrade(self)))
    }
}

struct RemoteSink(Weak<Engine>);

impl ChangeSink for RemoteSink {
    fn apply(&self, changes: Vec<Applied>) {
        if let Some(engine) = self.0.upgrade() {
            engine.apply_remote_changes(changes);
        }
    }
}
