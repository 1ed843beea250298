//! The change operations of the core. Each one commits its change together with its audit
//! row (one transaction in the store), then logs the event to syslog, then invalidates
//! what it changed, here and nowhere else, so no front end can forget a step. Front ends
//! authorize before calling; `actor` names who asked and through what.

use std::sync::Arc;

use super::Engine;
use crate::audit::{Event, Severity};
use crate::cache::Record;
use crate::settings::Settings;
use crate::store::{StoreError, TokenRecord};
use crate::token::{Token, TokenError};

/// Which front end a change came through (the `via` of change events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `apitoken` command on `admin.sock`.
    Cli,
    /// The REST API and page (SPEC §11).
    Web,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Cli => "cli",
            Origin::Web => "web",
        }
    }
}

/// Who asks for a change.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The Unix user (admin socket) or the session's user (web).
    pub user: &'a str,
    pub via: Origin,
}

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{owner} already has {max} usable tokens, the maximum set by max-tokens-per-user; delete one first")]
    TooMany { owner: String, max: u32 },
    #[error("could not allocate a unique token id; try again")]
    Collision,
}

/// A token to create; every field already validated by the front end.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub owner: String,
    pub name: String,
    pub expires_at: Option<i64>,
    pub scopes: String,
    pub paths: String,
    pub networks: String,
}

impl Engine {
    /// Commits `event` through `commit`, then logs it: the shape of every change.
    fn change<T>(
        &self,
        actor: Actor<'_>,
        mut event: Event,
        commit: impl FnOnce(&mut Event) -> Result<T, StoreError>,
    ) -> Result<T, OpError> {
        event.push("via", actor.via.as_str().to_string());
        let out = commit(&mut event)?;
        self.syslog.emit(&event, Severity::Info);
        Ok(out)
    }

    fn record(&self, actor: Actor<'_>, t: &NewToken, now: i64) -> TokenRecord {
        TokenRecord {
            id: String::new(),
            owner: t.owner.clone(),
            name: t.name.clone(),
            hash: String::new(),
            created_at: now,
            created_by: actor.user.to_string(),
            expires_at: t.expires_at,
            last_used_at: None,
            last_used_ip: None,
            scopes: Some(t.scopes.clone()),
            paths: t.paths.clone(),
            networks: t.networks.clone(),
            revoke_at: None,
            rotated_to: None,
            last_ips: String::new(),
        }
    }

    /// A fresh token with an id nobody holds, and its record with the verifier filled in.
    fn mint(&self, mut record: TokenRecord) -> Result<(Token, TokenRecord), OpError> {
        // Ids are random; retry on the (astronomically unlikely) collision.
        for _ in 0..3 {
            let token = Token::generate()?;
            if self.store.token(token.id())?.is_some() {
                continue;
            }
            record.id = token.id().to_string();
            record.hash = crate::token::new_verifier(&token)?;
            return Ok((token, record));
        }
        Err(OpError::Collision)
    }

    /// Creates a token (refused past `max-tokens-per-user`, checked in the same
    /// transaction); returns it, shown once, with its record.
    pub fn create_token(
        &self,
        actor: Actor<'_>,
        t: &NewToken,
    ) -> Result<(Token, TokenRecord), OpError> {
        let now = self.clock.now();
        let (token, record) = self.mint(self.record(actor, t, now))?;
        let max = self.settings().max_tokens_per_user;
        let event = Event::new("token.create", now)
            .with("actor", actor.user)
            .with("user", record.owner.as_str())
            .with("token_id", record.id.as_str())
            .with("name", record.name.as_str())
            .with(
                "expires",
                record
                    .expires_at
                    .map(crate::clock::rfc3339)
                    .unwrap_or_else(|| "never".into()),
            )
            .with("scopes", t.scopes.as_str());
        let stored = self.change(actor, event, |e| {
            self.store.insert_token_limited(&record, e, max)
        })?;
        if !stored {
            return Err(OpError::TooMany {
                owner: record.owner,
                max,
            });
        }
        Ok((token, record))
    }

    /// Deletes the given tokens (already authorized); returns the ids that existed.
    pub fn delete_tokens(
        &self,
        actor: Actor<'_>,
        tokens: &[TokenRecord],
    ) -> Result<Vec<String>, OpError> {
        let mut deleted = Vec::new();
        for t in tokens {
            let event = Event::new("token.delete", self.clock.now())
                .with("actor", actor.user)
                .with("user", t.owner.as_str())
                .with("token_id", t.id.as_str());
            if self.change(actor, event, |e| self.store.delete_token(&t.id, e))? {
                self.verifier.invalidate(std::slice::from_ref(&t.id));
                deleted.push(t.id.clone());
            }
        }
        Ok(deleted)
    }

    /// Deletes every token of `owner`; returns their ids.
    pub fn delete_all(&self, actor: Actor<'_>, owner: &str) -> Result<Vec<String>, OpError> {
        let event = Event::new("token.delete_all", self.clock.now())
            .with("actor", actor.user)
            .with("user", owner);
        let ids = self.change(actor, event, |e| self.store.delete_all(owner, e))?;
        self.verifier.invalidate(&ids);
        Ok(ids)
    }

