//! `cargo xtask`: provisions a kernel, builds images, boots them under QEMU, runs the tests.

use anyhow::Result;
use clap::{Parser, Subcommand};
use xtask::kernel;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "modinit's host harness")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Download and unpack Debian's current kernel (cached under target/kernel).
    Kernel {
        /// Debian kernel flavour, e.g. amd64 or cloud-amd64.
        #[arg(long, default_value = kernel::DEFAULT_FLAVOUR)]
        flavour: String,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Kernel { flavour } => {
            let k = kernel::provision(&flavour)?;
            println!("vmlinuz={}", k.vmlinuz.display());
            println!("modules={}", k.modules.display());
        }
    }
    Ok(())
}
