//! The software hart: an RV64GC interpreter with S and U modes, Sv39/48/57, Sstc, and
//! SBI calls, MMIO and kicks returned to the VMM as [`Exit`]s.
//!
//! The data path of an instruction: [`icache`] finds the decoded page of the pc,
//! [`exec`] runs its operations, memory goes through [`tlb`] and on a miss through
//! [`mmu`]; faults become [`trap::Trap`]s delivered by [`Hart::raise`]; interrupts
//! and other threads' requests ([`signals`]) are polled between slices in [`events`].

pub mod cmo;
mod code_page;
pub mod csrs;
pub mod events;
pub mod exec;
pub mod hcsrs;
pub mod icache;
#[cfg(jit)]
pub mod jit;
pub mod memory;
pub mod mmu;
pub mod nested;
pub mod ram;
pub mod signals;
pub mod tinst;
pub mod tlb;
pub mod transition;
pub mod trap;
pub mod vector;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::csr::status;
use crate::isa::Op;
use icache::{DecodeCache, FenceEpoch};
use mmu::PagingMode;
use ram::GuestRam;
use signals::HartSignals;
use tlb::Tlb;
use trap::Trap;

/// Privilege modes the guest runs in (M-mode is the VMM's own SBI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// U-mode.
    User = 0,
    /// S-mode.
    Supervisor = 1,
}

/// An SBI call the hart made (ECALL from S-mode): a7, a6 and a0..a5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SbiCall {
    /// Extension id (a7).
    pub extension: u64,
    /// Function id (a6).
    pub function: u64,
    /// Arguments a0..a5.
    pub args: [u64; 6],
}

/// Why [`Hart::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// An SBI call; answer it with [`Hart::complete_sbi`].
    Sbi(SbiCall),
    /// A load from MMIO; answer it with [`Hart::complete_mmio_read`].
    MmioRead {
        /// Guest-physical address.
        addr: u64,
        /// Width in bytes (1, 2, 4, 8).
        len: u8,
    },
    /// A store to MMIO (already retired by the hart).
    MmioWrite {
        /// Guest-physical address.
        addr: u64,
        /// Width in bytes (1, 2, 4, 8).
        len: u8,
        /// The stored value, zero-extended.
        data: u64,
    },
    /// Another thread asked the hart to return ([`HartSignals::kick`]).
    Kicked,
}

/// How to build a hart.
#[derive(Clone, Debug)]
pub struct HartConfig {
    /// The hart id (mhartid), passed to the kernel in a0.
    pub hart_id: u64,
    /// Guest RAM.
    pub ram: GuestRam,
    /// Guest-physical windows that belong to VMM devices; accesses outside RAM and
    /// outside these raise access faults.
    pub mmio: Vec<(u64, u64)>,
    /// The widest paging mode `satp` accepts.
    pub max_paging: PagingMode,
    /// The instant `time` reads zero at; the same for every hart of a VM.
    pub epoch: Instant,
    /// Whether the hart implements the H extension (the guest is a hypervisor).
    pub hypervisor: bool,
    /// The NACL features offered to the guest hypervisor, if NACL is on.
    pub nacl: Option<nacl::Features>,
    /// The VM's FENCE.I count, shared by all its harts.
    pub fences: Arc<FenceEpoch>,
    /// VLEN in bits when the hart has V (a power of two in
    /// [`vector::VLEN_RANGE`]); `None` without V.
    pub vlen: Option<u32>,
    /// The compiled tier's settings; `None` interprets only. Ignored where the
    /// tier is not built ([`COMPILED_TIER`]).
    pub compile: Option<CompileConfig>,
}

/// Whether this build has the compiled tier (the host architecture has a backend).
pub const COMPILED_TIER: bool = cfg!(jit);

/// Settings of the compiled tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileConfig {
    /// Entries into a jump target before the block there is compiled (0: at once).
    pub threshold: u8,
    /// Size of the code cache; when full, every block is dropped and recompiled as
    /// it becomes hot again.
    pub code_cache_bytes: usize,
    /// Where blocks are compiled.
    pub compiler: Compilation,
}

impl Default for CompileConfig {
    fn default() -> Self {
        CompileConfig {
            threshold: 200,
            code_cache_bytes: 32 << 20,
            compiler: Compilation::Inline,
        }
    }
}

/// Where a hart's blocks are compiled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Compilation {
    /// On the hart's own thread, the moment a block becomes hot: deterministic, for
    /// tests.
    #[default]
    Inline,
    /// On a worker thread that the harts holding clones of this handle share; a hart
    /// goes on interpreting until its block arrives.
    Background(SharedCompiler),
}

