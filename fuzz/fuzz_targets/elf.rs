//! libFuzzer entry of the `elf` target; the body is fuzz/targets/src/module_file/elf.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::elf::fuzz(data));
