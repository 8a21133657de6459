//! Who may do what: roles, the users file, bearer tokens and client
//! certificates.
//!
//! A token is 256 random bits written as 64 hex characters; the users file
//! holds only its SHA-256 (hex), so the file cannot be replayed as a
//! credential. A user may instead (or also) be known by the SHA-256 of the
//! client certificate it presents. Comparison is constant-time.
//!
//! ```toml
//! [[user]]
//! name = "ro1"
//! role = "risk_officer"          # viewer | trader | risk_officer | admin
//! token_sha256 = "9f86d0…"       # sha256 of the token text
//! cert_sha256 = ""               # optional: sha256 of the client cert (DER)
//! revoked = false
//! expires_unix = 0               # 0 = never
//! ```

use super::secrets::{read_private, Secret, SecretError};
use crate::journal::keys::{hex, unhex};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Trader,
    RiskOfficer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Trader, Role::RiskOfficer, Role::Admin];

    pub const fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Trader => "trader",
            Role::RiskOfficer => "risk_officer",
            Role::Admin => "admin",
        }
    }

    /// The role-based access rule: viewer reads; trader reads and runs
    /// parents; risk officer reads, kills, sets limits and the restricted
    /// list, reads the audit trail; admin does everything, plus users.
    pub const fn allows(self, p: Permission) -> bool {
        matches!(
            (self, p),
            (Role::Admin, _)
                | (_, Permission::Read)
                | (Role::Trader, Permission::Parents)
                | (
                    Role::RiskOfficer,
                    Permission::Kill
                        | Permission::Limits
                        | Permission::Restricted
                        | Permission::Audit
                )
        )
    }
}

impl Role {
    /// May see personal data (user names, account ids) in API answers and
    /// exports: the risk officer (who answers for every control action) and
    /// the admin (who manages the users). Viewers and traders see pseudonyms
    /// (`crate::telemetry::pii`).
    pub const fn pii_clearance(self) -> bool {
        matches!(self, Role::RiskOfficer | Role::Admin)
    }

    /// The role named `s` (`viewer`, `trader`, `risk_officer`, `admin`).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Parents,
    Kill,
    Limits,
    Restricted,
    Audit,
    Users,
}

/// Why a request was refused (the journal's `control_denied.reason`). Never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum DenyReason {
    NoCredentials = 1,
    BadCredentials = 2,
    Revoked = 3,
    Expired = 4,
    Forbidden = 5,
    FourEyes = 6,
}

impl DenyReason {
    pub const fn status(self) -> u16 {
        match self {
            DenyReason::NoCredentials
            | DenyReason::BadCredentials
            | DenyReason::Revoked
            | DenyReason::Expired => 401,
            DenyReason::Forbidden | DenyReason::FourEyes => 403,
        }
    }
    pub const fn message(self) -> &'static str {
        match self {
            DenyReason::NoCredentials => "no credentials: send Authorization: Bearer TOKEN or a client certificate",
            DenyReason::BadCredentials => "unknown or malformed credentials",
            DenyReason::Revoked => "user revoked",
            DenyReason::Expired => "user expired",
            DenyReason::Forbidden => "role does not allow this endpoint",
            DenyReason::FourEyes => "four eyes: the kill switch must be released by a different user than the one who engaged it",
        }
    }
}

/// One line of the users file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub token_sha256: String,
    #[serde(default)]
    pub cert_sha256: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub expires_unix: u64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserEntry>,
}

/// A bad users file.
#[derive(Debug, Error)]
pub enum UsersError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("users file {path}: {msg}")]
    Invalid { path: String, msg: String },
}

/// A known user, as resolved from the users file.
#[derive(Debug, Clone)]
struct KnownUser {
    entry: UserEntry,
    token: Option<[u8; 32]>,
    cert: Option<[u8; 32]>,
}

/// The users and their credentials' hashes.
#[derive(Debug, Clone, Default)]
pub struct Users {
    users: Vec<KnownUser>,
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// A refusal, with the user when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub reason: DenyReason,
    pub user: Option<String>,
}

/// SHA-256 of a token's text.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// A fresh token: 256 random bits as 64 hex characters.
pub fn new_token() -> Secret {
    use rand::RngCore;
    let mut b = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *b);
    Secret::new(hex(&*b))
}

