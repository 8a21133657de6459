//! [`SimulatedGate`]: the rust-hdl RTL stepped cycle by cycle behind the
//! [`RiskGate`] trait, with a streaming entry point that pushes messages back to
//! back at line rate and measures each decision's latency in cycles.

use super::top::{RiskGateRtl, LATENCY};
use crate::gate::{check_read, check_write, RegisterError, RiskGate};
use crate::regmap::{Decision, RejectReason, ORDER_SLOTS};
use rust_hdl::prelude::*;

/// Cycles a control access may wait for the port: an `OT_CLEAR` before it
/// holds the port while it sweeps the order table.
const CONTROL_WAIT: u32 = ORDER_SLOTS as u32 + 64;

/// One decision seen on the gate's output, with its timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    pub decision: Decision,
    /// Cycles from the message's last beat on the input to the decision.
    pub latency: u64,
}

/// The RTL under simulation.
pub struct SimulatedGate {
    uut: Box<RiskGateRtl>,
    cycle: u64,
    /// Cycle of each taken last beat still awaiting its decision.
    pending: std::collections::VecDeque<u64>,
    /// Longest and shortest latency seen so far.
    pub max_latency: u64,
    pub min_latency: u64,
    /// Cycles simulated.
    pub cycles: u64,
}

impl std::fmt::Debug for SimulatedGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedGate")
            .field("cycle", &self.cycle)
            .finish()
    }
}

impl Default for SimulatedGate {
    fn default() -> Self {
        Self::new()
    }
}

/// One step of a mixed stream for [`SimulatedGate::run_steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A beat of a message from a session of `firm`.
    Beat { firm: u8, beat: Beat },
    /// The input idles (valid low) for this many cycles.
    Idle(u8),
    /// A control access, requested from here on.
    Control { write: bool, addr: u16, value: u64 },
}

/// One 64-bit beat of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub sop: bool,
    pub eop: bool,
    pub len: u8,
    pub data: u64,
}

/// Split a message into beats (byte 0 in bits 63:56; an empty message is one
/// beat carrying 0 bytes, which the gate rejects as malformed).
pub fn beats(msg: &[u8], out: &mut Vec<Beat>) {
    if msg.is_empty() {
        out.push(Beat {
            sop: true,
            eop: true,
            len: 0,
            data: 0,
        });
        return;
    }
    let n = msg.len().div_ceil(8);
    for (i, chunk) in msg.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        out.push(Beat {
            sop: i == 0,
            eop: i + 1 == n,
            len: chunk.len() as u8,
            data: u64::from_be_bytes(w),
        });
    }
}

impl SimulatedGate {
    pub fn new() -> Self {
        let mut uut = Box::new(RiskGateRtl::default());
        uut.connect_all();
        let mut g = SimulatedGate {
            uut,
            cycle: 0,
            pending: Default::default(),
            max_latency: 0,
            min_latency: u64::MAX,
            cycles: 0,
        };
        g.idle_inputs();
        g.settle();
        g
    }

    fn settle(&mut self) {
        // A converging design settles in a handful of passes.
        let _ = simulate(&mut *self.uut, 200);
    }

    fn idle_inputs(&mut self) {
        let u = &mut self.uut;
        u.in_valid.next = false;
        u.in_sop.next = false;
        u.in_eop.next = false;
        u.in_len.next = 0.into();
        u.in_data.next = 0.into();
        u.in_firm.next = 0.into();
        u.ctl_valid.next = false;
        u.ctl_write.next = false;
        u.ctl_addr.next = 0.into();
        u.ctl_wdata.next = 0.into();
    }

    /// Clock one edge; returns a decision if one is on the output in the new cycle.
    fn edge(&mut self) -> Option<Timed> {
        if self.uut.clock.val().clk {
            // the previous falling edge has not been settled with new inputs
            self.settle();
        }
        self.uut.clock.next = Clock { clk: true };
        self.settle();
        // The falling edge settles together with the next cycle's inputs.
        self.uut.clock.next = Clock { clk: false };
        self.cycle += 1;
        self.cycles += 1;
        if self.uut.dec_valid.val() {
            let code = self.uut.dec_reason.val().to_u64() as u8;
            let decision =
                Decision::from_code(code).unwrap_or(Decision::Reject(RejectReason::Malformed));
            let latency = self
                .pending
                .pop_front()
                .map_or(u64::MAX, |t| self.cycle - t);
            self.max_latency = self.max_latency.max(latency);
            self.min_latency = self.min_latency.min(latency);
            return Some(Timed { decision, latency });
        }
        None
    }

