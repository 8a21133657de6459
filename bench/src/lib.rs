//! eti-bench: benchmark harness library (being written).
