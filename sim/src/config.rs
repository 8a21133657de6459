//! The simulator's TOML configuration: embedded defaults (so `eti-sim serve` runs
//! with no file), serde parsing that rejects unknown keys, and a validation pass
//! that names the offending key and the accepted range.

use crate::engine::EngineConfig;
use eti_core::{Firm, Price, Symbol};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use thiserror::Error;

/// The defaults, as a file: `eti-sim serve` with no `--config` runs on these.
pub const DEFAULT_TOML: &str = r#"
# eti-sim defaults. Every key may be overridden in a file given with --config.

[engine]
max_orders = 262144          # orders resting at once, all symbols (the preallocated pool)
levels_per_side = 512        # price levels reserved per side per symbol
penny_ticks = true           # reject sub-penny prices at or above $1 (Reg NMS 612)
self_match_prevention = true # by firm, cancel newest

[ouch]
listen = "127.0.0.1:30003"   # SoupBinTCP 3.0 / OUCH 4.2
session = "ETISIM0001"       # SoupBinTCP session name (10 characters at most)
heartbeat_ms = 1000          # server heartbeat after this much send silence
peer_timeout_ms = 15000      # a client silent this long is disconnected
cancel_on_disconnect = false # cancel a user's resting orders when its connection drops

[[ouch.users]]
username = "ETI001"
password = "eti"
firm = "ETIA"

[[ouch.users]]
username = "ETI002"
password = "eti"
firm = "ETIB"

[feed]
session = "ETISIM0001"       # MoldUDP64 session name
destinations = ["127.0.0.1:30001"]  # unicast or multicast (e.g. "239.1.1.1:30001")
bind = "0.0.0.0:0"           # local address the feed is sent from
retransmit_listen = "127.0.0.1:30002"
mtu = 1400                   # UDP payload bytes per MoldUDP64 packet
heartbeat_ms = 1000          # MoldUDP64 heartbeat after this much silence
retain_messages = 1048576    # messages kept for retransmission
multicast_ttl = 1
multicast_loop = true

[[symbols]]
symbol = "AAPL"
reference_price = "190.00"

[[symbols]]
symbol = "MSFT"
reference_price = "420.00"

[[symbols]]
symbol = "SPY"
reference_price = "520.00"

[flow]
enabled = true
seed = 42
orders_per_sec = 200         # background order actions per second, all symbols
participants = 8             # synthetic firms SYN0.. (self-match prevention applies)
depth_levels = 10            # levels per side seeded at start and kept around the reference
tick = "0.01"
volatility_ticks = 1         # reference price random-walk step, in ticks, per move
move_every = 50              # the reference price moves once per this many actions
max_shares = 500             # order sizes are uniform in [round_lot, max_shares], in lots
round_lot = 100
aggressive_pct = 10          # share of actions that cross the spread (IOC)
cancel_pct = 40              # share of actions that cancel a resting order
"#;

/// A configuration value out of range, named by its key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("config key `{key}` = {value}: expected {expected}")]
    Invalid {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("reading config {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn invalid(
    key: impl Into<String>,
    value: impl std::fmt::Display,
    expected: &'static str,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        expected,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    pub max_orders: usize,
    pub levels_per_side: usize,
    pub penny_ticks: bool,
    pub self_match_prevention: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    pub password: String,
    pub firm: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OuchConfig {
    pub listen: String,
    pub session: String,
    pub heartbeat_ms: u64,
    pub peer_timeout_ms: u64,
    pub cancel_on_disconnect: bool,
    pub users: Vec<UserConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub session: String,
    pub destinations: Vec<String>,
    pub bind: String,
    pub retransmit_listen: String,
    pub mtu: usize,
    pub heartbeat_ms: u64,
    pub retain_messages: usize,
    pub multicast_ttl: u32,
    pub multicast_loop: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SymbolConfig {
    pub symbol: String,
    /// Decimal dollars, at most 4 places: the synthetic flow's starting reference.
    pub reference_price: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    pub enabled: bool,
    pub seed: u64,
    pub orders_per_sec: u32,
    pub participants: u32,
    pub depth_levels: u32,
    pub tick: String,
    pub volatility_ticks: u32,
    pub move_every: u32,
    pub max_shares: u32,
    pub round_lot: u32,
    pub aggressive_pct: u32,
    pub cancel_pct: u32,
}

/// The whole configuration. Obtain it with [`SimConfig::default`] (the embedded
/// defaults), [`SimConfig::from_toml`] or [`SimConfig::load`]; all of them
/// validate. Then adjust fields in code if needed (tests use
/// [`SimConfig::loopback_ephemeral`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    pub engine: EngineSection,
    pub ouch: OuchConfig,
    pub feed: FeedConfig,
    pub symbols: Vec<SymbolConfig>,
    pub flow: FlowConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        // The embedded defaults are tested to parse and validate.
        match toml::from_str::<SimConfig>(DEFAULT_TOML) {
            Ok(c) => c,
            Err(e) => panic!("embedded default config is invalid: {e}"),
        }
    }
}

/// Validated, typed view of the parts the runtime needs.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub symbols: Vec<(Symbol, Price)>,
    pub users: Vec<(String, String, Firm)>,
    pub ouch_listen: SocketAddr,
    pub feed_bind: SocketAddr,
    pub feed_destinations: Vec<SocketAddr>,
    pub retransmit_listen: SocketAddr,
    pub ouch_session: eti_core::moldudp64::Session,
    pub feed_session: eti_core::moldudp64::Session,
    pub tick: Price,
}