    /// Drive raw beats (each with its firm) back to back, as fast as the gate
    /// takes them, then drain; every decision seen goes to `out`.
    pub fn stream(&mut self, beats: &[(u8, Beat)], out: &mut Vec<Timed>) {
        let mut i = 0;
        while i < beats.len() {
            let (firm, b) = beats[i];
            {
                let u = &mut self.uut;
                u.in_valid.next = true;
                u.in_sop.next = b.sop;
                u.in_eop.next = b.eop;
                u.in_len.next = u64::from(b.len).into();
                u.in_data.next = b.data.into();
                u.in_firm.next = u64::from(firm).into();
            }
            self.settle();
            let taken = self.uut.in_ready.val();
            if taken {
                i += 1;
                if b.eop {
                    self.pending.push_back(self.cycle);
                }
            }
            if taken && i == beats.len() {
                self.uut.in_valid.next = true;
            }
            if let Some(t) = self.edge() {
                out.push(t);
            }
        }
        self.idle_inputs();
        self.settle();
        for _ in 0..LATENCY + 2 {
            if let Some(t) = self.edge() {
                out.push(t);
            }
        }
    }

    /// Drive a mixed stream: beats back to back as the gate takes them, idle
    /// input cycles, and control accesses requested while the beats around
    /// them keep flowing (the gate takes an access once the message in flight
    /// has ended and its pipeline is empty, so it applies in program order).
    /// Decisions go to `out`, control answers `(err, data)` to `answers`.
    pub fn run_steps(
        &mut self,
        steps: &[Step],
        out: &mut Vec<Timed>,
        answers: &mut Vec<(bool, u64)>,
    ) {
        let mut i = 0;
        let mut ctl: Option<(bool, u16, u64)> = None;
        let mut awaiting = 0u32;
        let mut idle_left = 0u32;
        let mut in_message = false;
        // a stuck gate must not hang the caller: far more than any stream
        // needs (an OT_CLEAR holds the control port for a sweep)
        let controls = steps
            .iter()
            .filter(|s| matches!(s, Step::Control { .. }))
            .count() as u64;
        let mut budget = 64 + 64 * steps.len() as u64 + CONTROL_WAIT as u64 * controls;
        while (i < steps.len() || ctl.is_some() || awaiting > 0) && budget > 0 {
            budget -= 1;
            // idle cycles are the input's: they run while an access waits
            while idle_left == 0 {
                match steps.get(i) {
                    Some(Step::Control { write, addr, value }) if ctl.is_none() => {
                        ctl = Some((*write, *addr, *value));
                        i += 1;
                    }
                    Some(Step::Idle(n)) => {
                        idle_left = u32::from(*n);
                        i += 1;
                    }
                    _ => break,
                }
            }
            let beat = match steps.get(i) {
                Some(Step::Beat { firm, beat }) if idle_left == 0 => Some((*firm, *beat)),
                _ => None,
            };
            {
                let u = &mut self.uut;
                match beat {
                    Some((firm, b)) => {
                        u.in_valid.next = true;
                        u.in_sop.next = b.sop;
                        u.in_eop.next = b.eop;
                        u.in_len.next = u64::from(b.len).into();
                        u.in_data.next = b.data.into();
                        u.in_firm.next = u64::from(firm).into();
                    }
                    None => u.in_valid.next = false,
                }
                match ctl {
                    Some((write, addr, value)) => {
                        u.ctl_valid.next = true;
                        u.ctl_write.next = write;
                        u.ctl_addr.next = u64::from(addr).into();
                        u.ctl_wdata.next = value.into();
                    }
                    None => u.ctl_valid.next = false,
                }
            }
            self.settle();
            let beat_taken = beat.is_some() && self.uut.in_ready.val();
            let ctl_taken = ctl.is_some() && self.uut.ctl_ready.val();
            if let Some(t) = self.edge() {
                out.push(t);
            }
            if let (true, Some((_, b))) = (beat_taken, beat) {
                i += 1;
                // a start of message inside one ends it (truncated): its
                // decision is timed from this beat, like a last beat's
                if b.sop && in_message {
                    self.pending.push_back(self.cycle - 1);
                }
                if b.eop {
                    self.pending.push_back(self.cycle - 1);
                }
                in_message = !b.eop;
            }
            if ctl_taken {
                ctl = None;
                awaiting += 1;
            }
            if idle_left > 0 && beat.is_none() {
                idle_left -= 1;
            }
            if self.uut.ctl_rvalid.val() && awaiting > 0 {
                awaiting -= 1;
                answers.push((self.uut.ctl_err.val(), self.uut.ctl_rdata.val().to_u64()));
            }
        }
        self.idle_inputs();
        self.settle();
        for _ in 0..LATENCY + 2 {
            if let Some(t) = self.edge() {
                out.push(t);
            }
        }
    }

