//! The `[[venues]]` list: the venues a host trades on, each with its order
//! entry address, its feed, its gate firm slot, fees and latency.
//!
//! ```toml
//! [[venues]]
//! name = "ETIX"
//! address = "127.0.0.1:30003"     # SoupBinTCP / OUCH
//! feed_listen = "127.0.0.1:30001" # ITCH / MoldUDP64 arrives here
//! retransmit = "127.0.0.1:30002"  # its MoldUDP64 retransmission server
//! take_fee = 30                   # $0.0001 per share removing liquidity (negative: paid to us)
//! make_fee = -20                  # adding liquidity (negative: a rebate)
//! latency_us = 0                  # order entry latency, ranks equal venues
//! # firm_index = 1                # gate slot; default risk.firm_index + position
//! # session = ""                  # SoupBinTCP session; blank: the venue's current
//! ```
//!
//! Without `[[venues]]` the host trades on one venue: `[venue]` and `[feed]`
//! as before. With it, the first entry replaces `venue.address`,
//! `feed.listen` and `feed.retransmit`; credentials, timers, token prefix and
//! feed settings stay shared in `[venue]` and `[feed]`. The first entry uses
//! the `[risk]` firm slot.
//!
//! The firm's `[risk]` credit and max long/short hold for all venues
//! together: they are split evenly over the venues' gate slots (the slots'
//! limits sum to the firm's; see `Risk::firm_slot_limits`), so with three
//! venues each may use a third. Per-order limits (shares, notional, collar,
//! throttle) apply on every venue as configured.

use super::consolidated::MAX_VENUES;
use crate::app::config::{ConfigError, HostConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One `[[venues]]` entry as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VenueEntry {
    pub name: String,
    pub address: String,
    pub feed_listen: String,
    pub retransmit: String,
    #[serde(default)]
    pub take_fee: i32,
    #[serde(default)]
    pub make_fee: i32,
    #[serde(default)]
    pub latency_us: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firm_index: Option<u8>,
    #[serde(default)]
    pub session: String,
}

/// Keys of an entry and the TOML type each takes.
const KEYS: [(&str, &str); 9] = [
    ("name", "string"),
    ("address", "string"),
    ("feed_listen", "string"),
    ("retransmit", "string"),
    ("take_fee", "integer"),
    ("make_fee", "integer"),
    ("latency_us", "integer"),
    ("firm_index", "integer"),
    ("session", "string"),
];
const REQUIRED: [&str; 4] = ["name", "address", "feed_listen", "retransmit"];

/// A venue, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVenue {
    pub name: String,
    pub address: SocketAddr,
    pub feed_listen: SocketAddr,
    pub retransmit: SocketAddr,
    pub take_fee: i32,
    pub make_fee: i32,
    pub latency_us: u32,
    /// The gate's firm slot for this venue's session.
    pub firm_slot: u8,
    /// SoupBinTCP session ("" = the venue's current).
    pub session: String,
}

fn invalid(key: String, value: impl std::fmt::Display, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// Check a file's `venues` value before serde sees it: an array of tables,
/// known keys of the right type, required keys present.
pub fn check_entries(v: &toml::Value) -> Result<(), ConfigError> {
    let toml::Value::Array(entries) = v else {
        return Err(invalid("venues".into(), v, "[[venues]] tables"));
    };
    if entries.len() > MAX_VENUES {
        return Err(invalid(
            "venues".into(),
            format!("{} entries", entries.len()),
            "at most 8 [[venues]] entries",
        ));
    }
    let accepted = || KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
    for (i, e) in entries.iter().enumerate() {
        let toml::Value::Table(t) = e else {
            return Err(invalid(format!("venues[{i}]"), e, "a table"));
        };
        for (k, v) in t {
            let key = format!("venues[{i}].{k}");
            let Some((_, want)) = KEYS.iter().find(|(n, _)| n == k) else {
                return Err(ConfigError::Unknown {
                    key,
                    accepted: accepted(),
                });
            };
            if v.type_str() != *want {
                return Err(invalid(key, v, &format!("a {want}")));
            }
        }
        if let Some(missing) = REQUIRED.iter().find(|k| !t.contains_key(**k)) {
            return Err(invalid(
                format!("venues[{i}].{missing}"),
                "(missing)",
                &format!("every [[venues]] entry needs {}", REQUIRED.join(", ")),
            ));
        }
    }
    Ok(())
}

fn addr(key: String, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(key, format!("{s:?}"), "an address such as 127.0.0.1:30001"))
}

