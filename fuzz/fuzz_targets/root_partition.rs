//! libFuzzer entry of the `root_partition` target; the body is fuzz/targets/src/root_partition.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::root_partition::fuzz(data));
