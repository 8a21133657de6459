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

# The venues `eti-sim serve --venues N` runs (the first N; a single venue is the
# first). Fees are integers in hundredths of a cent per share ($0.0001, the unit
# of a price on the wire); positive = the member pays, negative = the venue pays.
# maker_fee applies to the resting side (liquidity flag A), taker_fee to the side
# that removed liquidity (flag R): a maker rebate is a negative maker_fee.
# latency_us delays every inbound OUCH message before matching (ack and fills
# come that much later). size_pct scales the synthetic flow's order sizes,
# spread_ticks moves its quotes that many ticks further from the reference.
# Venue i > 0 listens on the ports above + 10 x i (ouch 30013, feed 30011,
# retransmission 30012 for the second venue; port 0 stays ephemeral) and its
# SoupBinTCP and MoldUDP64 sessions are its name, unless its entry sets
# ouch_listen, retransmit_listen, feed_destinations or session.

[[venues]]
name = "ETIX"                # maker-taker: deep, tight, no added latency
maker_fee = -20              # $0.0020 rebate per share added
taker_fee = 30               # $0.0030 per share removed
latency_us = 0
size_pct = 100
spread_ticks = 0

[[venues]]
name = "ETIY"                # inverted: thin, pays takers
maker_fee = 10               # $0.0010 per share added
taker_fee = -5               # $0.0005 rebate per share removed
latency_us = 200
size_pct = 50
spread_ticks = 0

[[venues]]
name = "ETIZ"                # cheap, far: large size, wider quotes
maker_fee = 0
taker_fee = 10               # $0.0010 per share removed
latency_us = 500
size_pct = 200
spread_ticks = 1
"#;

/// Port step between consecutive venues of one run (`--venues N`).
pub const VENUE_PORT_STEP: u16 = 10;

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

/// One venue of a run: its name, fee schedule, added latency and the shape of
/// its synthetic liquidity (the `[[venues]]` entries; see [`DEFAULT_TOML`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// 1..=10 of A-Z 0-9 (it is also the default session name).
    pub name: String,
    /// Per share added (liquidity flag A), in $0.0001; negative is a rebate.
    pub maker_fee: i32,
    /// Per share removed (liquidity flag R), in $0.0001; negative is a rebate.
    pub taker_fee: i32,
    /// Added to every inbound OUCH message before it reaches the matching engine.
    pub latency_us: u64,
    /// The synthetic flow's order sizes, in % of `flow.max_shares`.
    pub size_pct: u32,
    /// Extra ticks between the flow's reference price and its quotes.
    pub spread_ticks: u32,
    /// Overrides the derived `ouch.listen` (venue i: port + 10 x i).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ouch_listen: Option<String>,
    /// Overrides the derived `feed.retransmit_listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmit_listen: Option<String>,
    /// Overrides the derived `feed.destinations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_destinations: Option<Vec<String>>,
    /// Overrides the SoupBinTCP and MoldUDP64 session names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// A venue's published fee schedule, in $0.0001 per share (the price unit);
/// positive = the member pays, negative = the venue pays (a rebate).
///
/// OUCH 4.2 carries no fee: its Executed message (type E: Timestamp, Order
/// Token, Executed Shares, Execution Price, Liquidity Flag, Match Number) has
/// only the liquidity flag. The member applies the published schedule to the
/// flag, as [`FeeSchedule::fee`] does; the venue's drop copy carries the result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub maker_fee: i32,
    pub taker_fee: i32,
}

