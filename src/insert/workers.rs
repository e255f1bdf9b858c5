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
//! with PID 1, mapped afresh for each insert.
//!
//! PID 1 waits for its workers with a bound, so that a driver whose init never returns cannot
//! hold the boot: each worker's pidfd (`pidfd_open`, Linux 5.3) wakes a `poll` that has a
//! timeout, then `waitpid(-1, WNOHANG)` reaps every child that ended (the orphans the kernel
//! re-parents to PID 1 too). An insert the caller gives up on ([`Workers::give_up`]) is
//! forgotten: its worker, still in the kernel, keeps its own answer page (PID 1 unmaps only its
//! view), so it can never write into a later insert's answer, and it is reaped with the
//! orphans whenever it ends (after the exec, by the real init). Without a pidfd the poll looks
//! every [`POLL_WITHOUT_PIDFD_MS`] instead of being woken.
//!
//! With one job (`modinit.jobs=1`) the insert goes to one worker all the same, so that it is
//! bounded too. Only when the answer page cannot be mapped or the fork fails does PID 1
//! insert the module itself, and then nothing bounds it.

use super::load::{Failure, WorkerEnd};
use super::probe::Insert;
use crate::io::clock::{Instant, sleep_ms, timespec_of_ms};
use crate::io::mapping::{Mapping, ReadWrite};
use crate::io::modules_dir::ModulesDir;
use crate::sys::syscall::{Forked, exit_group, fork};
use core::sync::atomic::{AtomicBool, Ordering};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, WaitOptions, WaitStatus, pidfd_open, wait};

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

/// How often PID 1 looks for ended workers it has no pidfd for (Linux < 5.3).
const POLL_WITHOUT_PIDFD_MS: u64 = 10;

/// Set in a worker process, so that a panic there ends the worker, not the boot.
static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Whether this process is a worker (a panic handler's question).
pub fn in_worker() -> bool {
    IN_WORKER.load(Ordering::Relaxed)
}

/// An insert that ended: which slot, for which probe list, how, when it started and how long
/// it took.
pub struct Finished {
    pub slot: usize,
    pub owner: usize,
    pub result: Result<(), Failure>,
    pub started: Instant,
    pub ms: u64,
}

/// What [`Workers::wait`] came to.
pub enum Waited {
    Finished(Finished),
    /// No insert is under way.
    Idle,
    /// The time given passed with inserts still under way.
    TimedOut,
    /// The other file the caller waits on became readable, inserts still under way.
    Readable,
}

enum State {
    Vacant,
    Running {
        pid: Pid,
        /// Readable once the worker has ended; None if the kernel gave none.
        pidfd: Option<OwnedFd>,
        /// The worker's [`Answer`], shared with it.
        answer: Mapping<ReadWrite>,
    },
    /// Ended (inserted by PID 1 itself, or its worker reaped); not collected yet.
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
    /// The most any worker's decompression arena held.
    arena_peak: usize,
}

impl<'a> Workers<'a> {
    /// Up to `jobs` inserts at once (1 to [`JOBS_MAX`]).
    pub fn new(jobs: usize) -> Workers<'a> {
        let jobs = jobs.clamp(1, JOBS_MAX);
        let slot = || Slot { insert: Insert::new(), state: State::Vacant, owner: 0, started: Instant::now() };
        Workers { jobs, slots: core::array::from_fn(|_| slot()), arena_peak: 0 }
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
        let s = &mut self.slots[slot];
        s.owner = owner;
        s.started = Instant::now();
        s.state = match Mapping::shared(size_of::<Answer>()) {
            Ok(answer) => spawn(&mut s.insert, dir, answer),
            Err(_) => State::Done(s.insert.run(dir)),
        };
    }

    /// Waits up to `timeout_ms` for an insert to end, or, while inserts are under way, for
    /// `also` (the uevent socket) to become readable.
    pub fn wait(&mut self, timeout_ms: u64, also: Option<BorrowedFd<'_>>) -> Waited {
        let waiting = Instant::now();
        loop {
            self.reap();
            if let Some(i) = self.slots.iter().position(|s| matches!(s.state, State::Done(_)))
                && let State::Done(result) = core::mem::replace(&mut self.slots[i].state, State::Vacant)
            {
                return Waited::Finished(self.finished(i, result));
            }
            if !self.slots.iter().any(|s| matches!(s.state, State::Running { .. })) {
                return Waited::Idle;
            }
            match timeout_ms.saturating_sub(waiting.elapsed_ms()) {
                0 => return Waited::TimedOut,
                left => {
                    if self.poll(left, also) {
                        return Waited::Readable;
                    }
                }
            }
        }
    }

    /// Gives up one insert under way, if any: it counts as failed ([`Failure::Stalled`]) and its
    /// slot is free; the worker is reaped whenever it ends. Call it until None to give up all.
    pub fn give_up(&mut self) -> Option<Finished> {
        let i = self.slots.iter().position(|s| matches!(s.state, State::Running { .. }))?;
        // Closes the pidfd and unmaps PID 1's view of the answer; the worker keeps its own.
        self.slots[i].state = State::Vacant;
        let ms = self.slots[i].started.elapsed_ms();
        Some(self.finished(i, Err(Failure::Stalled { ms })))
    }

    /// Sleeps until a worker may have ended or `also` is readable, or for `ms`; true when
    /// `also` is readable.
    fn poll(&self, ms: u64, also: Option<BorrowedFd<'_>>) -> bool {
        let mut fds = heapless::Vec::<PollFd<'_>, { JOBS_MAX + 1 }>::new();
        if let Some(fd) = &also {
            // The first of fewer than its room.
            let _ = fds.push(PollFd::new(fd, PollFlags::IN));
        }
        let mut blind = false;
        for s in &self.slots {
            match &s.state {
                State::Running { pidfd: Some(fd), .. } => {
                    // As many fds as slots.
                    let _ = fds.push(PollFd::new(fd, PollFlags::IN));
                }
                State::Running { pidfd: None, .. } => blind = true,
                State::Vacant | State::Done(_) => {}
            }
        }
        let ms = if blind { ms.min(POLL_WITHOUT_PIDFD_MS) } else { ms };
        // An interruption makes the caller look again sooner; a failure, after a short sleep.
        match poll(&mut fds, Some(&timespec_of_ms(ms))) {
            Ok(_) => also.is_some() && fds[0].revents().contains(PollFlags::IN),
            Err(Errno::INTR) => false,
            Err(_) => {
                sleep_ms(ms.min(POLL_WITHOUT_PIDFD_MS));
                false
            }
        }
    }

    /// Reaps every child that ended: a worker's outcome goes to its slot; a worker given up, or
    /// an orphan the kernel re-parented to PID 1, is only reaped.
    fn reap(&mut self) {
        loop {
            let (pid, status) = match wait(WaitOptions::NOHANG) {
                Ok(Some(ended)) => ended,
                Ok(None) => return,
                Err(Errno::INTR) => continue,
                Err(_) => {
                    // No child left at all: whatever still counts as running is lost.
                    for s in &mut self.slots {
                        if matches!(s.state, State::Running { .. }) {
                            s.state = State::Done(Err(Failure::Worker(WorkerEnd::Lost)));
                        }
                    }
                    return;
                }
            };
            let Some(slot) =
                self.slots.iter_mut().find(|s| matches!(s.state, State::Running { pid: p, .. } if p == pid))
            else {
                continue;
            };
            let State::Running { mut answer, .. } = core::mem::replace(&mut slot.state, State::Vacant) else {
                continue;
            };
            let answer = match status.exit_status() {
                // SAFETY: the worker has exited, so its write of this answer is complete.
                Some(0) => unsafe { answer_of(&mut answer).read_volatile() },
                _ => None,
            };
            if let Some((_, arena)) = answer {
                self.arena_peak = self.arena_peak.max(arena);
            }
            slot.state = State::Done(answer.map_or_else(|| Err(Failure::Worker(worker_end(status))), |(r, _)| r));
        }
    }

    fn finished(&self, slot: usize, result: Result<(), Failure>) -> Finished {
        let s = &self.slots[slot];
        Finished { slot, owner: s.owner, result, started: s.started, ms: s.started.elapsed_ms() }
    }
}

