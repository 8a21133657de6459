//! The host's TOML configuration: embedded defaults (every binary runs with no
//! file), a file merged over them key by key, and checks that name the
//! offending key, its value and what is accepted (unknown keys, wrong types and
//! out-of-range numbers are caught before serde sees them, so a number too big
//! for its field reports the key's range, not "expected u16").

use eti_core::{Firm, Price, Side, Symbol};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The defaults, as a file (`eti config` prints it). `eti run` with no
/// `--config` runs on these.
pub const DEFAULT_TOML: &str = r#"
# eti host defaults. A file given with --config is merged over these key by key:
# it needs only the keys it changes (see host/eti.toml).

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
password = "eti"               # simulator default only; production: password_file or ETI_VENUE_PASSWORD
password_file = ""             # venue password from a FILE of mode 0600 (env ETI_VENUE_PASSWORD wins)
session = ""                   # blank: the venue's current session
firm = "ETIA"
token_prefix = "ETI"           # order tokens are PREFIX + 11-digit counter
heartbeat_ms = 1000
peer_timeout_ms = 15000
reconnect_ms = 200             # first retry after a failed attempt or a lost session
reconnect_max_ms = 5000        # each failure in a row doubles the wait, up to this
connect_timeout_ms = 2000      # TCP handshake + login (the connect never blocks the hot thread)
path = "kernel"                # kernel | afxdp | auto (smoltcp over AF_XDP, kernel TCP fallback)
interface = "lo"               # AF_XDP interface towards the venue (afxdp, auto)

[risk]
gate = "golden"                # golden (software model) | rtl (rust-hdl simulation)
order_table = "auto"           # the gate's order table (Replace checked on the stored order, Cancel and
                               # Replace of a dead token refused): auto (on where the gate has one) | on
                               # (refuse to start without one) | off
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
spin = false                   # true: spin when idle (dedicated core); false: block in poll(2)
                               # on the feed and venue sockets (wake-up bounded at 1 ms)

[journal]
dir = ""                       # journal directory; "" = no journal (unless eti run --journal DIR)
signing_key = ""               # Ed25519 secret key FILE (not the key): mode 0600 or stricter,
                               # outside the journal directory; "" = generate journal.key in the
                               # journal directory (warned: fine for tests, not for production)
on_full = "block"              # journal queue full: block (hot thread waits, nothing lost) |
                               # kill_switch (engage the gate's kill switch, journal a gap record)

[control]
listen = ""                    # operator HTTPS API (eti ctl), e.g. "127.0.0.1:9443"; "" = off
tls_dir = "eti-control-tls"    # CA + server certificate and keys; generated on first start
users_file = ""                # users, roles, token SHA-256s: a FILE of mode 0600 (needed with listen)

[tracing]
otlp_endpoint = ""             # OpenTelemetry spans (control requests, parent orders: start, children,
                               # fills, done) over OTLP/HTTP, e.g. "http://127.0.0.1:4318"; "" = off

# Parent orders started at once by `eti run`, e.g.
# [[orders]]
# algo = "twap"                # twap | vwap | is | pov | taker (IOC at the far touch when at or through limit)
# symbol = "AAPL"
# side = "buy"
# shares = 5000
# limit = "191.00"
# duration_s = 60
# slices = 30
# participation_pct = 25       # cap (twap, vwap, is); the target rate (pov)
# is: risk_aversion = 20, volatility_bps = 100, volume_pct = 10, impact_bps = 50
# pov: min_pct = 10, max_pct = 50 (min_pct <= participation_pct <= max_pct)
# twap/vwap/is: passive = true rests one day child at the near touch, re-priced by
#   OUCH Replace when the touch moves more than reprice_ticks = 1 ($0.01 ticks) away
"#;

/// A bad configuration, naming its key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("config key `{key}` is not known; accepted: {accepted}")]
    Unknown { key: String, accepted: String },
    #[error("config key `{key}` is missing; every [[orders]] entry needs {required}")]
    Missing { key: String, required: String },
    #[error("{path}: {source}")]
    InFile {
        path: String,
        source: Box<ConfigError>,
    },
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

fn default_reconnect_max_ms() -> u64 {
    5_000
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VenueSection {
    pub address: String,
    pub username: String,
    /// Inline password (the simulator's default); `password_file` or the
    /// environment's `ETI_VENUE_PASSWORD` take precedence. Never printed.
    pub password: String,
    /// Path of a 0600 file holding the venue password; "" = none.
    pub password_file: String,
    pub session: String,
    pub firm: String,
    pub token_prefix: String,
    pub heartbeat_ms: u64,
    pub peer_timeout_ms: u64,
    pub reconnect_ms: u64,
    /// Cap of the doubling wait between failed attempts.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    pub connect_timeout_ms: u64,
    /// kernel | afxdp | auto: what carries the session (see venue::transport).
    pub path: String,
    /// Interface of the AF_XDP order path.
    pub interface: String,
}

impl std::fmt::Debug for VenueSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueSection")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("password_file", &self.password_file)
            .field("session", &self.session)
            .field("firm", &self.firm)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RiskSection {
    pub gate: String,
    /// "auto" | "on" | "off": see [`OrderTableMode`].
    #[serde(default = "default_order_table")]
    pub order_table: String,
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

/// `[journal]`: where `eti run` journals and the key that seals the segments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JournalSection {
    /// "" = no journal unless `--journal DIR`.
    pub dir: String,
    /// Path of the Ed25519 secret key file; "" = generated in the journal dir.
    pub signing_key: String,
    /// "block" | "kill_switch": what the hot thread does when the journal's
    /// queue is full.
    pub on_full: String,
}

/// `[control]`: the operator control plane (see `crate::control`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// "" = no control API.
    pub listen: String,
    /// Where the CA and server certificate live (generated when absent).
    pub tls_dir: String,
    /// The users file (mode 0600).
    pub users_file: String,
}

