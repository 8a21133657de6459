//! The venue's day on disk (`eti-sim serve --day FILE`) and the venue's own
//! records for reconciliation (`--drop-copy FILE`, `--order-log FILE`).
//!
//! The day file is the venue's input journal: one JSON line per thing that
//! changed the venue's state (start of day, each OUCH message a user sent, each
//! batch of synthetic-flow actions, cancel on disconnect, trading-state changes,
//! end of day), each with the timestamp the venue used for it. Engine, flow and
//! exchange are deterministic functions of that sequence, so a restarted
//! simulator that reads the file back rebuilds the same books, the same
//! executions, the same ITCH sequence numbers and every user's SoupBinTCP stream
//! byte for byte: a host that logs in again with its sequence number gets the
//! same replay as from the simulator that was killed.
//!
//! A record is written (one `write` call, before the change is applied and
//! before any client sees its effect), so a SIGKILLed simulator loses nothing
//! it has answered. There is no fsync: the file survives the process, not the
//! machine. A torn last line (killed mid-write) is cut off on load; a corrupt
//! line before the end is an error naming the file and line.
//!
//! Drop copy and order log are JSON-lines files the venue appends to, one
//! `write` per line. After a restart on a day file, the lines the replayed day
//! would write again are counted and skipped, so every execution and every
//! order token is in the files exactly once.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Day-file format version (the header's `version`).
pub const DAY_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum DayError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("day file {path} line {line}: {reason}")]
    Corrupt {
        path: String,
        line: u64,
        reason: String,
    },
    #[error(
        "day file {path} was written with another configuration (`{section}` differs); \
         use the same --config or a new --day file"
    )]
    Mismatch { path: String, section: String },
    #[error(
        "day file {path}: that day has ended (end of day at line {line}); \
         give a new --day file to start a new day"
    )]
    Ended { path: String, line: u64 },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DayError + '_ {
    move |source| DayError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Bytes as a lowercase hex string in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut t = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            t.push(DIGITS[usize::from(b >> 4)] as char);
            t.push(DIGITS[usize::from(b & 15)] as char);
        }
        s.serialize_str(&t)
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = String::deserialize(d)?;
        let nib = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let b = t.as_bytes();
        if b.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd-length hex"));
        }
        b.chunks(2)
            .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
            .collect::<Option<Vec<u8>>>()
            .map(Hex)
            .ok_or_else(|| serde::de::Error::custom("not lowercase hex"))
    }
}

/// One thing that changed the venue's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum DayInput {
    /// First line: the format and the configuration sections that decide what
    /// the day replays to (addresses may change between runs, these may not).
    Header {
        version: u32,
        config: serde_json::Value,
    },
    /// Start of day (and the synthetic flow's seeded book). The line counts
    /// of drop copy and order log when the day started.
    Start {
        drop_copy_lines: u64,
        order_log_lines: u64,
    },
    /// An OUCH message from logged-in user `user` (index in `ouch.users`).
    Inbound { user: u32, msg: Hex },
    /// `n` synthetic-flow actions.
    FlowSteps { n: u32 },
    /// Cancel on disconnect of a user.
    CancelUser { user: u32 },
    /// Halt, pause or resume a symbol (ITCH trading-state code).
    TradingState { locate: u16, state: char },
    /// End of day: the day is over.
    EndOfDay,
}

/// A day-file line: the venue's timestamp (ns since midnight) and the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRecord {
    pub ts: u64,
    #[serde(flatten)]
    pub input: DayInput,
}

