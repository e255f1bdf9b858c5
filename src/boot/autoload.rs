//! Driver loading to a fixpoint: the modules named on the command line and in
//! modules-load.d, then a driver for every device — those present now (coldplug) and those
//! that appear while drivers load (uevents) — until the bus has been quiet for a while and no
//! USB hub is still enumerating a device (`modinit::loading::enumeration`); then, while the
//! boot waits for its root device, for the devices that still appear.
//!
//! Each name or modalias is resolved as udev and systemd-modules-load do through libkmod:
//! every module the lookup finds, unless builtin, already in the kernel or blacklisted, is
//! loaded with its dependencies and softdeps, dependencies first, each module at most once.
//! Up to `modinit.jobs` modules are inserted at once (`insert::workers`), each only once the
//! modules before it in its probe list are in (`modinit::loading::probe_chain`). A device that
//! appears while inserts are under way is looked up at once: PID 1 waits on the uevent socket
//! beside the workers, so its driver's insert starts as soon as a worker is free, not after
//! the inserts of the round.
//!
//! `modinit.timeout_ms` bounds a lack of progress, not the phase (`modinit::loading::stall`): the
//! inserts still under way when no insert ended and no new device or name came for that long
//! are given up, each reported by name, and the phase (or the root device's wait) goes on.

use super::coldplug;
use super::kernel_log::{KernelLog, UnknownSymbols};
use super::missing_drivers::{self, Scope};
use super::uevents::{Received, UeventSocket};
use crate::insert::load::Failure;
use crate::insert::probe::{Blacklist, Event, MAX_STEPS, ProbeList, Probed, Prober, Ready};
use crate::insert::record::{self, Inserted, Reason};
use crate::insert::workers::{Finished, JOBS_MAX, JOBS_PER_CPU, Waited, Workers};
use crate::io::clock::Instant;
use crate::io::file::write_once;
use crate::io::log::{error, say, warning};
use crate::io::modules_dir::ModulesDir;
use crate::io::sysfs_dir::SysfsDir;
use core::ffi::CStr;
use modinit::absent::unbound_devices::UnboundDevices;
use modinit::cmdline::modules::kernel_blacklists;
use modinit::cmdline::options::BootOptions;
use modinit::kernel::errno::Describe;
use modinit::line::Bytes;
use modinit::loading::enumeration::{Enumeration, Verdict};
use modinit::loading::named::{HeldBack, Named, Origin, held_back, on_cmdline};
use modinit::loading::probe_chain::Inserts;
use modinit::loading::stall::Stall;
use modinit::record::entry::{Outcome, Stamp, SummaryLine};
use modinit::resolve::{Found, Key, ModuleSet, Resolver, Target, Via};
use modinit::string_set::LentStringSet;
use rustix::fd::BorrowedFd;

/// Room for the distinct modaliases of a large machine (a few hundred is usual), their text in
/// [`AliasText`].
type AliasSet<'k> = LentStringSet<'k, 4096>;

/// The storage of the devices' modaliases, lent to [`Autoload`] for the whole phase: each alias
/// is kept while the uevents add more, and its lookups and inserts are under way.
pub struct AliasText([u8; 128 << 10]);

impl AliasText {
    pub const fn new() -> Self {
        AliasText([0; 128 << 10])
    }
}

/// What the phase did, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    pub loaded: usize,
    pub builtin: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl Summary {
    /// What an event counted as, from the counts `before` it; None for one not counted.
    fn counted_since(&self, before: Summary) -> Option<Outcome> {
        let grew = [
            (self.loaded, before.loaded, Outcome::Loaded),
            (self.builtin, before.builtin, Outcome::Builtin),
            (self.skipped, before.skipped, Outcome::Skipped),
            (self.failed, before.failed, Outcome::Failed),
        ];
        grew.into_iter().find(|(now, then, _)| now > then).map(|(_, _, outcome)| outcome)
    }
}

