//! Link flags for the boot binary only: a static, non-PIE executable with our own `_start`, laid
//! out by the target architecture's linker script, `linker/<arch>.ld`.
//!
//! They are per-binary (`rustc-link-arg-bin`) so that `cargo test` and `cargo xtask` stay
//! ordinary std builds. docs/porting.md says why the binary is not static-pie, and what another
//! architecture needs.

use std::path::Path;

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    let script = format!("linker/{arch}.ld");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&script);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={script}");
    if !path.is_file() {
        // The library and its host tests build anywhere; the binary stops at sys::arch's
        // compile_error!, which names docs/porting.md.
        println!(
            "cargo:warning=no linker script for {arch} ({script}): the boot binary is x86_64 only (docs/porting.md)"
        );
        return;
    }
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--gc-sections",
        "-Wl,--build-id=none",
        "-Wl,-z,norelro",
    ] {
        println!("cargo:rustc-link-arg-bin=modinit={arg}");
    }
    println!("cargo:rustc-link-arg-bin=modinit=-Wl,-T,{}", path.display());
}
