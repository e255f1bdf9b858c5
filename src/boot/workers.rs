//! Inserting modules side by side: up to `modinit.jobs` inserts at once, each in a worker
//! process that PID 1 forks, while PID 1 plans the next ones.
//!
//! Processes rather than threads: a worker decompresses a module and waits in
//! `finit_module` while the driver probes, and nothing it does can harm PID 1. A decoder bug
//! or a crash ends the worker, and PID 1 reports a failed module instead of the kernel
//! panicking. PID 1's state (the index, the resolver, the arena, the logs) stays
//! single-threaded, and there is no hand-made thread start (clone with a stack of our own)
//! to trust. A fork costs far less than the insert it runs (the process has no large private
//! memory: the index is a file mapping, the arena is mapped in the worker itself), and the
//! worker exits as soon as the kernel answers. Its answer comes back through a page shared
//! with PID 1.
//!
//! With one job (`modinit.jobs=1`), or when a fork fails, PID 1 inserts the module itself.

use super::clock::Instant;
use super::index_file::ModulesDir;
use super::load::{Failure, WorkerEnd};
use super::mapping::{Mapping, ReadWrite};
use super::probe::Insert;
use crate::sys::syscall::{Forked, exit_group, fork};
use core::sync::atomic::{AtomicBool, Ordering};
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, wait};

/// The most inserts at once, whatever `modinit.jobs=` asks: the kernel serializes parts of
/// every load (its module mutex), and each worker decompresses with an arena of its own.
pub const JOBS_MAX: usize = 16;

/// Inserts at once per CPU by default. An insert mostly waits: for the driver's probe (its
/// sleeps while hardware resets or links come up) and, at the end of every module's init,
/// for all the kernel's async work (`async_synchronize_full`, which waits for the other
/// modules' probes too). On the PC machine's 2 vCPUs under TCG, the `most` image's driver
/// phase took 2,990 / 2,415 / 2,145 / 1,550 / 1,560 ms with 1 / 2 / 4 / 8 / 16 jobs.
pub const JOBS_PER_CPU: usize = 4;

/// What a worker hands back: how the insert went and its arena's high-water mark; None until
/// it has answered.
type Answer = Option<(Result<(), Failure>, usize)>;

/// Set in a worker process, so that a panic there ends the worker, not the boot.
static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Whether this process is a worker (a panic handler's question).
pub fn in_worker() -> bool {
    IN_WORKER.load(Ordering::Relaxed)
}

/// The exit status of a worker that panicked (the panic handler's, after its message).
pub const PANICKED: i32 = 101;

/// An insert that ended: which slot, for which probe list, how and how long it took.
pub struct Finished {
    pub slot: usize,
    pub owner: usize,
    pub result: Result<(), Failure>,
    pub ms: u64,
}

enum State {
    Vacant,
    Running {
        pid: Pid,
    },
    /// Inserted by PID 1 itself; not collected yet.
    Done(Result<(), Failure>),
}

struct Slot<'a> {
    insert: Insert<'a>,
    state: State,
    /// The probe list the insert belongs to (the caller's number).
    owner: usize,
    started: Instant,
}

pub struct Workers<'a> {
    jobs: usize,
    slots: [Slot<'a>; JOBS_MAX],
    /// One [`Answer`] a slot, shared with the workers; None inserts in PID 1.
    answers: Option<Mapping<ReadWrite>>,
    /// The most any worker's decompression arena held.
    arena_peak: usize,
}

