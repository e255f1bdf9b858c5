//! Inserting several probe lists side by side: which module of which list may go to the
//! kernel next.
//!
//! A probe list ([`Resolver::probe_list`](crate::resolve::Resolver::probe_list)) is inserted in
//! its order, as kmod's `kmod_module_probe_insert_module` does: a module only once every module
//! before it in the list has been tried (so its dependencies are live), and the failure of a
//! required module ends the list. Lists made for different devices share modules: each module
//! is tried once ([`Inserts`]), and a list that reaches a module another list is inserting
//! waits for it, so two inserts of one module never run at once (Linux before 6.4 would run
//! both in full). A list that reaches a required module that failed for another list ends as
//! if it had failed for it (kmod, trying it again, would see it fail again), so the modules
//! inserted are the same whichever list gets to a module first: the same as one list at a
//! time, which is kmod's sequential order exactly.

use crate::index::ModuleId;
use crate::resolve::{ModuleSet, Step, Target};

/// One entry of a probe list, as far as ordering goes.
pub trait Link: Copy {
    /// The module to insert; None for a name the index does not have.
    fn module(&self) -> Option<ModuleId>;
    /// Whether its failure ends the list (the top module and its dependencies; not softdeps).
    fn required(&self) -> bool;
}

impl Link for Step<'_> {
    fn module(&self) -> Option<ModuleId> {
        match self.target {
            Target::Module(m) => Some(m.id),
            Target::Missing(_) => None,
        }
    }

    fn required(&self) -> bool {
        self.required
    }
}

/// The modules tried so far across every list, those that failed, and those being inserted now.
pub struct Inserts {
    tried: ModuleSet,
    failed: ModuleSet,
    in_flight: ModuleSet,
}

impl Inserts {
    pub const fn new() -> Self {
        Inserts { tried: ModuleSet::new(), failed: ModuleSet::new(), in_flight: ModuleSet::new() }
    }

    /// Whether `id` was tried (or is being inserted).
    pub fn tried(&self, id: ModuleId) -> bool {
        self.tried.contains(id)
    }

    /// Marks `id` tried without inserting it (blacklisted, found in the kernel).
    pub fn mark_tried(&mut self, id: ModuleId) {
        self.tried.insert(id);
    }
}

impl Default for Inserts {
    fn default() -> Self {
        Self::new()
    }
}

/// What a list asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<S> {
    /// Insert this module now; it counts as in flight until [`Chain::inserted`].
    Insert(S),
    /// A name the index does not have, to report; the list ends here if it was required.
    Missing(S),
    /// A module of the list is being inserted (by this list or another).
    Wait,
    /// Every module was tried, or a required one failed.
    Done,
}

/// A probe list being inserted.
pub struct Chain<S: Link, const N: usize> {
    steps: heapless::Vec<S, N>,
    /// The first step not tried yet.
    next: usize,
    /// Whether `steps[next]` is in flight for this list.
    inserting: bool,
}

/// The list has more steps than a [`Chain`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl<S: Link, const N: usize> Chain<S, N> {
    pub const fn new() -> Self {
        Chain { steps: heapless::Vec::new(), next: 0, inserting: false }
    }

    /// Appends a step while the list is planned.
    pub fn push(&mut self, step: S) -> Result<(), TooLong> {
        self.steps.push(step).map_err(|_| TooLong)
    }

    /// The list as planned.
    pub fn steps(&self) -> &[S] {
        &self.steps
    }

    /// The steps before the next one (the one in flight, while it is): all tried already.
    pub fn before(&self) -> &[S] {
        &self.steps[..self.next.min(self.steps.len())]
    }

    /// The next thing this list needs. `present` says whether a module not tried yet is in the
    /// kernel already (builtin, or loaded by someone else); such modules are skipped.
    pub fn next(&mut self, inserts: &mut Inserts, mut present: impl FnMut(&S) -> bool) -> Next<S> {
        if self.inserting {
            return Next::Wait;
        }
        while let Some(&step) = self.steps.get(self.next) {
            let Some(id) = step.module() else {
                self.next = if step.required() { self.steps.len() } else { self.next + 1 };
                return Next::Missing(step);
            };
            if inserts.in_flight.contains(id) {
                return Next::Wait;
            }
            if inserts.tried.contains(id) && inserts.failed.contains(id) && step.required() {
                self.next = self.steps.len();
                break;
            }
            if !inserts.tried.insert(id) || present(&step) {
                self.next += 1;
                continue;
            }
            inserts.in_flight.insert(id);
            self.inserting = true;
            return Next::Insert(step);
        }
        Next::Done
    }

    /// Records how the insert [`Chain::next`] asked for ended: a failure of a required module
    /// ends the list (and any other that requires it).
    pub fn inserted(&mut self, inserts: &mut Inserts, ok: bool) {
        let Some(&step) = self.steps.get(self.next).filter(|_| self.inserting) else { return };
        if let Some(id) = step.module() {
            inserts.in_flight.remove(id);
            if !ok {
                inserts.failed.insert(id);
            }
        }
        self.inserting = false;
        self.next = if ok || !step.required() { self.next + 1 } else { self.steps.len() };
    }
}