    /// Stream whole messages back to back.
    pub fn stream_messages(&mut self, msgs: &[(u8, &[u8])], out: &mut Vec<Timed>) {
        let mut v = Vec::new();
        for (firm, m) in msgs {
            let start = v.len();
            let mut tmp = Vec::new();
            beats(m, &mut tmp);
            v.extend(tmp.into_iter().map(|b| (*firm, b)));
            debug_assert!(v.len() > start);
        }
        let mut tagged = Vec::with_capacity(v.len());
        tagged.extend(v);
        self.stream(&tagged, out);
    }

    fn control(&mut self, write: bool, addr: u16, value: u64) -> (bool, u64) {
        {
            let u = &mut self.uut;
            u.ctl_valid.next = true;
            u.ctl_write.next = write;
            u.ctl_addr.next = u64::from(addr).into();
            u.ctl_wdata.next = value.into();
        }
        self.settle();
        // OT_CLEAR holds the port for a sweep of the table
        let mut guard = 0;
        while !self.uut.ctl_ready.val() && guard < CONTROL_WAIT {
            let _ = self.edge();
            guard += 1;
        }
        let _ = self.edge();
        self.uut.ctl_valid.next = false;
        self.settle();
        let mut guard = 0;
        while !self.uut.ctl_rvalid.val() && guard < 64 {
            let _ = self.edge();
            guard += 1;
        }
        let r = (self.uut.ctl_err.val(), self.uut.ctl_rdata.val().to_u64());
        self.idle_inputs();
        self.settle();
        r
    }
}

impl RiskGate for SimulatedGate {
    fn check(&mut self, firm: u8, msg: &[u8]) -> Decision {
        let mut out = Vec::with_capacity(1);
        self.stream_messages(&[(firm, msg)], &mut out);
        out.first()
            .map_or(Decision::Reject(RejectReason::Malformed), |t| t.decision)
    }

    fn write_register(&mut self, addr: u16, value: u64) -> Result<(), RegisterError> {
        let (err, _) = self.control(true, addr, value);
        if err {
            return Err(match check_write(addr) {
                Err(e) => e,
                Ok(()) => RegisterError::OutOfRange(addr),
            });
        }
        Ok(())
    }

    fn read_register(&mut self, addr: u16) -> Result<u64, RegisterError> {
        let (err, v) = self.control(false, addr, 0);
        if err {
            return Err(match check_read(addr) {
                Err(e) => e,
                Ok(()) => RegisterError::Unknown(addr),
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regmap;
    use crate::vectors::{cancel, token};

    #[test]
    fn run_steps_applies_control_in_program_order() {
        let mut g = SimulatedGate::new();
        let mut bs = Vec::new();
        beats(&cancel(&token(1), 0), &mut bs);
        let mut steps: Vec<Step> = bs
            .iter()
            .map(|b| Step::Beat { firm: 0, beat: *b })
            .collect();
        steps.insert(
            1,
            Step::Control {
                write: true,
                addr: regmap::MAX_SHARES,
                value: 77,
            },
        );
        steps.push(Step::Control {
            write: true,
            addr: regmap::MAX_NOTIONAL,
            value: 5,
        });
        steps.push(Step::Control {
            write: false,
            addr: regmap::MAX_SHARES,
            value: 0,
        });
        let (mut out, mut answers) = (Vec::new(), Vec::new());
        let c0 = g.cycles;
        g.run_steps(&steps, &mut out, &mut answers);
        eprintln!("{} cycles, {out:?} {answers:?}", g.cycles - c0);
        assert_eq!(answers, vec![(false, 0), (false, 0), (false, 77)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].latency, LATENCY);
        assert!(g.cycles - c0 < 40, "{} cycles", g.cycles - c0);
    }
}
