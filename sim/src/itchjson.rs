//! ITCH 5.0 as JSON lines (being written).