impl<S: Link, const N: usize> Default for Chain<S, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct L(Option<u16>, bool);

    impl Link for L {
        fn module(&self) -> Option<ModuleId> {
            self.0.map(ModuleId)
        }
        fn required(&self) -> bool {
            self.1
        }
    }

    fn chain(steps: &[L]) -> Chain<L, 8> {
        let mut c = Chain::new();
        for &s in steps {
            c.push(s).unwrap();
        }
        c
    }

    #[test]
    fn a_list_goes_in_order_and_skips_what_is_present() {
        let mut inserts = Inserts::new();
        let mut c = chain(&[L(Some(1), true), L(Some(2), false), L(Some(3), true)]);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Insert(L(Some(1), true)));
        assert_eq!(c.next(&mut inserts, |_| false), Next::Wait);
        c.inserted(&mut inserts, true);
        assert_eq!(c.next(&mut inserts, |s| s.0 == Some(2)), Next::Insert(L(Some(3), true)));
        c.inserted(&mut inserts, true);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Done);
    }

    #[test]
    fn a_required_failure_or_missing_name_ends_the_list_an_optional_one_does_not() {
        let mut inserts = Inserts::new();
        let mut c = chain(&[L(Some(1), false), L(None, false), L(Some(2), true), L(Some(3), true)]);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Insert(L(Some(1), false)));
        c.inserted(&mut inserts, false);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Missing(L(None, false)));
        assert_eq!(c.next(&mut inserts, |_| false), Next::Insert(L(Some(2), true)));
        c.inserted(&mut inserts, false);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Done);
        assert!(!inserts.tried(ModuleId(3)));

        let mut c = chain(&[L(None, true), L(Some(4), true)]);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Missing(L(None, true)));
        assert_eq!(c.next(&mut inserts, |_| false), Next::Done);
    }

    #[test]
    fn a_list_waits_for_a_module_another_list_inserts_and_shares_its_outcome() {
        let mut inserts = Inserts::new();
        let mut a = chain(&[L(Some(1), true), L(Some(2), true)]);
        let mut b = chain(&[L(Some(1), true), L(Some(3), true)]);
        let mut c = chain(&[L(Some(1), false), L(Some(4), true)]);
        assert_eq!(a.next(&mut inserts, |_| false), Next::Insert(L(Some(1), true)));
        assert_eq!(b.next(&mut inserts, |_| false), Next::Wait);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Wait);
        a.inserted(&mut inserts, false);
        assert_eq!(a.next(&mut inserts, |_| false), Next::Done);
        assert_eq!(b.next(&mut inserts, |_| false), Next::Done);
        assert_eq!(c.next(&mut inserts, |_| false), Next::Insert(L(Some(4), true)));

        let mut d = chain(&[L(Some(4), true), L(Some(5), true)]);
        c.inserted(&mut inserts, true);
        assert_eq!(d.next(&mut inserts, |_| false), Next::Insert(L(Some(5), true)));
    }

    #[test]
    fn too_long_a_list_is_refused() {
        let mut c = Chain::<L, 2>::new();
        assert_eq!(
            (c.push(L(None, true)), c.push(L(None, true)), c.push(L(None, true))),
            (Ok(()), Ok(()), Err(TooLong))
        );
    }

    /// Runs `lists` with up to `workers` inserts at once, finishing them in an order `pick`
    /// chooses, each module failing as `fails` says. Checks, at every insert, that no module
    /// is inserted twice, and that every module before it in its list was tried and is not in
    /// flight. Returns the modules inserted.
    fn run(
        lists: &[Vec<L>],
        workers: usize,
        fails: &dyn Fn(u16) -> bool,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> BTreeSet<u16> {
        let mut inserts = Inserts::new();
        let mut chains: Vec<Chain<L, 16>> = lists
            .iter()
            .map(|l| {
                let mut c = Chain::new();
                l.iter().for_each(|&s| c.push(s).unwrap());
                c
            })
            .collect();
        let mut inserted = BTreeSet::new();
        let mut in_flight: Vec<(usize, u16)> = Vec::new();
        // Lists start in order, as the loader feeds them: one more whenever a worker is free
        // and no started list can go on.
        let mut started = 0;
        loop {
            for (i, c) in chains.iter_mut().enumerate().take(started) {
                while in_flight.len() < workers {
                    match c.next(&mut inserts, |_| false) {
                        Next::Insert(s) => {
                            let id = s.0.unwrap();
                            assert!(inserted.insert(id), "module {id} inserted twice");
                            let at = lists[i].iter().position(|l| *l == s).unwrap();
                            for before in &lists[i][..at] {
                                if let Some(b) = before.0 {
                                    assert!(inserts.tried(ModuleId(b)) && !in_flight.iter().any(|f| f.1 == b));
                                }
                            }
                            in_flight.push((i, id));
                        }
                        Next::Missing(_) => {}
                        Next::Wait | Next::Done => break,
                    }
                }
            }
            if in_flight.len() < workers && started < chains.len() {
                started += 1;
                continue;
            }
            if in_flight.is_empty() {
                break;
            }
            let (list, id) = in_flight.remove(pick(in_flight.len()));
            chains[list].inserted(&mut inserts, !fails(id));
        }
        inserted
    }

    #[test]
    fn parallel_runs_insert_what_the_sequential_run_inserts() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..500 {
            let lists: Vec<Vec<L>> = (0..1 + random(12))
                .map(|_| {
                    let mut l: Vec<L> = Vec::new();
                    for _ in 0..1 + random(6) {
                        let id = (random(20) > 0).then(|| random(24) as u16);
                        if l.iter().all(|s| s.0 != id || id.is_none()) {
                            l.push(L(id, random(3) > 0));
                        }
                    }
                    l
                })
                .collect();
            let failing: BTreeSet<u16> = (0..24).filter(|_| random(5) == 0).collect();
            let fails = |id: u16| failing.contains(&id);
            let sequential = run(&lists, 1, &fails, &mut |_| 0);
            for workers in [2, 3, 8] {
                let parallel = run(&lists, workers, &fails, &mut |n| random(n as u64) as usize);
                assert_eq!(parallel, sequential, "{lists:?} with {workers} workers, failing {failing:?}");
            }
        }
    }
}