/// `[tracing]`: OpenTelemetry spans (see `crate::telemetry::tracing`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TracingSection {
    /// "" = off; else `http://HOST:PORT[/PATH]` of an OTLP/HTTP collector.
    pub otlp_endpoint: String,
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
    /// VWAP: the order's symbol's curve from this `eti profile` file
    /// (instead of `profile`; "" = `profile`, or the embedded default).
    #[serde(default)]
    pub profile_file: String,
    /// IS: risk aversion λ' (dimensionless; 0 = straight line).
    #[serde(default = "default_risk_aversion")]
    pub risk_aversion: u32,
    /// IS: the stock's volatility over the window, bps.
    #[serde(default = "default_volatility_bps")]
    pub volatility_bps: u32,
    /// IS: the order's size, % of the stock's expected volume in the window.
    #[serde(default = "default_volume_pct")]
    pub volume_pct: u32,
    /// IS: temporary impact of trading at 100 % of volume, bps.
    #[serde(default = "default_impact_bps")]
    pub impact_bps: u32,
    /// POV: participation band around `participation_pct`.
    #[serde(default = "default_min_pct")]
    pub min_pct: u32,
    #[serde(default = "default_max_pct")]
    pub max_pct: u32,
    /// TWAP, VWAP, IS: one resting day child at the near touch, re-priced
    /// by OUCH Replace (see [`AlgoParams::passive`]).
    #[serde(default)]
    pub passive: bool,
    #[serde(default = "default_reprice_ticks")]
    pub reprice_ticks: u32,
}

fn default_risk_aversion() -> u32 {
    AlgoParams::default().risk_aversion
}
fn default_volatility_bps() -> u32 {
    AlgoParams::default().volatility_bps
}
fn default_volume_pct() -> u32 {
    AlgoParams::default().volume_pct
}
fn default_impact_bps() -> u32 {
    AlgoParams::default().impact_bps
}
fn default_min_pct() -> u32 {
    AlgoParams::default().min_pct
}
fn default_max_pct() -> u32 {
    AlgoParams::default().max_pct
}
fn default_reprice_ticks() -> u32 {
    AlgoParams::default().reprice_ticks
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
    pub journal: JournalSection,
    pub control: ControlSection,
    #[serde(default)]
    pub tracing: TracingSection,
    #[serde(default)]
    pub orders: Vec<OrderSection>,
    /// Several venues (`[[venues]]`, see [`crate::routing::config`]); empty:
    /// the one `[venue]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub venues: Vec<crate::routing::config::VenueEntry>,
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

fn default_order_table() -> String {
    "auto".into()
}

/// `risk.order_table`: whether the gate's order table (issue 13) checks
/// Replace on the stored order and refuses Replace, Cancel and Modify of a
/// token it does not hold live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderTableMode {
    /// On where the gate has one; otherwise off, said once at start.
    Auto,
    /// On; a gate without one refuses to start.
    On,
    /// Off (Replace checked on the global limits, unsided).
    Off,
}

impl OrderTableMode {
    /// The name used in config and summaries.
    pub fn name(self) -> &'static str {
        match self {
            OrderTableMode::Auto => "auto",
            OrderTableMode::On => "on",
            OrderTableMode::Off => "off",
        }
    }
}

/// Which gate implementation checks orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateKind {
    Golden,
    Rtl,
}

impl GateKind {
    /// The name used in config, summaries and JSON.
    pub fn name(self) -> &'static str {
        match self {
            GateKind::Golden => "golden",
            GateKind::Rtl => "rtl",
        }
    }
}

impl std::fmt::Display for GateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Execution algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlgoKind {
    Twap,
    Vwap,
    /// Implementation Shortfall (Almgren–Chriss trajectory).
    Is,
    /// Percentage of volume.
    Pov,
    /// Takes the far touch (IOC) whenever it is at or through the limit.
    Taker,
}

impl AlgoKind {
    /// The name used in config, summaries and JSON.
    pub fn name(self) -> &'static str {
        match self {
            AlgoKind::Twap => "twap",
            AlgoKind::Vwap => "vwap",
            AlgoKind::Is => "is",
            AlgoKind::Pov => "pov",
            AlgoKind::Taker => "taker",
        }
    }
}

impl std::fmt::Display for AlgoKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
    /// Parameters of IS and POV (ignored by the others).
    pub params: AlgoParams,
}

