//! `eti ctl`: the command-line client of the control API. Prints the
//! server's JSON (`--json`) or a short text form; exits non-zero with the
//! server's message on any 4xx/5xx.

use super::client::{Client, Reply};
use super::secrets::read_secret_file;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// `eti ctl` arguments.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The API, e.g. https://127.0.0.1:9443
    #[arg(long)]
    pub url: String,
    /// File holding the bearer token (mode 0600).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) the server must chain to.
    #[arg(long)]
    pub ca: PathBuf,
    /// Client certificate and key (PEM) instead of / besides the token.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) of --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Print the server's JSON as is.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Session, venue, feed, kill state and counters.
    Status,
    /// Positions and P&L by symbol.
    Positions,
    /// Open orders (--all: every order).
    Orders {
        /// Every order, not only the open ones.
        #[arg(long)]
        all: bool,
    },
    /// Parent orders and their progress.
    Parents,
    /// Risk limits and the restricted list.
    Limits,
    /// Risk gate rejects by reason.
    Rejects,
    /// Engage the kill switch: cancels every open order, stops every parent.
    Kill {
        /// firm (this host's firm) or global (every firm).
        #[arg(long, default_value = "firm", value_parser = ["firm", "global"])]
        scope: String,
        /// Why (journaled).
        #[arg(long)]
        reason: String,
    },
    /// Release the kill switch (a different user than the one who engaged it).
    Unkill {
        /// firm (this host's firm) or global (every firm).
        #[arg(long, default_value = "firm", value_parser = ["firm", "global"])]
        scope: String,
        /// Why (journaled).
        #[arg(long)]
        reason: String,
    },
    /// Change firm and per-symbol limits, e.g. --set max_order_shares=200
    /// --set credit=1000000.00 --set AAPL:max_order_shares=100
    LimitsSet {
        /// A firm limit: max_order_shares, max_order_notional (dollars), collar_bps,
        /// credit (dollars), max_long, max_short, throttle_burst, throttle_shift;
        /// or SYMBOL:KEY=VALUE for a symbol's own limit, the same keys but
        /// throttle_shift: max_order_shares, max_order_notional and
        /// collar_bps in the gate's symbol table, credit, max_long, max_short,
        /// throttle_burst (with throttle_shift) checked by the host before
        /// the gate (0 = none of its own: the firm limit alone applies).
        #[arg(long = "set", value_name = "KEY=VALUE", required = true)]
        set: Vec<String>,
        /// Why (journaled).
        #[arg(long)]
        reason: String,
    },
    /// Replace the restricted list.
    Restrict {
        /// The symbols restricted from now on (none: clear the list).
        symbols: Vec<String>,
        /// Why (journaled).
        #[arg(long)]
        reason: String,
    },
    /// Start a parent order.
    ParentStart {
        /// Execution algorithm.
        #[arg(long, value_parser = ["twap", "vwap"])]
        algo: String,
        /// Stock symbol, e.g. AAPL.
        #[arg(long)]
        symbol: String,
        /// Side of the parent.
        #[arg(long, value_parser = ["buy", "sell"])]
        side: String,
        /// Shares, 100..=999999.
        #[arg(long)]
        shares: u32,
        /// Length of the schedule in seconds.
        #[arg(long)]
        duration_s: u64,
        /// Limit price in dollars (default: arrival ± limit_bps).
        #[arg(long)]
        limit: Option<String>,
        /// Why (journaled).
        #[arg(long, default_value = "parent start")]
        reason: String,
    },
    /// Stop a parent order (and cancel its open children).
    ParentStop {
        /// The parent's id (as `parents` lists it).
        id: usize,
        /// Why (journaled).
        #[arg(long, default_value = "parent stop")]
        reason: String,
    },
    /// Users, roles and their state (admin).
    Users,
    /// Add a user (admin); prints its token once: keep it in a 0600 file.
    UserAdd {
        /// 1-32 printable ASCII characters, never used before.
        name: String,
        /// The user's role.
        #[arg(long, value_parser = ["viewer", "trader", "risk_officer", "admin"])]
        role: String,
        /// Unix seconds after which the user can no longer log in (0: never).
        #[arg(long, default_value_t = 0)]
        expires_unix: u64,
        /// Why (journaled).
        #[arg(long)]
        reason: String,
    },
    /// Revoke a user (admin; not oneself): its token stops working at once.
    UserRevoke {
        /// The user's name.
        name: String,
        /// Why (journaled).
        #[arg(long)]
        reason: String,
    },
    /// Control records of the journal from SEQ on.
    Audit {
        /// First journal sequence number to show.
        #[arg(long, default_value_t = 0)]
        since: u64,
    },
}

