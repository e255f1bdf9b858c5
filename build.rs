//! Link flags for the boot binary only: a static, non-PIE executable with our own `_start`.
//!
//! They are per-binary (`rustc-link-arg-bins`) so that `cargo test` and `cargo xtask` stay
//! ordinary std builds. See ../shared/notes/no_std.md for why static-pie does not work here.

fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/linker/modinit.ld");
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
    println!("cargo:rustc-link-arg-bin=modinit=-Wl,-T,{script}");
    println!("cargo:rerun-if-changed=linker/modinit.ld");
    println!("cargo:rerun-if-changed=build.rs");
}
