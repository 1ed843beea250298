//! The change operations of the settings (SPEC §5), the `allowed-networks` list and the
//! failure counts: admins only, each committed with its audit row, logged, and put in
//! force in memory by the core (`ops` has the shape every change shares).

use super::change::{Actor, OpError};
use super::policy::valid_user_name;
use super::Engine;
use crate::audit::Event;
use crate::settings::Settings;

/// A change of the `allowed-networks` list.
#[derive(Debug, Clone)]
pub enum NetworkChange {
    /// Adds the networks not in the list yet.
    Add(Vec<String>),
    /// Removes the networks; refused when one is not in the list.
    Remove(Vec<String>),
    Clear,
}

impl Engine {
    /// Sets setting `key` to `value` (admins only); returns the settings now in force.
    pub fn change_setting(
        &self,
        actor: Actor<'_>,
        key: &str,
        value: &str,
    ) -> Result<Settings, OpError> {
        actor.require_admin("changing settings")?;
        let mut new = (*self.settings()).clone();
        new.set(key, value).map_err(|e| OpError::invalid(e.0))?;
        self.put_setting(actor, key, new)
    }

    /// Changes the `allowed-networks` list (admins only); returns the settings now in
    /// force.
    pub fn change_networks(
        &self,
        actor: Actor<'_>,
        change: &NetworkChange,
    ) -> Result<Settings, OpError> {
        actor.require_admin("changing allowed-networks")?;
        let mut new = (*self.settings()).clone();
        change.apply(&mut new.allowed_networks)?;
        self.put_setting(actor, "allowed-networks", new)
    }

    /// Puts `new` in force where setting `key` differs from the settings now in force.
    /// Policy is applied on every request, so nothing cached needs to go.
    fn put_setting(&self, actor: Actor<'_>, key: &str, new: Settings) -> Result<Settings, OpError> {
        let old = self.settings();
        let text = |s: &Settings| s.get(key).map_err(|e| OpError::invalid(e.0));
        let (old_text, new_text) = (text(&old)?, text(&new)?);
        if old_text != new_text {
            let event = Event::new("settings.change", self.clock.now())
                .with("actor", actor.user)
                .with("key", key)
                .with("old", old_text)
                .with("new", new_text.as_str());
            // Policy is applied on every request: cached records stay.
            let set = |e: &mut Event| self.store.set_setting(key, &new_text, e);
            self.change(actor, event, set, |_| Vec::new())?;
            self.replace_settings(new.clone());
        }
        Ok(new)
    }

    /// Forgets `user`'s failures and lock (admins only).
    pub fn reset_failures(&self, actor: Actor<'_>, user: &str) -> Result<(), OpError> {
        valid_user_name(user)?;
        actor.require_admin("resetting failure counts")?;
        let event = Event::new("failures.reset", self.clock.now())
            .with("actor", actor.user)
            .with("user", user);
        let reset = |e: &mut Event| self.store.reset_failures(user, e);
        self.change(actor, event, reset, |_| Vec::new())?;
        self.lockout.reset(user);
        Ok(())
    }
}

impl NetworkChange {
    fn apply(&self, nets: &mut Vec<ipnet::IpNet>) -> Result<(), OpError> {
        let parse = |c: &str| crate::settings::parse_network(c).map_err(|e| OpError::invalid(e.0));
        match self {
            NetworkChange::Add(cidrs) => {
                for c in cidrs {
                    let net = parse(c)?;
                    if !nets.contains(&net) {
                        nets.push(net);
                    }
                }
            }
            NetworkChange::Remove(cidrs) => {
                for c in cidrs {
                    let net = parse(c)?;
                    let before = nets.len();
                    nets.retain(|n| *n != net);
                    if nets.len() == before {
                        return Err(OpError::not_found(format!(
                            "{net} is not in allowed-networks; see apitoken allow-ip list"
                        )));
                    }
                }
            }
            NetworkChange::Clear => nets.clear(),
        }
        Ok(())
    }
}