/// Parameters of the IS and POV algos (see `trading::algos`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgoParams {
    /// IS: risk aversion λ' = λ · arrival notional (dimensionless).
    pub risk_aversion: u32,
    /// IS: the stock's volatility over the window, bps.
    pub volatility_bps: u32,
    /// IS: the order's size, % of the stock's expected volume in the window.
    pub volume_pct: u32,
    /// IS: temporary impact of trading at 100 % of volume, bps.
    pub impact_bps: u32,
    /// POV: lowest and highest participation before it catches up / holds back.
    pub min_pct: u32,
    pub max_pct: u32,
    /// TWAP, VWAP, IS: rest one day child at the near touch instead of
    /// sending IOCs at the far touch, re-priced by OUCH Replace when the
    /// touch moves away (with several venues it rests on the first venue,
    /// and the final stretch goes through the router).
    pub passive: bool,
    /// Passive: re-price once the touch is more than this many ticks
    /// ($0.01) away from the resting child's price.
    pub reprice_ticks: u32,
}

impl Default for AlgoParams {
    fn default() -> Self {
        AlgoParams {
            risk_aversion: 20,
            volatility_bps: 100,
            volume_pct: 10,
            impact_bps: 50,
            min_pct: 10,
            max_pct: 50,
            passive: false,
            reprice_ticks: 1,
        }
    }
}

/// Typed, validated view of the configuration.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub feed_listen: SocketAddr,
    pub retransmit: SocketAddr,
    pub venue: SocketAddr,
    pub firm: Firm,
    pub gate: GateKind,
    /// `risk.order_table`.
    pub order_table: OrderTableMode,
    pub max_order_notional: u64,
    pub credit: u64,
    pub restricted: Vec<Symbol>,
    pub orders: Vec<ParentSpec>,
    /// The venues (one without `[[venues]]`); the first is `venue`,
    /// `feed_listen` and `retransmit` above.
    pub venues: Vec<crate::routing::config::ResolvedVenue>,
    /// `journal.dir`, when set.
    pub journal_dir: Option<PathBuf>,
    /// `journal.signing_key`, when set (checked by [`check_signing_key`]
    /// when the journal opens).
    pub signing_key: Option<PathBuf>,
    /// `journal.on_full`.
    pub journal_on_full: crate::journal::OnFull,
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

/// Every integer key and the values it accepts: one table for the file check
/// (which runs before serde, so `collar_bps = 70000` reports 0..=10000 rather
/// than overflowing a u16) and for [`HostConfig::resolve`] (which checks
/// configs built in code). `orders.*` applies to every `[[orders]]` entry.
pub const INT_RANGES: &[(&str, i64, i64)] = &[
    ("feed.retry_ms", 1, 60_000),
    ("feed.gap_timeout_ms", 10, 600_000),
    ("venue.heartbeat_ms", 10, 60_000),
    ("venue.peer_timeout_ms", 100, 600_000),
    ("venue.reconnect_ms", 1, 60_000),
    ("venue.reconnect_max_ms", 1, 600_000),
    ("venue.connect_timeout_ms", 10, 60_000),
    ("risk.firm_index", 0, eti_hdl::regmap::FIRMS as i64 - 1),
    ("risk.max_order_shares", 1, 999_999),
    ("risk.collar_bps", 0, 10_000),
    ("risk.throttle_burst", 1, u16::MAX as i64),
    ("risk.throttle_shift", 0, 31),
    ("risk.max_long", 0, u32::MAX as i64),
    ("risk.max_short", 0, u32::MAX as i64),
    ("books.max_locate", 1, u16::MAX as i64),
    ("books.orders", 1, 1 << 26),
    ("books.levels", 1, 1 << 16),
    ("hot.cpu", -1, 1023),
    ("orders.shares", 100, 999_999),
    ("orders.limit_bps", 0, 5_000),
    ("orders.duration_s", 1, 86_400),
    ("orders.slices", 1, 10_000),
    ("orders.participation_pct", 1, 100),
    ("orders.profile", 0, u32::MAX as i64),
    ("orders.risk_aversion", 0, 1_000_000),
    ("orders.volatility_bps", 1, 10_000),
    ("orders.volume_pct", 1, 100),
    ("orders.impact_bps", 1, 10_000),
    ("orders.min_pct", 0, 100),
    ("orders.max_pct", 1, 100),
    ("orders.reprice_ticks", 0, 10_000),
];

/// The accepted range of an integer key of [`INT_RANGES`] (`orders[3].x` is
/// looked up as `orders.x`).
fn int_bounds(key: &str) -> (i64, i64) {
    let table_key = match key.split_once("].") {
        Some((head, field)) if head.starts_with("orders[") => format!("orders.{field}"),
        _ => key.to_string(),
    };
    INT_RANGES
        .iter()
        .find(|(k, _, _)| *k == table_key)
        .map_or((i64::MIN, i64::MAX), |&(_, lo, hi)| (lo, hi))
}

fn range<T: TryInto<i64> + Copy>(key: &str, v: T) -> Result<T, ConfigError> {
    let (lo, hi) = int_bounds(key);
    let x: i64 = v.try_into().unwrap_or(i64::MAX);
    if x < lo || x > hi {
        Err(invalid(key, x, format!("{lo}..={hi}")))
    } else {
        Ok(v)
    }
}

