//! libFuzzer entry of the `index_written` target; the body is fuzz/targets/src/index_written.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::index_written::fuzz(data));
