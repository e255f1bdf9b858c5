//! libFuzzer entry of the `absent_table` target; the body is fuzz/targets/src/absent_table.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::absent_table::fuzz(data));
