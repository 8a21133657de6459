//! Parser block: frames OUCH 4.2 inbound messages off the 64-bit beat stream,
//! keeps the first six beats (every field the checks need lies in bytes 1..42)
//! and presents the fields, decoded for the message's type, while `done` is high.
//!
//! Framing rules: a beat without `sop` while idle starts a message that will be
//! rejected as malformed; a `sop` inside a message ends the old one (truncated,
//! malformed) and starts the new one; every beat but the last must carry 8 bytes,
//! the last 1..=8. `done` pulses the cycle after the last beat is taken.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Parser {
    pub clock: Signal<In, Clock>,
    /// A beat is taken when `in_valid & take`.
    pub take: Signal<In, Bit>,
    pub in_valid: Signal<In, Bit>,
    pub in_sop: Signal<In, Bit>,
    pub in_eop: Signal<In, Bit>,
    /// Valid bytes in this beat, 1..=8 (byte 0 of the beat in bits 63:56).
    pub in_len: Signal<In, Bits<4>>,
    pub in_data: Signal<In, Bits<64>>,
    /// The session's account, sampled with `sop`.
    pub in_firm: Signal<In, Bits<8>>,
    /// A message is inside the parser (between its first and last beat).
    pub in_msg: Signal<Out, Bit>,
    pub done: Signal<Out, Bit>,
    pub malformed: Signal<Out, Bit>,
    pub unknown: Signal<Out, Bit>,
    pub is_enter: Signal<Out, Bit>,
    pub is_replace: Signal<Out, Bit>,
    pub is_cancel: Signal<Out, Bit>,
    pub is_modify: Signal<Out, Bit>,
    pub firm: Signal<Out, Bits<8>>,
    pub token_hi: Signal<Out, Bits<64>>,
    pub token_lo: Signal<Out, Bits<48>>,
    pub side: Signal<Out, Bits<8>>,
    pub shares: Signal<Out, Bits<32>>,
    pub symbol: Signal<Out, Bits<64>>,
    pub price: Signal<Out, Bits<32>>,
    pub tif: Signal<Out, Bits<32>>,
    pub display: Signal<Out, Bits<8>>,
    pub capacity: Signal<Out, Bits<8>>,
    /// The acting token (bytes 1..15: an Enter's own, a Replace's original,
    /// a Cancel's or Modify's), for the order table, while `done` is high.
    pub orig_hi: Signal<Out, Bits<64>>,
    pub orig_lo: Signal<Out, Bits<48>>,
    /// The acting token as it will stand once the beat on the input is taken
    /// as the second beat (the first beat's register and the input): the
    /// order table starts its slot's adder tree a cycle early.
    pub orig_hi_next: Signal<Out, Bits<64>>,
    pub orig_lo_next: Signal<Out, Bits<48>>,
    /// High the cycle after the second beat was taken: the acting token is
    /// complete in the parser.
    pub orig_strobe: Signal<Out, Bit>,
    /// A Replace's replacement token (bytes 15..29), complete from the cycle
    /// after its fourth beat, when `new_strobe` is high.
    pub new_hi: Signal<Out, Bits<64>>,
    pub new_lo: Signal<Out, Bits<48>>,
    pub new_strobe: Signal<Out, Bit>,
    /// A Replace has five beats in: its next beat is its last.
    pub replace_at5: Signal<Out, Bit>,
    busy: DFF<Bit>,
    orig_strobe_q: DFF<Bit>,
    new_strobe_q: DFF<Bit>,
    beats: DFF<Bits<4>>,
    /// One-hot of `beats` for 1..=5 (bit j: `beats == j + 1`), shifted on
    /// each beat: the capture of beat k needs `beats == k - 1` with no
    /// increment and compare before its enable (timing: ~400 enables).
    at: DFF<Bits<5>>,
    bad: DFF<Bit>,
    /// The message's type, decoded at its first beat (O, U, X, M).
    type_o: DFF<Bit>,
    type_u: DFF<Bit>,
    type_x: DFF<Bit>,
    type_m: DFF<Bit>,
    firm_q: DFF<Bits<8>>,
    done_q: DFF<Bit>,
    malformed_q: DFF<Bit>,
    unknown_q: DFF<Bit>,
    w0: DFF<Bits<64>>,
    w1: DFF<Bits<64>>,
    w2: DFF<Bits<64>>,
    w3: DFF<Bits<64>>,
    w4: DFF<Bits<64>>,
    w5: DFF<Bits<64>>,
    beat: Signal<Local, Bit>,
    start: Signal<Local, Bit>,
    beat_bad: Signal<Local, Bit>,
    nbeats: Signal<Local, Bits<4>>,
    /// Bit k - 2: this beat is the message's k-th (k = 2..=6).
    next_k: Signal<Local, Bits<5>>,
    nbad: Signal<Local, Bit>,
    len_ok: Signal<Local, Bit>,
    t_enter: Signal<Local, Bit>,
    t_replace: Signal<Local, Bit>,
    t_cancel: Signal<Local, Bit>,
    t_modify: Signal<Local, Bit>,
    x_a: Signal<Local, Bits<64>>,
    x_b: Signal<Local, Bits<64>>,
    x_c: Signal<Local, Bits<64>>,
    x_d: Signal<Local, Bits<64>>,
    x_e: Signal<Local, Bits<64>>,
    x_f: Signal<Local, Bits<64>>,
}