struct Loader<'r, 'a> {
    prober: Prober<'r, 'a>,
    /// What every probe list so far tried.
    inserts: Inserts,
    workers: Workers<'a>,
    quiet: bool,
    /// Builtin modules counted already.
    builtins: ModuleSet,
    /// Modules held back by `rd.driver.blacklist=`, counted already.
    held_back: ModuleSet,
    summary: Summary,
    /// The last progress, on `clock`: inserts under way when it is too old are given up.
    stall: Stall,
    clock: Instant,
}

/// Driver loading that lasts as long as the boot needs it: [`Autoload::settle`] is the
/// phase `main` waits for, [`Autoload::wait`] keeps it going while the root device is awaited.
/// Without an index it only watches uevents.
pub struct Autoload<'r, 'a, 'k> {
    loader: Option<Loader<'r, 'a>>,
    socket: Option<UeventSocket>,
    aliases: AliasSet<'k>,
    /// Aliases handed to the loader so far (the set keeps insertion order).
    done: usize,
    /// The devices the last walk of /sys found without a driver.
    unbound: UnboundDevices,
    /// Times the kernel dropped uevents because the socket's buffer was full.
    overflows: usize,
    /// Drained after every module so a driver's errors appear next to its name.
    kernel_log: &'k mut KernelLog,
    started: Instant,
}

/// What one round of [`Autoload::step`] saw.
struct Round {
    received: Option<Received>,
    /// Modules loaded in the round.
    loaded: usize,
}

impl<'r, 'a, 'k> Autoload<'r, 'a, 'k> {
    /// Starts listening to uevents, then loads the modules the command line and modules-load.d
    /// name: the early lists (`rd.driver.pre=`, `earlymodules=`) first and to the end, then
    /// `modules_load=` and modules-load.d.
    pub fn start(
        resolver: Option<&'r Resolver<'a>>,
        dir: &'r ModulesDir,
        opts: &BootOptions<'_>,
        kernel_log: &'k mut KernelLog,
        alias_text: &'k mut AliasText,
    ) -> Self {
        let started = Instant::now();
        if resolver.is_some() {
            register_modprobe_helper();
        }
        // Before the walk, so that no device added during it is missed.
        let socket = UeventSocket::open();
        let loader = resolver.map(|resolver| Loader {
            prober: Prober { async_probe: opts.async_probe, ..Prober::new(resolver, dir) },
            inserts: Inserts::new(),
            workers: Workers::new(opts.jobs.unwrap_or_else(default_jobs)),
            quiet: opts.quiet,
            builtins: ModuleSet::new(),
            held_back: ModuleSet::new(),
            summary: Summary::default(),
            stall: Stall::new(opts.timeout_ms, 0),
            clock: started,
        });
        let mut autoload = Autoload {
            loader,
            socket,
            aliases: AliasSet::new(&mut alias_text.0),
            done: 0,
            unbound: UnboundDevices::new(),
            overflows: 0,
            kernel_log,
            started,
        };
        if let (Some(resolver), Some(loader)) = (resolver, &mut autoload.loader) {
            loader.load_all(&mut on_cmdline(resolver.cmdline, Origin::EARLY), autoload.kernel_log);
            let baked = resolver.index.modules_load().map(|name| Named { name, origin: Origin::ModulesLoadD });
            loader.load_all(&mut on_cmdline(resolver.cmdline, Origin::MODULES_LOAD).chain(baked), autoload.kernel_log);
        }
        autoload
    }

    /// Loads what `name` (a module name, alias or modalias) resolves to; nothing without an index.
    pub fn load(&mut self, name: Named<'_>) {
        if let Some(loader) = &mut self.loader {
            loader.load_all(&mut core::iter::once(name), self.kernel_log);
        }
    }

