//! The host-facing interface: the [`RiskGate`] trait every implementation
//! (golden model, rust-hdl simulation, the FPGA) offers, its typed errors, and
//! exposure updates.

use crate::regmap::{self, Decision, RejectReason, COUNTERS};
use thiserror::Error;

/// A control access the gate refused (it answers `err` and counts
/// [`RejectReason::BadRegister`]).
#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("no register at {0:#06x}")]
    Unknown(u16),
    #[error("register {0:#06x} is read-only")]
    ReadOnly(u16),
    #[error("register {0:#06x} is write-only")]
    WriteOnly(u16),
    #[error("value written to {0:#06x} names a firm outside the table")]
    OutOfRange(u16),
    /// A register of the map this gate does not implement (a gate built
    /// without the order table; both gates here have one).
    #[error("register {0:#06x} is not implemented by this gate")]
    Unsupported(u16),
}

/// How a register may be accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
    WriteOnly,
}

/// The access rights of `addr`, `None` if no register lives there.
pub const fn classify(addr: u16) -> Option<Access> {
    use regmap::*;
    match addr {
        GLOBAL_KILL | HASH_SEED | MAX_SHARES | MAX_NOTIONAL | COLLAR_BPS | THROTTLE_BURST
        | THROTTLE_SHIFT | NOW | EXP_SHARES | EXP_NOTIONAL | SYM_KEY | SYM_NOTIONAL
        | ORDER_TABLE | OT_TOKEN_HI | OT_TOKEN_LO => Some(Access::ReadWrite),
        EXP_COMMIT | SYM_WRITE | SYM_REF | SYM_LIMITS | OT_EVENT | OT_CLEAR => {
            Some(Access::WriteOnly)
        }
        OT_LIVE => Some(Access::ReadOnly),
        _ => {
            let base = addr & 0xFF00;
            let idx = (addr & 0x00FF) as usize;
            match base {
                FIRM_KILL | FIRM_CREDIT | FIRM_MAX_LONG | FIRM_MAX_SHORT if idx < FIRMS => {
                    Some(Access::ReadWrite)
                }
                FIRM_CLEAR if idx < FIRMS => Some(Access::WriteOnly),
                FIRM_OPEN_NOTIONAL if idx < FIRMS => Some(Access::ReadOnly),
                COUNTER if idx < COUNTERS => Some(Access::ReadOnly),
                _ => None,
            }
        }
    }
}

/// Check a write against the map: the error the gate answers, if any.
///
/// # Errors
/// The [`RegisterError`] for an unknown or read-only address.
pub const fn check_write(addr: u16) -> Result<(), RegisterError> {
    match classify(addr) {
        None => Err(RegisterError::Unknown(addr)),
        Some(Access::ReadOnly) => Err(RegisterError::ReadOnly(addr)),
        Some(_) => Ok(()),
    }
}

/// Check a read against the map.
///
/// # Errors
/// The [`RegisterError`] for an unknown or write-only address.
pub const fn check_read(addr: u16) -> Result<(), RegisterError> {
    match classify(addr) {
        None => Err(RegisterError::Unknown(addr)),
        Some(Access::WriteOnly) => Err(RegisterError::WriteOnly(addr)),
        Some(_) => Ok(()),
    }
}

/// Registers of the order table (`ORDER_TABLE`, `OT_*`).
pub const fn is_order_table_register(addr: u16) -> bool {
    use regmap::*;
    matches!(
        addr,
        ORDER_TABLE | OT_TOKEN_HI | OT_TOKEN_LO | OT_EVENT | OT_CLEAR | OT_LIVE
    )
}

/// Which open-exposure bucket an update releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Buy = 0,
    Sell = 1,
    /// Reserved by an accepted Replace (OUCH 4.2 Replace carries no side).
    Unsided = 2,
    None = 3,
}

/// Which way a fill moves the firm's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillSide {
    None = 0,
    Bought = 1,
    Sold = 2,
}