impl Logic for Parser {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            busy,
            beats,
            at,
            bad,
            type_o,
            type_u,
            type_x,
            type_m,
            firm_q,
            done_q,
            malformed_q,
            unknown_q,
            orig_strobe_q,
            new_strobe_q,
            w0,
            w1,
            w2,
            w3,
            w4,
            w5
        );
        self.beat.next = self.in_valid.val() & self.take.val();
        self.start.next = self.in_sop.val() | !self.busy.q.val();
        // Every beat but the last carries 8 bytes; the last 1..=8.
        self.beat_bad.next = (self.in_len.val() == 0)
            | (self.in_len.val() > 8)
            | (!self.in_eop.val() & (self.in_len.val() != 8));
        self.nbeats.next = self.beats.q.val() + 1;
        self.t_enter.next = self.type_o.q.val();
        self.t_replace.next = self.type_u.q.val();
        self.t_cancel.next = self.type_x.q.val();
        self.t_modify.next = self.type_m.q.val();
        self.nbad.next = self.bad.q.val() | self.beat_bad.val();
        // OUCH 4.2 lengths: Enter 49 = 6×8+1, Replace 47 = 5×8+7, Cancel 19 = 2×8+3,
        // Modify 20 = 2×8+4,
        // checked on the beats already taken (one less than the count with this one);
        // a message that starts on this beat is one beat long and fits none.
        self.len_ok.next =
            (self.type_o.q.val() & (self.beats.q.val() == 6) & (self.in_len.val() == 1))
                | (self.type_u.q.val() & (self.beats.q.val() == 5) & (self.in_len.val() == 7))
                | (self.type_x.q.val() & (self.beats.q.val() == 2) & (self.in_len.val() == 3))
                | (self.type_m.q.val() & (self.beats.q.val() == 2) & (self.in_len.val() == 4));
        if self.start.val() {
            self.nbeats.next = 1.into();
            self.t_enter.next = self.in_data.val().get_bits::<8>(56) == 0x4F;
            self.t_replace.next = self.in_data.val().get_bits::<8>(56) == 0x55;
            self.t_cancel.next = self.in_data.val().get_bits::<8>(56) == 0x58;
            self.t_modify.next = self.in_data.val().get_bits::<8>(56) == 0x4D;
            self.nbad.next = !self.in_sop.val() | self.beat_bad.val();
            self.len_ok.next = false;
        }
        if self.beats.q.val() == 15 {
            // saturate: any message this long is malformed anyway
            if !self.start.val() {
                self.nbeats.next = 15.into();
            }
        }
        self.done_q.d.next = false;
        // a message's beats count from 1 (`start`), so beats == 0 only
        // before the first: nbeats == k (k ≥ 2) is !start and at[k - 2]
        self.next_k.next = self.at.q.val();
        if self.start.val() {
            self.next_k.next = 0.into();
        }
        self.orig_strobe_q.d.next = self.beat.val() & self.next_k.val().get_bit(0);
        self.new_strobe_q.d.next =
            self.beat.val() & self.next_k.val().get_bit(2) & self.t_replace.val();
        self.malformed_q.d.next = false;
        self.unknown_q.d.next = false;
        if self.beat.val() {
            if self.in_sop.val() & self.busy.q.val() {
                // the previous message never ended: report it truncated
                self.done_q.d.next = true;
                self.malformed_q.d.next = true;
            }
            self.beats.d.next = self.nbeats.val();
            self.at.d.next = self.at.q.val() << 1;
            if self.start.val() {
                self.at.d.next = 1.into();
            }
            self.type_o.d.next = self.t_enter.val();
            self.type_u.d.next = self.t_replace.val();
            self.type_x.d.next = self.t_cancel.val();
            self.type_m.d.next = self.t_modify.val();
            self.bad.d.next = self.nbad.val();
            self.busy.d.next = !self.in_eop.val();
            if self.start.val() {
                self.firm_q.d.next = self.in_firm.val();
            }
            if self.start.val() {
                self.w0.d.next = self.in_data.val();
            }
            if self.next_k.val().get_bit(0) {
                self.w1.d.next = self.in_data.val();
            }
            if self.next_k.val().get_bit(1) {
                self.w2.d.next = self.in_data.val();
            }
            if self.next_k.val().get_bit(2) {
                self.w3.d.next = self.in_data.val();
            }
            if self.next_k.val().get_bit(3) {
                self.w4.d.next = self.in_data.val();
            }
            if self.next_k.val().get_bit(4) {
                self.w5.d.next = self.in_data.val();
            }
            if self.in_eop.val() {
                self.done_q.d.next = true;
                if self.nbad.val() {
                    self.malformed_q.d.next = true;
                } else if !(self.t_enter.val()
                    | self.t_replace.val()
                    | self.t_cancel.val()
                    | self.t_modify.val())
                {
                    self.unknown_q.d.next = true;
                } else if !self.len_ok.val() {
                    self.malformed_q.d.next = true;
                }
            }
        }
        self.in_msg.next = self.busy.q.val();
        self.done.next = self.done_q.q.val();
        self.malformed.next = self.malformed_q.q.val();
        self.unknown.next = self.unknown_q.q.val();
        self.is_enter.next = self.type_o.q.val();
        self.is_replace.next = self.type_u.q.val();
        self.is_cancel.next = self.type_x.q.val();
        self.is_modify.next = self.type_m.q.val();
        self.firm.next = self.firm_q.q.val();
        // Field extraction (byte b of the message is beat b/8, bits 63-8(b%8)..).
        // Enter: token 1..15, side 15, shares 16..20, stock 20..28, price 28..32,
        // tif 32..36, display 40, capacity 41.
        self.x_a.next = (self.w0.q.val() << 8) | (self.w1.q.val() >> 56);
        self.x_b.next = (self.w2.q.val() << 32) | (self.w3.q.val() >> 32);
        // Replace: new token 15..29, shares 29..33, price 33..37, tif 37..41, display 41.
        self.x_c.next = (self.w1.q.val() << 56) | (self.w2.q.val() >> 8);
        self.x_d.next = (self.w2.q.val() << 40) | (self.w3.q.val() >> 24);
        self.x_e.next = (self.w3.q.val() << 8) | (self.w4.q.val() >> 56);
        self.x_f.next = (self.w4.q.val() << 8) | (self.w5.q.val() >> 56);
        self.orig_hi.next = self.x_a.val();
        self.orig_lo.next = self.w1.q.val().get_bits::<48>(8);
        self.orig_hi_next.next = (self.w0.q.val() << 8) | (self.in_data.val() >> 56);
        self.orig_lo_next.next = self.in_data.val().get_bits::<48>(8);
        self.orig_strobe.next = self.orig_strobe_q.q.val();
        self.new_hi.next = self.x_c.val();
        self.new_lo.next = self.x_d.val().get_bits::<48>(0);
        self.new_strobe.next = self.new_strobe_q.q.val();
        self.replace_at5.next = self.busy.q.val() & self.type_u.q.val() & (self.beats.q.val() == 5);
        self.side.next = self.w1.q.val().get_bits::<8>(0);
        self.symbol.next = self.x_b.val();
        self.capacity.next = self.w5.q.val().get_bits::<8>(48);
        if self.type_u.q.val() {
            self.token_hi.next = self.x_c.val();
            self.token_lo.next = self.x_d.val().get_bits::<48>(0);
            self.shares.next = self.x_e.val().get_bits::<32>(0);
            self.price.next = self.w4.q.val().get_bits::<32>(24);
            self.tif.next = self.x_f.val().get_bits::<32>(0);
            self.display.next = self.w5.q.val().get_bits::<8>(48);
        } else {
            self.token_hi.next = self.x_a.val();
            self.token_lo.next = self.w1.q.val().get_bits::<48>(8);
            self.shares.next = self.w2.q.val().get_bits::<32>(32);
            self.price.next = self.w3.q.val().get_bits::<32>(0);
            self.tif.next = self.w4.q.val().get_bits::<32>(32);
            self.display.next = self.w5.q.val().get_bits::<8>(56);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::{parser::parse, Kind};
    use crate::rtl::sim::{beats, Beat};
    use crate::rtl::testbench::cycle;
    use crate::vectors::{cancel, enter, modify, replace, stock, token};

    fn clk(p: &mut Parser) -> &mut Signal<In, Clock> {
        &mut p.clock
    }

    fn new() -> Parser {
        let mut p = Parser::default();
        p.connect_all();
        p.take.next = true;
        p
    }

    /// Drive beats; returns (beat index after which `done` rose, snapshot) for each done.
    fn drive(p: &mut Parser, firm: u8, bs: &[Beat]) -> Vec<(usize, bool, bool)> {
        let mut dones = Vec::new();
        for (i, b) in bs.iter().enumerate() {
            p.in_valid.next = true;
            p.in_sop.next = b.sop;
            p.in_eop.next = b.eop;
            p.in_len.next = u64::from(b.len).into();
            p.in_data.next = b.data.into();
            p.in_firm.next = u64::from(firm).into();
            cycle(p, clk);
            if p.done.val() {
                dones.push((i, p.malformed.val(), p.unknown.val()));
            }
        }
        p.in_valid.next = false;
        dones
    }

    fn check_fields(p: &Parser, msg: &[u8]) {
        let g = parse(msg).expect("well-formed");
        assert_eq!(p.is_enter.val(), g.kind == Kind::Enter);
        assert_eq!(p.is_replace.val(), g.kind == Kind::Replace);
        assert_eq!(p.is_cancel.val(), g.kind == Kind::Cancel);
        assert_eq!(p.is_modify.val(), g.kind == Kind::Modify);
        assert_eq!(p.token_hi.val().to_u64(), g.token_hi);
        assert_eq!(p.token_lo.val().to_u64(), g.token_lo);
        if !matches!(g.kind, Kind::Cancel | Kind::Modify) {
            assert_eq!(p.shares.val().to_u64(), u64::from(g.shares));
            assert_eq!(p.price.val().to_u64(), u64::from(g.price));
            assert_eq!(p.tif.val().to_u64(), u64::from(g.tif));
            assert_eq!(p.display.val().to_u64(), u64::from(g.display));
        }
        if g.kind == Kind::Enter {
            assert_eq!(p.side.val().to_u64(), u64::from(g.side));
            assert_eq!(p.symbol.val().to_u64(), g.symbol);
            assert_eq!(p.capacity.val().to_u64(), u64::from(g.capacity));
        }
    }

    #[test]
    fn extracts_the_same_fields_as_the_golden_parser() {
        let mut p = new();
        let msgs: [&[u8]; 4] = [
            &enter(
                &token(123_456_789),
                b'S',
                777,
                &stock("AAPL"),
                1_234_567,
                99_998,
                b'Y',
                b'P',
            ),
            &replace(
                &token(5),
                &token(98_765_432_101),
                31_337,
                0x7735_939C,
                86_400,
                b'N',
            ),
            &cancel(&token(77), 12),
            &modify(&token(78), b'T', 40),
        ];
        for (k, m) in msgs.iter().enumerate() {
            let mut bs = Vec::new();
            beats(m, &mut bs);
            let d = drive(&mut p, k as u8 + 1, &bs);
            assert_eq!(d, vec![(bs.len() - 1, false, false)], "message {k}");
            check_fields(&p, m);
            assert_eq!(p.firm.val().to_u64(), k as u64 + 1);
        }
    }

    #[test]
    fn bad_framing_is_reported_and_the_next_message_parses() {
        let mut p = new();
        let good = enter(
            &token(9),
            b'B',
            100,
            &stock("MSFT"),
            4_000_000,
            0,
            b'A',
            b'A',
        );
        let mut g = Vec::new();
        beats(&good, &mut g);
        // truncated: two beats of an Enter, then a new start of message
        let mut s = g[..2].to_vec();
        s.extend_from_slice(&g);
        let d = drive(&mut p, 0, &s);
        assert_eq!(d, vec![(2, true, false), (s.len() - 1, false, false)]);
        check_fields(&p, &good);
        // no start of message while idle
        let mut s: Vec<Beat> = g.clone();
        s[0].sop = false;
        assert_eq!(drive(&mut p, 0, &s), vec![(s.len() - 1, true, false)]);
        // a short beat in the middle
        let mut s = g.clone();
        s[2].len = 7;
        assert_eq!(drive(&mut p, 0, &s), vec![(s.len() - 1, true, false)]);
        // unknown type, and a known type with the wrong length
        let mut bad = [0u8; 19];
        bad[0] = b'Q';
        let mut s = Vec::new();
        beats(&bad, &mut s);
        assert_eq!(drive(&mut p, 0, &s), vec![(s.len() - 1, false, true)]);
        let mut s = Vec::new();
        beats(&good[..48], &mut s);
        assert_eq!(drive(&mut p, 0, &s), vec![(s.len() - 1, true, false)]);
        // an empty message
        let s = [Beat {
            sop: true,
            eop: true,
            len: 0,
            data: 0,
        }];
        assert_eq!(drive(&mut p, 0, &s), vec![(0, true, false)]);
        // and the gate is still fine
        assert_eq!(drive(&mut p, 0, &g), vec![(g.len() - 1, false, false)]);
        check_fields(&p, &good);
    }
}