    /// Loads a driver for every device, those present now (coldplug) and those that appear
    /// meanwhile (uevents), until the bus has been quiet for `settle_ms` and no USB hub is still
    /// enumerating (waited for up to `hubs_ms`), or nothing new came for `timeout_ms` (uevents
    /// that keep coming about known devices), or, sooner, once a round of loading ends with
    /// `enough()` true (the root device is there: the real system loads the rest); reports the
    /// phase in one line.
    pub fn settle(&mut self, opts: &BootOptions<'_>, enough: &mut dyn FnMut() -> bool) {
        if self.loader.is_none() {
            return;
        }
        // The first round walks /sys/devices; later ones read the uevents that loading drivers
        // made, and walk again only when the kernel dropped some, or once the bus has been quiet
        // for `settle_ms`: a walk then that finds nothing to load ends the phase.
        // That end waits, up to `hubs_ms` in all, while a USB hub is still enumerating a device
        // (`modinit::loading::enumeration`): a quiet period more at a time.
        let (mut rescan, mut after_quiet) = (true, false);
        let mut hubs = Enumeration::new(opts.hubs_ms);
        loop {
            let round = self.step(rescan);
            let overflowed = round.received.is_some_and(|r| r.overflowed);
            let busy = round.loaded > 0 || overflowed;
            if enough() {
                say!(
                    "the root device is there: driver loading ends, the real system loads the rest (modinit.until=root)"
                );
                break;
            }
            if after_quiet && !busy && !self.hubs_enumerating(&mut hubs) {
                break;
            }
            // Uevents (or dropped ones) that keep coming and bring nothing new.
            if self.loader.as_ref().is_some_and(Loader::stalled) {
                warning!(
                    "no driver loaded and no new device for {} ms while uevents kept coming (modinit.timeout_ms): going on",
                    opts.timeout_ms
                );
                break;
            }
            if busy {
                (rescan, after_quiet) = (overflowed, false);
                continue;
            }
            let quiet = match &self.socket {
                Some(s) => !s.wait(opts.settle_ms),
                // Without uevents only a walk finds new devices.
                None => {
                    crate::io::clock::sleep_ms(opts.settle_ms);
                    true
                }
            };
            (rescan, after_quiet) = (quiet, quiet);
        }
        if let Some(loader) = &mut self.loader {
            loader.load_all(&mut on_cmdline(loader.prober.resolver.cmdline, Origin::LATE), self.kernel_log);
        }
        if self.overflows > 0 {
            warning!(
                "the kernel dropped uevents (socket buffer full, {} times): /sys/devices was rescanned after each",
                self.overflows
            );
        }
        if self.aliases.refused() > 0 {
            error!("{} device aliases did not fit in memory and got no driver", self.aliases.refused());
        }
        let Some(Loader { summary: s, workers, prober, .. }) = &self.loader else { return };
        let count = |n: usize| n as u64;
        let (loaded, builtin, skipped, failed) = (count(s.loaded), count(s.builtin), count(s.skipped), count(s.failed));
        let summary = SummaryLine { loaded, builtin, skipped, failed, ms: self.started.elapsed_ms() };
        crate::io::log::to_record(crate::io::record::now(), &summary);
        say!(
            "done: loaded={} builtin={} skipped={} failed={} jobs={} in {} ms (memory peak {} KiB, decompression {} KiB)",
            s.loaded,
            s.builtin,
            s.skipped,
            s.failed,
            workers.jobs(),
            self.started.elapsed_ms(),
            peak_memory_kib(),
            crate::sys::arena::high_water().max(workers.arena_peak()).div_ceil(1024)
        );
        missing_drivers::report(prober.resolver, prober.dir, Scope::All(&self.unbound));
    }

    /// Names the storage controllers and disks whose driver the image lacks
    /// ([`missing_drivers`]): for a root device that never appeared.
    pub fn report_missing_storage_drivers(&self) {
        if let Some(loader) = &self.loader {
            missing_drivers::report(loader.prober.resolver, loader.prober.dir, Scope::Storage);
        }
    }