impl Users {
    /// Parse a users file's text (`origin` names it in errors).
    ///
    /// # Errors
    /// TOML errors, duplicate names, malformed hashes.
    pub fn parse(text: &str, origin: &str) -> Result<Users, UsersError> {
        let bad = |msg: String| UsersError::Invalid {
            path: origin.to_string(),
            msg,
        };
        let f: UsersFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut users = Vec::with_capacity(f.user.len());
        for e in f.user {
            if e.name.is_empty()
                || e.name.len() > 32
                || !e.name.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(bad(format!(
                    "user name {:?}: 1-32 printable ASCII characters",
                    e.name
                )));
            }
            if users.iter().any(|u: &KnownUser| u.entry.name == e.name) {
                return Err(bad(format!("user {} twice", e.name)));
            }
            let h = |field: &str, v: &str| -> Result<Option<[u8; 32]>, UsersError> {
                if v.is_empty() {
                    return Ok(None);
                }
                unhex::<32>(v).map(Some).ok_or_else(|| {
                    bad(format!(
                        "user {}: {field} must be 64 hex characters",
                        e.name
                    ))
                })
            };
            let token = h("token_sha256", &e.token_sha256)?;
            let cert = h("cert_sha256", &e.cert_sha256)?;
            users.push(KnownUser {
                entry: e,
                token,
                cert,
            });
        }
        Ok(Users { users })
    }

    /// Load a users file (mode 0600 or stricter: it holds credential hashes).
    ///
    /// # Errors
    /// Permissions, I/O, parse.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let bytes = read_private(path)?;
        Users::parse(
            &String::from_utf8_lossy(&bytes),
            &path.display().to_string(),
        )
    }

    /// The users file's text for these entries.
    pub fn render(entries: &[UserEntry]) -> String {
        toml::to_string(&UsersFile {
            user: entries.to_vec(),
        })
        .unwrap_or_default()
    }

    pub fn entries(&self) -> impl Iterator<Item = &UserEntry> {
        self.users.iter().map(|u| &u.entry)
    }

    /// Who presents `authorization` (the header's value) and/or a client
    /// certificate with SHA-256 `cert`, at `now_unix`.
    ///
    /// # Errors
    /// 401-class [`Denied`]: none, unknown, revoked, expired.
    pub fn authenticate(
        &self,
        authorization: Option<&[u8]>,
        cert: Option<[u8; 32]>,
        now_unix: u64,
    ) -> Result<Principal, Denied> {
        let deny = |reason, user: Option<&KnownUser>| Denied {
            reason,
            user: user.map(|u| u.entry.name.clone()),
        };
        let found = match authorization {
            Some(h) => {
                let Some(tok) = h.strip_prefix(b"Bearer ") else {
                    return Err(deny(DenyReason::BadCredentials, None));
                };
                let tok =
                    std::str::from_utf8(tok).map_err(|_| deny(DenyReason::BadCredentials, None))?;
                let hash = token_hash(tok);
                // look at every user (no early exit) so timing says nothing
                let mut hit = None;
                for u in &self.users {
                    if let Some(t) = &u.token {
                        if bool::from(t.ct_eq(&hash)) {
                            hit = Some(u);
                        }
                    }
                }
                hit
            }
            None => match cert {
                Some(c) => self
                    .users
                    .iter()
                    .find(|u| u.cert.is_some_and(|h| bool::from(h.ct_eq(&c)))),
                None => return Err(deny(DenyReason::NoCredentials, None)),
            },
        };
        let Some(u) = found else {
            return Err(deny(DenyReason::BadCredentials, None));
        };
        if u.entry.revoked {
            return Err(deny(DenyReason::Revoked, Some(u)));
        }
        if u.entry.expires_unix != 0 && now_unix >= u.entry.expires_unix {
            return Err(deny(DenyReason::Expired, Some(u)));
        }
        Ok(Principal {
            name: u.entry.name.clone(),
            role: u.entry.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_matrix_is_the_documented_one() {
        use Permission::*;
        let perms = [Read, Parents, Kill, Limits, Restricted, Audit, Users];
        let expect = |r: Role| -> Vec<bool> {
            match r {
                Role::Viewer => vec![true, false, false, false, false, false, false],
                Role::Trader => vec![true, true, false, false, false, false, false],
                Role::RiskOfficer => vec![true, false, true, true, true, true, false],
                Role::Admin => vec![true; 7],
            }
        };
        for r in Role::ALL {
            let got: Vec<bool> = perms.iter().map(|p| r.allows(*p)).collect();
            assert_eq!(got, expect(r), "{r:?}");
        }
    }

    #[test]
    fn tokens_authenticate_by_hash_only() {
        let t1 = new_token();
        let t2 = new_token();
        assert_eq!(t1.expose().len(), 64);
        assert_ne!(t1, t2);
        let text = format!(
            "[[user]]\nname = \"a\"\nrole = \"trader\"\ntoken_sha256 = \"{}\"\n\n[[user]]\nname = \"b\"\nrole = \"viewer\"\ntoken_sha256 = \"{}\"\nrevoked = true\n",
            hex(&token_hash(t1.expose())),
            hex(&token_hash(t2.expose())),
        );
        assert!(!text.contains(t1.expose()));
        let u = Users::parse(&text, "t").unwrap();
        let h1 = format!("Bearer {}", t1.expose());
        assert_eq!(
            u.authenticate(Some(h1.as_bytes()), None, 0).unwrap(),
            Principal {
                name: "a".into(),
                role: Role::Trader
            }
        );
        let h2 = format!("Bearer {}", t2.expose());
        assert_eq!(
            u.authenticate(Some(h2.as_bytes()), None, 0)
                .unwrap_err()
                .reason,
            DenyReason::Revoked
        );
        assert_eq!(
            u.authenticate(Some(b"Bearer 00"), None, 0)
                .unwrap_err()
                .reason,
            DenyReason::BadCredentials
        );
        assert_eq!(
            u.authenticate(Some(t1.expose().as_bytes()), None, 0)
                .unwrap_err()
                .reason,
            DenyReason::BadCredentials
        );
        assert_eq!(
            u.authenticate(None, None, 0).unwrap_err().reason,
            DenyReason::NoCredentials
        );
        assert!(Users::parse("[[user]]\nname = \"a\"\nrole = \"boss\"\n", "t").is_err());
        assert!(Users::parse(
            "[[user]]\nname = \"a\"\nrole = \"admin\"\ntoken_sha256 = \"xyz\"\n",
            "t"
        )
        .is_err());
        assert!(Users::parse("[[user]]\nname = \"a\"\nrole = \"admin\"\nshoe = 1\n", "t").is_err());
    }
}
