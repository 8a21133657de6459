//! The host's TOML configuration: embedded defaults (every binary runs with no
//! file), serde parsing that rejects unknown keys, and validation that names the
//! offending key and the accepted range.

use eti_core::{Firm, Price, Side, Symbol};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use thiserror::Error;

/// The defaults, as a file. `eti run` with no `--config` runs on these.
pub const DEFAULT_TOML: &str = r#"
# eti host defaults. Every key may be overridden in a file given with --config.

[feed]
listen = "127.0.0.1:30001"     # where ITCH/MoldUDP64 datagrams arrive
retransmit = "127.0.0.1:30002" # the venue's MoldUDP64 retransmission server
path = "socket"                # socket | afxdp | auto (AF_XDP with socket fallback)
interface = "lo"               # AF_XDP interface
join = "from_one"              # from_one (recover the whole session) | live
retry_ms = 100                 # re-send an unanswered retransmission request after
gap_timeout_ms = 3000          # a gap still open after this is unrecoverable: books go stale

[venue]
address = "127.0.0.1:30003"    # SoupBinTCP 3.0 / OUCH 4.2
username = "ETI001"
password = "eti"
session = ""                   # blank: the venue's current session
firm = "ETIA"
token_prefix = "ETI"           # order tokens are PREFIX + 11-digit counter
heartbeat_ms = 1000
peer_timeout_ms = 15000
reconnect_ms = 200
connect_timeout_ms = 2000

[risk]
gate = "golden"                # golden (software model) | rtl (rust-hdl simulation)
firm_index = 0                 # the gate's firm slot for this session
max_order_shares = 5000
max_order_notional = "1000000.00"
collar_bps = 500
throttle_burst = 20
throttle_shift = 14            # one token per 2^shift microseconds (14: ~61 orders/s)
credit = "20000000.00"
max_long = 200000
max_short = 200000
restricted = ["TSLA"]          # loaded into the gate's symbol table as restricted

[books]
max_locate = 1024
orders = 262144
levels = 512

[metrics]
listen = "127.0.0.1:9464"      # Prometheus /metrics and /health; "" disables

[hot]
cpu = -1                       # pin the hot thread to this CPU; -1 = no pinning
spin = false                   # true: spin when idle (dedicated core); false: yield the CPU

# Parent orders started at once by `eti run`, e.g.
# [[orders]]
# algo = "twap"                # twap | vwap
# symbol = "AAPL"
# side = "buy"
# shares = 5000
# limit = "191.00"
# duration_s = 60
# slices = 30
# participation_pct = 25
"#;