/// A VM's compile worker, shared by its harts (clone it into each hart's config).
/// The thread starts with the first block to compile.
#[derive(Clone, Default)]
pub struct SharedCompiler(#[cfg(jit)] Arc<jit::Shared>);

impl SharedCompiler {
    /// A worker that runs `setup` on its own thread before it compiles anything (the
    /// VMM installs the thread's seccomp filter there); if `setup` returns `false`
    /// the worker ends and the harts interpret.
    pub fn with_thread_setup(setup: impl FnOnce() -> bool + Send + 'static) -> SharedCompiler {
        #[cfg(jit)]
        return SharedCompiler(Arc::new(jit::Shared::with_setup(Box::new(setup))));
        #[cfg(not(jit))]
        {
            drop(setup);
            SharedCompiler()
        }
    }

    #[cfg(jit)]
    fn worker(&self) -> &jit::Shared {
        &self.0
    }
}

impl std::fmt::Debug for SharedCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedCompiler")
    }
}

impl PartialEq for SharedCompiler {
    fn eq(&self, _other: &Self) -> bool {
        #[cfg(jit)]
        return Arc::ptr_eq(&self.0, &_other.0);
        #[cfg(not(jit))]
        true
    }
}

impl Eq for SharedCompiler {}

/// Counters of the compiled tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Blocks compiled.
    pub blocks: u64,
    /// Blocks another hart of the VM had compiled already (copied, not compiled).
    pub blocks_shared: u64,
    /// Blocks cranelift or the code cache refused (they stay interpreted).
    pub failures: u64,
    /// Time spent compiling, in nanoseconds.
    pub compile_nanos: u64,
    /// Bytes of the code cache in use.
    pub code_bytes: u64,
    /// Size of the code cache.
    pub code_cache_bytes: u64,
    /// Times the code cache filled up and was emptied.
    pub cache_flushes: u64,
    /// Entries from the interpreter into compiled code.
    pub entries: u64,
    /// Guest instructions run by compiled code (the interpreter's `step` calls for
    /// operations the tier does not compile included).
    pub instructions: u64,
    /// Returns to the interpreter by reason, indexed by `jit::exit` code.
    pub exits: [u64; 7],
}

/// Counters one hart keeps about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HartStats {
    /// Instructions executed (retired or trapped).
    pub instructions: u64,
    /// Exceptions delivered to the guest.
    pub exceptions: u64,
    /// Interrupts delivered to the guest.
    pub interrupts: u64,
    /// Load/store TLB misses that walked the page table.
    pub tlb_misses: u64,
    /// Fetch translations filled into the decode cache's TLB.
    pub fetch_misses: u64,
    /// Instructions decoded.
    pub decodes: u64,
    /// Full TLB flushes.
    pub tlb_flushes: u64,
    /// Entries into V=1 (SRET or NACL sync_sret into the nested guest).
    pub guest_entries: u64,
    /// Traps from V=1 into HS-mode (nested guest exits).
    pub guest_exits: u64,
    /// H/VS CSR accesses in HS-mode: each traps to the L0 on a host that runs this
    /// guest hypervisor in VS-mode.
    pub h_csr_accesses: u64,
    /// HFENCE.VVMA/GVMA instructions executed.
    pub hfences: u64,
    /// SRET instructions that entered V=1 (NACL's sync_sret not included).
    pub sret_to_guest: u64,
    /// HLV/HLVX/HSV executed.
    pub hypervisor_loads_stores: u64,
}

/// The machine-level counters the firmware controls (mcycle, minstret). Both
/// count retired instructions: the hart takes one cycle per instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// mcycle, read by S-mode as `cycle`.
    Cycle = 0,
    /// minstret, read by S-mode as `instret`.
    Instret = 1,
}

/// One machine counter: a running offset from the instruction count, or a value
/// frozen while mcountinhibit holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MachineCounter {
    offset: u64,
    inhibited: Option<u64>,
}

/// The MMIO access a hart is waiting on the VMM for.
#[derive(Clone, Copy, Debug)]
struct PendingLoad {
    op: Op,
}

/// The CSR state: S-mode, and the H extension's HS and VS CSRs.
#[derive(Clone, Debug, Default)]
struct Csrs {
    sstatus: u64,
    /// Interrupt enables of every level (sie's and hie's bits).
    ie: u64,
    /// Software-settable pending bit SSIP; the others are derived or in `hvip`.
    sip: u64,
    stvec: u64,
    sscratch: u64,
    sepc: u64,
    scause: u64,
    stval: u64,
    satp: u64,
    scounteren: u64,
    senvcfg: u64,
    stimecmp: u64,
    fflags: u8,
    frm: u8,
    hstatus: u64,
    hedeleg: u64,
    hideleg: u64,
    hvip: u64,
    hcounteren: u64,
    htval: u64,
    htinst: u64,
    hgatp: u64,
    henvcfg: u64,
    htimedelta: u64,
    vsstatus: u64,
    vstvec: u64,
    vsscratch: u64,
    vsepc: u64,
    vscause: u64,
    vstval: u64,
    vsatp: u64,
    vstimecmp: u64,
}