impl FeeSchedule {
    /// The fee for one execution, in $0.0001 (positive: the member pays):
    /// `maker_fee` x shares when it added liquidity (flag A), `taker_fee` x
    /// shares when it removed it (flag R).
    pub fn fee(&self, added_liquidity: bool, shares: u32) -> i64 {
        let per_share = if added_liquidity {
            self.maker_fee
        } else {
            self.taker_fee
        };
        i64::from(per_share) * i64::from(shares)
    }
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
    /// At least one; a single venue runs the first.
    pub venues: Vec<VenueConfig>,
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
    /// The first `[[venues]]` entry: this simulator's venue.
    pub venue: VenueConfig,
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
            // fees (drop copy) and liquidity (flow); latency and addresses are timing
            "venue": self.venues.first().map(|v| serde_json::json!({
                "name": v.name,
                "maker_fee": v.maker_fee,
                "taker_fee": v.taker_fee,
                "size_pct": v.size_pct,
                "spread_ticks": v.spread_ticks,
            })),
        })
    }

    /// The configuration of venue `index` of a multi-venue run, as a
    /// single-venue configuration (its `venues` holds only that entry): ports
    /// moved by `index` x [`VENUE_PORT_STEP`] (port 0 stays ephemeral) and
    /// sessions named after the venue, unless the entry overrides them. Venue 0
    /// keeps this configuration's addresses and sessions.
    pub fn for_venue(&self, index: usize) -> Result<SimConfig, ConfigError> {
        let v = self.venues.get(index).cloned().ok_or_else(|| {
            invalid(
                "venues",
                self.venues.len(),
                "as many [[venues]] entries as venues to run",
            )
        })?;
        let step = u16::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(VENUE_PORT_STEP));
        let shift = |key: &str, a: &str| -> Result<String, ConfigError> {
            let mut addr: SocketAddr = a
                .parse()
                .map_err(|_| invalid(key, format!("{a:?}"), "an IP:port socket address"))?;
            if addr.port() != 0 {
                let p = step
                    .and_then(|s| addr.port().checked_add(s))
                    .ok_or_else(|| {
                        invalid(
                            format!("venues[{index}]"),
                            a,
                            "a base port that leaves room for 10 x the venue's index",
                        )
                    })?;
                addr.set_port(p);
            }
            Ok(addr.to_string())
        };
        let mut c = self.clone();
        if index > 0 {
            c.ouch.listen = match &v.ouch_listen {
                Some(a) => a.clone(),
                None => shift("ouch.listen", &self.ouch.listen)?,
            };
            c.feed.retransmit_listen = match &v.retransmit_listen {
                Some(a) => a.clone(),
                None => shift("feed.retransmit_listen", &self.feed.retransmit_listen)?,
            };
            c.feed.destinations = match &v.feed_destinations {
                Some(d) => d.clone(),
                None => self
                    .feed
                    .destinations
                    .iter()
                    .enumerate()
                    .map(|(i, d)| shift(&format!("feed.destinations[{i}]"), d))
                    .collect::<Result<_, _>>()?,
            };
            c.feed.bind = shift("feed.bind", &self.feed.bind)?;
            let session = v.session.clone().unwrap_or_else(|| v.name.clone());
            c.ouch.session = session.clone();
            c.feed.session = session;
        } else {
            if let Some(a) = &v.ouch_listen {
                c.ouch.listen = a.clone();
            }
            if let Some(a) = &v.retransmit_listen {
                c.feed.retransmit_listen = a.clone();
            }
            if let Some(d) = &v.feed_destinations {
                c.feed.destinations = d.clone();
            }
            if let Some(s) = &v.session {
                c.ouch.session = s.clone();
                c.feed.session = s.clone();
            }
        }
        c.venues = vec![v];
        c.validate()?;
        Ok(c)
    }

    /// The first venue's fee schedule (this simulator's).
    pub fn fees(&self) -> FeeSchedule {
        self.venues
            .first()
            .map_or(FeeSchedule::default(), |v| FeeSchedule {
                maker_fee: v.maker_fee,
                taker_fee: v.taker_fee,
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
        if self.venues.is_empty() || self.venues.len() > 100 {
            return Err(invalid(
                "venues",
                self.venues.len(),
                "1..=100 [[venues]] entries",
            ));
        }
        for (i, v) in self.venues.iter().enumerate() {
            let key = |k: &str| format!("venues[{i}].{k}");
            let name_ok = (1..=10).contains(&v.name.len())
                && v.name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !name_ok {
                return Err(invalid(
                    key("name"),
                    format!("{:?}", v.name),
                    "1..=10 of A-Z 0-9",
                ));
            }
            if self.venues[..i].iter().any(|w| w.name == v.name) {
                return Err(invalid(
                    key("name"),
                    &v.name,
                    "a name not used by another venue",
                ));
            }
            for (k, fee) in [("maker_fee", v.maker_fee), ("taker_fee", v.taker_fee)] {
                if !(-1000..=1000).contains(&fee) {
                    return Err(invalid(
                        key(k),
                        fee,
                        "-1000..=1000 hundredths of a cent per share ($0.10)",
                    ));
                }
            }
            if v.latency_us > 1_000_000 {
                return Err(invalid(key("latency_us"), v.latency_us, "0..=1000000"));
            }
            if !(10..=1000).contains(&v.size_pct) {
                return Err(invalid(key("size_pct"), v.size_pct, "10..=1000"));
            }
            if v.spread_ticks > 100 {
                return Err(invalid(key("spread_ticks"), v.spread_ticks, "0..=100"));
            }
            if let Some(a) = &v.ouch_listen {
                addr(&key("ouch_listen"), a)?;
            }
            if let Some(a) = &v.retransmit_listen {
                addr(&key("retransmit_listen"), a)?;
            }
            for (j, d) in v.feed_destinations.iter().flatten().enumerate() {
                addr(&format!("venues[{i}].feed_destinations[{j}]"), d)?;
            }
            if let Some(x) = &v.session {
                session(&key("session"), x)?;
            }
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
            venue: self.venues[0].clone(),
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

    #[test]
    fn venue_i_moves_ports_by_ten_i_and_is_named_after_itself() {
        let c = SimConfig::default();
        let names: Vec<&str> = c.venues.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["ETIX", "ETIY", "ETIZ"]);
        let x = c.for_venue(0).unwrap();
        assert_eq!(
            (x.ouch.listen.as_str(), x.feed.session.as_str()),
            ("127.0.0.1:30003", "ETISIM0001")
        );
        assert_eq!(x.venues.len(), 1);
        let z = c.for_venue(2).unwrap();
        assert_eq!(z.ouch.listen, "127.0.0.1:30023");
        assert_eq!(z.feed.retransmit_listen, "127.0.0.1:30022");
        assert_eq!(z.feed.destinations, ["127.0.0.1:30021"]);
        assert_eq!(z.feed.bind, "0.0.0.0:0", "port 0 stays ephemeral");
        assert_eq!(
            (z.ouch.session.as_str(), z.feed.session.as_str()),
            ("ETIZ", "ETIZ")
        );
        assert_eq!(
            z.fees(),
            FeeSchedule {
                maker_fee: 0,
                taker_fee: 10
            }
        );
        // an entry's own addresses and session win
        let mut c2 = c.clone();
        c2.venues[1].ouch_listen = Some("127.0.0.1:4000".into());
        c2.venues[1].session = Some("YSESSION".into());
        let y = c2.for_venue(1).unwrap();
        assert_eq!(y.ouch.listen, "127.0.0.1:4000");
        assert_eq!(y.feed.retransmit_listen, "127.0.0.1:30012");
        assert_eq!(y.feed.session, "YSESSION");
        // no room above the base port, no such venue: errors naming the key
        let mut c3 = c.clone();
        c3.ouch.listen = "127.0.0.1:65530".into();
        let e = c3.for_venue(1).unwrap_err().to_string();
        assert!(e.contains("venues[1]"), "{e}");
        let e = c.for_venue(3).unwrap_err().to_string();
        assert!(e.contains("venues"), "{e}");
    }

    #[test]
    fn fees_follow_the_liquidity_flag_and_bad_venues_are_named() {
        let f = FeeSchedule {
            maker_fee: -20,
            taker_fee: 30,
        };
        assert_eq!(f.fee(true, 300), -6_000);
        assert_eq!(f.fee(false, 300), 9_000);
        for (text, key) in [
            ("[[venues]]\nname = \"etix\"\nmaker_fee = 0\ntaker_fee = 0\nlatency_us = 0\nsize_pct = 100\nspread_ticks = 0\n", "venues[0].name"),
            ("[[venues]]\nname = \"A\"\nmaker_fee = 0\ntaker_fee = 2000\nlatency_us = 0\nsize_pct = 100\nspread_ticks = 0\n", "venues[0].taker_fee"),
            ("[[venues]]\nname = \"A\"\nmaker_fee = 0\ntaker_fee = 0\nlatency_us = 0\nsize_pct = 5\nspread_ticks = 0\n", "venues[0].size_pct"),
            ("venues = []\n", "venues"),
        ] {
            let e = SimConfig::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?} gave {e}");
        }
    }
}
