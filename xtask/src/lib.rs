//! modinit's host harness, as a library: the `xtask` binary and the tests in `tests/` share it.

pub mod kernel;
pub mod paths;
pub mod tools;