    /// Issues a successor of `old` (same owner, name and restrictions) expiring at
    /// `expires_at`; `old` stops `grace` seconds from now.
    pub fn rotate(
        &self,
        actor: Actor<'_>,
        old: &TokenRecord,
        grace: u64,
        expires_at: Option<i64>,
    ) -> Result<(Token, TokenRecord), OpError> {
        let now = self.clock.now();
        let fresh = TokenRecord {
            id: String::new(),
            hash: String::new(),
            created_at: now,
            created_by: actor.user.to_string(),
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            revoke_at: None,
            rotated_to: None,
            last_ips: String::new(),
            ..old.clone()
        };
        let (token, record) = self.mint(fresh)?;
        let event = Event::new("token.rotate", now)
            .with("actor", actor.user)
            .with("user", old.owner.as_str())
            .with("token_id", old.id.as_str())
            .with("new_token_id", record.id.as_str())
            .with("grace", crate::settings::format_duration(grace));
        let revoke_at = now.saturating_add(i64::try_from(grace).unwrap_or(i64::MAX));
        self.change(actor, event, |e| {
            self.store.rotate(&old.id, revoke_at, &record, e)
        })?;
        self.verifier.invalidate(std::slice::from_ref(&old.id));
        Ok((token, record))
    }

    /// Deletes tokens that expired or were rotated away more than `age` seconds ago.
    pub fn prune(&self, actor: Actor<'_>, age: u64) -> Result<Vec<String>, OpError> {
        let now = self.clock.now();
        let event = Event::new("token.prune", now)
            .with("actor", actor.user)
            .with("older_than", crate::settings::format_duration(age));
        let before = now.saturating_sub(i64::try_from(age).unwrap_or(i64::MAX));
        let ids = self.change(actor, event, |e| self.store.prune(before, e))?;
        self.verifier.invalidate(&ids);
        Ok(ids)
    }

    /// Puts `new` in force where setting `key` differs from the settings now in force.
    /// Policy is applied on every request, so nothing cached needs to go.
    pub fn change_setting(
        &self,
        actor: Actor<'_>,
        key: &str,
        new: Settings,
    ) -> Result<Settings, crate::settings::SettingError> {
        let old = self.settings();
        let (old_text, new_text) = (old.get(key)?, new.get(key)?);
        if old_text != new_text {
            let event = Event::new("settings.change", self.clock.now())
                .with("actor", actor.user)
                .with("key", key)
                .with("old", old_text)
                .with("new", new_text.as_str());
            self.change(actor, event, |e| self.store.set_setting(key, &new_text, e))
                .map_err(|e| crate::settings::SettingError(e.to_string()))?;
            self.replace_settings(new.clone());
        }
        Ok(new)
    }

    /// Gives token `t` (already authorized) the name `name`; false when it is gone.
    pub fn rename_token(
        &self,
        actor: Actor<'_>,
        t: &TokenRecord,
        name: &str,
    ) -> Result<bool, OpError> {
        let event = Event::new("token.rename", self.clock.now())
            .with("actor", actor.user)
            .with("user", t.owner.as_str())
            .with("token_id", t.id.as_str())
            .with("name", name);
        self.change(actor, event, |e| self.store.rename_token(&t.id, name, e))
    }

    /// Forgets `user`'s failures and lock.
    pub fn reset_failures(&self, actor: Actor<'_>, user: &str) -> Result<(), OpError> {
        let event = Event::new("failures.reset", self.clock.now())
            .with("actor", actor.user)
            .with("user", user);
        self.change(actor, event, |e| self.store.reset_failures(user, e))?;
        self.lockout.reset(user);
        Ok(())
    }

    /// Replaces a legacy verifier that just matched by `new` (compare-and-set in the store,
    /// so a delete or rotation that committed meanwhile is never undone), and caches the
    /// record with it unless it was invalidated since it was loaded. A store failure costs
    /// only speed (the next load checks argon2 again), so it is logged, not returned.
    pub(super) async fn upgrade_verifier(&self, record: &Arc<Record>, new: String) {
        let event = Event::new("token.upgrade", self.clock.now())
            .with("user", record.owner.as_str())
            .with("token_id", record.id.as_str())
            .with("from", "argon2id")
            .with("to", "sha256");
        let (store, id, old) = (
            self.store.clone(),
            record.id.clone(),
            record.verifier.clone(),
        );
        let stored = {
            let (new, event) = (new.clone(), event.clone());
            tokio::task::spawn_blocking(move || store.upgrade_verifier(&id, &old, &new, &event))
                .await
        };
        match stored {
            Ok(Ok(false)) => return,
            Ok(Ok(true)) => self.syslog.emit(&event, Severity::Info),
            Ok(Err(e)) => eprintln!(
                "apitokend: cannot upgrade the verifier of token {}: {e}",
                record.id
            ),
            Err(_) => eprintln!(
                "apitokend: cannot upgrade the verifier of token {}",
                record.id
            ),
        }
        self.verifier.replace(Arc::new(Record {
            verifier: new,
            ..(**record).clone()
        }));
    }
}