/// Keys every `[[orders]]` entry must give (the others have defaults).
const ORDER_REQUIRED: &[&str] = &["algo", "symbol", "side", "shares", "duration_s"];

/// Keys of one `[[orders]]` entry, with the TOML type each takes.
const ORDER_KEYS: &[(&str, &str)] = &[
    ("algo", "string"),
    ("symbol", "string"),
    ("side", "string"),
    ("shares", "integer"),
    ("limit", "string"),
    ("limit_bps", "integer"),
    ("duration_s", "integer"),
    ("slices", "integer"),
    ("participation_pct", "integer"),
    ("profile", "array"),
    ("profile_file", "string"),
    ("risk_aversion", "integer"),
    ("volatility_bps", "integer"),
    ("volume_pct", "integer"),
    ("impact_bps", "integer"),
    ("min_pct", "integer"),
    ("max_pct", "integer"),
    ("passive", "boolean"),
    ("reprice_ticks", "integer"),
];

fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

fn article(t: &str) -> &'static str {
    match t {
        "integer" => "an integer",
        "string" => "a string",
        "boolean" => "true or false",
        "array" => "an array",
        "table" => "a table",
        "float" => "a float",
        _ => "a datetime",
    }
}

/// One value of the file against the type the key takes (and, for integers,
/// its range).
fn check_value(key: &str, want: &str, v: &toml::Value) -> Result<(), ConfigError> {
    if type_name(v) != want {
        return Err(invalid(key, v, article(want)));
    }
    match v {
        toml::Value::Integer(i) => {
            range(key, *i)?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let k = format!("{key}[{i}]");
                match (key.ends_with(".profile"), item) {
                    (true, toml::Value::Integer(x)) => {
                        let (lo, hi) = int_bounds(key);
                        if *x < lo || *x > hi {
                            return Err(invalid(k, x, format!("{lo}..={hi}")));
                        }
                    }
                    (true, other) => return Err(invalid(k, other, "an integer")),
                    (false, toml::Value::String(_)) => {}
                    (false, other) => return Err(invalid(k, other, "a string")),
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every key of `file` must exist in `defaults` (or be an `[[orders]]`
/// field) with the same type; integers must be in range.
fn check_file(defaults: &toml::Table, file: &toml::Table) -> Result<(), ConfigError> {
    let sections = || {
        let mut names: Vec<&str> = defaults.keys().map(String::as_str).collect();
        names.push("[[orders]]");
        names.push("[[venues]]");
        names.join(", ")
    };
    for (section, v) in file {
        if section == "venues" {
            crate::routing::config::check_entries(v)?;
            continue;
        }
        if section == "orders" {
            let toml::Value::Array(entries) = v else {
                return Err(invalid("orders", v, "[[orders]] tables"));
            };
            for (i, e) in entries.iter().enumerate() {
                let toml::Value::Table(t) = e else {
                    return Err(invalid(format!("orders[{i}]"), e, "a table"));
                };
                for (k, v) in t {
                    let key = format!("orders[{i}].{k}");
                    let Some((_, want)) = ORDER_KEYS.iter().find(|(n, _)| n == k) else {
                        return Err(ConfigError::Unknown {
                            key,
                            accepted: ORDER_KEYS
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    };
                    check_value(&key, want, v)?;
                }
                if let Some(missing) = ORDER_REQUIRED.iter().find(|k| !t.contains_key(**k)) {
                    return Err(ConfigError::Missing {
                        key: format!("orders[{i}].{missing}"),
                        required: ORDER_REQUIRED.join(", "),
                    });
                }
            }
            continue;
        }
        let Some(toml::Value::Table(d)) = defaults.get(section) else {
            return Err(ConfigError::Unknown {
                key: section.clone(),
                accepted: format!("sections {}", sections()),
            });
        };
        let toml::Value::Table(t) = v else {
            return Err(invalid(section, v, format!("a [{section}] table")));
        };
        for (k, v) in t {
            let key = format!("{section}.{k}");
            let Some(dv) = d.get(k) else {
                return Err(ConfigError::Unknown {
                    key,
                    accepted: format!(
                        "in [{section}]: {}",
                        d.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    ),
                });
            };
            check_value(&key, type_name(dv), v)?;
        }
    }
    Ok(())
}

/// Overlay `file` onto `base`: tables merge key by key, anything else
/// (values, the `[[orders]]` array) replaces.
fn merge(base: &mut toml::Table, file: toml::Table) {
    for (k, v) in file {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `journal.signing_key` must name a key file of mode 0600 or stricter that
/// lives outside the journal directory (a key beside the records it seals
/// lets whoever can rewrite the records re-seal them).
pub fn check_signing_key(key: &Path, journal_dir: &Path) -> Result<(), ConfigError> {
    const KEY: &str = "journal.signing_key";
    let shown = format!("{:?}", key.display().to_string());
    let meta = match std::fs::metadata(key) {
        Ok(m) => m,
        Err(e) => {
            let text = key.to_string_lossy();
            let looks_like_key = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
            return Err(invalid(
                KEY,
                if looks_like_key {
                    "(64 hex characters)".into()
                } else {
                    shown
                },
                if looks_like_key {
                    "the path of a key file, not the key itself".to_string()
                } else {
                    format!("a readable key file ({e})")
                },
            ));
        }
    };
    if !meta.is_file() {
        return Err(invalid(
            KEY,
            shown,
            "a regular file (32 raw bytes or 64 hex characters)",
        ));
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(invalid(
            KEY,
            format!("{shown} (mode {mode:04o})"),
            format!(
                "a file only its owner can read: mode 0600 or stricter (chmod 600 {})",
                key.display()
            ),
        ));
    }
    if let (Ok(k), Ok(d)) = (key.canonicalize(), journal_dir.canonicalize()) {
        if k.starts_with(&d) {
            return Err(invalid(
                KEY,
                shown,
                format!(
                    "a file outside the journal directory {} (a key beside the records it seals proves nothing)",
                    journal_dir.display()
                ),
            ));
        }
    }
    Ok(())
}

impl OrderSection {
    pub fn resolve(&self, i: usize) -> Result<ParentSpec, ConfigError> {
        let k = |f: &str| format!("orders[{i}].{f}");
        let algo = match self.algo.as_str() {
            "twap" => AlgoKind::Twap,
            "vwap" => AlgoKind::Vwap,
            "is" => AlgoKind::Is,
            "pov" => AlgoKind::Pov,
            "taker" => AlgoKind::Taker,
            o => {
                return Err(invalid(
                    k("algo"),
                    format!("{o:?}"),
                    "\"twap\", \"vwap\", \"is\", \"pov\" or \"taker\"",
                ))
            }
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
        range(&k("shares"), self.shares)?;
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
        range(&k("limit_bps"), self.limit_bps)?;
        range(&k("duration_s"), self.duration_s)?;
        range(&k("slices"), self.slices)?;
        range(&k("participation_pct"), self.participation_pct)?;
        let params = self.params(i)?;
        if params.passive && !matches!(algo, AlgoKind::Twap | AlgoKind::Vwap | AlgoKind::Is) {
            return Err(invalid(
                k("passive"),
                true,
                "passive only for algo = \"twap\", \"vwap\" or \"is\" (pov and taker take liquidity)",
            ));
        }
        if algo == AlgoKind::Pov
            && !(params.min_pct..=params.max_pct).contains(&self.participation_pct)
        {
            return Err(invalid(
                k("participation_pct"),
                self.participation_pct,
                format!(
                    "a POV target inside its band min_pct..=max_pct ({}..={})",
                    params.min_pct, params.max_pct
                ),
            ));
        }
        let mut profile = self.profile.clone();
        if !self.profile_file.is_empty() {
            profile = self.profile_from_file(i, algo, &symbol)?;
        }
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
            profile,
            params,
        })
    }

    /// `profile_file`: the symbol's curve from an `eti profile` file.
    fn profile_from_file(
        &self,
        i: usize,
        algo: AlgoKind,
        symbol: &Symbol,
    ) -> Result<Vec<u32>, ConfigError> {
        let key = format!("orders[{i}].profile_file");
        let shown = format!("{:?}", self.profile_file);
        if algo != AlgoKind::Vwap {
            return Err(invalid(key, shown, "a profile only for algo = \"vwap\""));
        }
        if !self.profile.is_empty() {
            return Err(invalid(
                key,
                shown,
                "either profile or profile_file, not both",
            ));
        }
        let p = crate::analysis::profile::Profiles::load(Path::new(&self.profile_file))
            .map_err(|e| invalid(&key, &shown, format!("a readable `eti profile` file ({e})")))?;
        p.weights(symbol.as_str()).ok_or_else(|| {
            let have: Vec<&str> = p.volume.keys().map(String::as_str).collect();
            invalid(
                &key,
                &shown,
                format!(
                    "a file with a curve for {} (it has {})",
                    symbol.as_str(),
                    have.join(", ")
                ),
            )
        })
    }

    /// The IS / POV parameters, each range-checked under its key.
    fn params(&self, i: usize) -> Result<AlgoParams, ConfigError> {
        let k = |f: &str| format!("orders[{i}].{f}");
        Ok(AlgoParams {
            risk_aversion: range(&k("risk_aversion"), self.risk_aversion)?,
            volatility_bps: range(&k("volatility_bps"), self.volatility_bps)?,
            volume_pct: range(&k("volume_pct"), self.volume_pct)?,
            impact_bps: range(&k("impact_bps"), self.impact_bps)?,
            min_pct: range(&k("min_pct"), self.min_pct)?,
            max_pct: range(&k("max_pct"), self.max_pct)?,
            passive: self.passive,
            reprice_ticks: range(&k("reprice_ticks"), self.reprice_ticks)?,
        })
    }
}

impl HostConfig {
    /// `text` merged over the embedded defaults key by key, checked and
    /// validated: a file needs only the keys it changes.
    pub fn from_toml(text: &str) -> Result<HostConfig, ConfigError> {
        let mut base: toml::Table = toml::from_str(DEFAULT_TOML)?;
        let file: toml::Table = toml::from_str(text)?;
        check_file(&base, &file)?;
        merge(&mut base, file);
        let c: HostConfig = toml::Value::Table(base).try_into()?;
        c.resolve()?;
        Ok(c)
    }

    /// The file at `path` merged over the embedded defaults, or the defaults.
    /// Errors name the file.
    pub fn load(path: Option<&Path>) -> Result<HostConfig, ConfigError> {
        match path {
            None => Ok(HostConfig::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                    path: p.display().to_string(),
                    source,
                })?;
                HostConfig::from_toml(&text).map_err(|e| ConfigError::InFile {
                    path: p.display().to_string(),
                    source: Box::new(e),
                })
            }
        }
    }

    /// The venue session's transport (`venue.path` on `venue.interface`).
    ///
    /// # Errors
    /// `venue.path` is not kernel, afxdp or auto.
    pub fn venue_path(&self) -> Result<crate::venue::VenuePath, ConfigError> {
        crate::venue::VenuePath::new(&self.venue.path, &self.venue.interface).map_err(|_| {
            invalid(
                "venue.path",
                format!("{:?}", self.venue.path),
                "\"kernel\", \"afxdp\" or \"auto\"",
            )
        })
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
        if !matches!(self.venue.path.as_str(), "kernel" | "afxdp" | "auto") {
            return Err(invalid(
                "venue.path",
                format!("{:?}", self.venue.path),
                "\"kernel\", \"afxdp\" or \"auto\"",
            ));
        }
        if !matches!(self.feed.join.as_str(), "from_one" | "live") {
            return Err(invalid(
                "feed.join",
                format!("{:?}", self.feed.join),
                "\"from_one\" or \"live\"",
            ));
        }
        range("feed.retry_ms", self.feed.retry_ms)?;
        range("feed.gap_timeout_ms", self.feed.gap_timeout_ms)?;
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
        range("venue.heartbeat_ms", self.venue.heartbeat_ms)?;
        range("venue.peer_timeout_ms", self.venue.peer_timeout_ms)?;
        if self.venue.peer_timeout_ms <= self.venue.heartbeat_ms {
            return Err(invalid(
                "venue.peer_timeout_ms",
                self.venue.peer_timeout_ms,
                "more than venue.heartbeat_ms",
            ));
        }
        if !self.tracing.otlp_endpoint.is_empty() {
            if let Err(crate::telemetry::tracing::TracingError::Endpoint { value, why }) =
                crate::telemetry::tracing::parse_endpoint(&self.tracing.otlp_endpoint)
            {
                return Err(invalid("tracing.otlp_endpoint", format!("{value:?}"), why));
            }
        }
        range("venue.reconnect_ms", self.venue.reconnect_ms)?;
        range("venue.reconnect_max_ms", self.venue.reconnect_max_ms)?;
        range("venue.connect_timeout_ms", self.venue.connect_timeout_ms)?;
        let journal_on_full = match self.journal.on_full.as_str() {
            "block" => crate::journal::OnFull::Block,
            "kill_switch" => crate::journal::OnFull::KillSwitch,
            o => {
                return Err(invalid(
                    "journal.on_full",
                    format!("{o:?}"),
                    "\"block\" or \"kill_switch\"",
                ))
            }
        };
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
        let order_table = match self.risk.order_table.as_str() {
            "auto" => OrderTableMode::Auto,
            "on" => OrderTableMode::On,
            "off" => OrderTableMode::Off,
            o => {
                return Err(invalid(
                    "risk.order_table",
                    format!("{o:?}"),
                    "\"auto\", \"on\" or \"off\"",
                ))
            }
        };
        range("risk.firm_index", self.risk.firm_index)?;
        range("risk.max_order_shares", self.risk.max_order_shares)?;
        let max_order_notional = money("risk.max_order_notional", &self.risk.max_order_notional)?;
        range("risk.collar_bps", self.risk.collar_bps)?;
        range("risk.throttle_burst", self.risk.throttle_burst)?;
        range("risk.throttle_shift", self.risk.throttle_shift)?;
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
        range("books.max_locate", self.books.max_locate)?;
        range("books.orders", self.books.orders)?;
        range("books.levels", self.books.levels)?;
        if !self.metrics.listen.is_empty() {
            addr("metrics.listen", &self.metrics.listen)?;
        }
        range("hot.cpu", self.hot.cpu)?;
        let orders = self
            .orders
            .iter()
            .enumerate()
            .map(|(i, o)| o.resolve(i))
            .collect::<Result<Vec<_>, _>>()?;
        let path_or_none = |v: &str| (!v.is_empty()).then(|| PathBuf::from(v));
        let venues = crate::routing::config::resolve(self)?;
        let (feed_listen, retransmit, venue) = match venues.first() {
            Some(v) if !self.venues.is_empty() => (v.feed_listen, v.retransmit, v.address),
            _ => (feed_listen, retransmit, venue),
        };
        Ok(Resolved {
            feed_listen,
            retransmit,
            venue,
            venues,
            firm,
            gate,
            order_table,
            max_order_notional,
            credit,
            restricted,
            orders,
            journal_dir: path_or_none(&self.journal.dir),
            signing_key: path_or_none(&self.journal.signing_key),
            journal_on_full,
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
        assert_eq!(r.order_table, OrderTableMode::Auto);
        for (v, m) in [
            ("on", OrderTableMode::On),
            ("off", OrderTableMode::Off),
            ("auto", OrderTableMode::Auto),
        ] {
            let c = HostConfig::from_toml(&format!("[risk]\norder_table = \"{v}\"\n")).unwrap();
            assert_eq!(c.resolve().unwrap().order_table, m, "{v}");
            assert_eq!(m.name(), v);
        }
        assert_eq!(r.max_order_notional, 1_000_000 * 10_000);
        assert_eq!(r.credit, 20_000_000 * 10_000);
        assert_eq!(r.restricted, vec![Symbol::new("TSLA").unwrap()]);
    }

    #[test]
    fn venue_path_is_checked() {
        use crate::venue::VenuePath;
        assert_eq!(
            HostConfig::default().venue_path().unwrap(),
            VenuePath::Kernel
        );
        let c = HostConfig::from_toml("[venue]\npath = \"auto\"\ninterface = \"eth1\"\n").unwrap();
        assert_eq!(c.venue_path().unwrap(), VenuePath::Auto("eth1".into()));
        let e = HostConfig::from_toml("[venue]\npath = \"dpdk\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("venue.path") && e.contains("afxdp"), "{e}");
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
        for bad in ["\"yes\"", "\"ON\"", "\"\""] {
            let e = HostConfig::from_toml(&format!("[risk]\norder_table = {bad}\n")).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key, value, .. } if key == "risk.order_table" && value == bad),
                "{e:?}"
            );
            let e = e.to_string();
            assert!(e.contains("\"auto\", \"on\" or \"off\""), "{e}");
        }
        let e = HostConfig::from_toml("[risk]\norder_table = true\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("risk.order_table"), "{e}");
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
        assert!(e.contains("feed.bogus") && e.contains("retry_ms"), "{e}");
    }

    #[test]
    fn partial_files_merge_over_the_defaults() {
        // only an order: every section comes from the defaults
        let c = HostConfig::from_toml(
            "[[orders]]\nalgo = \"vwap\"\nsymbol = \"MSFT\"\nside = \"sell\"\nshares = 300\nduration_s = 5\n",
        )
        .unwrap();
        assert_eq!(c.feed, HostConfig::default().feed);
        assert_eq!(c.orders.len(), 1);
        assert_eq!(c.resolve().unwrap().orders[0].algo, AlgoKind::Vwap);
        // one key of one section: the rest of that section keeps its defaults
        let c = HostConfig::from_toml("[venue]\naddress = \"10.1.2.3:4000\"\n").unwrap();
        assert_eq!(c.venue.address, "10.1.2.3:4000");
        assert_eq!(c.venue.username, "ETI001");
        assert_eq!(c.venue.reconnect_ms, 200);
        assert_eq!(c.risk, HostConfig::default().risk);
        // an empty file is the defaults
        assert_eq!(HostConfig::from_toml("").unwrap(), HostConfig::default());
    }

    #[test]
    fn file_errors_name_key_value_and_what_is_accepted() {
        let e = |t: &str| HostConfig::from_toml(t).unwrap_err().to_string();
        // out of range for the key, and for its u16 field: the key's range either way
        let m = e("[risk]\ncollar_bps = 70000");
        assert!(
            m.contains("risk.collar_bps") && m.contains("70000") && m.contains("0..=10000"),
            "{m}"
        );
        let m = e("[books]\nmax_locate = -3");
        assert!(
            m.contains("books.max_locate") && m.contains("-3") && m.contains("1..=65535"),
            "{m}"
        );
        // wrong type
        let m = e("[hot]\nspin = \"yes\"");
        assert!(
            m.contains("hot.spin") && m.contains("\"yes\"") && m.contains("true or false"),
            "{m}"
        );
        // unknown section and unknown order field
        let m = e("[jurnal]\ndir = \"x\"");
        assert!(m.contains("jurnal") && m.contains("journal"), "{m}");
        let m = e("[[orders]]\nalgo = \"twap\"\nqty = 5");
        assert!(m.contains("orders[0].qty") && m.contains("shares"), "{m}");
        let m = e("[[orders]]\nalgo = \"twap\"\nsymbol = \"AAPL\"\nside = \"buy\"\nshares = 100\nduration_s = 5\nprofile = [1, -1]");
        assert!(
            m.contains("orders[0].profile[1]") && m.contains("-1"),
            "{m}"
        );
        // a missing order field is still named
        let m = e("[[orders]]\nalgo = \"twap\"");
        assert!(
            m.contains("orders[0].symbol") && m.contains("missing"),
            "{m}"
        );
        assert_eq!(m.lines().count(), 1, "{m}");
        // the file's name leads the message when loaded from disk
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("eti.toml");
        std::fs::write(&p, "[risk]\ncollar_bps = 70000\n").unwrap();
        let m = HostConfig::load(Some(&p)).unwrap_err().to_string();
        assert!(
            m.starts_with(&p.display().to_string()) && m.contains("risk.collar_bps"),
            "{m}"
        );
    }

    #[test]
    fn sample_file_in_the_repository_is_valid() {
        let c = HostConfig::from_toml(include_str!("../../eti.toml")).unwrap();
        let r = c.resolve().unwrap();
        assert_eq!(r.orders.len(), 1);
        assert_eq!(c.risk.collar_bps, 300);
    }

    #[test]
    fn journal_section_and_signing_key_checks() {
        use std::os::unix::fs::PermissionsExt;
        let c = HostConfig::from_toml("[journal]\ndir = \"/tmp/j\"\nsigning_key = \"/k\"").unwrap();
        let r = c.resolve().unwrap();
        assert_eq!(r.journal_dir, Some(PathBuf::from("/tmp/j")));
        assert_eq!(r.journal_on_full, crate::journal::OnFull::Block);
        let c = HostConfig::from_toml("[journal]\non_full = \"kill_switch\"").unwrap();
        assert_eq!(
            c.resolve().unwrap().journal_on_full,
            crate::journal::OnFull::KillSwitch
        );
        let m = HostConfig::from_toml("[journal]\non_full = \"drop\"")
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("journal.on_full") && m.contains("drop") && m.contains("kill_switch"),
            "{m}"
        );
        assert_eq!(r.signing_key, Some(PathBuf::from("/k")));
        assert_eq!(HostConfig::default().resolve().unwrap().signing_key, None);

        let d = tempfile::tempdir().unwrap();
        let jdir = d.path().join("journal");
        std::fs::create_dir(&jdir).unwrap();
        let key = d.path().join("journal.key");
        std::fs::write(&key, "00".repeat(32)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let m = check_signing_key(&key, &jdir).unwrap_err().to_string();
        assert!(
            m.contains("journal.signing_key") && m.contains("0644") && m.contains("0600"),
            "{m}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_signing_key(&key, &jdir).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        check_signing_key(&key, &jdir).unwrap();
        // inside the journal directory: refused, even through a relative path
        let inside = jdir.join("my.key");
        std::fs::write(&inside, "00".repeat(32)).unwrap();
        std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = check_signing_key(&jdir.join("../journal/my.key"), &jdir)
            .unwrap_err()
            .to_string();
        assert!(m.contains("outside the journal directory"), "{m}");
        // missing file, and the key pasted where its path belongs
        let m = check_signing_key(&d.path().join("nope"), &jdir)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("journal.signing_key") && m.contains("nope"),
            "{m}"
        );
        let m = check_signing_key(Path::new(&"ab".repeat(32)), &jdir)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("not the key itself") && !m.contains("abab"),
            "{m}"
        );
    }

    #[test]
    fn is_and_pov_orders_with_their_parameters() {
        let order = |algo: &str, extra: &str| {
            format!("[[orders]]\nalgo = \"{algo}\"\nsymbol = \"AAPL\"\nside = \"buy\"\nshares = 1000\nduration_s = 30\n{extra}")
        };
        let c = HostConfig::from_toml(&order(
            "is",
            "risk_aversion = 70\nvolatility_bps = 250\nvolume_pct = 5\nimpact_bps = 30\n",
        ))
        .unwrap();
        let o = &c.resolve().unwrap().orders[0];
        assert_eq!((o.algo, o.algo.name()), (AlgoKind::Is, "is"));
        assert_eq!(
            o.params,
            AlgoParams {
                risk_aversion: 70,
                volatility_bps: 250,
                volume_pct: 5,
                impact_bps: 30,
                ..AlgoParams::default()
            }
        );
        let c = HostConfig::from_toml(&order(
            "pov",
            "participation_pct = 15\nmin_pct = 8\nmax_pct = 22\n",
        ))
        .unwrap();
        let o = &c.resolve().unwrap().orders[0];
        assert_eq!((o.algo.name(), o.participation_pct), ("pov", 15));
        assert_eq!((o.params.min_pct, o.params.max_pct), (8, 22));
        let e = |t: String| HostConfig::from_toml(&t).unwrap_err().to_string();
        let m = e(order("is", "volatility_bps = 0\n"));
        assert!(
            m.contains("orders[0].volatility_bps") && m.contains("1..=10000"),
            "{m}"
        );
        let m = e(order("is", "risk_aversion = 2000000\n"));
        assert!(
            m.contains("orders[0].risk_aversion") && m.contains("0..=1000000"),
            "{m}"
        );
        let m = e(order("pov", "volume_pct = 101\n"));
        assert!(
            m.contains("orders[0].volume_pct") && m.contains("1..=100"),
            "{m}"
        );
        // the target must sit inside its band
        let m = e(order(
            "pov",
            "participation_pct = 40\nmin_pct = 10\nmax_pct = 30\n",
        ));
        assert!(
            m.contains("orders[0].participation_pct") && m.contains("40") && m.contains("10..=30"),
            "{m}"
        );
        let m = e(order("pov", "min_pct = \"low\"\n"));
        assert!(
            m.contains("orders[0].min_pct") && m.contains("an integer"),
            "{m}"
        );
        let m = e(order("iss", ""));
        assert!(m.contains("\"is\"") && m.contains("\"pov\""), "{m}");
    }
}
