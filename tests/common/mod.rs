//! Helpers shared by the integration tests. Use with `mod common;` in a test file.
//!
//! Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod guest;
#[path = "../support/mod.rs"]
pub mod support;
pub mod vm;