/// Forks a worker that runs `insert` and writes its outcome into `answer`; runs it in PID 1
/// when the fork fails.
fn spawn(insert: &mut Insert, dir: &ModulesDir, mut answer: Mapping<ReadWrite>) -> State {
    let page = answer_of(&mut answer);
    // SAFETY: `page` is the start of a live mapping sized for one Answer (answer_of), which no
    // worker has yet.
    unsafe { page.write_volatile(None) };
    match fork() {
        Ok(Forked::Child) => {
            IN_WORKER.store(true, Ordering::Relaxed);
            let outcome = (insert.run(dir), crate::sys::arena::high_water());
            // SAFETY: the same mapping, shared with PID 1, which reads it only after this
            // process has exited, and unmaps only its own view if it gives this insert up.
            unsafe { page.write_volatile(Some(outcome)) };
            exit_group(0)
        }
        // A pidfd only wakes PID 1 sooner: without one it looks every POLL_WITHOUT_PIDFD_MS.
        Ok(Forked::Parent { child }) => {
            State::Running { pid: child, pidfd: pidfd_open(child, PidfdFlags::empty()).ok(), answer }
        }
        Err(_) => State::Done(insert.run(dir)),
    }
}

/// How a worker that gave no answer ended.
fn worker_end(status: WaitStatus) -> WorkerEnd {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => WorkerEnd::Status(code),
        (None, Some(signal)) => WorkerEnd::Signal(signal),
        (None, None) => WorkerEnd::Lost,
    }
}

/// The answer in a shared mapping made for one.
fn answer_of(mapping: &mut Mapping<ReadWrite>) -> *mut Answer {
    // A fresh mapping is page-aligned and sized for one Answer (Workers::start); its zero
    // bytes are not read before spawn() writes None.
    mapping.bytes_mut().as_mut_ptr().cast::<Answer>()
}
