//! libFuzzer entry of the `uevent` target; the body is fuzz/targets/src/kernel/uevent.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::uevent::fuzz(data));
