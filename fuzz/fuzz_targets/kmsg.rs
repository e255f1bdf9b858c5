//! libFuzzer entry of the `kmsg` target; the body is fuzz/targets/src/kernel/kmsg.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::kmsg::fuzz(data));
