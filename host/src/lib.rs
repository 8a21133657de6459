//! eti-host (filled by its issue)
