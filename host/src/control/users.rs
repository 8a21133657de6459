//! Users at run time (`admin` only): list, add (a fresh 256-bit token,
//! shown once, stored as its SHA-256), revoke. The users file stays the one
//! source of truth: every change is journaled first, then written to a
//! temporary file (0600) renamed over it, then served.
//!
//! Names are never reused, not even a revoked one's, so that a name in the
//! audit trail always means one person.

use super::api::ApiError;
use super::auth::{new_token, token_hash, Principal, Role, UserEntry, Users};
use super::secrets::write_private;
use super::server::Shared;
use crate::journal::event::{ControlAction, Event as JEvent};
use crate::journal::keys::hex;
use crate::trading::control::{code, padded};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::SystemTime;

/// `POST users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddUserBody {
    pub name: String,
    pub role: Role,
    /// Unix seconds after which the user may no longer log in; 0 = never.
    #[serde(default)]
    pub expires_unix: u64,
    pub reason: String,
}

/// `field` of user records: the role.
fn role_code(r: Role) -> u8 {
    match r {
        Role::Viewer => 1,
        Role::Trader => 2,
        Role::RiskOfficer => 3,
        Role::Admin => 4,
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.to_string(),
        msg: msg.into(),
    }
}

/// `GET users`: names, roles, state; never a hash.
pub(crate) fn list(sh: &Shared) -> Value {
    let users = sh.users_now();
    let now = now_unix();
    Value::Array(
        users
            .entries()
            .map(|u| {
                json!({
                    "name": u.name, "role": u.role.name(), "revoked": u.revoked,
                    "expires_unix": u.expires_unix,
                    "expired": u.expires_unix != 0 && now >= u.expires_unix,
                    "token": !u.token_sha256.is_empty(), "certificate": !u.cert_sha256.is_empty(),
                })
            })
            .collect(),
    )
}

/// Journal a user change (before it takes effect), and trace it.
fn journal(sh: &Shared, who: &Principal, action: u8, e: &UserEntry, reason: &str) {
    let rec = ControlAction {
        user: padded(&who.name),
        action,
        field: role_code(e.role),
        subject: padded(&e.name),
        before: u64::from(action == code::USER_REVOKE),
        after: if action == code::USER_ADD {
            e.expires_unix.max(1)
        } else {
            0
        },
        reason: padded(reason),
    };
    if let Some(j) = &sh.journal {
        let _ = j.append_event(&JEvent::ControlAction(rec));
    }
    crate::telemetry::tracing::action(&sh.status, super::server::trace_id(), &rec);
}

/// Write `entries` as the users file (temporary file, then rename) and
/// serve them from now on.
fn commit(sh: &Shared, entries: &[UserEntry]) -> Result<Users, ApiError> {
    let path = &sh.cfg.users_file;
    let text = Users::render(entries);
    // the same checks as at start: what is written can be loaded again
    let users = Users::parse(&text, &path.display().to_string())
        .map_err(|e| ApiError::Refused(e.to_string()))?;
    let tmp = path.with_extension("toml.new");
    write_private(&tmp, text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| ApiError::Audit(format!("users file {}: {e}", path.display())))?;
    Ok(users)
}

/// `POST users`: a new user and its token (in this answer only).
pub(crate) fn add(
    sh: &Shared,
    who: &Principal,
    b: AddUserBody,
    reason: &str,
) -> Result<Value, ApiError> {
    if b.name.is_empty() || b.name.len() > 32 || !b.name.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            "name",
            "1-32 printable ASCII characters, no spaces",
        ));
    }
    let now = now_unix();
    if b.expires_unix != 0 && b.expires_unix <= now {
        return Err(invalid(
            "expires_unix",
            format!("{}: in the past (now {now}); 0 = never", b.expires_unix),
        ));
    }
    let mut g = sh.lock_users();
    let current = Users::load(&sh.cfg.users_file).map_err(|e| ApiError::Refused(e.to_string()))?;
    let mut entries: Vec<UserEntry> = current.entries().cloned().collect();
    if entries.iter().any(|u| u.name == b.name) {
        return Err(ApiError::Refused(format!(
            "user {} exists (names are never reused, even revoked ones)",
            b.name
        )));
    }
    let token = new_token();
    let e = UserEntry {
        name: b.name,
        role: b.role,
        token_sha256: hex(&token_hash(token.expose())),
        cert_sha256: String::new(),
        revoked: false,
        expires_unix: b.expires_unix,
    };
    journal(sh, who, code::USER_ADD, &e, reason);
    entries.push(e.clone());
    let users = commit(sh, &entries)?;
    *g = (users, sh.users_mtime());
    ::tracing::info!(
        user = %crate::telemetry::pii::pseudonym(&e.name),
        role = e.role.name(),
        "control user added"
    );
    Ok(json!({
        "name": e.name, "role": e.role.name(), "expires_unix": e.expires_unix,
        "token": token.expose(),
        "note": "the token is shown this once; only its SHA-256 is kept",
    }))
}

/// `DELETE users/{name}`: the user can no longer log in (the entry stays,
/// marked revoked, so the name is never given to someone else).
pub(crate) fn revoke(
    sh: &Shared,
    who: &Principal,
    name: &str,
    reason: &str,
) -> Result<Value, ApiError> {
    if name == who.name {
        return Err(ApiError::Refused(
            "an admin cannot revoke itself: another admin must".into(),
        ));
    }
    let mut g = sh.lock_users();
    let current = Users::load(&sh.cfg.users_file).map_err(|e| ApiError::Refused(e.to_string()))?;
    let mut entries: Vec<UserEntry> = current.entries().cloned().collect();
    let Some(e) = entries.iter_mut().find(|u| u.name == name) else {
        return Err(ApiError::NotFound(format!("user {name}")));
    };
    if e.revoked {
        return Err(ApiError::Refused(format!("user {name} is already revoked")));
    }
    e.revoked = true;
    let e = e.clone();
    journal(sh, who, code::USER_REVOKE, &e, reason);
    let users = commit(sh, &entries)?;
    *g = (users, sh.users_mtime());
    ::tracing::info!(user = %crate::telemetry::pii::pseudonym(name), "control user revoked");
    Ok(json!({ "name": e.name, "role": e.role.name(), "revoked": true }))
}
