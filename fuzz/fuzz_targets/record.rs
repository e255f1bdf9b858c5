//! libFuzzer entry of the `record` target; the body is fuzz/targets/src/record.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::record::fuzz(data));