impl SimConfig {
    /// Parse a TOML text that overrides the defaults key by key (a file only needs
    /// the keys it changes; arrays such as `symbols` replace the default array).
    pub fn from_toml(text: &str) -> Result<SimConfig, ConfigError> {
        let mut base: toml::Value = toml::from_str(DEFAULT_TOML)?;
        let over: toml::Value = toml::from_str(text)?;
        merge(&mut base, over);
        let cfg: SimConfig = base.try_into()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read and parse a file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<SimConfig, ConfigError> {
        match path {
            None => Ok(SimConfig::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                    path: p.display().to_string(),
                    source,
                })?;
                SimConfig::from_toml(&text)
            }
        }
    }

    /// Defaults moved to ephemeral loopback ports with no feed destination and no
    /// synthetic flow: what in-process tests start from (add the test's own UDP
    /// receiver to `feed.destinations`).
    pub fn loopback_ephemeral() -> SimConfig {
        let mut c = SimConfig::default();
        c.ouch.listen = "127.0.0.1:0".into();
        c.feed.retransmit_listen = "127.0.0.1:0".into();
        c.feed.bind = "127.0.0.1:0".into();
        c.feed.destinations.clear();
        c.flow.enabled = false;
        c.engine.max_orders = 1 << 16;
        c.engine.levels_per_side = 64;
        c
    }

    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            max_orders: self.engine.max_orders,
            levels_per_side: self.engine.levels_per_side,
            penny_ticks: self.engine.penny_ticks,
            self_match_prevention: self.engine.self_match_prevention,
        }
    }

    /// The sections that decide what a day file replays to (engine, users and
    /// firms, sessions, symbols, flow but its rate); addresses, timers, the
    /// flow's rate and passwords may change between runs of the same day.
    pub fn day_fingerprint(&self) -> serde_json::Value {
        let users: Vec<serde_json::Value> = self
            .ouch
            .users
            .iter()
            .map(|u| serde_json::json!({"username": u.username, "firm": u.firm}))
            .collect();
        serde_json::json!({
            "engine": self.engine,
            "ouch": {
                "session": self.ouch.session,
                "users": users,
                "cancel_on_disconnect": self.ouch.cancel_on_disconnect,
            },
            "feed": {"session": self.feed.session},
            "symbols": self.symbols,
            // the flow's rate is timing, not state: its actions are journaled
            "flow": FlowConfig { orders_per_sec: 0, ..self.flow.clone() },
        })
    }

    /// Check every value; the error names the key and the accepted range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }

    pub(crate) fn resolve(&self) -> Result<Resolved, ConfigError> {
        let e = &self.engine;
        if !(1..=(1 << 26)).contains(&e.max_orders) {
            return Err(invalid("engine.max_orders", e.max_orders, "1..=67108864"));
        }
        if !(1..=1 << 20).contains(&e.levels_per_side) {
            return Err(invalid(
                "engine.levels_per_side",
                e.levels_per_side,
                "1..=1048576",
            ));
        }
        let addr = |key: &str, v: &str| -> Result<SocketAddr, ConfigError> {
            v.parse::<SocketAddr>()
                .map_err(|_| invalid(key, format!("{v:?}"), "an IP:port socket address"))
        };
        let session = |key: &str, v: &str| {
            eti_core::moldudp64::Session::new(v)
                .ok_or_else(|| invalid(key, format!("{v:?}"), "1..=10 printable ASCII characters"))
        };
        let o = &self.ouch;
        let ouch_listen = addr("ouch.listen", &o.listen)?;
        let ouch_session = session("ouch.session", &o.session)?;
        if !(10..=60_000).contains(&o.heartbeat_ms) {
            return Err(invalid("ouch.heartbeat_ms", o.heartbeat_ms, "10..=60000"));
        }
        if !(50..=600_000).contains(&o.peer_timeout_ms) || o.peer_timeout_ms <= o.heartbeat_ms {
            return Err(invalid(
                "ouch.peer_timeout_ms",
                o.peer_timeout_ms,
                "50..=600000 and above ouch.heartbeat_ms",
            ));
        }
        if o.users.is_empty() || o.users.len() > 1000 {
            return Err(invalid("ouch.users", o.users.len(), "1..=1000 users"));
        }
        let mut users = Vec::with_capacity(o.users.len());
        for (i, u) in o.users.iter().enumerate() {
            if eti_core::soupbintcp::Username::new(&u.username).is_none() || u.username.is_empty() {
                return Err(invalid(
                    format!("ouch.users[{i}].username"),
                    format!("{:?}", u.username),
                    "1..=6 printable ASCII characters",
                ));
            }
            if eti_core::soupbintcp::Password::new(&u.password).is_none() {
                return Err(invalid(
                    format!("ouch.users[{i}].password"),
                    "(hidden)",
                    "0..=10 printable ASCII characters",
                ));
            }
            let firm = Firm::new(&u.firm).map_err(|_| {
                invalid(
                    format!("ouch.users[{i}].firm"),
                    format!("{:?}", u.firm),
                    "1..=4 uppercase letters or digits",
                )
            })?;
            if users
                .iter()
                .any(|(n, _, _): &(String, String, Firm)| *n == u.username)
            {
                return Err(invalid(
                    format!("ouch.users[{i}].username"),
                    &u.username,
                    "a name not used by another user",
                ));
            }
            users.push((u.username.clone(), u.password.clone(), firm));
        }
        let f = &self.feed;
        let feed_session = session("feed.session", &f.session)?;
        let feed_bind = addr("feed.bind", &f.bind)?;
        let retransmit_listen = addr("feed.retransmit_listen", &f.retransmit_listen)?;
        let mut feed_destinations = Vec::new();
        for (i, d) in f.destinations.iter().enumerate() {
            feed_destinations.push(addr(&format!("feed.destinations[{i}]"), d)?);
        }
        if !crate::feed::MTU_RANGE.contains(&f.mtu) {
            return Err(invalid("feed.mtu", f.mtu, crate::feed::MTU_RANGE_TEXT));
        }
        if !(10..=60_000).contains(&f.heartbeat_ms) {
            return Err(invalid("feed.heartbeat_ms", f.heartbeat_ms, "10..=60000"));
        }
        if !(1024..=(1 << 28)).contains(&f.retain_messages) {
            return Err(invalid(
                "feed.retain_messages",
                f.retain_messages,
                "1024..=268435456",
            ));
        }
        if f.multicast_ttl > 255 {
            return Err(invalid("feed.multicast_ttl", f.multicast_ttl, "0..=255"));
        }
        if self.symbols.is_empty() || self.symbols.len() > 10_000 {
            return Err(invalid("symbols", self.symbols.len(), "1..=10000 symbols"));
        }
        let mut symbols: Vec<(Symbol, Price)> = Vec::with_capacity(self.symbols.len());
        for (i, s) in self.symbols.iter().enumerate() {
            let sym = Symbol::new(&s.symbol).map_err(|_| {
                invalid(
                    format!("symbols[{i}].symbol"),
                    format!("{:?}", s.symbol),
                    "1..=8 of A-Z 0-9 . - + =",
                )
            })?;
            if symbols.iter().any(|(x, _)| *x == sym) {
                return Err(invalid(
                    format!("symbols[{i}].symbol"),
                    &s.symbol,
                    "a symbol listed once",
                ));
            }
            let px = Price::parse_decimal(&s.reference_price)
                .ok()
                .filter(|p| p.0 > 0 && *p <= Price::OUCH_MAX)
                .ok_or_else(|| {
                    invalid(
                        format!("symbols[{i}].reference_price"),
                        format!("{:?}", s.reference_price),
                        "a decimal price in (0, 199999.99] with at most 4 places",
                    )
                })?;
            symbols.push((sym, px));
        }
        let fl = &self.flow;
        if fl.orders_per_sec > 1_000_000 {
            return Err(invalid(
                "flow.orders_per_sec",
                fl.orders_per_sec,
                "0..=1000000",
            ));
        }
        if !(1..=100).contains(&fl.participants) {
            return Err(invalid("flow.participants", fl.participants, "1..=100"));
        }
        if !(1..=200).contains(&fl.depth_levels) {
            return Err(invalid("flow.depth_levels", fl.depth_levels, "1..=200"));
        }
        let tick = Price::parse_decimal(&fl.tick)
            .ok()
            .filter(|t| t.0 > 0 && t.0 <= 100_000)
            .ok_or_else(|| {
                invalid(
                    "flow.tick",
                    format!("{:?}", fl.tick),
                    "a decimal in (0, 10.00]",
                )
            })?;
        if e.penny_ticks && tick.0 % 100 != 0 {
            return Err(invalid(
                "flow.tick",
                &fl.tick,
                "a multiple of 0.01 while engine.penny_ticks is on",
            ));
        }
        if fl.volatility_ticks > 1000 {
            return Err(invalid(
                "flow.volatility_ticks",
                fl.volatility_ticks,
                "0..=1000",
            ));
        }
        if fl.move_every == 0 {
            return Err(invalid("flow.move_every", 0, "at least 1"));
        }
        if !(1..=100_000).contains(&fl.round_lot) {
            return Err(invalid("flow.round_lot", fl.round_lot, "1..=100000"));
        }
        if fl.max_shares < fl.round_lot || fl.max_shares >= 1_000_000 {
            return Err(invalid(
                "flow.max_shares",
                fl.max_shares,
                "flow.round_lot..=999999",
            ));
        }
        if fl.aggressive_pct + fl.cancel_pct > 100 {
            return Err(invalid(
                "flow.aggressive_pct",
                fl.aggressive_pct,
                "with flow.cancel_pct, at most 100 in total",
            ));
        }
        for (_, p) in &symbols {
            if u64::from(p.0) <= u64::from(tick.0) * u64::from(fl.depth_levels) {
                return Err(invalid(
                    "symbols.reference_price",
                    p,
                    "above flow.tick × flow.depth_levels, so seeded bids stay positive",
                ));
            }
        }
        Ok(Resolved {
            symbols,
            users,
            ouch_listen,
            feed_bind,
            feed_destinations,
            retransmit_listen,
            ouch_session,
            feed_session,
            tick,
        })
    }
}

