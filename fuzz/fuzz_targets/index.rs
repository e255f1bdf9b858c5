//! libFuzzer entry of the `index` target; the body is fuzz/targets/src/index.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::index::fuzz(data));
