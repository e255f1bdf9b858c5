//! libFuzzer entry of the `decompress` target; the body is fuzz/targets/src/decompress.rs.
#![no_main]

/// Counts what the decoder allocates, so the target can hold it to `heap_needed`.
#[global_allocator]
static HEAP: modinit_fuzz_targets::heap::Counting = modinit_fuzz_targets::heap::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| modinit_fuzz_targets::decompress::fuzz(data));