    /// Whether a USB hub is still enumerating a device and the phase should wait for it
    /// (`modinit::loading::enumeration`); says what it waited for when it gives up.
    fn hubs_enumerating(&self, wait: &mut Enumeration) -> bool {
        if wait.is_off() {
            return false;
        }
        let hubs = SysfsDir::root().map(|sys| modinit::sysfs::usb::hubs(&sys)).unwrap_or_default();
        match wait.verdict(self.started.elapsed_ms(), hubs.enumerating()) {
            Verdict::End => false,
            Verdict::Wait => true,
            Verdict::GiveUp { waited_ms } => {
                warning!(
                    "USB hubs still enumerating after {waited_ms} ms (modinit.hubs_ms): {}{}; going on without them",
                    Bytes(&hubs.first),
                    More(hubs.busy - 1)
                );
                false
            }
        }
    }

    /// Waits up to `ms` milliseconds for devices to appear and loads their drivers. True when
    /// something may have changed (a uevent came; without uevents, always).
    pub fn wait(&mut self, ms: u64) -> bool {
        let ready = match &self.socket {
            Some(s) => s.wait(ms),
            None => {
                crate::io::clock::sleep_ms(ms);
                true
            }
        };
        if ready {
            // Without uevents only a walk finds the new devices; with them, only after some were dropped.
            let mut rescan = self.socket.is_none();
            loop {
                let round = self.step(rescan);
                rescan = round.received.is_some_and(|r| r.overflowed);
                if round.loaded == 0 && !rescan {
                    break;
                }
            }
        }
        self.show_kernel_messages();
        ready
    }

    /// Prints the kernel's messages logged since the last module loaded.
    pub fn show_kernel_messages(&mut self) {
        self.kernel_log.drain();
    }

    /// One round: a coldplug walk if `rescan`, the queued uevents, then a driver for every
    /// alias not seen before, and for those the uevents bring while its inserts are under way.
    fn step(&mut self, rescan: bool) -> Round {
        let mut session = Session::new();
        let before = self.loader.as_ref().map_or(0, |l| l.summary.loaded);
        if rescan && let Some(loader) = &mut self.loader {
            // Each device's driver starts as the walk finds it, while a worker is free.
            let (aliases, next, kernel_log) = (&mut self.aliases, &mut self.done, &mut *self.kernel_log);
            coldplug::scan(&mut self.unbound, |alias| {
                aliases.insert(alias);
                let mut found = Devices { aliases: &mut *aliases, next: &mut *next, socket: None, received: None };
                loader.advance(&mut session, &mut found, kernel_log, Until::NothingStarts);
            });
        }
        let mut devices =
            Devices { aliases: &mut self.aliases, next: &mut self.done, socket: self.socket.as_ref(), received: None };
        devices.receive();
        let mut loaded = 0;
        if let Some(loader) = &mut self.loader {
            loader.advance(&mut session, &mut devices, self.kernel_log, Until::Done);
            loaded = loader.summary.loaded - before;
            if loaded > 0 {
                self.unbound.outdate();
            }
        }
        let received = devices.received;
        self.overflows += usize::from(received.is_some_and(|r| r.overflowed));
        Round { received, loaded }
    }
}

/// What [`Loader::load_all`] loads for: the keys there now and, for the devices, those the
/// uevents bring while inserts are under way.
trait Keys<'k> {
    /// The next key, if one is there now.
    fn next_key(&mut self) -> Option<Named<'k>>;

    /// What to wait on beside the inserts for more keys (the uevent socket); None when no more
    /// will come.
    fn source(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Reads what came on the source.
    fn receive(&mut self) {}
}

/// A fixed list of keys.
impl<'k, I: Iterator<Item = Named<'k>>> Keys<'k> for I {
    fn next_key(&mut self) -> Option<Named<'k>> {
        self.next()
    }
}

/// The devices' modaliases as keys: those found and not handed out yet, then those the uevents
/// add.
struct Devices<'s, 'k> {
    aliases: &'s mut AliasSet<'k>,
    /// How many aliases have been handed out (the set keeps insertion order).
    next: &'s mut usize,
    socket: Option<&'s UeventSocket>,
    /// What the socket gave, in all; None without one.
    received: Option<Received>,
}

