//! The endpoints under `/api/v1`: routing, the permission each needs, the
//! JSON bodies (unknown fields refused, ranges checked before anything is
//! queued), and what each asks of the hot thread.

use super::auth::{Denied, DenyReason, Permission, Principal};
use super::server::Shared;
use crate::app::config::OrderSection;
use crate::journal::event::{Event as JEvent, CONTROL_USER_LEN};
use crate::trading::control::{
    action_name, ControlAction, ControlReply, LimitChange, Query, SymbolLimitChange,
};
use axum::http::Method;
use eti_core::{Price, Symbol};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;
use thiserror::Error;

/// An API failure; its HTTP status is [`ApiError::status`].
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{}", .0.message())]
    Denied(DenyReason),
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error("method {0} not allowed here")]
    Method(String),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("body not received within {0:?}")]
    SlowBody(Duration),
    #[error("body: {0}")]
    BadBody(String),
    #[error("bad JSON: {0}")]
    Json(String),
    #[error("{field}: {msg}")]
    Invalid { field: String, msg: String },
    #[error("{0}")]
    Refused(String),
    #[error("hot thread queue full, try again")]
    Busy,
    #[error("hot thread did not answer in time")]
    HotThreadTimeout,
    #[error("audit: {0}")]
    Audit(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Denied(r) => r.status(),
            ApiError::NotFound(_) => 404,
            ApiError::Method(_) => 405,
            ApiError::TooLarge(_) => 413,
            ApiError::SlowBody(_) => 408,
            ApiError::BadBody(_) | ApiError::Json(_) => 400,
            ApiError::Invalid { .. } => 422,
            ApiError::Refused(_) => 409,
            ApiError::Busy | ApiError::HotThreadTimeout => 503,
            ApiError::Audit(_) => 500,
        }
    }
}

fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: field.to_string(),
        msg: msg.into(),
    }
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Get(Query),
    Health,
    Metrics,
    Audit { since: u64 },
    Users,
    AddUser,
    RevokeUser(String),
    Kill,
    Unkill,
    Limits,
    Restricted,
    StartParent,
    StopParent(usize),
}

