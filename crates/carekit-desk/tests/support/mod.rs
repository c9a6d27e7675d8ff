//! A desk server on a free port with the adapters' fake platforms, and
//! signed webhook payloads in each platform's documented shape.
#![allow(dead_code, unused_imports)]

mod desk;
pub mod process;

pub use desk::*;