/// A bad configuration, naming its key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("config key `{key}` = {value}: expected {expected}")]
    Invalid {
        key: String,
        value: String,
        expected: String,
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
    expected: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedSection {
    pub listen: String,
    pub retransmit: String,
    pub path: String,
    pub interface: String,
    pub join: String,
    pub retry_ms: u64,
    pub gap_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VenueSection {
    pub address: String,
    pub username: String,
    pub password: String,
    pub session: String,
    pub firm: String,
    pub token_prefix: String,
    pub heartbeat_ms: u64,
    pub peer_timeout_ms: u64,
    pub reconnect_ms: u64,
    pub connect_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RiskSection {
    pub gate: String,
    pub firm_index: u8,
    pub max_order_shares: u32,
    pub max_order_notional: String,
    pub collar_bps: u16,
    pub throttle_burst: u16,
    pub throttle_shift: u8,
    pub credit: String,
    pub max_long: u32,
    pub max_short: u32,
    pub restricted: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BooksSection {
    pub max_locate: u16,
    pub orders: usize,
    pub levels: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HotSection {
    pub cpu: i32,
    pub spin: bool,
}

/// One parent order in config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderSection {
    pub algo: String,
    pub symbol: String,
    pub side: String,
    pub shares: u32,
    /// Limit price in dollars; "" = arrival price ± `limit_bps`.
    #[serde(default)]
    pub limit: String,
    #[serde(default = "default_limit_bps")]
    pub limit_bps: u32,
    pub duration_s: u64,
    #[serde(default = "default_slices")]
    pub slices: u32,
    #[serde(default = "default_participation")]
    pub participation_pct: u32,
    /// VWAP volume profile: relative weights of equal time buckets.
    #[serde(default)]
    pub profile: Vec<u32>,
}

fn default_limit_bps() -> u32 {
    100
}
fn default_slices() -> u32 {
    20
}
fn default_participation() -> u32 {
    25
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub feed: FeedSection,
    pub venue: VenueSection,
    pub risk: RiskSection,
    pub books: BooksSection,
    pub metrics: MetricsSection,
    pub hot: HotSection,
    #[serde(default)]
    pub orders: Vec<OrderSection>,
}

impl Default for HostConfig {
    fn default() -> Self {
        // The embedded defaults are tested to parse and validate.
        match toml::from_str::<HostConfig>(DEFAULT_TOML) {
            Ok(c) => c,
            Err(e) => panic!("embedded default config is invalid: {e}"),
        }
    }
}

/// Which gate implementation checks orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GateKind {
    Golden,
    Rtl,
}

/// Execution algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AlgoKind {
    Twap,
    Vwap,
}

/// A validated parent order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentSpec {
    pub algo: AlgoKind,
    pub symbol: Symbol,
    pub side: Side,
    pub shares: u32,
    /// Fixed limit, or None: arrival price ± `limit_bps`.
    pub limit: Option<Price>,
    pub limit_bps: u32,
    pub duration_ns: u64,
    pub slices: u32,
    pub participation_pct: u32,
    pub profile: Vec<u32>,
}

/// Typed, validated view of the configuration.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub feed_listen: SocketAddr,
    pub retransmit: SocketAddr,
    pub venue: SocketAddr,
    pub firm: Firm,
    pub gate: GateKind,
    pub max_order_notional: u64,
    pub credit: u64,
    pub restricted: Vec<Symbol>,
    pub orders: Vec<ParentSpec>,
}

fn addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse()
        .map_err(|_| invalid(key, format!("{v:?}"), "an IP:port socket address"))
}

fn money(key: &str, v: &str) -> Result<u64, ConfigError> {
    Price::parse_decimal(v)
        .map(|p| u64::from(p.0))
        .or_else(|_| {
            // amounts beyond a u32 price: whole dollars with optional cents
            let (d, c) = v.split_once('.').unwrap_or((v, "0"));
            let d: u64 = d.parse().map_err(|_| ())?;
            let c: u64 = format!("{c:0<4}")
                .get(..4)
                .ok_or(())?
                .parse()
                .map_err(|_| ())?;
            d.checked_mul(10_000)
                .and_then(|x| x.checked_add(c))
                .ok_or(())
        })
        .map_err(|_| {
            invalid(
                key,
                format!("{v:?}"),
                "a dollar amount with at most 4 decimals",
            )
        })
}

fn range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if v < lo || v > hi {
        Err(invalid(key, v, format!("{lo}..={hi}")))
    } else {
        Ok(v)
    }
}

impl OrderSection {
    pub fn resolve(&self, i: usize) -> Result<ParentSpec, ConfigError> {
        let k = |f: &str| format!("orders[{i}].{f}");
        let algo = match self.algo.as_str() {
            "twap" => AlgoKind::Twap,
            "vwap" => AlgoKind::Vwap,
            o => return Err(invalid(k("algo"), format!("{o:?}"), "\"twap\" or \"vwap\"")),
        };
        let symbol = Symbol::new(&self.symbol).map_err(|_| {
            invalid(
                k("symbol"),
                format!("{:?}", self.symbol),
                "1-8 upper-case ASCII characters",
            )
        })?;
        let side = match self.side.as_str() {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            o => return Err(invalid(k("side"), format!("{o:?}"), "\"buy\" or \"sell\"")),
        };
        range(&k("shares"), self.shares, 100, 999_999)?;
        let limit = if self.limit.is_empty() {
            None
        } else {
            Some(Price::parse_decimal(&self.limit).map_err(|_| {
                invalid(
                    k("limit"),
                    format!("{:?}", self.limit),
                    "a price in dollars, at most 4 decimals",
                )
            })?)
        };
        range(&k("limit_bps"), self.limit_bps, 0, 5_000)?;
        range(&k("duration_s"), self.duration_s, 1, 86_400)?;
        range(&k("slices"), self.slices, 1, 10_000)?;
        range(&k("participation_pct"), self.participation_pct, 1, 100)?;
        if algo == AlgoKind::Vwap {
            if self.profile.len() > 1000 {
                return Err(invalid(
                    k("profile"),
                    self.profile.len(),
                    "at most 1000 buckets",
                ));
            }
            if !self.profile.is_empty() && self.profile.iter().all(|&w| w == 0) {
                return Err(invalid(
                    k("profile"),
                    "all zero",
                    "at least one positive weight",
                ));
            }
        }
        Ok(ParentSpec {
            algo,
            symbol,
            side,
            shares: self.shares,
            limit,
            limit_bps: self.limit_bps,
            duration_ns: self.duration_s * 1_000_000_000,
            slices: self.slices,
            participation_pct: self.participation_pct,
            profile: self.profile.clone(),
        })
    }
}

