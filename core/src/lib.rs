//! ETI core: the domain types every crate shares and the exact NASDAQ wire codecs.
//!
//! Everything here is allocation-free on the decode path, works on borrowed byte
//! slices, and never panics on input.
//!
//! - [`types`]: `Price`, `Shares`, `Side`, `Symbol`, `OrderToken`, `Firm`, `Timestamp`.
//! - [`error`]: the typed errors of every codec.
//! - [`itch`]: NASDAQ TotalView-ITCH 5.0 messages (market data).
//! - [`binfile`]: the BinaryFILE framing of historical ITCH files, streamed.
//! - [`moldudp64`]: MoldUDP64 1.00 packets, gap-detecting receiver, retransmission requests.
//! - [`ouch`]: OUCH 4.2 inbound and outbound messages (order entry).
//! - [`soupbintcp`]: SoupBinTCP 3.0 packets, stream framing and session rules.
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]

pub mod binfile;
pub mod error;
pub mod itch;
pub mod moldudp64;
pub mod ouch;
pub mod soupbintcp;
pub mod types;

pub use error::{CodecError, TypeError};
pub use types::{Firm, OrderToken, Price, Shares, Side, Symbol, Timestamp};
