//! eti-hdl (filled by its issue)