/// Overlay `over` onto `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse_and_validate() {
        let c = SimConfig::default();
        c.validate().unwrap();
        assert_eq!(c.ouch.listen, "127.0.0.1:30003");
        assert_eq!(c.feed.destinations, vec!["127.0.0.1:30001".to_string()]);
        assert_eq!(c.feed.retransmit_listen, "127.0.0.1:30002");
        SimConfig::loopback_ephemeral().validate().unwrap();
    }

    #[test]
    fn file_overrides_only_its_keys() {
        let c = SimConfig::from_toml(
            "[flow]\nseed = 7\n[ouch]\nheartbeat_ms = 100\npeer_timeout_ms = 500\n",
        )
        .unwrap();
        assert_eq!(c.flow.seed, 7);
        assert_eq!(c.ouch.peer_timeout_ms, 500);
        assert_eq!(
            c.flow.orders_per_sec,
            SimConfig::default().flow.orders_per_sec
        );
    }

    #[test]
    fn bad_values_name_key_and_range() {
        let cases = [
            ("[feed]\nmtu = 10\n", "feed.mtu", "128..=65507"),
            (
                "[ouch]\nlisten = \"nowhere\"\n",
                "ouch.listen",
                "socket address",
            ),
            (
                "[[symbols]]\nsymbol = \"aapl\"\nreference_price = \"1.00\"\n",
                "symbols[0].symbol",
                "A-Z",
            ),
            (
                "[[symbols]]\nsymbol = \"AAPL\"\nreference_price = \"-1\"\n",
                "symbols[0].reference_price",
                "decimal",
            ),
            (
                "[flow]\naggressive_pct = 80\ncancel_pct = 30\n",
                "flow.aggressive_pct",
                "at most 100",
            ),
            (
                "[ouch]\nheartbeat_ms = 2000\npeer_timeout_ms = 1000\n",
                "ouch.peer_timeout_ms",
                "above",
            ),
        ];
        for (text, key, range) in cases {
            let err = SimConfig::from_toml(text).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains(range),
                "{text:?} gave {err}"
            );
        }
        let err = SimConfig::from_toml("[feed]\nmut = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mut"), "unknown keys are named: {err}");
    }
}
