//! What the boot record (docs/boot-record.md) costs the boot: the PC machine booted with its
//! devices' modules, modinit behind an init wrapper that mounts /run, once writable (the record
//! is written) and once read-only (the record is refused at its first line: one warning, no
//! writes), interleaved; the time from the kernel running /init to the real init, as the
//! coldplug comparison measures it. Both boots run the same wrapper, so the difference is the
//! record's writes.

use crate::bench_timing::{self, Figure, Measured};
use crate::cpio::Node;
use crate::initramfs::{self, ImageSpec, ModuleCompression};
use crate::machine::Machine;
use crate::scenario::{device_modules_image, setup};
use anyhow::{Context, Result};
use std::fmt::Write as _;

/// The two ways /run is mounted, with each system's name.
const RUNS: [(&str, &str); 2] = [("modinit, record written", ""), ("modinit, /run read-only: no record", "-o ro ")];

/// Boots both systems `runs` times, interleaved.
pub fn measure(runs: usize) -> Result<Vec<Measured>> {
    let dir = crate::paths::target_dir().join("bench").join("record-cost");
    std::fs::create_dir_all(&dir)?;
    let storage = initramfs::fastest_storage(&setup()?.kernel.modules);
    let spec = ImageSpec { real_init: Some(crate::paths::guest("bench-init")), ..device_modules_image(storage, &[])? };
    let mut measured = Vec::new();
    for (i, (name, mount)) in RUNS.into_iter().enumerate() {
        let mut image = initramfs::assemble(&spec)?;
        let Some(Node::File(modinit)) = image.get("init").cloned() else { anyhow::bail!("the image has no /init") };
        image.insert("modinit", Node::File(modinit), 0o755);
        let wrapper = format!(
            "#!/bin/busybox sh\n/bin/busybox mount -t tmpfs {mount}-o mode=0755 tmpfs /run\nexec /modinit \"$@\"\n"
        );
        image.insert("init", Node::File(wrapper.into_bytes()), 0o755);
        // The kernel's modprobe helper is modinit itself: through the wrapper it would mount
        // /run again, over the record.
        image.insert("sbin/modprobe", Node::Symlink("/modinit".into()), 0o777);
        let initrd = dir.join(format!("{i}.cpio"));
        initramfs::write(&image, &initrd, ModuleCompression::None)?;
        measured.push(Measured::new(name, i == 0, initrd, dir.join(format!("{i}.log")))?);
    }
    bench_timing::interleave(&mut measured, runs, |m| crate::bench_boot::boot(m, Machine::Pc))?;
    Ok(measured)
}

/// The section of docs/benchmarks.md on the kernel `version`.
pub fn report(measured: &[Measured], version: &str, load: &str) -> Result<String> {
    let series = crate::bench::kernel_series(version);
    let mut md = format!("{}\n\n", crate::bench::on_kernel("The boot record's cost", series));
    let runs = measured.iter().map(|m| m.samples.len()).min().context("no boots")?;
    let _ = writeln!(
        md,
        "Kernel {version}. {}, 2 vCPUs under TCG, its devices' modules; modinit behind a wrapper that mounts /run \
         writable or read-only (then the record is refused at its first line); {runs} boots each, interleaved; \
         1-minute load average {load} when the boots began, {} when they ended. Time from the kernel running /init \
         to the real init starting; the ratio is the record's cost.\n",
        Machine::Pc.describe(),
        crate::bench::load_average()
    );
    md.push_str(&bench_timing::table(measured, Figure::Init));
    Ok(md)
}
