//! The test suite as `cargo xtask test` runs it: the code gates (rustfmt, clippy), the host
//! tests, then the QEMU tests, all of them on the first kernel and those of [`ON_BOTH_KERNELS`]
//! again on the second; optionally with every CPU kept busy by other processes, the check that
//! the tests and the product hold on a slow machine.

use crate::paths::workspace_root;
use anyhow::{Context, Result, bail};
use modinit_test_fixtures::{SECOND_KERNEL_ENV, SECOND_MODULES_ENV};
use std::process::{Child, Command, Stdio};

/// What to run.
pub struct Suite<'a> {
    /// Only the tests whose names contain this; the gates run only without it.
    pub filter: Option<&'a str>,
    /// Keep every CPU busy with another process meanwhile.
    pub under_load: bool,
}

impl Suite<'_> {
    /// Runs the gates (a failing one stops the run), then every test (any failing fails the
    /// run, after all have run). The caller has installed
    /// the packages ([`crate::tools::ensure_test_packages`]) and set up the kernel and binary
    /// (`MODINIT_*`).
    pub fn run(&self) -> Result<()> {
        let _load = if self.under_load { Some(Load::start()?) } else { None };
        if self.filter.is_none() {
            gates()?;
        }
        // A test that finds a tool or input missing fails instead of skipping.
        let strict = [(modinit_test_fixtures::STRICT_ENV, "1")];
        // Every test binary runs even after one fails, so that one run reports every failure.
        let host = cargo(&["test", "--workspace", "--no-fail-fast", "--", self.filter.unwrap_or_default()], &strict);
        let qemu = cargo(&[&QEMU_TESTS[..], &[self.filter.unwrap_or_default()]].concat(), &strict);
        let second = self.on_second_kernel(&strict);
        host.and(qemu).and(second)
    }

    /// The QEMU tests of [`ON_BOTH_KERNELS`] booting the second kernel: with a filter, those of
    /// their files it selects; without, those the table names.
    fn on_second_kernel(&self, env: &[(&str, &str)]) -> Result<()> {
        let (Ok(kernel), Ok(modules)) = (std::env::var(SECOND_KERNEL_ENV), std::env::var(SECOND_MODULES_ENV)) else {
            bail!("{SECOND_KERNEL_ENV} and {SECOND_MODULES_ENV} name no second kernel");
        };
        let env = [env, &[("MODINIT_KERNEL", kernel.as_str()), ("MODINIT_MODULES", modules.as_str())]].concat();
        let mut result = Ok(());
        for (file, tests) in ON_BOTH_KERNELS {
            eprintln!("xtask: the QEMU tests of tests/qemu/{file}.rs again on {kernel}");
            let filters = self.filter.map_or(tests.to_vec(), |f| vec![f]);
            let args = [
                &["test", "--package", "modinit-tests", "--no-fail-fast", "--test", file, "--", "--ignored"][..],
                &filters,
            ]
            .concat();
            result = result.and(cargo(&args, &env).with_context(|| format!("tests/qemu/{file}.rs on {kernel}")));
        }
        result
    }
}

/// `cargo test` arguments that run the QEMU tests (they are `#[ignore]`d in plain `cargo test`).
const QEMU_TESTS: [&str; 6] = ["test", "--package", "modinit-tests", "--no-fail-fast", "--", "--ignored"];

/// The QEMU test files (tests/qemu/) whose scenarios boot the second kernel too, each with the
/// names of its tests that do (all when none is named): modinit's boot against kmod's (the
/// default image, `most`, `host-all`, USB enumeration), the toolbox, root=, bad input, the
/// kernel log, and the boot record against /proc/modules.
pub const ON_BOTH_KERNELS: [(&str, &[&str]); 6] = [
    ("autoload", &["the_default_image", "a_most_image", "a_host_all_image", "usb_devices_still_being_enumerated"]),
    ("toolbox", &[]),
    ("root", &[]),
    ("faults", &[]),
    ("kmsg", &[]),
    ("boot_record", &["the_record_lists_exactly"]),
];

/// The code gates: formatting as rustfmt.toml says, and clippy with warnings as errors. The
/// boot binary is linted on its own: linted together with the host crates, cargo would build
/// rustix with std for it too (features are unified), and std's panic handler clashes with its own.
fn gates() -> Result<()> {
    cargo(&["fmt", "--all", "--check"], &[]).context("formatting differs from rustfmt's: run `cargo fmt --all`")?;
    cargo(&["clippy", "--package", "modinit", "--all-targets", "--", "-D", "warnings"], &[])?;
    cargo(&["clippy", "--package", "modinit", "--no-default-features", "--", "-D", "warnings"], &[])?;
    cargo(&["clippy", "--workspace", "--exclude", "modinit", "--all-targets", "--", "-D", "warnings"], &[])
}

/// Runs cargo with `args` in the workspace, with `env` added.
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(args.iter().filter(|a| !a.is_empty())).envs(env.iter().copied()).current_dir(workspace_root());
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// One busy process per CPU, at the tests' priority, until dropped.
struct Load(Vec<Child>);

impl Load {
    fn start() -> Result<Load> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        eprintln!("xtask: keeping {cpus} CPUs busy while the tests run");
        let spin = || Command::new("sh").args(["-c", "while :; do :; done"]).stdin(Stdio::null()).spawn();
        let children = (0..cpus).map(|_| spin()).collect::<std::io::Result<_>>().context("starting the load")?;
        Ok(Load(children))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            // Already gone is fine: the load only has to last as long as the tests.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
