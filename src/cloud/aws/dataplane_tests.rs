//! Data-plane adapter contract tests.
