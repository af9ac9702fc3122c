//! Fixtures shared by the integration tests.
//!
//! Each test binary uses part of this module, so unused items are allowed.
#![allow(dead_code)]

pub mod moto;