/// Read the complete lines of a JSON-lines file; a last line without its
/// newline (torn by a kill mid-write) is cut off the file. Returns the lines.
fn complete_lines(path: &Path, file: &mut File) -> Result<Vec<String>, DayError> {
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    file.read_to_end(&mut text).map_err(io_err(path))?;
    let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if keep < text.len() {
        tracing::warn!(
            file = %path.display(),
            bytes = text.len() - keep,
            "cutting a torn last line"
        );
        file.set_len(keep as u64).map_err(io_err(path))?;
        text.truncate(keep);
    }
    file.seek(SeekFrom::End(0)).map_err(io_err(path))?;
    let text = String::from_utf8(text).map_err(|e| DayError::Corrupt {
        path: path.display().to_string(),
        line: 0,
        reason: format!("not UTF-8 text: {e}"),
    })?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The open day file.
#[derive(Debug)]
pub struct DayFile {
    path: PathBuf,
    file: File,
    line: String,
}

impl DayFile {
    /// Open (or create) `path`; return it with the records already in it (a
    /// fresh file gets its header now). `config` is the configuration that
    /// decides the day; a file written under another one is refused.
    pub fn open(
        path: &Path,
        config: &serde_json::Value,
        now: u64,
    ) -> Result<(DayFile, Vec<DayRecord>), DayError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err(path))?;
        let lines = complete_lines(path, &mut file)?;
        let mut records = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            let r: DayRecord = serde_json::from_str(l).map_err(|e| DayError::Corrupt {
                path: path.display().to_string(),
                line: i as u64 + 1,
                reason: e.to_string(),
            })?;
            records.push(r);
        }
        let mut day = DayFile {
            path: path.to_path_buf(),
            file,
            line: String::with_capacity(256),
        };
        match records.first() {
            None => day.append(&DayRecord {
                ts: now,
                input: DayInput::Header {
                    version: DAY_FORMAT_VERSION,
                    config: config.clone(),
                },
            })?,
            Some(DayRecord {
                input:
                    DayInput::Header {
                        version,
                        config: was,
                    },
                ..
            }) => {
                if *version != DAY_FORMAT_VERSION {
                    return Err(DayError::Corrupt {
                        path: path.display().to_string(),
                        line: 1,
                        reason: format!(
                            "format version {version}, this simulator reads {DAY_FORMAT_VERSION}"
                        ),
                    });
                }
                if let Some(section) = first_difference(was, config) {
                    return Err(DayError::Mismatch {
                        path: path.display().to_string(),
                        section,
                    });
                }
            }
            Some(_) => {
                return Err(DayError::Corrupt {
                    path: path.display().to_string(),
                    line: 1,
                    reason: "not an eti-sim day file (no header line)".into(),
                })
            }
        }
        if let Some(i) = records
            .iter()
            .position(|r| matches!(r.input, DayInput::EndOfDay))
        {
            return Err(DayError::Ended {
                path: path.display().to_string(),
                line: i as u64 + 1,
            });
        }
        let body = records.split_off(1.min(records.len()));
        Ok((day, body))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one line, in one `write`.
    pub fn append(&mut self, r: &DayRecord) -> Result<(), DayError> {
        self.line.clear();
        // Serialising these plain types cannot fail.
        if let Ok(s) = serde_json::to_string(r) {
            self.line.push_str(&s);
        }
        self.line.push('\n');
        self.file
            .write_all(self.line.as_bytes())
            .map_err(io_err(&self.path))
    }
}

/// The first top-level key whose value differs, named like the config file.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find(|k| x.get(*k) != y.get(*k))
                .map(|k| k.to_string())
        }
        _ => (a != b).then(|| "configuration".to_string()),
    }
}

/// An append-only JSON-lines output (drop copy, order log). Lines the replay
/// of a reloaded day produces again are counted and not written twice.
#[derive(Debug)]
pub struct JsonLines {
    path: PathBuf,
    file: File,
    /// Complete lines in the file when it was opened.
    pub lines_at_open: u64,
    /// Lines this run produced (written or skipped).
    produced: u64,
    /// The first `skip` produced lines are already in the file.
    skip: u64,
    line: Vec<u8>,
    /// Write failures (counted and logged; the venue carries on).
    pub errors: u64,
}