impl<'a> Workers<'a> {
    /// Up to `jobs` inserts at once (1 to [`JOBS_MAX`]).
    pub fn new(jobs: usize) -> Workers<'a> {
        let jobs = jobs.clamp(1, JOBS_MAX);
        let answers = if jobs > 1 { Mapping::shared(size_of::<[Answer; JOBS_MAX]>()).ok() } else { None };
        let slot = || Slot { insert: Insert::new(), state: State::Vacant, owner: 0, started: Instant::now() };
        Workers { jobs, slots: core::array::from_fn(|_| slot()), answers, arena_peak: 0 }
    }

    /// How many inserts may run at once.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The most a worker's decompression arena held, in bytes.
    pub fn arena_peak(&self) -> usize {
        self.arena_peak
    }

    /// A slot to ready an insert in, while fewer than `jobs` are under way.
    pub fn vacant(&mut self) -> Option<(usize, &mut Insert<'a>)> {
        let used = self.slots.iter().filter(|s| !matches!(s.state, State::Vacant)).count();
        if used >= self.jobs {
            return None;
        }
        let (i, slot) = self.slots.iter_mut().enumerate().find(|(_, s)| matches!(s.state, State::Vacant))?;
        Some((i, &mut slot.insert))
    }

    /// The insert readied in `slot`.
    pub fn insert(&self, slot: usize) -> &Insert<'a> {
        &self.slots[slot].insert
    }

    /// Starts the insert readied in `slot` (from [`Workers::vacant`]), for the list `owner`, of
    /// a module in `dir`.
    pub fn start(&mut self, slot: usize, owner: usize, dir: &ModulesDir) {
        let answers = self.answers.as_mut().map(answers_of);
        let s = &mut self.slots[slot];
        s.owner = owner;
        s.started = Instant::now();
        let Some(answers) = answers else {
            s.state = State::Done(s.insert.run(dir));
            return;
        };
        // SAFETY: `answers` points to JOBS_MAX answers in a live shared mapping (answers_of);
        // no worker owns this slot's answer now.
        unsafe { answers.add(slot).write_volatile(None) };
        s.state = match fork() {
            Ok(Forked::Child) => {
                IN_WORKER.store(true, Ordering::Relaxed);
                let answer = (s.insert.run(dir), crate::sys::arena::high_water());
                // SAFETY: the same mapping, shared with PID 1, which reads this answer only
                // after this process has exited.
                unsafe { answers.add(slot).write_volatile(Some(answer)) };
                exit_group(0)
            }
            Ok(Forked::Parent { child }) => State::Running { pid: child },
            Err(_) => State::Done(s.insert.run(dir)),
        };
    }

    /// Waits for an insert to end, if one is under way.
    pub fn wait(&mut self) -> Option<Finished> {
        if let Some(i) = self.slots.iter().position(|s| matches!(s.state, State::Done(_))) {
            let State::Done(result) = core::mem::replace(&mut self.slots[i].state, State::Vacant) else { return None };
            return Some(self.finished(i, result));
        }
        while self.slots.iter().any(|s| matches!(s.state, State::Running { .. })) {
            // Any child: PID 1 also reaps the orphans re-parented to it, and skips them.
            let (pid, status) = match wait(WaitOptions::empty()) {
                Ok(Some(ended)) => ended,
                Err(Errno::INTR) => continue,
                Ok(None) | Err(_) => {
                    // No child left to wait for: whatever still counts as running is lost.
                    let i = self.slots.iter().position(|s| matches!(s.state, State::Running { .. }))?;
                    self.slots[i].state = State::Vacant;
                    return Some(self.finished(i, Err(Failure::Worker(WorkerEnd::Lost))));
                }
            };
            let Some(i) = self.slots.iter().position(|s| matches!(s.state, State::Running { pid: p } if p == pid))
            else {
                continue;
            };
            self.slots[i].state = State::Vacant;
            let answer = match (status.exit_status(), self.answers.as_mut().map(answers_of)) {
                // SAFETY: the worker has exited, so its write of this answer is complete.
                (Some(0), Some(answers)) => unsafe { answers.add(i).read_volatile() },
                _ => None,
            };
            if let Some((_, arena)) = answer {
                self.arena_peak = self.arena_peak.max(arena);
            }
            let result = answer.map(|(result, _)| result).unwrap_or_else(|| {
                Err(Failure::Worker(match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => WorkerEnd::Status(code),
                    (None, Some(signal)) => WorkerEnd::Signal(signal),
                    (None, None) => WorkerEnd::Lost,
                }))
            });
            return Some(self.finished(i, result));
        }
        None
    }

    fn finished(&self, slot: usize, result: Result<(), Failure>) -> Finished {
        let s = &self.slots[slot];
        Finished { slot, owner: s.owner, result, ms: s.started.elapsed_ms() }
    }
}

/// The answers in the shared mapping, one a slot.
fn answers_of(mapping: &mut Mapping<ReadWrite>) -> *mut Answer {
    // A fresh mapping is page-aligned and sized for JOBS_MAX answers (Workers::new); its zero
    // bytes are not read before start() writes None.
    mapping.bytes_mut().as_mut_ptr().cast::<Answer>()
}