impl<'k> Keys<'k> for Devices<'_, 'k> {
    fn next_key(&mut self) -> Option<Named<'k>> {
        let name = self.aliases.get(*self.next)?;
        *self.next += 1;
        Some(Named { name, origin: Origin::Device })
    }

    fn source(&self) -> Option<BorrowedFd<'_>> {
        self.socket.map(UeventSocket::fd)
    }

    fn receive(&mut self) {
        let Some(socket) = self.socket else { return };
        let aliases = &mut *self.aliases;
        let got = socket.receive(|alias| {
            aliases.insert(alias);
        });
        let all = self.received.get_or_insert_default();
        all.events += got.events;
        all.overflowed |= got.overflowed;
    }
}

/// ` and N more` when N > 0.
struct More(usize);

impl core::fmt::Display for More {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 > 0 { write!(f, " and {} more", self.0) } else { Ok(()) }
    }
}

/// modinit's peak resident memory so far (VmHWM), 0 if /proc does not say.
fn peak_memory_kib() -> u64 {
    let mut buf = [0u8; 4096];
    crate::io::file::read_into(c"/proc/self/status", &mut buf)
        .ok()
        .and_then(|s| modinit::kernel::proc_status::kib(s, b"VmHWM"))
        .unwrap_or(0)
}

/// Probe lists under way at once: one per worker at most (a list waiting for another's insert
/// holds no worker, and then fewer run).
const LISTS: usize = JOBS_MAX;

/// The most modules one lookup gives (a modalias matching many aliases).
const FOUND_MAX: usize = 32;

/// How long [`Loader::advance`] goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Every insert it started has ended and no key is left.
    Done,
    /// No insert can start now (the workers are busy, or the keys there are all planned).
    NothingStarts,
}

/// The probe lists under way and the lookup being handed out, kept between the steps of
/// [`Loader::advance`]: a walk of /sys starts inserts as it finds their devices, and the round
/// goes on with the lists the walk began.
struct Session<'a, 'k> {
    lists: heapless::Vec<Active<'a, 'k>, LISTS>,
    lookup: Lookup<'a, 'k>,
    /// Lookup results planned so far: the next list's number.
    planned: usize,
}

impl Session<'_, '_> {
    fn new() -> Self {
        Session {
            lists: heapless::Vec::new(),
            lookup: Lookup::new(Named { name: b"", origin: Origin::Device }),
            planned: 0,
        }
    }
}

/// A probe list under way, with the lookup it came from.
struct Active<'a, 'k> {
    /// Which list a worker's insert belongs to.
    id: usize,
    list: ProbeList<'a>,
    top: Found<'a>,
    key: Named<'k>,
}

