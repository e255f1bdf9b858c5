//! Booting a kernel and an initramfs under QEMU, with the serial console captured.

use crate::tools::{self, QEMU};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kernel parameters every boot gets: the serial console, and no reboot loop on panic.
pub const BASE_APPEND: &str = "console=ttyS0 panic=-1";

/// One boot: what to run and how to watch it.
#[derive(Debug, Clone)]
pub struct Boot {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Extra kernel parameters after [`BASE_APPEND`].
    pub append: String,
    /// Extra QEMU arguments: the machine's devices.
    pub devices: Vec<String>,
    pub memory_mib: u32,
    /// The CPU model (`-cpu`); None for QEMU's default (qemu64).
    pub cpu: Option<String>,
    pub cpus: u32,
    /// The boot is stopped (and reported as timed out) after this long.
    pub timeout: Duration,
    /// Stop QEMU as soon as the console prints this (e.g. the kernel's "System halted").
    pub stop_on: Vec<String>,
    /// Typed on the serial console once it prints `prompt` (first element), e.g. for a shell.
    pub type_after: Option<(String, String)>,
    /// Where the console is saved.
    pub log: PathBuf,
}

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// QEMU exited by itself: the guest powered off or rebooted (`-no-reboot`).
    Exited,
    /// The console printed one of `stop_on`.
    Stopped(String),
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub end: End,
    pub console: String,
    pub log: PathBuf,
}

/// How many times [`Boot::run`] boots when the kernel dies before /init.
pub const BOOT_ATTEMPTS: usize = 3;

/// Whether the kernel of `console` panicked before it ran /init.
pub fn died_before_init(console: &str) -> bool {
    let panicked = console.lines().position(|l| l.contains("Kernel panic - not syncing"));
    let init = console.lines().position(|l| l.contains("Run /init as init process"));
    match (panicked, init) {
        (Some(panic), Some(init)) => panic < init,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// QEMU's accelerator: TCG by default (KVM guests hang on these machines);
/// `MODINIT_QEMU_ACCEL=kvm` opts in.
pub fn accel() -> String {
    std::env::var("MODINIT_QEMU_ACCEL").unwrap_or_else(|_| "tcg".to_string())
}

impl Boot {
    pub fn new(kernel: &Path, initrd: &Path, log: &Path) -> Boot {
        Boot {
            kernel: kernel.to_path_buf(),
            initrd: initrd.to_path_buf(),
            append: String::new(),
            devices: Vec::new(),
            memory_mib: 1024,
            cpu: None,
            cpus: 2,
            timeout: Duration::from_secs(180),
            stop_on: Vec::new(),
            type_after: None,
            log: log.to_path_buf(),
        }
    }

    fn command(&self, console_on_terminal: bool) -> Command {
        let mut cmd = Command::new(QEMU.program);
        cmd.args(["-accel", &accel(), "-no-reboot", "-m", &self.memory_mib.to_string()]);
        cmd.args(["-smp", &self.cpus.to_string()]);
        if let Some(cpu) = &self.cpu {
            cmd.args(["-cpu", cpu]);
        }
        cmd.arg("-kernel").arg(&self.kernel).arg("-initrd").arg(&self.initrd);
        cmd.arg("-append").arg(format!("{BASE_APPEND} {}", self.append).trim_end());
        if console_on_terminal {
            cmd.arg("-nographic");
        } else {
            cmd.args(["-display", "none", "-serial", "stdio", "-monitor", "none"]);
        }
        cmd.args(&self.devices);
        cmd
    }

    /// Boots with the console on this terminal, until the guest powers off.
    pub fn run_interactive(&self) -> Result<()> {
        tools::ensure(&[&QEMU])?;
        let status = self.command(true).status().context("starting QEMU")?;
        if !status.success() {
            bail!("QEMU failed: {status}");
        }
        Ok(())
    }

    /// Boots with the console captured, until the guest powers off, the console prints a
    /// `stop_on` line, or the timeout runs out. The console is saved to `log`.
    ///
    /// A boot whose kernel died before it ran /init says nothing of the image: seen under TCG,
    /// 6.12 sometimes takes an int3 oops while it patches its static keys at startup. Such a
    /// boot is tried again, up to [`BOOT_ATTEMPTS`] times; the console of the last try is kept.
    pub fn run(&self) -> Result<Outcome> {
        let mut outcome = self.run_once()?;
        for attempt in 2..=BOOT_ATTEMPTS {
            if !died_before_init(&outcome.console) {
                break;
            }
            let kept = self.log.with_extension(format!("attempt{}.log", attempt - 1));
            std::fs::rename(&self.log, &kept).with_context(|| format!("keeping {}", kept.display()))?;
            eprintln!("xtask: warning: the kernel died before /init (see {}); booting again", kept.display());
            outcome = self.run_once()?;
        }
        Ok(outcome)
    }

    fn run_once(&self) -> Result<Outcome> {
        tools::ensure(&[&QEMU])?;
        if let Some(dir) = self.log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut child = self
            .command(false)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting QEMU")?;
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        for stream in [Box::new(stdout) as Box<dyn std::io::Read + Send>, Box::new(stderr)] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).split(b'\n') {
                    let Ok(line) = line else { break };
                    if tx.send(String::from_utf8_lossy(&line).trim_end_matches('\r').to_string()).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let result = self.watch(&mut child, &rx);
        let _ = child.kill();
        let _ = child.wait();
        // Whatever arrived after the decision still belongs in the log.
        let (end, mut console) = result?;
        for line in rx.try_iter() {
            console.push_str(&line);
            console.push('\n');
        }
        std::fs::write(&self.log, &console).with_context(|| format!("writing {}", self.log.display()))?;
        Ok(Outcome { end, console, log: self.log.clone() })
    }

    fn watch(&self, child: &mut Child, rx: &mpsc::Receiver<String>) -> Result<(End, String)> {
        let deadline = Instant::now() + self.timeout;
        let mut console = String::new();
        let mut stdin = child.stdin.take();
        let mut to_type = self.type_after.clone();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((End::TimedOut, console));
            }
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    console.push_str(&line);
                    console.push('\n');
                    if let Some(pattern) = self.stop_on.iter().find(|p| line.contains(p.as_str())) {
                        return Ok((End::Stopped(pattern.clone()), console));
                    }
                    if let (Some((prompt, text)), Some(input)) = (&to_type, stdin.as_mut())
                        && line.contains(prompt.as_str())
                    {
                        input.write_all(text.as_bytes())?;
                        input.flush()?;
                        to_type = None;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if child.try_wait()?.is_some() {
                        // Exited; the reader threads drain what is left.
                        for line in rx.iter() {
                            console.push_str(&line);
                            console.push('\n');
                        }
                        return Ok((End::Exited, console));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    child.wait()?;
                    return Ok((End::Exited, console));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::died_before_init;

    #[test]
    fn only_a_kernel_that_dies_before_init_is_booted_again() {
        let oops =
            "[ 4.67] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n[ 4.68] Kernel panic - not syncing: Fatal exception\n";
        let good = "[ 3.5] Run /init as init process\n[ 5.0] modinit: exec /sbin/init after 1500 ms\n";
        assert!(died_before_init(oops));
        assert!(!died_before_init(good));
        let init_died = format!("{good}[ 9.0] Kernel panic - not syncing: Attempted to kill init!\n");
        assert!(!died_before_init(&init_died), "a panic after /init ran is the image's, and is kept");
    }
}
