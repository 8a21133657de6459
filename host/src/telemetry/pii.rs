//! Personal data masking for whatever leaves the process: logs, spans,
//! exports and API answers to roles without clearance.
//!
//! Personal data here is a person's or an account's name: control-plane user
//! names and the firm (account) ids orders are entered under. A masked value
//! is a pseudonym, `pii:` and 8 hex characters of SHA-256 over a random
//! per-process key and the name: equal names get equal pseudonyms within one
//! process (a log or an export still shows that the same user did two
//! things), but nobody without the key can undo it, not even by trying
//! every short name. Who has clearance to see names is the control plane's
//! rule (`crate::control::auth::Role::pii_clearance`).

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Prefix of every pseudonym.
pub const MASK_PREFIX: &str = "pii:";

/// JSON keys whose string values are personal data wherever they appear.
pub const PII_KEYS: [&str; 5] = ["user", "firm", "username", "kill_engaged_by", "account"];

fn key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        use rand::RngCore;
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    })
}

/// The pseudonym of `name` ("" stays "": nothing to hide).
pub fn pseudonym(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() || name.starts_with(MASK_PREFIX) {
        return name.to_string();
    }
    let mut h = Sha256::new();
    h.update(key());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut s = String::with_capacity(MASK_PREFIX.len() + 8);
    s.push_str(MASK_PREFIX);
    for b in &d[..4] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Replace, at any depth of `v`, every string under one of [`PII_KEYS`] by
/// its pseudonym.
pub fn mask_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    serde_json::Value::String(s) if PII_KEYS.contains(&k.as_str()) => {
                        *s = pseudonym(s);
                    }
                    _ => mask_json(x),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pseudonyms_hide_names_but_keep_equality() {
        let a = pseudonym("alice");
        assert!(
            a.starts_with(MASK_PREFIX) && a.len() == MASK_PREFIX.len() + 8,
            "{a}"
        );
        assert!(!a.contains("alice"));
        assert_eq!(a, pseudonym("alice"));
        assert_eq!(a, pseudonym("alice  "), "journal fields are space-padded");
        assert_ne!(a, pseudonym("alicf"));
        assert_eq!(pseudonym(""), "");
        assert_eq!(pseudonym(&a), a, "masking twice changes nothing");
    }

    #[test]
    fn mask_json_reaches_every_depth_and_only_pii_keys() {
        let mut v = json!({
            "user": "ro1", "symbol": "AAPL", "firm": "ETIA",
            "event": {"username": "ETI001", "token": "ETI0000001"},
            "list": [{"kill_engaged_by": "ro2"}, {"account": "ACC9", "shares": 5}],
            "firm_count": 3,
        });
        mask_json(&mut v);
        let text = v.to_string();
        for name in ["ro1", "ETIA", "ETI001", "ro2", "ACC9"] {
            assert!(!text.contains(&format!("\"{name}\"")), "{name} in {text}");
        }
        assert_eq!(v["symbol"], "AAPL");
        assert_eq!(v["event"]["token"], "ETI0000001");
        assert_eq!(v["list"][1]["shares"], 5);
        assert_eq!(v["firm_count"], 3);
        assert_eq!(v["user"], json!(pseudonym("ro1")));
    }
}
