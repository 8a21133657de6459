//! Intraday volume profiles from history.
//!
//! `eti profile FILE.itch --out FILE` reads a NASDAQ ITCH 5.0 BinaryFILE with
//! core's parser and adds up, per symbol, the shares printed in each of
//! `buckets` equal slices of the session. What counts as printed volume is
//! what the host's books count ([`crate::feed::book`]): `E` executions, `C`
//! executions with Printable = Y, `P` non-cross trades. `Q` cross trades are
//! left out: the opening and closing auctions are not volume a VWAP schedule
//! can trade into during the day.
//!
//! The session is `HH:MM-HH:MM` (ITCH timestamps are ns since midnight), or
//! `auto`: the regular session 09:30–16:00 when the file has prints in both
//! its first and its last hour, else the span of the file's prints (a short
//! synthetic file).
//!
//! The output is TOML a VWAP order's `profile_file` names:
//!
//! ```toml
//! source = "day.itch"
//! session = "09:30:00.000-16:00:00.000"
//! buckets = 10
//! [volume]
//! AAPL = [120300, 80200, ...]   # shares printed per bucket
//! ```

use eti_core::binfile::{BinFileError, BinFileReader};
use eti_core::itch::{self, Message};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

const NS_PER_MIN: u64 = 60 * 1_000_000_000;
/// 09:30 and 16:00, ns since midnight.
pub const REGULAR_OPEN_NS: u64 = (9 * 60 + 30) * NS_PER_MIN;
pub const REGULAR_CLOSE_NS: u64 = 16 * 60 * NS_PER_MIN;
/// Most buckets a profile may have (the config's limit for `profile`).
pub const MAX_BUCKETS: u32 = 1000;

/// Why a profile could not be built, written or read.
#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Frame {
        path: PathBuf,
        #[source]
        source: BinFileError,
    },
    #[error("{path}: message at offset {offset}: {reason}")]
    Message {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("--session {value:?}: expected HH:MM-HH:MM (start before end) or auto")]
    Session { value: String },
    #[error("--buckets {0}: expected 1..={MAX_BUCKETS}")]
    Buckets(u32),
    #[error("{path}: no printed volume (no E, printable C or P messages) inside the session")]
    NoVolume { path: PathBuf },
    #[error("profile file {path}: {reason}")]
    Format { path: PathBuf, reason: String },
}

/// Which part of the day the buckets divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Start and end, ns since midnight (end exclusive).
    Window(u64, u64),
    Auto,
}

impl std::str::FromStr for Session {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Session, ProfileError> {
        let bad = || ProfileError::Session {
            value: s.to_string(),
        };
        if s == "auto" {
            return Ok(Session::Auto);
        }
        let hm = |t: &str| -> Option<u64> {
            let (h, m) = t.split_once(':')?;
            let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some((h * 60 + m) * NS_PER_MIN)
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        match (hm(a), hm(b)) {
            (Some(a), Some(b)) if a < b => Ok(Session::Window(a, b)),
            _ => Err(bad()),
        }
    }
}

/// ns since midnight as HH:MM:SS.mmm.
pub fn clock(ns: u64) -> String {
    let ms = ns / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Volume curves per symbol, as written to and read from a profile file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    pub source: String,
    /// The session the buckets divide, `HH:MM:SS.mmm-HH:MM:SS.mmm`.
    pub session: String,
    pub buckets: u32,
    /// Shares printed per bucket, per symbol.
    pub volume: BTreeMap<String, Vec<u64>>,
}

/// What [`build`] saw besides the curves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    pub messages: u64,
    /// Prints counted into a bucket.
    pub prints: u64,
    /// Prints before or after the session (not counted).
    pub outside: u64,
    /// Prints of a locate no Stock Directory message named.
    pub unknown_locate: u64,
}

/// One print: (ns since midnight, locate, shares).
type Print = (u64, u16, u64);
/// Prints, locate → symbol, messages read.
type FileScan = (Vec<Print>, BTreeMap<u16, String>, u64);

