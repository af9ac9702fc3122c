//! execute (being written).
