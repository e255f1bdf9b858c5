//! modinit's own settings, read from the kernel command line.
//!
//! | parameter | meaning |
//! |---|---|
//! | `init=PATH` | the real init to exec (else /sbin/init, /etc/init, /bin/init, /bin/sh) |
//! | `modinit.on_error=shell\|poweroff\|reboot\|halt` | what to do when booting cannot go on |
//! | `modinit.kmsg=LEVEL\|off` | show kernel messages of LEVEL (`err` by default) and worse |
//! | `modinit.kmsg_since=boot\|now` | also show those logged before /init started |
//! | `modinit.settle_ms=N` | driver loading ends once no uevent came for N ms and a walk then finds nothing to load (default 200) |
//! | `modinit.hubs_ms=N` | but while a USB hub is still enumerating a device, it waits for it, up to N ms in all (default 3000; 0: not at all; see [`Enumeration`](crate::loading::enumeration::Enumeration)) |
//! | `modinit.timeout_ms=N` | and at the latest once it made no progress (no insert ended, no new device) for N ms: the inserts still under way are given up (default 180000, udev's event timeout) |
//! | `modinit.jobs=N` | insert up to N modules at once (default: 4 per CPU, at most 16; 1 inserts one after the other) |
//! | `modinit.until=root\|all` | with `root=`: end driver loading once the root device is there (`root`, the default, as dracut's initqueue ends), or only once every device has its driver (`all`) |
//! | `modinit.async_probe=1\|0` | insert the modules a boot does not need with `async_probe` (default 1; see [`boot_classes`](crate::loading::boot_classes)) |
//! | `quiet` | no line per loaded module (failures are still shown) |
//! | `modules_load=`, `rd.modules_load=`, `rd.driver.pre=`, `rd.driver.post=`, `rd.driver.blacklist=`, `earlymodules=` | comma lists of modules to load, or to hold back (see [`named`](crate::loading::named)) |
//! | `root=`, `rootfstype=`, `rootflags=`, `ro`, `rw`, `rootwait`, `rootdelay=`, `modinit.root_timeout_s=N` | the root filesystem to switch to (see [`RootOptions`]) |
//!
//! Unknown `modinit.*` parameters and bad values are reported, never fatal: a typo on the
//! command line must not stop a machine from booting.

use crate::cmdline;
use crate::decimal::decimal;
use crate::kernel::kmsg::Level;
use crate::root::RootOptions;

/// What PID 1 does when it cannot exec any init.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Run a rescue shell (/bin/sh) if there is one; when it exits, or without one, halt.
    #[default]
    Shell,
    Poweroff,
    Reboot,
    Halt,
}

impl OnError {
    pub fn parse(value: &[u8]) -> Option<OnError> {
        Some(match value {
            b"shell" => OnError::Shell,
            b"poweroff" => OnError::Poweroff,
            b"reboot" => OnError::Reboot,
            b"halt" => OnError::Halt,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            OnError::Shell => "shell",
            OnError::Poweroff => "poweroff",
            OnError::Reboot => "reboot",
            OnError::Halt => "halt",
        }
    }
}

/// A problem with one parameter, reported on the console and otherwise ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionWarning<'a> {
    UnknownOption { key: &'a [u8] },
    BadValue { key: &'a [u8], value: &'a [u8], expected: &'static str },
}

/// The settings modinit takes from the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootOptions<'a> {
    /// `init=`: the first init to try.
    pub init: Option<&'a [u8]>,
    pub on_error: OnError,
    /// Kernel messages this severe or worse are shown on the console; None: none are.
    pub kmsg: Option<Level>,
    /// Show kernel messages from the start of the log, not only from /init's start.
    pub kmsg_since_boot: bool,
    /// Driver loading ends when the uevent bus was quiet this long.
    pub settle_ms: u64,
    /// The end of driver loading waits this long in all for USB hubs still enumerating (see
    /// [`Enumeration`](crate::loading::enumeration::Enumeration)); 0: it does not.
    pub hubs_ms: u64,
    /// Driver loading ends at the latest once it made no progress for this long (see
    /// [`Stall`](crate::loading::stall::Stall)); an insert under way then is given up.
    pub timeout_ms: u64,
    /// `modinit.jobs=`: how many modules may be inserted at once; None: the boot's default.
    pub jobs: Option<usize>,
    /// `modinit.until=root`: with `root=`, driver loading ends once the root device is there.
    pub until_root: bool,
    /// `modinit.async_probe=`: the modules a boot does not need probe their devices
    /// asynchronously, and their inserts do not wait for the kernel's async work.
    pub async_probe: bool,
    /// `quiet`: report failures only.
    pub quiet: bool,
    /// The root filesystem to mount and switch to.
    pub root: RootOptions<'a>,
}

impl Default for BootOptions<'_> {
    fn default() -> Self {
        BootOptions {
            init: None,
            on_error: OnError::default(),
            kmsg: Some(Level::Err),
            kmsg_since_boot: false,
            settle_ms: 200,
            hubs_ms: HUBS_MS,
            timeout_ms: TIMEOUT_MS,
            jobs: None,
            until_root: true,
            async_probe: true,
            quiet: false,
            root: RootOptions::default(),
        }
    }
}

