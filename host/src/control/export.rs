//! `eti audit export DIR --for-role ROLE`: the journal export as a role
//! without clearance may see it (`Role::pii_clearance`): user names and
//! account (firm) ids replaced by pseudonyms ([`crate::telemetry::pii`]),
//! everything else (sequence, times, hashes, tokens, symbols, amounts)
//! unchanged, so the chain can still be followed record by record.

use crate::telemetry::pii::{mask_json, pseudonym};
use crate::trading::control::code;
use serde_json::Value;
use std::io::Write;

/// Mask one exported record (`{"seq", "kind", "event": {...}, ...}`).
pub fn mask_record(v: &mut Value) {
    if let Some(e) = v.get_mut("event") {
        mask_json(e);
    }
    // a kill's or a limit's subject is the firm it applies to
    if v["kind"] == "control_action" {
        let firm_subject = v["event"]["action"]
            .as_u64()
            .is_some_and(|a| [code::KILL, code::UNKILL, code::LIMIT].contains(&(a as u8)));
        if let Some(Value::String(s)) = v["event"].get_mut("subject") {
            if firm_subject && s.trim() != "GLOBAL" {
                *s = pseudonym(s);
            }
        }
    }
}

/// A writer of JSON lines that masks each record on its way through.
#[derive(Debug)]
pub struct MaskedExport<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> MaskedExport<W> {
    pub fn new(inner: W) -> MaskedExport<W> {
        MaskedExport {
            inner,
            line: Vec::new(),
        }
    }

    fn emit(&mut self) -> std::io::Result<()> {
        if self.line.iter().all(u8::is_ascii_whitespace) {
            self.line.clear();
            return Ok(());
        }
        // a line that is not a record cannot be masked: refuse it rather
        // than let it through
        let mut v: Value = serde_json::from_slice(&self.line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        self.line.clear();
        mask_record(&mut v);
        serde_json::to_writer(&mut self.inner, &v)?;
        self.inner.write_all(b"\n")
    }
}

impl<W: Write> Write for MaskedExport<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            self.line.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") {
                self.emit()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_masked_line_by_line_whatever_the_chunking() {
        let recs = [
            json!({"seq": 1, "kind": "control_action", "event": {"user": "ro1", "action": code::KILL, "subject": "ETIA", "reason": "news"}}),
            json!({"seq": 2, "kind": "control_action", "event": {"user": "ro1", "action": code::KILL, "subject": "GLOBAL"}}),
            json!({"seq": 3, "kind": "control_action", "event": {"user": "tr1", "action": code::RESTRICT, "subject": "TSLA"}}),
            json!({"seq": 4, "kind": "order_sent", "event": {"token": "ETI0000001", "firm": "ETIA", "symbol": "AAPL"}}),
            json!({"seq": 5, "kind": "control_denied", "event": {"user": "eve", "endpoint": "POST /api/v1/kill"}}),
        ];
        let text: String = recs.iter().map(|r| format!("{r}\n")).collect();
        // one byte at a time: lines are reassembled before masking
        let mut m = MaskedExport::new(Vec::new());
        for b in text.as_bytes() {
            m.write_all(std::slice::from_ref(b)).unwrap();
        }
        m.flush().unwrap();
        let out = String::from_utf8(m.inner).unwrap();
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        for name in ["\"ro1\"", "\"tr1\"", "\"eve\"", "\"ETIA\""] {
            assert!(!out.contains(name), "{name} in {out}");
        }
        assert_eq!(lines[0]["event"]["subject"], json!(pseudonym("ETIA")));
        assert_eq!(lines[0]["event"]["user"], json!(pseudonym("ro1")));
        assert_eq!(lines[0]["event"]["reason"], "news");
        assert_eq!(lines[1]["event"]["subject"], "GLOBAL");
        assert_eq!(
            lines[2]["event"]["subject"], "TSLA",
            "a symbol is no personal data"
        );
        assert_eq!(lines[3]["event"]["token"], "ETI0000001");
        assert_eq!(lines[3]["event"]["firm"], json!(pseudonym("ETIA")));
        assert_eq!(lines[4]["event"]["endpoint"], "POST /api/v1/kill");
        // a line that is no record is refused, not passed through
        let mut m = MaskedExport::new(Vec::new());
        assert!(m.write_all(b"alice did it\n").is_err());
    }
}
