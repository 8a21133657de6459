//! eti-kernel-bypass (filled by its issue)
