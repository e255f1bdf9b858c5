//! libFuzzer entry of the `config` target; the body is fuzz/targets/src/config.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::config::fuzz(data));
