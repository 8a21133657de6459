//! eti-sim (filled by its issue)