/// The results of one lookup, handed out one at a time.
struct Lookup<'a, 'k> {
    key: Named<'k>,
    found: [Option<Found<'a>>; FOUND_MAX],
    len: usize,
    next: usize,
}

impl<'a> Loader<'_, 'a> {
    /// Loads what each of `keys` (module names, aliases or modaliases) resolves to, as
    /// systemd's `module_load_and_warn` does: every lookup result, the blacklist applied as the
    /// key's origin says. Their probe lists run side by side, up to the workers' number of
    /// inserts at once; the keys that come while inserts are under way (`keys.source()`) join
    /// them. Returns when all are done.
    fn load_all<'k>(&mut self, keys: &mut dyn Keys<'k>, kernel_log: &mut KernelLog) {
        self.advance(&mut Session::new(), keys, kernel_log, Until::Done);
    }

    /// Plans what `keys` ask for and starts the inserts `session`'s lists allow, as
    /// [`Loader::load_all`] does, until all are done or, for [`Until::NothingStarts`], until no
    /// insert can start without waiting.
    fn advance<'k>(
        &mut self,
        session: &mut Session<'a, 'k>,
        keys: &mut dyn Keys<'k>,
        kernel_log: &mut KernelLog,
        until: Until,
    ) {
        loop {
            self.start_inserts(&mut session.lists, kernel_log);
            if self.workers.vacant().is_some()
                && !session.lists.is_full()
                && let Some((key, found)) = self.next_found(&mut session.lookup, keys)
            {
                session.planned += 1;
                if let Some(list) = self.plan(&found, key) {
                    // Room was checked above.
                    let _ = session.lists.push(Active { id: session.planned, list, top: found, key });
                }
                continue;
            }
            // No insert can start and nothing more can be planned now: wait for one to end, or
            // for more keys, or give up those under way once nothing has progressed for the limit.
            let timeout = match until {
                Until::Done => self.stall.left_ms(self.clock.elapsed_ms()),
                Until::NothingStarts => 0,
            };
            match self.workers.wait(timeout, keys.source()) {
                Waited::Readable => keys.receive(),
                Waited::Finished(done) => {
                    self.progressed();
                    self.finish(&mut session.lists, done, kernel_log);
                }
                Waited::Idle => break,
                Waited::TimedOut if until == Until::NothingStarts => break,
                Waited::TimedOut => {
                    while let Some(stuck) = self.workers.give_up() {
                        self.finish(&mut session.lists, stuck, kernel_log);
                    }
                    // What starts next gets the whole limit.
                    self.progressed();
                }
            }
        }
    }

    /// Records progress now (`modinit::loading::stall`).
    fn progressed(&mut self) {
        self.stall.progressed(self.clock.elapsed_ms());
    }

    /// Whether the phase has made no progress for the limit.
    fn stalled(&self) -> bool {
        self.stall.stalled(self.clock.elapsed_ms())
    }

    /// Hands the insert that ended (or was given up) to its probe list and reports it.
    fn finish<'k>(
        &mut self,
        lists: &mut heapless::Vec<Active<'a, 'k>, LISTS>,
        done: Finished,
        kernel_log: &mut KernelLog,
    ) {
        let Some(active) = lists.iter_mut().find(|a| a.id == done.owner) else { return };
        // What the insert waited for, for the boot record (the list moves on as it ends).
        let needs = heapless::Vec::<_, MAX_STEPS>::from_slice(active.list.before()).unwrap_or_default();
        let inserted = Inserted { start: Stamp(done.started.micros()), worker: Some(done.slot), needs: &needs };
        let mut report = Reporter {
            quiet: self.quiet,
            summary: &mut self.summary,
            cmdline: self.prober.resolver.cmdline,
            kernel_log,
            insert: Some(&inserted),
        };
        let insert = self.workers.insert(done.slot);
        let key = active.key;
        self.prober
            .finish(&mut active.list, &mut self.inserts, insert, done.result, done.ms, &mut |e| report.event(e, key));
    }

    /// Starts every insert the lists allow while a worker is free; drops the lists done.
    fn start_inserts<'k>(&mut self, lists: &mut heapless::Vec<Active<'a, 'k>, LISTS>, kernel_log: &mut KernelLog) {
        let mut i = 0;
        while let Some(active) = lists.get_mut(i) {
            i += 1;
            let mut report = Reporter {
                quiet: self.quiet,
                summary: &mut self.summary,
                cmdline: self.prober.resolver.cmdline,
                kernel_log,
                insert: None,
            };
            loop {
                let Some((worker, insert)) = self.workers.vacant() else { return };
                let key = active.key;
                let ready = self.prober.next(
                    &mut active.list,
                    &mut self.inserts,
                    &active.top,
                    key.name,
                    b"",
                    insert,
                    &mut |e| report.event(e, key),
                );
                match ready {
                    Ready::Insert => self.workers.start(worker, active.id, self.prober.dir),
                    Ready::Wait => break,
                    Ready::Done => {
                        i -= 1;
                        lists.swap_remove(i);
                        break;
                    }
                }
            }
        }
    }

    /// The next lookup result to plan, looking up the next key when the last one's are used up.
    /// A listed name that resolves to nothing is a failure, as systemd-modules-load and kmod's
    /// modprobe say; a device alias that does is the usual case.
    fn next_found<'k>(
        &mut self,
        lookup: &mut Lookup<'a, 'k>,
        keys: &mut dyn Keys<'k>,
    ) -> Option<(Named<'k>, Found<'a>)> {
        loop {
            while lookup.next < lookup.len {
                lookup.next += 1;
                if let Some(found) = lookup.found[lookup.next - 1] {
                    return Some((lookup.key, found));
                }
            }
            let named = keys.next_key()?;
            // A device alias or a name taken up for the first time.
            self.progressed();
            *lookup = Lookup::new(named);
            let Ok(key) = Key::new(named.name) else {
                warning!(
                    "ignoring {} ({}): not a valid module name or alias",
                    Bytes(named.name),
                    named.origin.describe()
                );
                continue;
            };
            match self.prober.resolver.lookup(&key, &mut lookup.found) {
                Ok((_, 0)) if named.origin.must_resolve() => {
                    error!(
                        "cannot load {} (from {}): no module or builtin of this name or alias",
                        Bytes(named.name),
                        named.origin.describe()
                    );
                    self.summary.failed += 1;
                    record::not_inserted(named.name, Outcome::Failed, named, Some(Reason::Unresolved));
                }
                Ok((_, n)) => lookup.len = n.min(FOUND_MAX),
                Err(e) => error!("cannot resolve {} (from {}): {e:?}", Bytes(named.name), named.origin.describe()),
            }
        }
    }

    /// The probe list for `found`, unless there is nothing to insert: counts what it skips.
    /// The blacklist stops what `key`'s origin lets it stop; a module found through an alias
    /// is also held back by `rd.driver.blacklist=` and, until the phase settles, `rd.driver.post=`.
    fn plan(&mut self, found: &Found<'a>, key: Named<'_>) -> Option<ProbeList<'a>> {
        let cmdline = self.prober.resolver.cmdline;
        let mut name = [0u8; 256];
        let name = found.target.name(&mut name);
        if found.via != Via::Name
            && let Some(why) = held_back(cmdline, name)
        {
            // A module loaded after the phase is not counted as skipped.
            if let Target::Module(m) = found.target
                && why == HeldBack::Blacklisted
                && self.held_back.insert(m.id)
            {
                self.summary.skipped += 1;
                record::not_inserted(name, Outcome::Skipped, key, Some(Reason::DriverBlacklist));
            }
            return None;
        }
        let blacklist = if key.origin.applies_blacklist() { Blacklist::All } else { Blacklist::AliasOnly };
        match self.prober.plan(found, blacklist, &mut self.inserts) {
            Ok(list) => return Some(list),
            Err(Probed::Builtin) => {
                if let Target::Module(m) = found.target
                    && self.builtins.insert(m.id)
                {
                    self.summary.builtin += 1;
                    record::not_inserted(name, Outcome::Builtin, key, None);
                }
            }
            Err(Probed::Blacklisted) => {
                self.summary.skipped += 1;
                record::not_inserted(name, Outcome::Skipped, key, Some(Reason::Blacklisted));
            }
            Err(Probed::Unplannable) => {
                error!("cannot load {}: its softdeps nest too deep or it needs too many modules", Bytes(key.name));
                self.summary.failed += 1;
                record::not_inserted(name, Outcome::Failed, key, Some(Reason::Unplannable));
            }
            Err(Probed::InKernel | Probed::Ran) => {}
        }
        None
    }
}