/// Read every print of the file (and the locate → symbol directory).
fn read_prints(path: &Path) -> Result<FileScan, ProfileError> {
    let f = std::fs::File::open(path).map_err(|source| ProfileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // a full NASDAQ day is gigabytes: progress by bytes on a terminal
    // (stderr), nothing when piped
    let bar = indicatif::ProgressBar::new(f.metadata().map_or(0, |m| m.len())).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} of ITCH read ({eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut r = BinFileReader::new(std::io::BufReader::new(f));
    let mut prints = Vec::new();
    let mut names = BTreeMap::new();
    let mut messages = 0u64;
    loop {
        let frame = match r.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(source) => {
                return Err(ProfileError::Frame {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        messages += 1;
        if messages % 65_536 == 0 {
            bar.set_position(frame.message_offset());
        }
        let m = itch::decode(frame.bytes).map_err(|e| ProfileError::Message {
            path: path.to_path_buf(),
            offset: frame.message_offset(),
            reason: e.to_string(),
        })?;
        let t = m.timestamp().nanos();
        match m {
            Message::StockDirectory(d) => {
                names.insert(d.stock_locate(), d.stock().as_str().to_string());
            }
            Message::OrderExecuted(e) => {
                prints.push((t, e.stock_locate(), u64::from(e.executed_shares().0)))
            }
            Message::OrderExecutedWithPrice(e) if e.printable() == b'Y' => {
                prints.push((t, e.stock_locate(), u64::from(e.executed_shares().0)))
            }
            Message::Trade(p) => prints.push((t, p.stock_locate(), u64::from(p.shares().0))),
            _ => {}
        }
    }
    bar.finish_and_clear();
    Ok((prints, names, messages))
}

/// Build the profiles of `path` over `buckets` slices of `session`.
pub fn build(
    path: &Path,
    buckets: u32,
    session: Session,
) -> Result<(Profiles, BuildStats), ProfileError> {
    if !(1..=MAX_BUCKETS).contains(&buckets) {
        return Err(ProfileError::Buckets(buckets));
    }
    let (prints, names, messages) = read_prints(path)?;
    let (start, end) = match session {
        Session::Window(a, b) => (a, b),
        Session::Auto => {
            let in_hour = |from: u64| {
                prints
                    .iter()
                    .any(|&(t, _, _)| (from..from + 60 * NS_PER_MIN).contains(&t))
            };
            if in_hour(REGULAR_OPEN_NS) && in_hour(REGULAR_CLOSE_NS - 60 * NS_PER_MIN) {
                (REGULAR_OPEN_NS, REGULAR_CLOSE_NS)
            } else {
                let first = prints.iter().map(|p| p.0).min();
                let last = prints.iter().map(|p| p.0).max();
                match (first, last) {
                    (Some(a), Some(b)) => (a, b + 1),
                    _ => {
                        return Err(ProfileError::NoVolume {
                            path: path.to_path_buf(),
                        })
                    }
                }
            }
        }
    };
    let mut stats = BuildStats {
        messages,
        ..BuildStats::default()
    };
    let mut volume: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let span = u128::from(end - start);
    for (t, locate, shares) in prints {
        if !(start..end).contains(&t) {
            stats.outside += 1;
            continue;
        }
        let Some(name) = names.get(&locate) else {
            stats.unknown_locate += 1;
            continue;
        };
        let b = (u128::from(t - start) * u128::from(buckets) / span) as usize;
        volume
            .entry(name.clone())
            .or_insert_with(|| vec![0; buckets as usize])[b] += shares;
        stats.prints += 1;
    }
    if volume.is_empty() {
        return Err(ProfileError::NoVolume {
            path: path.to_path_buf(),
        });
    }
    let source = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((
        Profiles {
            source,
            session: format!("{}-{}", clock(start), clock(end)),
            buckets,
            volume,
        },
        stats,
    ))
}

impl Profiles {
    /// The file `eti profile` writes.
    pub fn to_toml(&self) -> String {
        let mut s = String::from(
            "# eti profile: shares printed per bucket of the session, per symbol\n\
             # (E, printable C and P messages; crosses left out). A VWAP order's\n\
             # profile_file names this file.\n",
        );
        s.push_str(&toml::to_string(self).unwrap_or_default());
        s
    }

    /// Read and check a profile file.
    pub fn load(path: &Path) -> Result<Profiles, ProfileError> {
        let fmt = |reason: String| ProfileError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let p: Profiles = toml::from_str(&text).map_err(|e| fmt(e.message().to_string()))?;
        if !(1..=MAX_BUCKETS).contains(&p.buckets) {
            return Err(fmt(format!(
                "buckets = {}: expected 1..={MAX_BUCKETS}",
                p.buckets
            )));
        }
        for (sym, v) in &p.volume {
            if v.len() != p.buckets as usize {
                return Err(fmt(format!(
                    "volume.{sym} has {} buckets, the file says {}",
                    v.len(),
                    p.buckets
                )));
            }
            if v.iter().all(|&x| x == 0) {
                return Err(fmt(format!("volume.{sym} is all zero")));
            }
        }
        Ok(p)
    }

    /// The symbol's curve as VWAP weights (scaled down to fit u32 when a
    /// bucket holds more than 4.29 billion shares), or None.
    pub fn weights(&self, symbol: &str) -> Option<Vec<u32>> {
        let v = self.volume.get(symbol)?;
        let max = v.iter().copied().max().unwrap_or(0);
        let div = max.div_ceil(u64::from(u32::MAX)).max(1);
        Some(v.iter().map(|&x| (x / div) as u32).collect())
    }
}

/// `eti profile FILE.itch --out FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// NASDAQ ITCH 5.0 BinaryFILE (e.g. from `eti-sim gen-itch`).
    pub file: PathBuf,
    /// Write the profiles (TOML) to FILE; a VWAP order's `profile_file` names it.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Equal time buckets the session is divided into, 1..=1000.
    #[arg(long, default_value_t = 10)]
    pub buckets: u32,
    /// HH:MM-HH:MM (ITCH time), or auto: 09:30-16:00 when the file covers it,
    /// else the span of its prints.
    #[arg(long, default_value = "auto")]
    pub session: String,
}

/// Body of `eti profile`: exit 0 with a one-line summary, 1 naming the problem.
pub fn run(a: &ProfileArgs) -> std::process::ExitCode {
    let result = a
        .session
        .parse::<Session>()
        .and_then(|s| build(&a.file, a.buckets, s))
        .and_then(|(p, st)| {
            std::fs::write(&a.out, p.to_toml()).map_err(|source| ProfileError::Io {
                path: a.out.clone(),
                source,
            })?;
            Ok((p, st))
        });
    match result {
        Ok((p, st)) => {
            println!(
                "{}: {} symbols, {} prints in {} buckets of {} ({} outside the session, {} of unknown locates), {} messages -> {}",
                a.file.display(),
                p.volume.len(),
                st.prints,
                p.buckets,
                p.session,
                st.outside,
                st.unknown_locate,
                st.messages,
                a.out.display()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("eti profile: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_core::binfile::BinFileWriter;
    use eti_core::itch::{
        OrderExecutedMsg, OrderExecutedWithPriceMsg, OwnedMessage, StockDirectoryMsg, TradeMsg,
    };
    use eti_core::{Price, Shares, Side, Symbol, Timestamp};

    const S: u64 = 1_000_000_000;

    fn write(msgs: &[OwnedMessage]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut w = BinFileWriter::new(std::fs::File::create(f.path()).unwrap());
        for m in msgs {
            let (a, n) = m.to_array().unwrap();
            w.write_message(&a[..n]).unwrap();
        }
        drop(w);
        f
    }

    fn exec(locate: u16, t: u64, shares: u32) -> OwnedMessage {
        OrderExecutedMsg {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: Timestamp(t),
            order_reference_number: 1,
            executed_shares: Shares(shares),
            match_number: 1,
        }
        .into()
    }

    fn exec_c(locate: u16, t: u64, shares: u32, printable: u8) -> OwnedMessage {
        OrderExecutedWithPriceMsg {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: Timestamp(t),
            order_reference_number: 1,
            executed_shares: Shares(shares),
            match_number: 2,
            printable,
            execution_price: Price(1_000_000),
        }
        .into()
    }

    fn trade(locate: u16, t: u64, shares: u32) -> OwnedMessage {
        TradeMsg {
            stock_locate: locate,
            tracking_number: 0,
            timestamp: Timestamp(t),
            order_reference_number: 0,
            buy_sell_indicator: Side::Buy,
            shares: Shares(shares),
            stock: Symbol::new("MSFT").unwrap(),
            price: Price(1_000_000),
            match_number: 3,
        }
        .into()
    }

    fn dir(locate: u16, s: &str) -> OwnedMessage {
        StockDirectoryMsg::common_stock(locate, Timestamp(1), Symbol::new(s).unwrap()).into()
    }

    /// Prints placed by hand into a 10:00–10:04 session of 4 buckets.
    #[test]
    fn prints_land_in_their_buckets() {
        let t0 = 10 * 3600 * S;
        let f = write(&[
            dir(1, "AAPL"),
            dir(2, "MSFT"),
            exec(1, t0 - 1, 999),             // before the session
            exec(1, t0, 100),                 // bucket 0
            exec_c(1, t0 + 59 * S, 50, b'Y'), // bucket 0
            exec_c(1, t0 + 61 * S, 70, b'N'), // not printable
            trade(2, t0 + 60 * S, 300),       // bucket 1
            exec(2, t0 + 239 * S, 400),       // bucket 3
            exec(1, t0 + 240 * S, 999),       // at the end: outside
            exec(7, t0 + 100 * S, 5),         // unknown locate
        ]);
        let (p, st) = build(f.path(), 4, "10:00-10:04".parse().unwrap()).unwrap();
        assert_eq!(p.volume["AAPL"], [150, 0, 0, 0]);
        assert_eq!(p.volume["MSFT"], [0, 300, 0, 400]);
        assert_eq!(p.session, "10:00:00.000-10:04:00.000");
        assert_eq!(
            (st.messages, st.prints, st.outside, st.unknown_locate),
            (10, 4, 2, 1)
        );
        // auto: the file's own span, first to last print
        let (p, _) = build(f.path(), 2, Session::Auto).unwrap();
        assert_eq!(p.session, "09:59:59.999-10:04:00.000");
        // round trip through the file the config reads
        let out = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(out.path(), p.to_toml()).unwrap();
        let back = Profiles::load(out.path()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.weights("MSFT").unwrap().len(), 2);
        assert!(back.weights("TSLA").is_none());
    }

    #[test]
    fn bad_input_is_named() {
        assert!("9:30-16:00".parse::<Session>().is_ok());
        for bad in ["16:00-09:30", "9:30", "x-y", "25:00-26:00", "09:60-10:00"] {
            let e = bad.parse::<Session>().unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("HH:MM-HH:MM"), "{e}");
        }
        // a frame cut off by the end of the file
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), [0u8, 20, b'E', 0, 1]).unwrap();
        let e = build(f.path(), 4, Session::Auto).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("offset 0"), "{e}");
        // no prints at all
        let f = write(&[dir(1, "AAPL")]);
        let e = build(f.path(), 4, Session::Auto).unwrap_err().to_string();
        assert!(e.contains("no printed volume"), "{e}");
        assert!(build(f.path(), 0, Session::Auto).is_err());
        // a profile file with a wrong bucket count
        let p = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            p.path(),
            "source = \"x\"\nsession = \"a\"\nbuckets = 3\n[volume]\nAAPL = [1, 2]\n",
        )
        .unwrap();
        let e = Profiles::load(p.path()).unwrap_err().to_string();
        assert!(e.contains("volume.AAPL") && e.contains("3"), "{e}");
    }

    /// A VWAP order's `profile_file` puts its symbol's curve into the spec;
    /// every misuse names the key.
    #[test]
    fn config_reads_the_profile_file() {
        use crate::app::config::HostConfig;
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("p.toml");
        let p = Profiles {
            source: "x.itch".into(),
            session: "09:30:00.000-16:00:00.000".into(),
            buckets: 3,
            volume: [("MSFT".to_string(), vec![500, 200, 900])].into(),
        };
        std::fs::write(&file, p.to_toml()).unwrap();
        let order = |algo: &str, sym: &str, extra: &str| {
            format!(
                "[[orders]]\nalgo = \"{algo}\"\nsymbol = \"{sym}\"\nside = \"sell\"\nshares = 1000\nduration_s = 30\nprofile_file = {:?}\n{extra}",
                file.display().to_string()
            )
        };
        let c = HostConfig::from_toml(&order("vwap", "MSFT", "")).unwrap();
        assert_eq!(c.resolve().unwrap().orders[0].profile, [500, 200, 900]);
        let e = |t: String| HostConfig::from_toml(&t).unwrap_err().to_string();
        let m = e(order("vwap", "AAPL", ""));
        assert!(
            m.contains("orders[0].profile_file") && m.contains("AAPL") && m.contains("MSFT"),
            "{m}"
        );
        let m = e(order("twap", "MSFT", ""));
        assert!(
            m.contains("orders[0].profile_file") && m.contains("vwap"),
            "{m}"
        );
        let m = e(order("vwap", "MSFT", "profile = [1, 2]"));
        assert!(m.contains("not both"), "{m}");
        std::fs::remove_file(&file).unwrap();
        let m = e(order("vwap", "MSFT", ""));
        assert!(
            m.contains("orders[0].profile_file") && m.contains("p.toml"),
            "{m}"
        );
    }

    /// A session from the simulator's generator: every share the host's own
    /// books count as printed lands in exactly one bucket of its symbol.
    #[test]
    fn generated_session_volume_matches_the_books() {
        use crate::feed::book::{BookCapacity, Books};
        let bytes = eti_sim::itchgen::generate_vec(20_000, 14);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &bytes).unwrap();
        let (p, st) = build(f.path(), 10, Session::Auto).unwrap();
        assert_eq!((st.outside, st.unknown_locate), (0, 0));
        let mut books = Books::new(BookCapacity {
            max_locate: 1024,
            orders: 1 << 16,
            levels: 1024,
        });
        for fr in eti_core::binfile::Frames::new(&bytes) {
            books.apply(&itch::decode(fr.unwrap().bytes).unwrap());
        }
        let mut traded = 0;
        for b in books.iter() {
            let got: u64 = p
                .volume
                .get(b.symbol.as_str())
                .map_or(0, |v| v.iter().sum());
            assert_eq!(got, b.volume, "{}", b.symbol.as_str());
            traded += usize::from(b.volume > 0);
        }
        assert_eq!(traded, p.volume.len());
        assert!(traded >= 3, "{traded} symbols traded");
    }
}