/// The default of `modinit.hubs_ms`: a USB hub's enumeration of a device takes 100 ms of
/// debounce and a few descriptor reads, a few hundred ms under emulation; this leaves room for a
/// hub behind a hub, and a port whose device never answers costs at most this much. A device
/// that comes later still gets its driver while the boot waits for its root device.
pub const HUBS_MS: u64 = 3000;

/// The default of `modinit.timeout_ms`: udev gives an event (its module loads included) 180 s
/// before it gives up on it (udevd's `event_timeout`), and a slow machine (emulated, a slow disk
/// controller) must not lose drivers that are still making progress.
pub const TIMEOUT_MS: u64 = 180_000;

fn parse_ms(value: Option<&[u8]>) -> Option<u64> {
    // At most nine digits: 11 days.
    value.and_then(decimal).filter(|&ms| ms < 1_000_000_000)
}

const PREFIX: &[u8] = b"modinit.";

/// The value `choices` pairs with `value`, if any.
fn one_of<T: Copy>(value: Option<&[u8]>, choices: &[(&[u8], T)]) -> Option<T> {
    choices.iter().find(|(name, _)| value == Some(*name)).map(|&(_, v)| v)
}

impl<'a> BootOptions<'a> {
    /// Reads the options from `cmdline`, calling `warn` for each parameter it cannot use.
    /// Parameters after a bare `--` belong to init and are not read.
    pub fn parse(cmdline: &'a [u8], mut warn: impl FnMut(OptionWarning<'a>)) -> Self {
        let mut opts = BootOptions::default();
        for p in cmdline::params(cmdline) {
            if p.key == b"--" {
                break;
            }
            // Each value's parse: Err holds what was expected instead.
            let parsed: Result<(), &'static str> = match (p.key, p.value) {
                (key, value) if let Some(result) = opts.root.apply(key, value) => result.map_err(|e| e.expected()),
                (b"init", Some(path)) if !path.is_empty() => {
                    opts.init = Some(path);
                    Ok(())
                }
                (b"modinit.on_error", value) => {
                    value.and_then(OnError::parse).map(|a| opts.on_error = a).ok_or("shell, poweroff, reboot or halt")
                }
                (b"modinit.kmsg", value) => match value {
                    Some(b"off") => {
                        opts.kmsg = None;
                        Ok(())
                    }
                    _ => value
                        .and_then(Level::from_name)
                        .map(|level| opts.kmsg = Some(level))
                        .ok_or("off or a level: emerg, alert, crit, err, warn, notice, info, debug"),
                },
                (b"modinit.kmsg_since", value) => one_of(value, &[(b"boot", true), (b"now", false)])
                    .map(|b| opts.kmsg_since_boot = b)
                    .ok_or("boot or now"),
                (b"modinit.settle_ms", value) => {
                    parse_ms(value).map(|ms| opts.settle_ms = ms).ok_or("a number of milliseconds")
                }
                (b"modinit.hubs_ms", value) => {
                    parse_ms(value).map(|ms| opts.hubs_ms = ms).ok_or("a number of milliseconds")
                }
                // 0 would give up every insert as soon as it started.
                (b"modinit.timeout_ms", value) => parse_ms(value)
                    .filter(|&ms| ms > 0)
                    .map(|ms| opts.timeout_ms = ms)
                    .ok_or("a number of milliseconds, at least 1"),
                (b"modinit.jobs", value) => value
                    .and_then(decimal)
                    .filter(|&n| n >= 1)
                    .map(|n| opts.jobs = usize::try_from(n).ok())
                    .ok_or("a number of modules, at least 1"),
                (b"modinit.until", value) => {
                    one_of(value, &[(b"root", true), (b"all", false)]).map(|b| opts.until_root = b).ok_or("root or all")
                }
                (b"modinit.async_probe", value) => {
                    one_of(value, &[(b"1", true), (b"0", false)]).map(|b| opts.async_probe = b).ok_or("1 or 0")
                }
                (b"quiet", None) => {
                    opts.quiet = true;
                    Ok(())
                }
                (key, _) if key.starts_with(PREFIX) => {
                    warn(OptionWarning::UnknownOption { key });
                    Ok(())
                }
                _ => Ok(()),
            };
            if let Err(expected) = parsed {
                warn(OptionWarning::BadValue { key: p.key, value: p.value.unwrap_or_default(), expected });
            }
        }
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cmdline: &str) -> (BootOptions<'_>, Vec<OptionWarning<'_>>) {
        let mut warnings = Vec::new();
        let opts = BootOptions::parse(cmdline.as_bytes(), |w| warnings.push(w));
        (opts, warnings)
    }

    #[test]
    fn defaults_when_nothing_is_given() {
        let (opts, warnings) = parse("console=ttyS0");
        assert_eq!(opts, BootOptions::default());
        assert_eq!((opts.kmsg, opts.settle_ms, opts.timeout_ms, opts.quiet), (Some(Level::Err), 200, 180_000, false));
        assert_eq!(opts.hubs_ms, 3000);
        assert!(warnings.is_empty());
        assert!(parse("quiet").0.quiet);
    }

    #[test]
    fn reads_init_and_on_error() {
        let (opts, _) = parse("init=/bin/custom modinit.on_error=poweroff");
        assert_eq!(opts.init, Some(&b"/bin/custom"[..]));
        assert_eq!(opts.on_error, OnError::Poweroff);
    }

    #[test]
    fn last_init_wins_and_empty_init_is_ignored() {
        assert_eq!(parse("init=/a init=/b").0.init, Some(&b"/b"[..]));
        assert_eq!(parse("init=/a init=").0.init, Some(&b"/a"[..]));
    }

    #[test]
    fn bad_values_and_unknown_options_are_reported_not_fatal() {
        let (opts, warnings) = parse("modinit.on_error=explode modinit.colour=blue");
        assert_eq!(opts.on_error, OnError::Shell);
        assert_eq!(
            warnings,
            vec![
                OptionWarning::BadValue {
                    key: b"modinit.on_error",
                    value: b"explode",
                    expected: "shell, poweroff, reboot or halt"
                },
                OptionWarning::UnknownOption { key: b"modinit.colour" },
            ]
        );
    }

    #[test]
    fn reads_kmsg_level_and_start() {
        let (opts, warnings) = parse("modinit.kmsg=warn modinit.kmsg_since=boot");
        assert_eq!((opts.kmsg, opts.kmsg_since_boot), (Some(Level::Warn), true));
        assert!(warnings.is_empty());
        assert_eq!(parse("modinit.kmsg=off").0.kmsg, None);
        let (opts, warnings) = parse("modinit.kmsg=loud modinit.kmsg_since=yesterday");
        assert_eq!((opts.kmsg, opts.kmsg_since_boot), (Some(Level::Err), false));
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn reads_loading_times_and_rejects_non_numbers() {
        let (opts, warnings) = parse("modinit.settle_ms=50 modinit.timeout_ms=3000 modinit.hubs_ms=0");
        assert_eq!((opts.settle_ms, opts.timeout_ms, opts.hubs_ms), (50, 3000, 0));
        assert!(warnings.is_empty());
        let (opts, warnings) = parse("modinit.settle_ms=-1 modinit.timeout_ms=9999999999 modinit.settle_ms");
        assert_eq!((opts.settle_ms, opts.timeout_ms, warnings.len()), (200, 180_000, 3));
        let (opts, warnings) = parse("modinit.settle_ms=0 modinit.timeout_ms=0");
        assert_eq!((opts.settle_ms, opts.timeout_ms), (0, 180_000), "no progress limit of 0");
        assert_eq!(
            warnings,
            vec![OptionWarning::BadValue {
                key: b"modinit.timeout_ms",
                value: b"0",
                expected: "a number of milliseconds, at least 1"
            }]
        );
    }

    #[test]
    fn reads_jobs_of_one_or_more() {
        assert_eq!(parse("").0.jobs, None);
        assert_eq!(parse("modinit.jobs=1").0.jobs, Some(1));
        let (opts, warnings) = parse("modinit.jobs=16 modinit.jobs=0");
        assert_eq!((opts.jobs, warnings.len()), (Some(16), 1));
        assert_eq!(parse("modinit.jobs=x").1.len(), 1);
    }

    #[test]
    fn the_phase_ends_at_the_root_unless_told_to_wait_for_all() {
        assert!(parse("").0.until_root && parse("modinit.until=root").0.until_root);
        assert!(!parse("modinit.until=all").0.until_root);
        assert_eq!(parse("modinit.until=x").1.len(), 1);
    }

    #[test]
    fn async_probe_is_on_unless_turned_off() {
        assert!(parse("").0.async_probe && parse("modinit.async_probe=1").0.async_probe);
        assert!(!parse("modinit.async_probe=0").0.async_probe);
        let (opts, warnings) = parse("modinit.async_probe=yes");
        assert!(opts.async_probe && warnings.len() == 1);
    }

    #[test]
    fn parameters_after_double_dash_belong_to_init() {
        assert_eq!(parse("quiet -- init=/x").0.init, None);
    }

    #[test]
    fn reads_the_root_options_and_warns_about_bad_ones() {
        let (opts, warnings) = parse("root=UUID=abcd rw rootdelay=x");
        assert_eq!(opts.root.root, Some(&b"UUID=abcd"[..]));
        assert!(!opts.root.read_only);
        assert_eq!(
            warnings,
            vec![OptionWarning::BadValue { key: b"rootdelay", value: b"x", expected: "a number of seconds" }]
        );
        assert!(parse("modinit.root_timeout_s=5").1.is_empty(), "a root option, not an unknown one");
    }

    #[test]
    fn every_action_round_trips_through_its_name() {
        for a in [OnError::Shell, OnError::Poweroff, OnError::Reboot, OnError::Halt] {
            assert_eq!(OnError::parse(a.name().as_bytes()), Some(a));
        }
    }
}
