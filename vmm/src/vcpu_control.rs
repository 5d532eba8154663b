//! What the VMM asks of running vCPU threads besides running: pause (the threads
//! stop executing and sleep on a condition variable until resumed) and publish their
//! counters (which only the vCPU's own thread can read).
//!
//! The controller sets a request, kicks the vCPUs (`VcpuSignals::kick` makes `run()`
//! return promptly), and waits until every vCPU has answered or is not executing
//! anyway (stopped by HSM, paused, exited). A vCPU checks for requests once per exit
//! with two relaxed atomic loads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use api::types::{
    CompiledTierCounters, NaclCounters, NestedCounters, SideExitCounters, TranslationCounters,
    VcpuActivity, VcpuCounters as VcpuReport,
};
use arch_riscv::hart::CompileStats;

use crate::hypervisor::VcpuCounters;
use crate::vcpu::VcpuStats;

/// What one vCPU last published.
#[derive(Clone, Copy, Debug, Default)]
pub struct VcpuSnapshot {
    /// What the vCPU thread is doing.
    pub activity: VcpuActivity,
    /// The backend's counters.
    pub counters: VcpuCounters,
    /// The VMM's per-vCPU counts (exits, SBI calls).
    pub stats: VcpuStats,
    /// The counters request this answers.
    generation: u64,
}

impl VcpuSnapshot {
    /// The API's view of vCPU `id`: the one place where backend and VMM counters
    /// become the `GET /vm/counters` JSON.
    pub fn report(&self, id: u32) -> VcpuReport {
        let c = &self.counters;
        VcpuReport {
            id,
            state: self.activity,
            instructions: c.instructions,
            exceptions: c.exceptions,
            interrupts: c.interrupts,
            exits: self.stats.exits,
            sbi: self.stats.sbi,
            nested: NestedCounters {
                guest_entries: c.guest_entries,
                guest_exits: c.guest_exits,
                h_csr_accesses: c.h_csr_accesses,
                hfences: c.hfences,
                hypervisor_loads_stores: c.hypervisor_loads_stores,
            },
            nacl: c.nacl.map(nacl_report).unwrap_or_default(),
            translation: TranslationCounters {
                tlb_misses: c.tlb_misses,
                fetch_misses: c.fetch_misses,
                decodes: c.decodes,
            },
            compiled: c.compiled.map(compiled_report).unwrap_or_default(),
        }
    }
}

/// The compiled tier's statistics as the API shows them.
fn compiled_report(stats: CompileStats) -> CompiledTierCounters {
    let [
        _,
        not_compiled,
        budget,
        slow_access,
        stepped,
        end_slice,
        vmm,
    ] = stats.exits;
    CompiledTierCounters {
        enabled: true,
        blocks: stats.blocks,
        blocks_shared: stats.blocks_shared,
        failures: stats.failures,
        compile_us: stats.compile_nanos / 1000,
        code_bytes: stats.code_bytes,
        code_cache_bytes: stats.code_cache_bytes,
        cache_flushes: stats.cache_flushes,
        entries: stats.entries,
        instructions: stats.instructions,
        side_exits: SideExitCounters {
            not_compiled,
            budget,
            slow_access,
            stepped,
            end_slice,
            vmm,
        },
    }
}

/// NACL statistics as the API shows them (function ids per the SBI specification:
/// 0 probe_feature, 1 set_shmem, 2 sync_csr, 3 sync_hfence, 4 sync_sret).
fn nacl_report(stats: nacl::NaclStats) -> NaclCounters {
    let [
        probe_feature,
        set_shmem,
        sync_csr,
        sync_hfence,
        sync_sret,
        other_calls,
    ] = stats.calls;
    NaclCounters {
        enabled: true,
        probe_feature,
        set_shmem,
        sync_csr,
        sync_hfence,
        sync_sret,
        other_calls,
        csrs_written: stats.csrs_written,
        hfences: stats.hfences,
        errors: stats.errors,
    }
}

struct Shared {
    paused: bool,
    closing: bool,
    vcpus: Vec<VcpuSnapshot>,
}

/// The pause gate and counter mailbox of every vCPU of a VM.
pub struct VcpuControl {
    /// Hint for the vCPUs' fast check; the truth is `shared.paused`.
    paused: AtomicBool,
    /// The latest counters request (a generation number).
    requested: AtomicU64,
    shared: Mutex<Shared>,
    /// vCPU -> controller: a vCPU published, parked, stopped or exited.
    changed: Condvar,
    /// controller -> vCPUs: resumed, or closing.
    resumed: Condvar,
}

