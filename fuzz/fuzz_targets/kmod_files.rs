//! libFuzzer entry of the `kmod_files` target; the body is fuzz/targets/src/kmod_files.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::kmod_files::fuzz(data));
