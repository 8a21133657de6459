//! eti-bench (filled by its issue)
