//! Market samples for transaction-cost analysis: while a parent works, and
//! for [`MARKOUT_TAIL_NS`] after it ends (the 30 s markout), the hot thread's
//! housekeeping journals its stock's consolidated top of book and printed
//! volume every [`SAMPLE_EVERY_NS`]. That is a low fixed rate per parent
//! (10/s), never per market-data message; with no journal nothing is done.
//! `eti tca` reads these records back.

use crate::journal::event::MarketSample;
use crate::journal::Event as JEvent;
use crate::trading::Trader;
use eti_core::Price;

/// One sample per traded symbol every 100 ms.
pub const SAMPLE_EVERY_NS: u64 = 100_000_000;
/// Keep sampling 35 s after a parent ends (markouts up to 30 s).
pub const MARKOUT_TAIL_NS: u64 = 35_000_000_000;

impl Trader {
    /// Journal the due samples (housekeeping tick).
    pub(crate) fn sample_markets(&mut self, now: u64) {
        if self.journal.is_none() {
            return;
        }
        for i in 0..self.parents.len() {
            let p = &mut self.parents[i];
            if p.start_ns == 0 {
                continue; // not started: nothing to measure against yet
            }
            if p.is_done() && p.sample_until_ns == 0 {
                // one sample as it ends (the window's last volume and mid)
                p.sample_until_ns = now + MARKOUT_TAIL_NS;
                p.sample_next_ns = 0;
            }
            if (p.sample_until_ns != 0 && now > p.sample_until_ns) || now < p.sample_next_ns {
                continue;
            }
            p.sample_next_ns = now + SAMPLE_EVERY_NS;
            let symbol = p.spec.symbol;
            // one sample per symbol per tick even with several parents on it
            if self.parents[..i]
                .iter()
                .any(|q| q.spec.symbol == symbol && q.sample_next_ns == now + SAMPLE_EVERY_NS)
            {
                continue;
            }
            let mut s = MarketSample {
                symbol,
                venues: 0,
                bid: Price::ZERO,
                ask: Price::ZERO,
                volume: 0,
                notional: 0,
            };
            for v in 0..self.venue_count() {
                let Some(b) = self.venue_books(v).and_then(|b| b.by_symbol(&symbol)) else {
                    continue;
                };
                s.volume += b.volume;
                s.notional += b.notional;
                if b.stale {
                    continue;
                }
                s.venues += 1;
                let top = b.top();
                if let Some(l) = top.bid {
                    s.bid = s.bid.max(l.price);
                }
                if let Some(l) = top.ask {
                    s.ask = if s.ask == Price::ZERO {
                        l.price
                    } else {
                        s.ask.min(l.price)
                    };
                }
            }
            self.journal(&JEvent::MarketSample(s));
        }
    }
}