/// A fill or cancel the host posts: releases `shares` from `bucket` and
/// `notional` from the open notional (both saturating at zero), and for fills
/// adds `shares` to the firm's bought or sold total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposureUpdate {
    pub firm: u8,
    pub bucket: Bucket,
    pub fill: FillSide,
    pub shares: u32,
    pub notional: u64,
}

impl ExposureUpdate {
    /// The `EXP_COMMIT` data word.
    pub const fn commit_word(&self) -> u64 {
        self.firm as u64 | (self.bucket as u64) << 8 | (self.fill as u64) << 10
    }
}

/// One pre-trade risk gate: the golden model, the rust-hdl simulation, or the
/// FPGA behind a driver. All offer the same semantics, bit for bit.
pub trait RiskGate {
    /// Check one OUCH 4.2 inbound message (all its bytes) sent by a session of
    /// account `firm`. Never panics, whatever the bytes.
    fn check(&mut self, firm: u8, msg: &[u8]) -> Decision;

    /// Write a control register.
    ///
    /// # Errors
    /// [`RegisterError`] if `addr` is unknown or read-only (nothing changes).
    fn write_register(&mut self, addr: u16, value: u64) -> Result<(), RegisterError>;

    /// Read a control register.
    ///
    /// # Errors
    /// [`RegisterError`] if `addr` is unknown or write-only.
    fn read_register(&mut self, addr: u16) -> Result<u64, RegisterError>;

    /// Post a fill or cancel through the `EXP_*` registers.
    ///
    /// # Errors
    /// Only if the register map itself is broken (the `EXP_*` writes are valid).
    fn post_exposure(&mut self, u: &ExposureUpdate) -> Result<(), RegisterError> {
        self.write_register(regmap::EXP_SHARES, u64::from(u.shares))?;
        self.write_register(regmap::EXP_NOTIONAL, u.notional)?;
        self.write_register(regmap::EXP_COMMIT, u.commit_word())
    }

    /// Decisions counted for `reason` (`None` = accepted).
    ///
    /// # Errors
    /// Only if the register map itself is broken.
    fn counter(&mut self, reason: Option<RejectReason>) -> Result<u64, RegisterError> {
        let idx = reason.map_or(0, |r| u16::from(r.code()));
        self.read_register(regmap::COUNTER + idx)
    }

    /// All counters, index = reason code (0 = accepted).
    ///
    /// # Errors
    /// Only if the register map itself is broken.
    fn counters(&mut self) -> Result<[u64; COUNTERS], RegisterError> {
        let mut out = [0u64; COUNTERS];
        for (i, c) in out.iter_mut().enumerate() {
            *c = self.read_register(regmap::COUNTER + i as u16)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regmap::*;

    #[test]
    fn classify_matches_the_table() {
        assert_eq!(classify(GLOBAL_KILL), Some(Access::ReadWrite));
        assert_eq!(
            classify(FIRM_CREDIT + FIRMS as u16 - 1),
            Some(Access::ReadWrite)
        );
        assert_eq!(classify(FIRM_CREDIT + FIRMS as u16), None);
        assert_eq!(
            classify(COUNTER + COUNTERS as u16 - 1),
            Some(Access::ReadOnly)
        );
        assert_eq!(classify(COUNTER + COUNTERS as u16), None);
        assert_eq!(classify(EXP_COMMIT), Some(Access::WriteOnly));
        assert_eq!(classify(ORDER_TABLE), Some(Access::ReadWrite));
        assert_eq!(classify(OT_EVENT), Some(Access::WriteOnly));
        assert_eq!(classify(OT_LIVE), Some(Access::ReadOnly));
        assert_eq!(classify(0x0009), None);
        assert_eq!(classify(OT_LIVE + 1), None);
        assert_eq!(check_write(COUNTER), Err(RegisterError::ReadOnly(COUNTER)));
        assert_eq!(
            check_read(SYM_WRITE),
            Err(RegisterError::WriteOnly(SYM_WRITE))
        );
    }
}
