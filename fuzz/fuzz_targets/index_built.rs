//! libFuzzer entry of the `index_built` target; the body is fuzz/targets/src/index_built.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::index_built::fuzz(data));
