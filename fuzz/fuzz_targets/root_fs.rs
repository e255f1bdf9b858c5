//! libFuzzer entry of the `root_fs` target; the body is fuzz/targets/src/root_fs.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::root_fs::fuzz(data));