/// The venues of `cfg`: the `[[venues]]` entries, or the single `[venue]`
/// (named after its session, or "VENUE").
pub fn resolve(cfg: &HostConfig) -> Result<Vec<ResolvedVenue>, ConfigError> {
    let base = cfg.risk.firm_index;
    if cfg.venues.is_empty() {
        let name = if cfg.venue.session.trim().is_empty() {
            "VENUE".to_string()
        } else {
            cfg.venue.session.trim().to_string()
        };
        return Ok(vec![ResolvedVenue {
            name,
            address: addr("venue.address".into(), &cfg.venue.address)?,
            feed_listen: addr("feed.listen".into(), &cfg.feed.listen)?,
            retransmit: addr("feed.retransmit".into(), &cfg.feed.retransmit)?,
            take_fee: 0,
            make_fee: 0,
            latency_us: 0,
            firm_slot: base,
            session: cfg.venue.session.clone(),
        }]);
    }
    if cfg.venues.len() > MAX_VENUES {
        return Err(invalid(
            "venues".into(),
            format!("{} entries", cfg.venues.len()),
            "at most 8 [[venues]] entries",
        ));
    }
    let mut out: Vec<ResolvedVenue> = Vec::with_capacity(cfg.venues.len());
    for (i, e) in cfg.venues.iter().enumerate() {
        let k = |f: &str| format!("venues[{i}].{f}");
        let name = e.name.trim();
        if name.is_empty() || name.len() > 8 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(
                k("name"),
                format!("{:?}", e.name),
                "1-8 ASCII letters or digits",
            ));
        }
        if out.iter().any(|v| v.name == name) {
            return Err(invalid(
                k("name"),
                format!("{name:?}"),
                "a name no other venue has",
            ));
        }
        let slot = match (i, e.firm_index) {
            (0, Some(s)) if s != base => {
                return Err(invalid(
                    k("firm_index"),
                    s,
                    &format!("risk.firm_index ({base}): the first venue uses the [risk] slot"),
                ))
            }
            (_, Some(s)) => s,
            (_, None) => base.saturating_add(i as u8),
        };
        if usize::from(slot) >= eti_hdl::regmap::FIRMS {
            return Err(invalid(
                k("firm_index"),
                slot,
                &format!("0..{} (the gate's firm slots)", eti_hdl::regmap::FIRMS),
            ));
        }
        if out.iter().any(|v| v.firm_slot == slot) {
            return Err(invalid(k("firm_index"), slot, "a slot no other venue uses"));
        }
        if !e.session.is_empty() && eti_core::moldudp64::Session::new(&e.session).is_none() {
            return Err(invalid(
                k("session"),
                format!("{:?}", e.session),
                "blank or 1-10 ASCII characters",
            ));
        }
        let v = ResolvedVenue {
            name: name.to_string(),
            address: addr(k("address"), &e.address)?,
            feed_listen: addr(k("feed_listen"), &e.feed_listen)?,
            retransmit: addr(k("retransmit"), &e.retransmit)?,
            take_fee: e.take_fee,
            make_fee: e.make_fee,
            latency_us: e.latency_us,
            firm_slot: slot,
            session: e.session.clone(),
        };
        if out.iter().any(|o| o.feed_listen == v.feed_listen) {
            return Err(invalid(
                k("feed_listen"),
                v.feed_listen,
                "an address no other venue's feed uses",
            ));
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = r#"
[[venues]]
name = "ETIX"
address = "127.0.0.1:31003"
feed_listen = "127.0.0.1:31001"
retransmit = "127.0.0.1:31002"
take_fee = 30
make_fee = -20

[[venues]]
name = "ETIY"
address = "127.0.0.1:31013"
feed_listen = "127.0.0.1:31011"
retransmit = "127.0.0.1:31012"
take_fee = -5
latency_us = 50

[[venues]]
name = "ETIZ"
address = "127.0.0.1:31023"
feed_listen = "127.0.0.1:31021"
retransmit = "127.0.0.1:31022"
firm_index = 7
"#;

    #[test]
    fn single_venue_config_is_one_venue() {
        let c = HostConfig::default();
        let v = resolve(&c).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].address.to_string(), c.venue.address);
        assert_eq!(v[0].feed_listen.to_string(), c.feed.listen);
        assert_eq!(v[0].firm_slot, c.risk.firm_index);
        assert_eq!(v[0].name, "VENUE");
    }

    #[test]
    fn three_venues_with_slots_fees_and_the_first_as_primary() {
        let c = HostConfig::from_toml(THREE).unwrap();
        let v = resolve(&c).unwrap();
        let names: Vec<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["ETIX", "ETIY", "ETIZ"]);
        assert_eq!(v.iter().map(|v| v.firm_slot).collect::<Vec<_>>(), [0, 1, 7]);
        assert_eq!((v[0].take_fee, v[0].make_fee), (30, -20));
        assert_eq!((v[1].take_fee, v[1].latency_us), (-5, 50));
        let r = c.resolve().unwrap();
        assert_eq!(r.venue.to_string(), "127.0.0.1:31003");
        assert_eq!(r.feed_listen.to_string(), "127.0.0.1:31001");
        assert_eq!(r.retransmit.to_string(), "127.0.0.1:31002");
        assert_eq!(r.venues.len(), 3);
    }

    #[test]
    fn bad_entries_name_their_key() {
        let err = |extra: &str, from: &str, to: &str| {
            HostConfig::from_toml(&THREE.replacen(from, to, 1).replace("#EXTRA", extra))
                .unwrap_err()
                .to_string()
        };
        let e = err("", "name = \"ETIY\"", "name = \"ETIX\"");
        assert!(
            e.contains("venues[1].name") && e.contains("no other venue"),
            "{e}"
        );
        let e = err("", "firm_index = 7", "firm_index = 1");
        assert!(e.contains("venues[2].firm_index"), "{e}");
        let e = err("", "firm_index = 7", "firm_index = 16");
        assert!(
            e.contains("venues[2].firm_index") && e.contains("0..16"),
            "{e}"
        );
        let e = err("", "take_fee = 30", "take_fee = \"30\"");
        assert!(
            e.contains("venues[0].take_fee") && e.contains("integer"),
            "{e}"
        );
        let e = err("", "latency_us = 50", "latncy_us = 50");
        assert!(
            e.contains("venues[1].latncy_us") && e.contains("accepted"),
            "{e}"
        );
        let e = err("", "address = \"127.0.0.1:31013\"", "address = \"nowhere\"");
        assert!(e.contains("venues[1].address"), "{e}");
        let e = err("", "feed_listen = \"127.0.0.1:31021\"", "");
        assert!(
            e.contains("venues[2].feed_listen") && e.contains("missing"),
            "{e}"
        );
        let e = err(
            "",
            "name = \"ETIX\"\naddress",
            "name = \"ETIX\"\nfirm_index = 3\naddress",
        );
        assert!(
            e.contains("venues[0].firm_index") && e.contains("risk.firm_index"),
            "{e}"
        );
    }
}