impl VcpuControl {
    /// Control of `count` vCPUs, all stopped (not yet started by HSM).
    pub fn new(count: usize) -> VcpuControl {
        VcpuControl {
            paused: AtomicBool::new(false),
            requested: AtomicU64::new(0),
            shared: Mutex::new(Shared {
                paused: false,
                closing: false,
                vcpus: vec![
                    VcpuSnapshot {
                        activity: VcpuActivity::Stopped,
                        ..VcpuSnapshot::default()
                    };
                    count
                ],
            }),
            changed: Condvar::new(),
            resumed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- The vCPU thread's side ----

    /// Whether the controller wants something from a vCPU that last answered
    /// counters request `seen`. Cheap: called after every exit.
    #[inline]
    pub fn wants(&self, seen: u64) -> bool {
        self.paused.load(Ordering::Relaxed) || self.requested.load(Ordering::Relaxed) != seen
    }

    /// Publishes vCPU `id`'s counters and, if the VM is paused, sleeps until it is
    /// resumed or closing. Returns the counters request now answered.
    pub fn attend(&self, id: usize, counters: VcpuCounters, stats: VcpuStats) -> u64 {
        let generation = self.requested.load(Ordering::SeqCst);
        let mut shared = self.lock();
        if let Some(slot) = shared.vcpus.get_mut(id) {
            slot.counters = counters;
            slot.stats = stats;
            slot.generation = generation;
        }
        if shared.paused && !shared.closing {
            set_activity(&mut shared, id, VcpuActivity::Paused);
            self.changed.notify_all();
            while shared.paused && !shared.closing {
                shared = self.resumed.wait(shared).unwrap_or_else(|e| e.into_inner());
            }
            set_activity(&mut shared, id, VcpuActivity::Running);
        } else {
            self.changed.notify_all();
        }
        generation
    }

    /// Records that vCPU `id` now does `activity` (stopped by HSM, running again,
    /// exited) with these counters.
    pub fn set_activity(
        &self,
        id: usize,
        activity: VcpuActivity,
        counters: VcpuCounters,
        stats: VcpuStats,
    ) {
        let mut shared = self.lock();
        if let Some(slot) = shared.vcpus.get_mut(id) {
            slot.counters = counters;
            slot.stats = stats;
        }
        set_activity(&mut shared, id, activity);
        self.changed.notify_all();
    }

    // ---- The controller's side ----

    /// Asks every vCPU to pause, calls `kick`, and waits up to `timeout` until none
    /// executes. Returns the ids still running at the timeout (empty: paused).
    pub fn pause(&self, kick: impl Fn(), timeout: Duration) -> Vec<usize> {
        {
            let mut shared = self.lock();
            shared.paused = true;
            self.paused.store(true, Ordering::SeqCst);
        }
        kick();
        let deadline = Instant::now() + timeout;
        self.wait_until(deadline, |slot| slot.activity != VcpuActivity::Running)
    }

    /// Lets paused vCPUs run again.
    pub fn resume(&self) {
        let mut shared = self.lock();
        shared.paused = false;
        self.paused.store(false, Ordering::SeqCst);
        self.resumed.notify_all();
    }

    /// Whether the VM is paused.
    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// Fresh counters of every vCPU: asks, calls `kick`, and waits up to `timeout`
    /// for the executing ones to answer (a vCPU that does not answer in time is
    /// reported with its last snapshot).
    pub fn snapshots(&self, kick: impl Fn(), timeout: Duration) -> Vec<VcpuSnapshot> {
        let generation = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        kick();
        let deadline = Instant::now() + timeout;
        let late = self.wait_until(deadline, |slot| {
            slot.activity != VcpuActivity::Running || slot.generation >= generation
        });
        if !late.is_empty() {
            tracing::warn!(?late, "vCPUs did not publish their counters in time");
        }
        self.lock().vcpus.clone()
    }

    /// Wakes every parked vCPU for good (the VM is ending).
    pub fn close(&self) {
        let mut shared = self.lock();
        shared.closing = true;
        self.resumed.notify_all();
    }

    /// Waits until `done` holds for every vCPU or `deadline` passes; returns the ids
    /// for which it does not.
    fn wait_until(&self, deadline: Instant, done: impl Fn(&VcpuSnapshot) -> bool) -> Vec<usize> {
        let mut shared = self.lock();
        loop {
            let pending: Vec<usize> = shared
                .vcpus
                .iter()
                .enumerate()
                .filter(|(_, slot)| !done(slot))
                .map(|(id, _)| id)
                .collect();
            let now = Instant::now();
            if pending.is_empty() || now >= deadline {
                return pending;
            }
            shared = self
                .changed
                .wait_timeout(shared, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

fn set_activity(shared: &mut Shared, id: usize, activity: VcpuActivity) {
    if let Some(slot) = shared.vcpus.get_mut(id) {
        slot.activity = activity;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A fake vCPU thread: "executes" by spinning on `wants`, as the real loop does
    /// after each exit, until told to stop.
    fn spawn_vcpu(
        control: Arc<VcpuControl>,
        id: usize,
        stop: Arc<AtomicBool>,
        executed: Arc<AtomicU64>,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let stats = VcpuStats::default();
            control.set_activity(id, VcpuActivity::Running, VcpuCounters::default(), stats);
            let mut seen = 0;
            let mut mine = 0;
            while !stop.load(Ordering::SeqCst) {
                // As the real loop: attend to requests before executing.
                if control.wants(seen) {
                    let counters = VcpuCounters {
                        instructions: mine,
                        ..VcpuCounters::default()
                    };
                    seen = control.attend(id, counters, stats);
                }
                executed.fetch_add(1, Ordering::SeqCst);
                mine += 1;
                std::thread::yield_now();
            }
            control.set_activity(id, VcpuActivity::Exited, VcpuCounters::default(), stats);
        })
    }

    #[test]
    fn pause_stops_execution_until_resume() {
        let control = Arc::new(VcpuControl::new(2));
        let stop = Arc::new(AtomicBool::new(false));
        let executed = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..2)
            .map(|id| spawn_vcpu(control.clone(), id, stop.clone(), executed.clone()))
            .collect();
        while executed.load(Ordering::SeqCst) < 100 {
            std::thread::yield_now();
        }
        assert!(control.pause(|| {}, Duration::from_secs(5)).is_empty());
        assert!(control.is_paused());
        let frozen = executed.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(executed.load(Ordering::SeqCst), frozen, "ran while paused");
        let snaps = control.snapshots(|| {}, Duration::from_secs(1));
        assert!(snaps.iter().all(|s| s.activity == VcpuActivity::Paused));
        control.resume();
        while executed.load(Ordering::SeqCst) < frozen + 100 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::SeqCst);
        control.close();
        for t in threads {
            t.join().expect("vcpu");
        }
        let snaps = control.snapshots(|| {}, Duration::from_secs(1));
        assert!(snaps.iter().all(|s| s.activity == VcpuActivity::Exited));
    }

    #[test]
    fn snapshots_are_fresh() {
        let control = Arc::new(VcpuControl::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let executed = Arc::new(AtomicU64::new(0));
        let thread = spawn_vcpu(control.clone(), 0, stop.clone(), executed.clone());
        while executed.load(Ordering::SeqCst) < 10 {
            std::thread::yield_now();
        }
        let first = control.snapshots(|| {}, Duration::from_secs(5))[0];
        assert_eq!(first.activity, VcpuActivity::Running);
        let second = control.snapshots(|| {}, Duration::from_secs(5))[0];
        assert!(second.counters.instructions > first.counters.instructions);
        assert_eq!(second.report(0).instructions, second.counters.instructions);
        stop.store(true, Ordering::SeqCst);
        thread.join().expect("vcpu");
    }

    #[test]
    fn stopped_vcpus_count_as_paused_and_closing_releases_parked_ones() {
        let control = Arc::new(VcpuControl::new(3));
        // Nothing started: pausing needs no answer.
        assert!(control.pause(|| {}, Duration::from_millis(10)).is_empty());
        let parked = {
            let control = control.clone();
            std::thread::spawn(move || {
                control.set_activity(
                    0,
                    VcpuActivity::Running,
                    VcpuCounters::default(),
                    VcpuStats::default(),
                );
                control.attend(0, VcpuCounters::default(), VcpuStats::default())
            })
        };
        assert!(control.pause(|| {}, Duration::from_secs(5)).is_empty());
        control.close();
        parked.join().expect("parked vcpu released");
    }

    #[test]
    fn an_unresponsive_vcpu_times_out() {
        let control = VcpuControl::new(1);
        control.set_activity(
            0,
            VcpuActivity::Running,
            VcpuCounters::default(),
            VcpuStats::default(),
        );
        assert_eq!(control.pause(|| {}, Duration::from_millis(20)), vec![0]);
        let snaps = control.snapshots(|| {}, Duration::from_millis(20));
        assert_eq!(snaps[0].activity, VcpuActivity::Running);
    }
}