impl<'k> Lookup<'_, 'k> {
    fn new(key: Named<'k>) -> Self {
        Lookup { key, found: [None; FOUND_MAX], len: 0, next: 0 }
    }
}

/// The default of `modinit.jobs`: [`JOBS_PER_CPU`] for each CPU modinit may run on (one CPU
/// if the kernel does not say).
fn default_jobs() -> usize {
    JOBS_PER_CPU * rustix::thread::sched_getaffinity(None).map_or(1, |set| set.count() as usize)
}

/// Says what happened to each module, as [`report`] words it, and then the kernel's messages;
/// records it as [`report`] counted it.
struct Reporter<'x> {
    quiet: bool,
    summary: &'x mut Summary,
    cmdline: &'x [u8],
    kernel_log: &'x mut KernelLog,
    /// The insert whose end the events tell of, if they do.
    insert: Option<&'x Inserted<'x>>,
}

impl Reporter<'_> {
    fn event(&mut self, e: Event<'_>, key: Named<'_>) {
        let why = match &e {
            Event::Failed { name, failure, .. } if failure.may_be_unknown_symbols() => {
                Why::UnknownSymbols(self.kernel_log.unknown_symbols(name))
            }
            Event::Failed { name, failure, .. }
                if failure.is_not_permitted() && kernel_blacklists(self.cmdline, name) =>
            {
                Why::KernelBlacklist
            }
            _ => Why::Failure,
        };
        let before = *self.summary;
        report(e, key.name, self.quiet, self.summary, why);
        let outcome = self.summary.counted_since(before).unwrap_or(Outcome::Ignored);
        record::event(&e, outcome, key, self.insert);
        self.kernel_log.drain();
    }
}

