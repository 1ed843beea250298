//! The change operations of the core. Each one applies the rules of `policy` (who may,
//! and what a change may carry), commits its change together with its audit row (one
//! transaction in the store), then logs the event to syslog, then invalidates what it
//! changed, here and nowhere else, so no front end can skip a rule or forget a step.
//! Front ends parse, call and render; `actor` names who asked, whether they are an
//! admin, and through what.

use std::sync::Arc;

use super::change::{Actor, NewToken, OpError};
use super::policy::{duration_or, valid_user_name, TokenRequest};
use super::Engine;
use crate::audit::{Event, Severity};
use crate::cache::Record;
use crate::store::{StoreError, TokenRecord};
use crate::token::Token;

impl Engine {
    /// The shape of every change: commits `event` through `commit`, logs it, then drops
    /// from the cache the tokens `stale` names for what was committed (those it deleted,
    /// rotated away or otherwise altered), so no operation can leave one usable.
    pub(super) fn change<T>(
        &self,
        actor: Actor<'_>,
        mut event: Event,
        commit: impl FnOnce(&mut Event) -> Result<T, StoreError>,
        stale: impl FnOnce(&T) -> Vec<String>,
    ) -> Result<T, OpError> {
        event.push("via", actor.via.as_str().to_string());
        let out = commit(&mut event)?;
        self.syslog.emit(&event, Severity::Info);
        let ids = stale(&out);
        if !ids.is_empty() {
            self.verifier.invalidate(&ids);
        }
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

    /// Creates the token `req` asks for, once the rules allow it (refused past
    /// `max-tokens-per-user`, checked in the same transaction); returns it, shown once,
    /// with its record.
    pub fn create_token(
        &self,
        actor: Actor<'_>,
        req: &TokenRequest,
    ) -> Result<(Token, TokenRecord), OpError> {
        let new = self.admit_token(actor, req)?;
        self.insert_token(actor, &new)
    }

    /// Stores `t`, already admitted, with its audit row.
    pub(super) fn insert_token(
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
        let stored = self.change(
            actor,
            event,
            |e| self.store.insert_token_limited(&record, e, max),
            |_| Vec::new(),
        )?;
        if !stored {
            return Err(OpError::TooMany {
                owner: record.owner,
                max,
            });
        }
        Ok((token, record))
    }

    /// Deletes the tokens `ids`, each the actor's own or any for an admin; every id is
    /// checked first, so a bad one deletes nothing. Returns the ids that existed.
    pub fn delete_tokens(&self, actor: Actor<'_>, ids: &[String]) -> Result<Vec<String>, OpError> {
        if ids.is_empty() {
            return Err(OpError::invalid(
                "name at least one token id; see apitoken list",
            ));
        }
        let tokens = ids
            .iter()
            .map(|id| self.token_for(actor, id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut deleted = Vec::new();
        for t in tokens {
            let event = Event::new("token.delete", self.clock.now())
                .with("actor", actor.user)
                .with("user", t.owner.as_str())
                .with("token_id", t.id.as_str());
            let gone = self.change(
                actor,
                event,
                |e| self.store.delete_token(&t.id, e),
                |&gone| gone.then(|| t.id.clone()).into_iter().collect(),
            )?;
            if gone {
                deleted.push(t.id.clone());
            }
        }
        Ok(deleted)
    }

    /// Deletes every token of `owner` (admins only); returns their ids.
    pub fn delete_all(&self, actor: Actor<'_>, owner: &str) -> Result<Vec<String>, OpError> {
        valid_user_name(owner)?;
        actor.require_admin("deleting all tokens of a user")?;
        let event = Event::new("token.delete_all", self.clock.now())
            .with("actor", actor.user)
            .with("user", owner);
        self.change(
            actor,
            event,
            |e| self.store.delete_all(owner, e),
            Vec::clone,
        )
    }

    /// Issues a successor of token `id` (same owner, name and restrictions) with the
    /// validity `expires`; the old token stops after `grace` (a duration, none when not
    /// given) and is then reported as `token.reuse` if presented.
    pub fn rotate(
        &self,
        actor: Actor<'_>,
        id: &str,
        grace: Option<&str>,
        expires: Option<&str>,
    ) -> Result<(Token, TokenRecord), OpError> {
        let (old, grace, expires_at) = self.admit_rotation(actor, id, grace, expires)?;
        let old = &old;
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
        self.change(
            actor,
            event,
            |e| self.store.rotate(&old.id, revoke_at, &record, e),
            |_| vec![old.id.clone()],
        )?;
        Ok((token, record))
    }

    /// Deletes tokens that expired or were rotated away more than `older_than` ago
    /// (`prune-after` when not given). Admins only.
    pub fn prune(
        &self,
        actor: Actor<'_>,
        older_than: Option<&str>,
    ) -> Result<Vec<String>, OpError> {
        actor.require_admin("pruning tokens")?;
        let age = duration_or(older_than, self.settings().prune_after)?;
        let now = self.clock.now();
        let event = Event::new("token.prune", now)
            .with("actor", actor.user)
            .with("older_than", crate::settings::format_duration(age));
        let before = now.saturating_sub(i64::try_from(age).unwrap_or(i64::MAX));
        self.change(actor, event, |e| self.store.prune(before, e), Vec::clone)
    }

    /// Gives token `id` (the actor's own, or any for an admin) the name `name`; returns
    /// its record as renamed.
    pub fn rename_token(
        &self,
        actor: Actor<'_>,
        id: &str,
        name: &str,
    ) -> Result<TokenRecord, OpError> {
        let t = self.admit_rename(actor, id, name)?;
        let event = Event::new("token.rename", self.clock.now())
            .with("actor", actor.user)
            .with("user", t.owner.as_str())
            .with("token_id", t.id.as_str())
            .with("name", name);
        // The name plays no part in a decision: cached records stay.
        let renamed = self.change(
            actor,
            event,
            |e| self.store.rename_token(&t.id, name, e),
            |_| Vec::new(),
        )?;
        if !renamed {
            return Err(OpError::not_found(format!("no token with id {id}")));
        }
        Ok(TokenRecord {
            name: name.to_string(),
            ..t
        })
    }

    /// Replaces a legacy verifier that just matched by `new` in the store (compare-and-set,
    /// so a delete or rotation that committed meanwhile is never undone); the verifier
    /// already cached the record with it. A store failure costs only speed (the next load
    /// checks argon2 again), so it is logged, not returned.
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
            Ok(Ok(false)) => {}
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
    }
}
