//! Shared setup of the gate tests: one configuration through the host's
//! driver (three symbols, two firms, collar, throttle).

use eti_hdl::driver::{FirmLimitConfig, SymbolEntry};
use eti_hdl::vectors::stock;
use eti_hdl::{GateDriver, RiskGate};

pub const PX: u32 = 1_000_000; // $100.0000

pub fn configure<G: RiskGate>(g: G) -> GateDriver<G> {
    let mut d = GateDriver::new(g);
    d.set_order_limits(10_000, 500_000_000_000).expect("limits");
    d.set_collar_bps(500).expect("collar");
    d.set_throttle(1_000, 4).expect("throttle");
    d.set_now(1_000).expect("now");
    let syms = [
        SymbolEntry {
            stock: stock("AAPL"),
            reference: PX,
            restricted: false,
        },
        SymbolEntry {
            stock: stock("MSFT"),
            reference: 2 * PX,
            restricted: false,
        },
        SymbolEntry {
            stock: stock("HALT"),
            reference: PX,
            restricted: true,
        },
    ];
    d.load_symbols(&syms, 99).expect("symbols");
    for f in 0..2 {
        d.set_firm_limits(
            f,
            FirmLimitConfig {
                credit: 30_000_000_000,
                max_long: 20_000,
                max_short: 20_000,
            },
        )
        .expect("firm");
        d.clear_firm(f).expect("clear");
    }
    d
}
