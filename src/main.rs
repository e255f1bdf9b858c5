//! modinit's boot binary: the initramfs's /init, PID 1.
//!
//! Read `main` top to bottom: it is the whole boot.
#![no_std]
#![no_main]

extern crate alloc;

mod applets;
mod boot;
mod insert;
mod io;
mod panic;
mod sys;

use boot::autoload::Autoload;
use io::clock::Instant;
use io::log::warning;
use modinit::cmdline::options::{BootOptions, OptionWarning};
use modinit::line::Bytes;
use modinit::resolve::Resolver;
use modinit::resolve::symbols::ModulesSymbols;
use modinit::root::{RootOptions, RootSpec, RootSpecError};

/// The kernel's command line is at most 2048 bytes on x86 (COMMAND_LINE_SIZE).
const CMDLINE_MAX: usize = 4096;

// The process starts in `sys` (`_start`), which hands it to `main` with the kernel's arguments.
sys::entry!(main);

fn main(args: sys::start::StartArgs) -> ! {
    if let Some((applet, first)) = applets::chosen(args) {
        sys::syscall::exit_group(applets::run(applet, first, args));
    }
    let started = Instant::now();

    boot::mount::mount_early_filesystems();
    boot::mount::ensure_essential_nodes();
    boot::console::attach_console();
    boot::record::start();

    let mut cmdline_buf = [0u8; CMDLINE_MAX];
    let cmdline = boot::cmdline::read(&mut cmdline_buf);
    let opts = BootOptions::parse(cmdline, report_option_warning);
    boot::on_error::set_action(opts.on_error);
    let mut kernel_log = boot::kernel_log::KernelLog::open(&opts);

    let modules_dir = io::modules_dir::ModulesDir::of_running_kernel();
    let resolver = boot::open_index::open_boot_index(&modules_dir).map(|index| Resolver {
        index,
        cmdline,
        symbols: ModulesSymbols::NONE,
    });
    if resolver.is_none() {
        boot::without_index::load_named_modules(cmdline, &modules_dir, &mut kernel_log);
    }
    let mut alias_text = boot::autoload::AliasText::new();
    let mut drivers =
        boot::autoload::Autoload::start(resolver.as_ref(), &modules_dir, &opts, &mut kernel_log, &mut alias_text);
    let root = opts.root.spec();
    // With root= (and modinit.until=root), the phase ends once the root device is there.
    let wanted = root.as_ref().and_then(|spec| spec.as_ref().ok()).filter(|_| opts.until_root);
    let mut search = modinit::root::RootSearch::default();
    drivers.settle(&opts, &mut || wanted.is_some_and(|spec| boot::root_device::is_present(spec, &mut search)));
    if let Some(spec) = root {
        mount_root(spec, &opts.root, &mut drivers);
    }
    drop(drivers);

    kernel_log.finish();
    if root.is_some()
        && let Err(e) = boot::switch_root::switch_root(opts.init)
    {
        boot::on_error::fatal(format_args!("switching to the root filesystem on /root: {e}"));
    }
    boot::exec::exec_real_init(opts.init, args, started);
    boot::on_error::fatal(format_args!(
        "no init to run: tried {}/sbin/init, /etc/init, /bin/init and /bin/sh",
        if opts.init.is_some() { "init=, " } else { "" }
    ))
}

/// Waits for the device `root=` names and mounts it on /root; on failure, on_error (after
/// the kernel's messages, which often say why a mount failed).
fn mount_root(spec: Result<RootSpec<'_>, RootSpecError>, root: &RootOptions<'_>, drivers: &mut Autoload) {
    let named = Bytes(root.root.unwrap_or_default());
    let spec = spec.unwrap_or_else(|e| boot::on_error::fatal(format_args!("root={named}: {e}")));
    let device = boot::root_device::wait_for(&spec, root, drivers).unwrap_or_else(|e| {
        drivers.show_kernel_messages();
        drivers.report_missing_storage_drivers();
        boot::on_error::fatal(format_args!("root device {named} {e}"))
    });
    if let Err(e) = boot::root_mount::mount_root(&device, root, drivers) {
        drivers.show_kernel_messages();
        boot::on_error::fatal(format_args!("root device {named} ({}): {e}", Bytes(device.device.name())));
    }
}

fn report_option_warning(warning: OptionWarning<'_>) {
    match warning {
        OptionWarning::UnknownOption { key } => warning!("ignoring unknown option {}", Bytes(key)),
        OptionWarning::BadValue { key, value, expected } => {
            warning!("ignoring {}={}: expected {expected}", Bytes(key), Bytes(value))
        }
    }
}
