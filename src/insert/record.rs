//! What became of each module, in the boot record (`io::record`, in the format of
//! `modinit::record::entry`): the boot's driver phase records each module it took up, with its
//! insert's start, worker and the modules before it in its probe list (what it waited for);
//! the modprobe applet, run by the kernel meanwhile, what it inserted for the kernel's request.

use super::load::Failure;
use super::probe::Event;
use crate::io::log::to_record;
use crate::io::record::now;
use core::fmt;
use modinit::loading::named::Named;
use modinit::record::entry::{ALREADY_LOADED, ModuleLine, Outcome, REQUEST, Stamp, source_word};
use modinit::resolve::Step;

/// The insert a module line tells of.
pub struct Inserted<'s> {
    pub start: Stamp,
    /// The worker slot; None for an insert of the kernel's request.
    pub worker: Option<usize>,
    /// Its probe list's steps before it.
    pub needs: &'s [Step<'s>],
}

/// Why a module did not load.
pub enum Reason {
    Failure(Failure),
    NotInIndex,
    Blacklisted,
    /// `rd.driver.blacklist=` holds it back from devices.
    DriverBlacklist,
    Unplannable,
    /// A listed name that no module or builtin has.
    Unresolved,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Failure(failure) => write!(f, "{failure}"),
            Reason::NotInIndex => f.write_str("no such module in the index"),
            Reason::Blacklisted => f.write_str("blacklisted"),
            Reason::DriverBlacklist => f.write_str("blacklisted by rd.driver.blacklist="),
            Reason::Unresolved => f.write_str("no module or builtin of this name or alias"),
            Reason::Unplannable => f.write_str("its softdeps nest too deep or it needs too many modules"),
        }
    }
}

/// Records `event` of a probe list for `key`, counted as `outcome`; `insert` when it ended an
/// insert.
pub fn event(event: &Event<'_>, outcome: Outcome, key: Named<'_>, insert: Option<&Inserted<'_>>) {
    line(event, outcome, key.name, source_word(key.origin), insert);
}

fn line(event: &Event<'_>, outcome: Outcome, key: &[u8], source: &str, insert: Option<&Inserted<'_>>) {
    let (name, reason) = match event {
        Event::Loaded { name, .. } => (*name, None),
        Event::Failed { name, failure, .. } => (*name, Some(Reason::Failure(*failure))),
        Event::Missing { name, .. } => (*name, Some(Reason::NotInIndex)),
        Event::Planned { .. } => return,
    };
    let line = ModuleLine {
        name,
        outcome,
        start: insert.map(|i| i.start),
        worker: insert.and_then(|i| i.worker),
        key,
        source: Some(source),
        needs: insert.map_or(&[], |i| i.needs),
        why: reason.as_ref().map(|r| r as &dyn fmt::Display),
    };
    to_record(now(), &line);
}

/// Records what became of the module `name`, found by looking `key` up, without an insert
/// (builtin, blacklisted, ...).
pub fn not_inserted(name: &[u8], outcome: Outcome, key: Named<'_>, why: Option<Reason>) {
    let line = ModuleLine {
        name,
        outcome,
        start: None,
        worker: None,
        key: key.name,
        source: Some(source_word(key.origin)),
        needs: &[],
        why: why.as_ref().map(|r| r as &dyn fmt::Display),
    };
    to_record(now(), &line);
}

/// Records `name`, found in /proc/modules when the boot started.
pub fn already_loaded(name: &[u8]) {
    let line = ModuleLine {
        name,
        outcome: Outcome::Loaded,
        start: None,
        worker: None,
        key: name,
        source: Some(ALREADY_LOADED),
        needs: &[],
        why: None,
    };
    to_record(now(), &line);
}

/// Records what the modprobe applet did for the kernel's `request_module(key)`, as kmod's
/// modprobe counts it: each module inserted (its start is its end less its time, to the
/// millisecond) or that failed.
pub fn requested(event: &Event<'_>, key: &[u8]) {
    let (outcome, ms) = match event {
        Event::Loaded { ms, .. } => (Outcome::Loaded, *ms),
        Event::Failed { failure, .. } if failure.is_quiet() => (Outcome::Skipped, 0),
        Event::Failed { required: true, .. } | Event::Missing { required: true, .. } => (Outcome::Failed, 0),
        Event::Failed { .. } | Event::Missing { .. } => (Outcome::Ignored, 0),
        Event::Planned { .. } => return,
    };
    let insert = Inserted { start: Stamp(now().0.saturating_sub(ms * 1000)), worker: None, needs: &[] };
    let inserted = matches!(event, Event::Loaded { .. }).then_some(&insert);
    line(event, outcome, key, REQUEST, inserted);
}
