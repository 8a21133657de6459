//! Synthetic ITCH 5.0 generator (being written).