impl JsonLines {
    pub fn open(path: &Path) -> Result<JsonLines, DayError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err(path))?;
        let lines = complete_lines(path, &mut file)?.len() as u64;
        Ok(JsonLines {
            path: path.to_path_buf(),
            file,
            lines_at_open: lines,
            produced: 0,
            skip: 0,
            line: Vec::with_capacity(256),
            errors: 0,
        })
    }

    /// A reloaded day started when the file had `lines_at_start` lines: the
    /// lines after those are this day's and will be produced again by the replay.
    pub fn resume_day(&mut self, lines_at_start: u64) {
        self.skip = self.lines_at_open.saturating_sub(lines_at_start);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `v` as one line (one `write`), unless a replay already wrote it.
    pub fn write(&mut self, v: &impl Serialize) {
        self.produced += 1;
        if self.produced <= self.skip {
            return;
        }
        self.line.clear();
        if serde_json::to_writer(&mut self.line, v).is_err() {
            self.errors += 1;
            return;
        }
        self.line.push(b'\n');
        if let Err(e) = self.file.write_all(&self.line) {
            self.errors += 1;
            tracing::error!(file = %self.path.display(), error = %e, "cannot append");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> serde_json::Value {
        serde_json::json!({"flow": {"seed": seed}, "symbols": ["AAPL"]})
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("day.jsonl");
        let (mut d, body) = DayFile::open(&p, &cfg(1), 5).unwrap();
        assert!(body.is_empty());
        let recs = [
            DayRecord {
                ts: 10,
                input: DayInput::Start {
                    drop_copy_lines: 3,
                    order_log_lines: 0,
                },
            },
            DayRecord {
                ts: 11,
                input: DayInput::Inbound {
                    user: 1,
                    msg: Hex(vec![0x4f, 0x00, 0xff, 0x1a]),
                },
            },
            DayRecord {
                ts: 12,
                input: DayInput::FlowSteps { n: 7 },
            },
            DayRecord {
                ts: 13,
                input: DayInput::TradingState {
                    locate: 2,
                    state: 'H',
                },
            },
        ];
        for r in &recs {
            d.append(r).unwrap();
        }
        drop(d);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(r#""msg":"4f00ff1a""#), "{text}");
        // a kill in the middle of a write leaves half a line
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"ts":14,"t":"cancel_us"#).unwrap();
        drop(f);
        let (_d, body) = DayFile::open(&p, &cfg(1), 6).unwrap();
        assert_eq!(body, recs);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text, "tail cut");
    }

    #[test]
    fn other_config_ended_day_and_corrupt_lines_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("day.jsonl");
        let (mut d, _) = DayFile::open(&p, &cfg(1), 5).unwrap();
        d.append(&DayRecord {
            ts: 9,
            input: DayInput::CancelUser { user: 0 },
        })
        .unwrap();
        drop(d);
        let e = DayFile::open(&p, &cfg(2), 6).unwrap_err().to_string();
        assert!(
            e.contains("day.jsonl") && e.contains("`flow`") && e.contains("--day"),
            "{e}"
        );

        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("{\"ts\":1,\"t\":\"no_such\"}\n");
        std::fs::write(&p, &text).unwrap();
        let e = DayFile::open(&p, &cfg(1), 6).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");

        let (mut d, _) = DayFile::open(&dir.path().join("b"), &cfg(1), 5).unwrap();
        d.append(&DayRecord {
            ts: 9,
            input: DayInput::EndOfDay,
        })
        .unwrap();
        let e = DayFile::open(&dir.path().join("b"), &cfg(1), 6)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ended") && e.contains("line 2"), "{e}");

        std::fs::write(dir.path().join("c"), "hello\n").unwrap();
        let e = DayFile::open(&dir.path().join("c"), &cfg(1), 6)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn json_lines_skip_what_a_replayed_day_already_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("drop.jsonl");
        let mut j = JsonLines::open(&p).unwrap();
        j.write(&serde_json::json!({"old": 1})); // a previous day's line
        for i in 0..3 {
            j.write(&serde_json::json!({ "n": i }));
        }
        drop(j);
        // restart: the day started when the file had 1 line; 3 are this day's
        let mut j = JsonLines::open(&p).unwrap();
        assert_eq!(j.lines_at_open, 4);
        j.resume_day(1);
        for i in 0..5 {
            j.write(&serde_json::json!({ "n": i }));
        }
        drop(j);
        let lines: Vec<String> = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                r#"{"old":1}"#,
                r#"{"n":0}"#,
                r#"{"n":1}"#,
                r#"{"n":2}"#,
                r#"{"n":3}"#,
                r#"{"n":4}"#
            ]
        );
    }
}
