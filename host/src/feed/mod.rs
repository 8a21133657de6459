//! Market data: order-by-order books built from ITCH 5.0 (the MoldUDP64
//! receiver and gap recovery run in the hot loop, [`crate::trading`]).

pub mod book;
