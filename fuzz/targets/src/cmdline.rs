//! The kernel command line: kmod's reading of it (`modinit::kcmdline::for_each_entry`), the
//! kernel's splitting (`modinit::cmdline::params`), and modinit's own options
//! (`modinit::options::BootOptions::parse`, `modules_load_lists`).
//!
//! Everything handed back must be a part of the line (or the one quote kmod moves), and the
//! options must stay within what their documentation allows.

use modinit::cmdline::params;
use modinit::kcmdline::{KcmdlineEntry, for_each_entry};
use modinit::options::{BootOptions, OptionWarning, modules_load_lists};

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
        assert!(key.starts_with(b"modinit."), "warning about {key:?}, not modinit's");
    }
    // At most nine digits.
    assert!(options.settle_ms < 1_000_000_000 && options.timeout_ms < 1_000_000_000);

    modules_load_lists(data, |name| {
        within(name, "a modules_load= name");
        assert!(!name.is_empty() && !name.contains(&b','));
    });
}
