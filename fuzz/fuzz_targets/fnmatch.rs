//! libFuzzer entry of the `fnmatch` target; the body is fuzz/targets/src/fnmatch.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::fnmatch::fuzz(data));