impl Endpoint {
    /// Route `method path?query`.
    ///
    /// # Errors
    /// 404 / 405 / 422 (a bad query value).
    pub fn route(m: &Method, path: &str, query: Option<&str>) -> Result<Endpoint, ApiError> {
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            return Err(ApiError::NotFound(path.to_string()));
        };
        let param = |k: &str| {
            query
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
        };
        let get = |e: Endpoint| {
            if m == Method::GET {
                Ok(e)
            } else {
                Err(ApiError::Method(m.to_string()))
            }
        };
        match rest {
            "status" => get(Endpoint::Get(Query::Status)),
            "positions" => get(Endpoint::Get(Query::Positions)),
            "orders" => {
                let open_only = match param("state") {
                    None | Some("open") => true,
                    Some("all") => false,
                    Some(o) => {
                        return Err(invalid("state", format!("{o:?}: expected open or all")))
                    }
                };
                get(Endpoint::Get(Query::Orders { open_only }))
            }
            "parents" if m == Method::POST => Ok(Endpoint::StartParent),
            "parents" => get(Endpoint::Get(Query::Parents)),
            "limits" if m == Method::PUT => Ok(Endpoint::Limits),
            "limits" => get(Endpoint::Get(Query::Limits)),
            "risk/rejects" => get(Endpoint::Get(Query::Rejects)),
            "health" => get(Endpoint::Health),
            "metrics" => get(Endpoint::Metrics),
            "users" if m == Method::POST => Ok(Endpoint::AddUser),
            "users" => get(Endpoint::Users),
            "audit" => {
                let since = match param("since") {
                    None => 0,
                    Some(s) => s.parse().map_err(|_| {
                        invalid("since", format!("{s:?}: expected a sequence number"))
                    })?,
                };
                get(Endpoint::Audit { since })
            }
            "kill" if m == Method::POST => Ok(Endpoint::Kill),
            "kill" if m == Method::DELETE => Ok(Endpoint::Unkill),
            "kill" => Err(ApiError::Method(m.to_string())),
            "restricted" if m == Method::PUT => Ok(Endpoint::Restricted),
            "restricted" => Err(ApiError::Method(m.to_string())),
            _ => match (rest.strip_prefix("parents/"), rest.strip_prefix("users/")) {
                (Some(id), _) if m == Method::DELETE => id
                    .parse()
                    .map(Endpoint::StopParent)
                    .map_err(|_| invalid("id", format!("{id:?}: expected a parent id"))),
                (_, Some(name)) if m == Method::DELETE && !name.is_empty() => {
                    Ok(Endpoint::RevokeUser(name.to_string()))
                }
                (Some(_), _) | (_, Some(_)) => Err(ApiError::Method(m.to_string())),
                (None, None) => Err(ApiError::NotFound(path.to_string())),
            },
        }
    }

    pub fn permission(&self) -> Permission {
        match self {
            Endpoint::Get(_) | Endpoint::Health | Endpoint::Metrics => Permission::Read,
            Endpoint::Audit { .. } => Permission::Audit,
            Endpoint::Users | Endpoint::AddUser | Endpoint::RevokeUser(_) => Permission::Users,
            Endpoint::Kill | Endpoint::Unkill => Permission::Kill,
            Endpoint::Limits => Permission::Limits,
            Endpoint::Restricted => Permission::Restricted,
            Endpoint::StartParent | Endpoint::StopParent(_) => Permission::Parents,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KillBody {
    scope: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnkillBody {
    reason: String,
    #[serde(default)]
    scope: Option<String>,
}

/// The limits of `PUT limits`, the firm's or one symbol's: amounts in
/// dollars (strings, at most 4 decimals); for a symbol, 0 (or "0") removes
/// its own limit, so only the firm limit applies again.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitFieldsBody {
    max_order_shares: Option<u32>,
    max_order_notional: Option<String>,
    collar_bps: Option<u32>,
    credit: Option<String>,
    max_long: Option<u32>,
    max_short: Option<u32>,
    throttle_burst: Option<u32>,
    throttle_shift: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    firm: Option<LimitFieldsBody>,
    /// Per-symbol limits, by symbol: max shares, max notional and collar go
    /// to the gate's symbol table (eti_hdl::regmap `SYM_LIMITS`); credit,
    /// position (max long / max short) and throttle to the host's pre-gate
    /// check (`crate::trading::symbol_limits`), since the gate holds those
    /// per firm only (the restricted list is `PUT restricted`).
    #[serde(default)]
    symbols: serde_json::Map<String, Value>,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestrictedBody {
    symbols: Vec<String>,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParentBody {
    #[serde(flatten)]
    order: OrderSection,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Json(e.to_string()))
}

fn reason(r: &str) -> Result<&str, ApiError> {
    let r = r.trim();
    if r.is_empty() {
        return Err(invalid("reason", "required"));
    }
    if r.len() > 200 {
        return Err(invalid("reason", "at most 200 characters"));
    }
    Ok(r)
}

/// The checked reason, or `default` where none is given.
fn reason_or<'a>(r: &'a str, default: &'static str) -> Result<&'a str, ApiError> {
    if r.trim().is_empty() {
        Ok(default)
    } else {
        reason(r)
    }
}

fn money(field: &str, v: &str, max: u64) -> Result<u64, ApiError> {
    let bad = || {
        invalid(
            field,
            format!(
                "{v:?}: a dollar amount > 0, at most 4 decimals, at most {}",
                max / 10_000
            ),
        )
    };
    let (d, c) = v.split_once('.').unwrap_or((v, ""));
    if d.is_empty() || c.len() > 4 || !d.bytes().chain(c.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let d: u64 = d.parse().map_err(|_| bad())?;
    let c: u64 = if c.is_empty() {
        0
    } else {
        format!("{c:0<4}").parse().map_err(|_| bad())?
    };
    let x = d
        .checked_mul(10_000)
        .and_then(|x| x.checked_add(c))
        .ok_or_else(bad)?;
    if x == 0 || x > max {
        return Err(bad());
    }
    Ok(x)
}

fn in_range(field: &str, v: u32, lo: u32, hi: u32) -> Result<u32, ApiError> {
    if v < lo || v > hi {
        return Err(invalid(field, format!("{v}: expected {lo}..={hi}")));
    }
    Ok(v)
}

/// The largest credit or notional (1/10000 dollars) a firm limit takes.
const FIRM_MAX_MONEY: u64 = 1_000_000_000_000 * 10_000;

/// The limit fields of `PUT limits` checked against their ranges (the gate's
/// register widths and the OUCH field ranges); `place` names the fields in
/// errors (`firm`, `symbols.AAPL`). A symbol's limits also take 0, none of
/// its own.
fn limit_change(b: &LimitFieldsBody, place: &str, symbol: bool) -> Result<LimitChange, ApiError> {
    // the gate stores a symbol's max notional in 51 bits (eti_hdl::regmap);
    // the host's pre-gate check takes the firm limits' ranges
    const SYMBOL_MAX_NOTIONAL: u64 = 200_000_000_000 * 10_000;
    let at = |f: &str| format!("{place}.{f}");
    // the smallest value of a limit that has no "none" (0) for the firm
    let lo = u32::from(!symbol);
    let amount = |f: &str, v: &str, max: u64| {
        if symbol && v == "0" {
            Ok(0)
        } else {
            money(&at(f), v, max)
        }
    };
    let notional_max = if symbol {
        SYMBOL_MAX_NOTIONAL
    } else {
        FIRM_MAX_MONEY
    };
    Ok(LimitChange {
        max_order_shares: b
            .max_order_shares
            .map(|v| in_range(&at("max_order_shares"), v, lo, 999_999))
            .transpose()?,
        max_order_notional: b
            .max_order_notional
            .as_deref()
            .map(|v| amount("max_order_notional", v, notional_max))
            .transpose()?,
        collar_bps: b
            .collar_bps
            .map(|v| in_range(&at("collar_bps"), v, lo, 10_000).map(|v| v as u16))
            .transpose()?,
        credit: b
            .credit
            .as_deref()
            .map(|v| amount("credit", v, FIRM_MAX_MONEY))
            .transpose()?,
        max_long: b
            .max_long
            .map(|v| in_range(&at("max_long"), v, 0, 100_000_000))
            .transpose()?,
        max_short: b
            .max_short
            .map(|v| in_range(&at("max_short"), v, 0, 100_000_000))
            .transpose()?,
        throttle_burst: b
            .throttle_burst
            .map(|v| in_range(&at("throttle_burst"), v, lo, 65_535).map(|v| v as u16))
            .transpose()?,
        throttle_shift: b
            .throttle_shift
            .map(|v| in_range(&at("throttle_shift"), v, 0, 31).map(|v| v as u8))
            .transpose()?,
    })
}

/// The `symbols` of `PUT limits`, checked: names, fields, ranges. Whether the
/// gate has loaded each symbol is the hot thread's check.
fn symbol_changes(
    m: &serde_json::Map<String, Value>,
) -> Result<Vec<(Symbol, SymbolLimitChange)>, ApiError> {
    if m.len() > 256 {
        return Err(invalid("symbols", "at most 256 (the gate's symbol table)"));
    }
    let mut out = Vec::with_capacity(m.len());
    for (name, v) in m {
        let place = format!("symbols.{name}");
        let sym = Symbol::new(name)
            .map_err(|_| invalid(&place, "a symbol: 1-8 upper-case ASCII characters"))?;
        let b: LimitFieldsBody = serde_json::from_value(v.clone())
            .map_err(|e| ApiError::Json(format!("{place}: {e}")))?;
        let c = limit_change(&b, &place, true)?;
        if c == SymbolLimitChange::default() {
            return Err(invalid(&place, "no limit given"));
        }
        out.push((sym, c));
    }
    Ok(out)
}

fn reply_json(r: ControlReply) -> Result<Value, ApiError> {
    match r {
        ControlReply::Refused { error } => Err(ApiError::Refused(error)),
        ControlReply::Invalid { field, error } => Err(invalid(&field, error)),
        other => Ok(serde_json::to_value(&other).unwrap_or(Value::Null)),
    }
}

/// Run an authorised request.
pub(crate) async fn execute(
    sh: &Shared,
    who: &Principal,
    ep: Endpoint,
    bytes: &[u8],
    received_ns: u64,
    endpoint_name: &str,
) -> Result<Value, ApiError> {
    let no_body = |b: &[u8]| {
        if b.iter().all(u8::is_ascii_whitespace) {
            Ok(())
        } else {
            Err(ApiError::Json("this endpoint takes no body".into()))
        }
    };
    match ep {
        Endpoint::Get(q) => {
            no_body(bytes)?;
            let mut v = reply_json(
                sh.ask(who, "", ControlAction::Query(q), received_ns)
                    .await?,
            )?;
            if q == Query::Status {
                v["kill_engaged_by"] = json!(lock(&sh.kill_engaged_by).clone());
            }
            Ok(v)
        }
        Endpoint::Health => {
            no_body(bytes)?;
            let (code, b) = crate::telemetry::metrics::health(&sh.status);
            let mut v: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
            v["http_status"] = json!(code);
            Ok(v)
        }
        Endpoint::Metrics => {
            no_body(bytes)?;
            Ok(json!({ "text": sh.metrics.as_ref().map(|m| m.render()).unwrap_or_default() }))
        }
        Endpoint::Users => {
            no_body(bytes)?;
            Ok(super::users::list(sh))
        }
        Endpoint::AddUser => {
            let b: super::users::AddUserBody = body(bytes)?;
            let why = reason(&b.reason)?.to_string();
            super::users::add(sh, who, b, &why)
        }
        Endpoint::RevokeUser(name) => {
            let b: ReasonBody = body(bytes)?;
            let why = reason(&b.reason)?;
            super::users::revoke(sh, who, &name, why)
        }
        Endpoint::Audit { since } => {
            no_body(bytes)?;
            audit(sh, since)
        }
        Endpoint::Kill => {
            let b: KillBody = body(bytes)?;
            let global = match b.scope.as_str() {
                "firm" => false,
                "global" => true,
                o => {
                    return Err(invalid(
                        "scope",
                        format!("{o:?}: expected \"firm\" or \"global\""),
                    ))
                }
            };
            let why = reason(&b.reason)?;
            let r = sh
                .ask(
                    who,
                    why,
                    ControlAction::Kill {
                        global,
                        engage: true,
                    },
                    received_ns,
                )
                .await?;
            if let ControlReply::Kill(k) = &r {
                let mut by = lock(&sh.kill_engaged_by);
                if !k.was_engaged || by.is_none() {
                    *by = Some(who.name.clone());
                    sh.kill_engaged_by_cut.store(false, Ordering::Relaxed);
                }
                sh.stats.kills.fetch_add(1, Ordering::Relaxed);
                sh.stats
                    .last_kill_ns
                    .store(k.request_to_last_cancel_ns, Ordering::Relaxed);
            }
            reply_json(r)
        }
        Endpoint::Unkill => {
            let b: UnkillBody = body(bytes)?;
            let global = match b.scope.as_deref() {
                None | Some("firm") => false,
                Some("global") => true,
                Some(o) => {
                    return Err(invalid(
                        "scope",
                        format!("{o:?}: expected \"firm\" or \"global\""),
                    ))
                }
            };
            let why = reason(&b.reason)?;
            let engaged_by = lock(&sh.kill_engaged_by).clone();
            // a name restored from the journal after a restart may be cut to
            // the record's user width: any name it begins is refused then
            let same = engaged_by.as_deref().is_some_and(|e| {
                e == who.name
                    || (sh.kill_engaged_by_cut.load(Ordering::Relaxed)
                        && e.len() >= CONTROL_USER_LEN
                        && who.name.starts_with(e))
            });
            if same {
                return Err(sh.deny(
                    endpoint_name,
                    &Denied {
                        reason: DenyReason::FourEyes,
                        user: Some(who.name.clone()),
                    },
                ));
            }
            let r = sh
                .ask(
                    who,
                    why,
                    ControlAction::Kill {
                        global,
                        engage: false,
                    },
                    received_ns,
                )
                .await?;
            *lock(&sh.kill_engaged_by) = None;
            sh.kill_engaged_by_cut.store(false, Ordering::Relaxed);
            reply_json(r)
        }
        Endpoint::Limits => {
            let b: LimitsBody = body(bytes)?;
            let symbols = symbol_changes(&b.symbols)?;
            let why = reason(&b.reason)?;
            let change = limit_change(&b.firm.unwrap_or_default(), "firm", false)?;
            if change == LimitChange::default() && symbols.is_empty() {
                return Err(invalid("firm", "no limit given"));
            }
            reply_json(
                sh.ask(
                    who,
                    why,
                    ControlAction::SetLimits {
                        firm: change,
                        symbols,
                    },
                    received_ns,
                )
                .await?,
            )
        }
        Endpoint::Restricted => {
            let b: RestrictedBody = body(bytes)?;
            let why = reason(&b.reason)?;
            if b.symbols.len() > 1000 {
                return Err(invalid("symbols", "at most 1000"));
            }
            let mut list = Vec::with_capacity(b.symbols.len());
            for s in &b.symbols {
                let sym = Symbol::new(s).map_err(|_| {
                    invalid("symbols", format!("{s:?}: 1-8 upper-case ASCII characters"))
                })?;
                if !list.contains(&sym) {
                    list.push(sym);
                }
            }
            reply_json(
                sh.ask(who, why, ControlAction::SetRestricted(list), received_ns)
                    .await?,
            )
        }
        Endpoint::StartParent => {
            let b: ParentBody = body(bytes)?;
            let spec = b
                .order
                .resolve(0)
                .map_err(|e| invalid("parent", e.to_string().replace("orders[0].", "")))?;
            if let Some(p) = spec.limit {
                if p == Price::ZERO {
                    return Err(invalid("limit", "must be > 0"));
                }
            }
            let why = reason_or(&b.reason, "parent start")?;
            reply_json(
                sh.ask(who, why, ControlAction::StartParent(spec), received_ns)
                    .await?,
            )
        }
        Endpoint::StopParent(id) => {
            let b: ReasonBody = if bytes.iter().all(u8::is_ascii_whitespace) {
                ReasonBody::default()
            } else {
                body(bytes)?
            };
            let why = reason_or(&b.reason, "parent stop")?;
            reply_json(
                sh.ask(who, why, ControlAction::StopParent(id), received_ns)
                    .await?,
            )
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The journal's control records (actions and denials) from `since` on.
fn audit(sh: &Shared, since: u64) -> Result<Value, ApiError> {
    use crate::journal::reader::{scan_dir, ScanOptions};
    let Some(dir) = super::server::journal_dir(sh) else {
        return Err(ApiError::Refused("no journal configured".into()));
    };
    let opts = ScanOptions::browse();
    let mut out = Vec::new();
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_string();
    scan_dir(dir, &opts, |_, rec| {
        if rec.seq < since || out.len() >= 10_000 {
            return Ok(());
        }
        match JEvent::decode(rec.kind, rec.payload) {
            Ok(JEvent::ControlAction(e)) => out.push(json!({
                "seq": rec.seq, "ts_ns": rec.ts_ns, "kind": "control_action",
                "user": text(&e.user), "action": action_name(e.action), "field": e.field,
                "subject": text(&e.subject), "before": e.before, "after": e.after,
                "reason": text(&e.reason),
            })),
            Ok(JEvent::ControlDenied(e)) => out.push(json!({
                "seq": rec.seq, "ts_ns": rec.ts_ns, "kind": "control_denied",
                "user": text(&e.user), "endpoint": text(&e.endpoint),
                "status": e.status, "reason": e.reason,
            })),
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| ApiError::Audit(e.to_string()))?;
    Ok(Value::Array(out))
}
