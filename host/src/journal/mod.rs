//! Event journal (being written).