/// The request a subcommand makes: (method, path, body).
///
/// # Errors
/// A `--set` that is not KEY=VALUE.
pub fn request_of(c: &CtlCommand) -> Result<(&'static str, String, Option<Value>), String> {
    Ok(match c {
        CtlCommand::Status => ("GET", "/api/v1/status".into(), None),
        CtlCommand::Positions => ("GET", "/api/v1/positions".into(), None),
        CtlCommand::Orders { all } => (
            "GET",
            format!("/api/v1/orders?state={}", if *all { "all" } else { "open" }),
            None,
        ),
        CtlCommand::Parents => ("GET", "/api/v1/parents".into(), None),
        CtlCommand::Limits => ("GET", "/api/v1/limits".into(), None),
        CtlCommand::Rejects => ("GET", "/api/v1/risk/rejects".into(), None),
        CtlCommand::Kill { scope, reason } => (
            "POST",
            "/api/v1/kill".into(),
            Some(json!({ "scope": scope, "reason": reason })),
        ),
        CtlCommand::Unkill { scope, reason } => (
            "DELETE",
            "/api/v1/kill".into(),
            Some(json!({ "scope": scope, "reason": reason })),
        ),
        CtlCommand::LimitsSet { set, reason } => {
            let mut firm = serde_json::Map::new();
            let mut symbols = serde_json::Map::new();
            for kv in set {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--set {kv:?}: expected KEY=VALUE"))?;
                let (target, k) = match k.split_once(':') {
                    Some((sym, key)) => {
                        let e = symbols.entry(sym.to_string()).or_insert_with(|| json!({}));
                        (e.as_object_mut(), key)
                    }
                    None => (Some(&mut firm), k),
                };
                let Some(target) = target else {
                    return Err(format!("--set {kv:?}: expected SYMBOL:KEY=VALUE"));
                };
                // amounts stay strings (dollars), counts are numbers
                let val = match k {
                    "max_order_notional" | "credit" => json!(v),
                    _ => v
                        .parse::<u64>()
                        .map(|n| json!(n))
                        .map_err(|_| format!("--set {k}: {v:?} is not a whole number"))?,
                };
                target.insert(k.to_string(), val);
            }
            let mut b = json!({ "reason": reason });
            if !firm.is_empty() {
                b["firm"] = Value::Object(firm);
            }
            if !symbols.is_empty() {
                b["symbols"] = Value::Object(symbols);
            }
            ("PUT", "/api/v1/limits".into(), Some(b))
        }
        CtlCommand::Restrict { symbols, reason } => (
            "PUT",
            "/api/v1/restricted".into(),
            Some(json!({ "symbols": symbols, "reason": reason })),
        ),
        CtlCommand::ParentStart {
            algo,
            symbol,
            side,
            shares,
            duration_s,
            limit,
            reason,
        } => (
            "POST",
            "/api/v1/parents".into(),
            Some(json!({
                "algo": algo, "symbol": symbol, "side": side, "shares": shares,
                "duration_s": duration_s, "limit": limit.clone().unwrap_or_default(),
                "reason": reason,
            })),
        ),
        CtlCommand::ParentStop { id, reason } => (
            "DELETE",
            format!("/api/v1/parents/{id}"),
            Some(json!({ "reason": reason })),
        ),
        CtlCommand::Audit { since } => ("GET", format!("/api/v1/audit?since={since}"), None),
        CtlCommand::Users => ("GET", "/api/v1/users".into(), None),
        CtlCommand::UserAdd {
            name,
            role,
            expires_unix,
            reason,
        } => (
            "POST",
            "/api/v1/users".into(),
            Some(
                json!({ "name": name, "role": role, "expires_unix": expires_unix, "reason": reason }),
            ),
        ),
        CtlCommand::UserRevoke { name, reason } => (
            "DELETE",
            format!("/api/v1/users/{name}"),
            Some(json!({ "reason": reason })),
        ),
    })
}

/// Run `eti ctl`; exit 0 on 2xx, 1 on a refusal (4xx/5xx, message on
/// stderr), 2 when the server could not be asked.
pub fn run(a: &CtlArgs) -> ExitCode {
    match ask(a) {
        Ok(r) if (200..300).contains(&r.status) => {
            println!("{}", render(&r, a.json));
            ExitCode::SUCCESS
        }
        Ok(r) => {
            let msg = serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or(r.body.clone());
            eprintln!("eti ctl: {} {msg}", r.status);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("eti ctl: {e}");
            ExitCode::from(2)
        }
    }
}

fn ask(a: &CtlArgs) -> Result<Reply, String> {
    let token = match &a.token_file {
        Some(p) => Some(read_secret_file(p).map_err(|e| e.to_string())?),
        None => None,
    };
    let identity = match (&a.cert, &a.key) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => None,
    };
    let client = Client::new(&a.url, &a.ca, token, identity).map_err(|e| e.to_string())?;
    let (method, path, body) = request_of(&a.command)?;
    let body = body.map(|b| b.to_string());
    client
        .request(method, &path, body.as_deref())
        .map_err(|e| e.to_string())
}

fn render(r: &Reply, raw: bool) -> String {
    let Ok(v) = serde_json::from_str::<Value>(&r.body) else {
        return r.body.clone();
    };
    if raw {
        return v.to_string();
    }
    match &v {
        Value::Array(items) => items.iter().map(flat).collect::<Vec<_>>().join("\n"),
        other => flat(other),
    }
}

/// `key=value key=value` for an object, the JSON otherwise.
fn flat(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}