/// One RISC-V hart.
pub struct Hart {
    /// Integer registers; index 32 is the sink for writes to x0, 33..63 unused.
    x: [u64; 64],
    f: [u64; 32],
    pc: u64,
    privilege: Privilege,
    /// The virtualization mode V: the hart runs a nested guest (VS/VU).
    virt: bool,
    /// The hart implements the H extension.
    hypervisor: bool,
    mmu_index: usize,
    csr: Csrs,
    tlb: Tlb,
    icache: DecodeCache,
    ram: GuestRam,
    mmio: Vec<(u64, u64)>,
    max_paging: PagingMode,
    signals: Arc<HartSignals>,
    /// LR reservation: guest-physical address and the value LR read.
    reservation: Option<(u64, u64)>,
    pending_load: Option<PendingLoad>,
    /// The exit a slice ended with, on its way out of `run()`.
    exit: Option<Exit>,
    /// The VM's FENCE.I count, and the value this hart last acted on.
    fences: Arc<FenceEpoch>,
    fences_seen: u64,
    waiting_for_interrupt: bool,
    /// mcycle and minstret as the firmware (SBI PMU) set them.
    machine_counters: [MachineCounter; 2],
    epoch: Instant,
    hart_id: u64,
    stats: HartStats,
    /// NACL state when the guest hypervisor is offered NACL.
    nacl: Option<nacl::NaclState>,
    /// The V state, when the hart has V: boxed, off the interpreter's hot fields.
    vector: Option<Box<vector::VectorUnit>>,
    /// The compiled tier, when on.
    #[cfg(jit)]
    jit: Option<Box<jit::CompiledTier>>,
    /// What compiled code reads besides the hart, while it runs.
    #[cfg(jit)]
    frame: jit::Frame,
}

impl Hart {
    /// A hart in S-mode at pc 0 with the MMU off and interrupts disabled.
    pub fn new(config: HartConfig) -> Hart {
        Hart {
            x: [0; 64],
            f: [0; 32],
            pc: 0,
            privilege: Privilege::Supervisor,
            virt: false,
            hypervisor: config.hypervisor,
            mmu_index: 1,
            csr: Csrs {
                sstatus: status::UXL_64,
                stimecmp: u64::MAX,
                vsstatus: status::UXL_64,
                vstimecmp: u64::MAX,
                hstatus: if config.hypervisor {
                    crate::csr::hstatus::VSXL_64
                } else {
                    0
                },
                ..Csrs::default()
            },
            tlb: Tlb::default(),
            icache: DecodeCache::default(),
            ram: config.ram,
            mmio: config.mmio,
            max_paging: config.max_paging,
            signals: Arc::new(HartSignals::default()),
            reservation: None,
            pending_load: None,
            exit: None,
            fences_seen: config.fences.current(),
            fences: config.fences,
            waiting_for_interrupt: false,
            machine_counters: [MachineCounter::default(); 2],
            epoch: config.epoch,
            hart_id: config.hart_id,
            stats: HartStats::default(),
            nacl: config
                .nacl
                .filter(|_| config.hypervisor)
                .map(nacl::NaclState::new),
            vector: config
                .vlen
                .filter(|vlen| vlen.is_power_of_two() && vector::VLEN_RANGE.contains(vlen))
                .map(|vlen| Box::new(vector::VectorUnit::new(vlen))),
            #[cfg(jit)]
            jit: config
                .compile
                .and_then(jit::CompiledTier::new)
                .map(Box::new),
            #[cfg(jit)]
            frame: jit::Frame::default(),
        }
    }

    /// The handle other threads use to interrupt, fence or kick this hart.
    pub fn signals(&self) -> Arc<HartSignals> {
        self.signals.clone()
    }

    /// This hart's id.
    pub fn hart_id(&self) -> u64 {
        self.hart_id
    }

