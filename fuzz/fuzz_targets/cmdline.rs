//! libFuzzer entry of the `cmdline` target; the body is fuzz/targets/src/cmdline/params.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::cmdline::fuzz(data));
