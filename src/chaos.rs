//! chaos (being written).