    /// Resets the hart to the SBI boot state: S-mode at `pc` with a0 = hart id,
    /// a1 = `opaque`, satp = 0, interrupts off (SBI HSM hart_start, and boot).
    pub fn reset(&mut self, pc: u64, opaque: u64) {
        let signals = self.signals.clone();
        let mut fresh = Hart::new(HartConfig {
            hart_id: self.hart_id,
            ram: self.ram,
            mmio: std::mem::take(&mut self.mmio),
            max_paging: self.max_paging,
            epoch: self.epoch,
            hypervisor: self.hypervisor,
            nacl: self.nacl.as_ref().map(|n| n.features()),
            fences: self.fences.clone(),
            vlen: self.vector.as_ref().map(|v| v.vlen()),
            compile: None,
        });
        fresh.signals = signals;
        // The tier and its code survive: the decoded pages they belong to are dropped.
        #[cfg(jit)]
        {
            fresh.jit = self.jit.take();
        }
        fresh.stats = self.stats;
        *self = fresh;
        self.pc = pc;
        self.x[10] = self.hart_id;
        self.x[11] = opaque;
    }

    /// Integer register `index` (0..32).
    pub fn reg(&self, index: usize) -> u64 {
        if index == 0 { 0 } else { self.x[index & 31] }
    }

    /// Sets integer register `index` (writes to x0 are ignored).
    pub fn set_reg(&mut self, index: usize, value: u64) {
        if index != 0 {
            self.x[index & 31] = value;
        }
    }

    /// Floating-point register `index` (0..32), raw bits.
    pub fn freg(&self, index: usize) -> u64 {
        self.f[index & 31]
    }

    /// The program counter.
    pub fn pc(&self) -> u64 {
        self.pc
    }

    /// Sets the program counter.
    pub fn set_pc(&mut self, pc: u64) {
        self.pc = pc;
    }

    /// The current privilege mode.
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// The virtualization mode: true while the hart runs a nested guest (VS/VU).
    pub fn virtualized(&self) -> bool {
        self.virt
    }

    /// Counters of the compiled tier, when it is on.
    pub fn compile_stats(&self) -> Option<CompileStats> {
        #[cfg(jit)]
        return self.jit.as_ref().map(|tier| tier.stats());
        #[cfg(not(jit))]
        None
    }

    /// NACL counters, if NACL is offered.
    pub fn nacl_stats(&self) -> Option<nacl::NaclStats> {
        self.nacl.as_ref().map(|n| n.stats)
    }

    /// Counters about this hart.
    pub fn stats(&self) -> HartStats {
        self.stats
    }

    /// The value of machine counter `counter` (what `cycle`/`instret` read).
    pub fn counter(&self, counter: Counter) -> u64 {
        let cell = self.machine_counters[counter as usize];
        cell.inhibited
            .unwrap_or(self.stats.instructions.wrapping_add(cell.offset))
    }

    /// Firmware control of machine counter `counter`: writes `value` if given,
    /// then lets it count (`running`) or freezes it (mcountinhibit).
    pub fn set_counter(&mut self, counter: Counter, value: Option<u64>, running: bool) {
        let value = value.unwrap_or(self.counter(counter));
        self.machine_counters[counter as usize] = if running {
            MachineCounter {
                offset: value.wrapping_sub(self.stats.instructions),
                inhibited: None,
            }
        } else {
            MachineCounter {
                offset: 0,
                inhibited: Some(value),
            }
        };
    }

    /// Answers the SBI call the hart exited with: a0 = `error`, a1 = `value`, and
    /// the pc moves past the ECALL.
    pub fn complete_sbi(&mut self, error: i64, value: u64) {
        self.x[10] = error as u64;
        self.x[11] = value;
        self.pc = self.pc.wrapping_add(4);
    }

    /// Delivers the data of the MMIO load the hart exited with.
    pub fn complete_mmio_read(&mut self, data: u64) {
        if let Some(pending) = self.pending_load.take() {
            self.finish_load(pending.op, data);
            self.pc = self.pc.wrapping_add(pending.op.len as u64);
        }
    }

    /// Raises an access fault for the pending MMIO access instead of completing it
    /// (no device answered).
    pub fn fail_mmio(&mut self, addr: u64) {
        if self.pending_load.take().is_some() {
            self.raise(Trap::new(trap::Cause::LoadAccess, addr));
        }
    }

    /// Sets the timer compare value (SBI set_timer from HS: same as writing stimecmp).
    pub fn set_timer(&mut self, deadline: u64) {
        self.csr.stimecmp = deadline;
    }

    /// Reads the `time` CSR: ticks of the timebase since the VM's epoch.
    #[inline]
    pub fn time(&self) -> u64 {
        const HZ: u64 = crate::layout::TIMEBASE_FREQUENCY;
        let elapsed = self.epoch.elapsed();
        elapsed.as_secs() * HZ + elapsed.subsec_nanos() as u64 * HZ / 1_000_000_000
    }

    /// Drops all cached translations and revalidates decoded instructions before
    /// their next use (after the VMM wrote guest memory, or an MXR change).
    pub fn flush_caches(&mut self) {
        self.tlb.flush_all();
        self.icache.fence();
        self.stats.tlb_flushes += 1;
    }
}