impl HostConfig {
    pub fn from_toml(text: &str) -> Result<HostConfig, ConfigError> {
        let c: HostConfig = toml::from_str(text)?;
        c.resolve()?;
        Ok(c)
    }

    /// The file at `path`, or the embedded defaults.
    pub fn load(path: Option<&Path>) -> Result<HostConfig, ConfigError> {
        match path {
            None => Ok(HostConfig::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                    path: p.display().to_string(),
                    source,
                })?;
                HostConfig::from_toml(&text)
            }
        }
    }

    /// Check every value; the error names the key and the accepted range.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let feed_listen = addr("feed.listen", &self.feed.listen)?;
        let retransmit = addr("feed.retransmit", &self.feed.retransmit)?;
        if !matches!(self.feed.path.as_str(), "socket" | "afxdp" | "auto") {
            return Err(invalid(
                "feed.path",
                format!("{:?}", self.feed.path),
                "\"socket\", \"afxdp\" or \"auto\"",
            ));
        }
        if !matches!(self.feed.join.as_str(), "from_one" | "live") {
            return Err(invalid(
                "feed.join",
                format!("{:?}", self.feed.join),
                "\"from_one\" or \"live\"",
            ));
        }
        range("feed.retry_ms", self.feed.retry_ms, 1, 60_000)?;
        range("feed.gap_timeout_ms", self.feed.gap_timeout_ms, 10, 600_000)?;
        let venue = addr("venue.address", &self.venue.address)?;
        if eti_core::soupbintcp::Username::new(&self.venue.username).is_none() {
            return Err(invalid(
                "venue.username",
                format!("{:?}", self.venue.username),
                "1-6 ASCII characters",
            ));
        }
        if eti_core::soupbintcp::Password::new(&self.venue.password).is_none() {
            return Err(invalid(
                "venue.password",
                "(hidden)",
                "1-10 ASCII characters",
            ));
        }
        if !self.venue.session.is_empty()
            && eti_core::moldudp64::Session::new(&self.venue.session).is_none()
        {
            return Err(invalid(
                "venue.session",
                format!("{:?}", self.venue.session),
                "blank or 1-10 ASCII characters",
            ));
        }
        let firm = Firm::new(&self.venue.firm).map_err(|_| {
            invalid(
                "venue.firm",
                format!("{:?}", self.venue.firm),
                "1-4 upper-case ASCII characters",
            )
        })?;
        if self.venue.token_prefix.len() != 3
            || !self
                .venue
                .token_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        {
            return Err(invalid(
                "venue.token_prefix",
                format!("{:?}", self.venue.token_prefix),
                "exactly 3 ASCII letters or digits",
            ));
        }
        range("venue.heartbeat_ms", self.venue.heartbeat_ms, 10, 60_000)?;
        range(
            "venue.peer_timeout_ms",
            self.venue.peer_timeout_ms,
            100,
            600_000,
        )?;
        if self.venue.peer_timeout_ms <= self.venue.heartbeat_ms {
            return Err(invalid(
                "venue.peer_timeout_ms",
                self.venue.peer_timeout_ms,
                "more than venue.heartbeat_ms",
            ));
        }
        range("venue.reconnect_ms", self.venue.reconnect_ms, 1, 60_000)?;
        range(
            "venue.connect_timeout_ms",
            self.venue.connect_timeout_ms,
            10,
            60_000,
        )?;
        let gate = match self.risk.gate.as_str() {
            "golden" => GateKind::Golden,
            "rtl" => GateKind::Rtl,
            o => {
                return Err(invalid(
                    "risk.gate",
                    format!("{o:?}"),
                    "\"golden\" or \"rtl\"",
                ))
            }
        };
        range(
            "risk.firm_index",
            self.risk.firm_index,
            0,
            (eti_hdl::regmap::FIRMS - 1) as u8,
        )?;
        range(
            "risk.max_order_shares",
            self.risk.max_order_shares,
            1,
            999_999,
        )?;
        let max_order_notional = money("risk.max_order_notional", &self.risk.max_order_notional)?;
        range("risk.collar_bps", self.risk.collar_bps, 0, 10_000)?;
        range("risk.throttle_burst", self.risk.throttle_burst, 1, u16::MAX)?;
        range("risk.throttle_shift", self.risk.throttle_shift, 0, 31)?;
        let credit = money("risk.credit", &self.risk.credit)?;
        let mut restricted = Vec::new();
        for (i, s) in self.risk.restricted.iter().enumerate() {
            restricted.push(Symbol::new(s).map_err(|_| {
                invalid(
                    format!("risk.restricted[{i}]"),
                    format!("{s:?}"),
                    "1-8 upper-case ASCII characters",
                )
            })?);
        }
        range("books.max_locate", self.books.max_locate, 1, u16::MAX)?;
        range("books.orders", self.books.orders, 1, 1 << 26)?;
        range("books.levels", self.books.levels, 1, 1 << 16)?;
        if !self.metrics.listen.is_empty() {
            addr("metrics.listen", &self.metrics.listen)?;
        }
        range("hot.cpu", self.hot.cpu, -1, 1023)?;
        let orders = self
            .orders
            .iter()
            .enumerate()
            .map(|(i, o)| o.resolve(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resolved {
            feed_listen,
            retransmit,
            venue,
            firm,
            gate,
            max_order_notional,
            credit,
            restricted,
            orders,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_validate() {
        let c = HostConfig::default();
        let r = c.resolve().unwrap();
        assert_eq!(r.gate, GateKind::Golden);
        assert_eq!(r.max_order_notional, 1_000_000 * 10_000);
        assert_eq!(r.credit, 20_000_000 * 10_000);
        assert_eq!(r.restricted, vec![Symbol::new("TSLA").unwrap()]);
    }

    #[test]
    fn bad_values_name_key_and_range() {
        let t = DEFAULT_TOML.replace("collar_bps = 500", "collar_bps = 20000");
        let e = HostConfig::from_toml(&t).unwrap_err().to_string();
        assert!(
            e.contains("risk.collar_bps") && e.contains("0..=10000"),
            "{e}"
        );
        let t = DEFAULT_TOML.replace("gate = \"golden\"", "gate = \"fpga9\"");
        let e = HostConfig::from_toml(&t).unwrap_err().to_string();
        assert!(e.contains("risk.gate") && e.contains("golden"), "{e}");
        let t = DEFAULT_TOML.replace("address = \"127.0.0.1:30003\"", "address = \"nowhere\"");
        let e = HostConfig::from_toml(&t).unwrap_err().to_string();
        assert!(e.contains("venue.address"), "{e}");
        let t = format!("{DEFAULT_TOML}\n[[orders]]\nalgo = \"twap\"\nsymbol = \"AAPL\"\nside = \"buy\"\nshares = 5000\nduration_s = 10\nparticipation_pct = 0\n");
        let e = HostConfig::from_toml(&t).unwrap_err().to_string();
        assert!(
            e.contains("orders[0].participation_pct") && e.contains("1..=100"),
            "{e}"
        );
        let e = HostConfig::from_toml("[feed]\nbogus = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus") || e.contains("unknown"), "{e}");
    }
}
