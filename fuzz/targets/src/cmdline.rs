//! The kernel command line: kmod's reading of it (`modinit::cmdline::modules::for_each_entry`), the
//! kernel's splitting (`modinit::cmdline::params`), and modinit's own options
//! (`modinit::cmdline::options::BootOptions::parse`, `modinit::loading::named::on_cmdline`).
//!
//! Everything handed back must be a part of the line (or the one quote kmod moves), and the
//! options must stay within what their documentation allows.

use modinit::cmdline::modules::{KcmdlineEntry, for_each_entry};
use modinit::cmdline::options::{BootOptions, OptionWarning};
use modinit::cmdline::params;
use modinit::loading::named::{Origin, on_cmdline};
use modinit::root::{DevNum, RootOptions, RootSpec};

pub fn fuzz(data: &[u8]) {
    let within = |part: &[u8], what: &str| crate::assert_within(data, part, what);
    for_each_entry(data, |entry| match entry {
        KcmdlineEntry::Blacklist(name) => {
            within(name, "a blacklisted name");
            assert!(!name.contains(&b','), "blacklist entries are split at commas");
        }
        KcmdlineEntry::Option(option) => {
            within(option.module, "an option's module");
            assert!(!option.module.contains(&b'.') && !option.module.contains(&b'='), "module {:?}", option.module);
            for piece in option.text {
                if piece != b"\"" {
                    within(piece, "a piece of an option");
                }
            }
        }
    });

    for p in params(data) {
        within(p.key, "a parameter's key");
        within(p.value.unwrap_or_default(), "a parameter's value");
    }

    let mut warnings = Vec::new();
    let options = BootOptions::parse(data, |w| warnings.push(w));
    if let Some(init) = options.init {
        within(init, "init=");
        assert!(!init.is_empty());
    }
    for warning in warnings {
        let key = match warning {
            OptionWarning::UnknownOption { key } => key,
            OptionWarning::BadValue { key, value, .. } => {
                within(value, "a bad value");
                key
            }
        };
        within(key, "a warning's key");
        let root_option = matches!(key, b"root" | b"rootdelay" | b"rootwait");
        assert!(key.starts_with(b"modinit.") || root_option, "warning about {key:?}, not modinit's");
    }
    // At most nine digits.
    assert!(options.settle_ms < 1_000_000_000 && options.timeout_ms < 1_000_000_000);
    root_options(data, &options.root);

    for origins in [Origin::EARLY, Origin::MODULES_LOAD, Origin::LATE] {
        for named in on_cmdline(data, origins) {
            within(named.name, "a listed module name");
            assert!(!named.name.is_empty() && !named.name.contains(&b','));
            assert!(origins.contains(&named.origin));
        }
    }
}

/// The root options: their values are parts of the line; a root= that parses names a
/// device as the kernel can (a number never 0:0, a name within 31 bytes); rootflags=
/// splits into flags and data without losing an option.
fn root_options(data: &[u8], root: &RootOptions<'_>) {
    let within = |part: &[u8], what: &str| crate::assert_within(data, part, what);
    for (value, what) in [(root.root, "root="), (root.fstype, "rootfstype="), (root.flags, "rootflags=")] {
        if let Some(value) = value {
            within(value, what);
            assert!(!value.is_empty(), "empty {what} kept");
        }
    }
    match root.spec() {
        None | Some(Err(_)) => {}
        Some(Ok(RootSpec::Number(dev))) => assert!(dev != DevNum { major: 0, minor: 0 } && dev.major < 4096),
        Some(Ok(RootSpec::Name(name))) => assert!(!name.is_empty() && name.len() <= 31),
        Some(Ok(RootSpec::PartUuid { uuid, .. } | RootSpec::Uuid(uuid))) => within(uuid, "a UUID"),
        Some(Ok(RootSpec::Label(label) | RootSpec::PartLabel(label))) => within(label, "a label"),
    }
    for fstype in root.fstypes() {
        assert!(!fstype.is_empty() && !fstype.contains(&b','));
    }
    if let Ok(mount) = root.mount_options() {
        let data = mount.data();
        assert_eq!(mount.data_cstr().to_bytes(), &data[..data.iter().position(|&b| b == 0).unwrap_or(data.len())]);
        assert!(data.len() <= root.flags.unwrap_or_default().len(), "the data is what rootflags= left");
    }
}