/// Points the kernel's request_module() at modinit's modprobe applet when the image has it,
/// so that modules the kernel asks for (fs-*, crypto-*, net-pf-*) resolve through the index.
fn register_modprobe_helper() {
    const APPLET: &CStr = c"/sbin/modprobe";
    if rustix::fs::access(APPLET, rustix::fs::Access::EXEC_OK).is_err() {
        return;
    }
    if let Err(e) = write_once(c"/proc/sys/kernel/modprobe", APPLET.to_bytes()) {
        warning!(
            "cannot register {} as the kernel's modprobe: {}",
            Bytes(APPLET.to_bytes()),
            Describe(e.raw_os_error())
        );
    }
}

/// What explains a failed load best.
enum Why {
    /// The failure itself.
    Failure,
    /// The kernel logged these missing symbols.
    UnknownSymbols(UnknownSymbols),
    /// EPERM, and the kernel's `module_blacklist=` names the module.
    KernelBlacklist,
}

/// Counts an event and says what needs saying: each module loaded (unless `quiet`), each
/// failure that matters, explained by `why`. A driver finding no device, or a softdep
/// failing, is not a failure; a module the kernel logged missing symbols for is.
fn report(event: Event<'_>, key: &[u8], quiet: bool, summary: &mut Summary, why: Why) {
    match event {
        Event::Loaded { name, ms } => {
            summary.loaded += 1;
            if !quiet {
                say!("loaded {} ({}) in {ms} ms", Bytes(name), Bytes(key));
            }
        }
        Event::Failed { name, path, required: true, .. } if matches!(why, Why::KernelBlacklist) => {
            summary.failed += 1;
            let path = path.map_or(&b"?"[..], CStr::to_bytes);
            error!(
                "cannot load {} ({}): module_blacklist= on the kernel command line forbids it (EPERM)",
                Bytes(name),
                Bytes(path)
            );
        }
        Event::Failed { name, path, required: true, .. }
            if let Why::UnknownSymbols(u) = &why
                && u.count > 0 =>
        {
            summary.failed += 1;
            let path = path.map_or(&b"?"[..], CStr::to_bytes);
            error!(
                "cannot load {} ({}): unknown symbol {} and {} more: a module it needs is missing, or not in the index (see dmesg)",
                Bytes(name),
                Bytes(path),
                Bytes(u.first()),
                u.count - 1
            );
        }
        // Reported whether or not the list needed it: the boot goes on without it.
        Event::Failed { name, path, failure: failure @ Failure::Stalled { .. }, .. } => {
            summary.failed += 1;
            let path = path.map_or(&b"?"[..], CStr::to_bytes);
            error!("{} ({}) {failure}: going on without it", Bytes(name), Bytes(path));
        }
        Event::Failed { failure, .. } if failure.is_quiet() => summary.skipped += 1,
        Event::Failed { name, path, failure, required: true } => {
            summary.failed += 1;
            let path = path.map_or(&b"?"[..], CStr::to_bytes);
            error!("cannot load {} ({}): {failure}", Bytes(name), Bytes(path));
        }
        Event::Missing { name, required: true } => {
            summary.failed += 1;
            error!("cannot load {}: no such module in the index", Bytes(name));
        }
        Event::Failed { .. } | Event::Missing { .. } | Event::Planned { .. } => {}
    }
}
