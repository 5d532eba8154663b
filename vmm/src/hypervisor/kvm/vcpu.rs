//! A KVM vCPU as a [`Vcpu`], and the [`VcpuSignals`] other threads use to reach it.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use kvm_ioctls::VcpuFd;
use nacl::Features;
use vmm_sys_util::errno;
use vmm_sys_util::ioctl::{ioctl, ioctl_with_ref};
use vmm_sys_util::signal::{SIGRTMIN, register_signal_handler};

use super::exits::{self, KvmExit, RUN_PREFIX};
use super::ioctls::{KVM_INTERRUPT, KVM_INTERRUPT_SET, KVM_INTERRUPT_UNSET, KVM_RUN, KvmInterrupt};
use super::nacl_server::{NaclAnswer, NaclServer};
use super::onereg_hart::OneReg;
use super::regs::{self, GeneralCsr, TimerReg};
use super::run_area::RunArea;
use crate::hypervisor::{
    HypervisorError, MemoryRegion, SbiCall, Vcpu, VcpuCounters, VcpuExit, VcpuSignals,
};

/// The real-time signal that interrupts a vCPU thread in `KVM_RUN` (SIGRTMIN, as
/// Cloud Hypervisor uses; the handler does nothing, the point is the `EINTR`).
fn kick_signal() -> libc::c_int {
    SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

/// Installs the kick handler once per process (without SA_RESTART, so `KVM_RUN`
/// returns `EINTR`).
pub fn install_kick_handler() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            register_signal_handler(kick_signal(), on_kick)
                .map_err(|e| format!("cannot install the vCPU kick signal handler: {e}"))
        })
        .clone()
}

/// What a vCPU's signal handle shares with the vCPU.
pub struct KvmSignals {
    id: u32,
    /// A dup of the vCPU fd for `KVM_INTERRUPT`, which RISC-V KVM handles as an
    /// asynchronous vCPU ioctl (no vCPU mutex), so any thread may issue it.
    fd: File,
    run: Arc<RunArea>,
    /// The vCPU thread while it owns the vCPU; the lock keeps it alive across
    /// `pthread_kill` (it is cleared on that thread before the thread can end).
    thread: Mutex<Option<libc::pthread_t>>,
}

impl KvmSignals {
    fn set_irq(&self, level: bool) {
        let irq = KvmInterrupt {
            irq: if level {
                KVM_INTERRUPT_SET
            } else {
                KVM_INTERRUPT_UNSET
            },
        };
        // SAFETY: the fd is a vCPU fd (a dup of one); KVM_INTERRUPT reads exactly one
        // `struct kvm_interrupt`, which `irq` is; the result is checked.
        let ret = unsafe { ioctl_with_ref(&self.fd, KVM_INTERRUPT(), &irq) };
        if ret < 0 {
            tracing::error!(
                vcpu = self.id,
                level,
                error = %errno::Error::last(),
                "KVM_INTERRUPT failed"
            );
        }
    }
}

impl VcpuSignals for KvmSignals {
    fn kick(&self) {
        self.run.request_exit();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(thread) = *thread {
            // SAFETY: `thread` is the live vCPU thread: it is set by that thread and
            // cleared by it (under this lock) before it stops owning the vCPU.
            unsafe {
                libc::pthread_kill(thread, kick_signal());
            }
        }
    }

    fn set_external_interrupt(&self, level: bool) {
        // KVM kicks the vCPU itself when the line rises.
        self.set_irq(level);
    }

    fn send_ipi(&self) {
        // KVM serves SBI IPI in the kernel, so the VMM's SBI code never gets here for
        // a KVM vCPU. Nor could it deliver one: the ABI has no asynchronous way to
        // raise VSSIP, and a ONE_REG write of sip from the vCPU thread would race with
        // KVM_INTERRUPT and the kernel's timer and lose their pending bits.
        tracing::warn!(vcpu = self.id, "IPI from the VMM dropped: KVM owns SBI IPI");
    }

    fn remote_fence_i(&self) {
        // KVM serves SBI RFENCE in the kernel and keeps the guest's instruction
        // fetches coherent; the VMM never rewrites guest code behind its back. A kick
        // makes the vCPU pass through the kernel's request processing.
        self.kick();
    }

    fn remote_sfence_vma(&self) {
        // As above: guest TLB maintenance for SBI RFENCE happens in the kernel.
        self.kick();
    }
}

/// Counters this backend keeps: returns from `KVM_RUN` to userspace. What KVM handles
/// in the kernel (most SBI calls, traps, interrupts) is invisible here.
#[derive(Default)]
struct Stats {
    exits: AtomicU64,
    sbi_exits: AtomicU64,
    csr_exits: AtomicU64,
}

/// Which answer the pending exit expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    None,
    MmioRead,
    Sbi,
}

/// One KVM vCPU.
pub struct KvmVcpu {
    id: u32,
    fd: VcpuFd,
    run: Arc<RunArea>,
    signals: Arc<KvmSignals>,
    /// The last exit's payload, answered in place and copied back before the run.
    buf: Box<[u8; RUN_PREFIX]>,
    pending: Pending,
    bound: bool,
    stats: Stats,
    /// SBI NACL served over ONE_REG, when the guest hypervisor is offered it.
    nacl: Option<NaclServer>,
    /// Guest RAM once mapped (NACL's shared memory is in it).
    ram: Arc<OnceLock<MemoryRegion>>,
}

/// The vCPU's registers through `KVM_{GET,SET}_ONE_REG`.
struct VcpuRegs<'a>(&'a VcpuFd);

impl OneReg for VcpuRegs<'_> {
    fn get(&self, id: u64) -> Result<u64, String> {
        get_reg(self.0, id).map_err(|e| e.to_string())
    }

    fn set(&mut self, id: u64, value: u64) -> Result<(), String> {
        set_reg(self.0, id, value).map_err(|e| e.to_string())
    }
}

impl KvmVcpu {
    /// Wraps vCPU `id`'s fd, mapping its run area of `run_size` bytes. With `nacl`,
    /// the vCPU serves SBI NACL calls with those features itself, reading the shared
    /// memory from `ram` once the VM has mapped it.
    pub fn new(
        id: u32,
        fd: VcpuFd,
        run_size: usize,
        nacl: Option<Features>,
        ram: Arc<OnceLock<MemoryRegion>>,
    ) -> Result<KvmVcpu, HypervisorError> {
        let fail = |reason: String| HypervisorError::Vcpu { id, reason };
        let run = Arc::new(
            RunArea::map(&fd, run_size).map_err(|e| fail(format!("Cannot map kvm_run: {e}")))?,
        );
        // SAFETY: `fd` is an open vCPU fd for the whole borrow (it is owned by `fd`,
        // which outlives this statement).
        let dup = unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) }
            .try_clone_to_owned()
            .map_err(|e| fail(format!("Cannot duplicate the vCPU fd: {e}")))?;
        let signals = Arc::new(KvmSignals {
            id,
            fd: File::from(dup),
            run: run.clone(),
            thread: Mutex::new(None),
        });
        Ok(KvmVcpu {
            id,
            fd,
            run,
            signals,
            buf: Box::new([0u8; RUN_PREFIX]),
            pending: Pending::None,
            bound: false,
            stats: Stats::default(),
            nacl: nacl.map(NaclServer::new),
            ram,
        })
    }

    /// Serves a NACL call the kernel forwarded, leaving the answer for the next run.
    fn serve_nacl(&mut self, call: &SbiCall) -> Result<(), HypervisorError> {
        let Some(server) = self.nacl.as_mut() else {
            return Ok(());
        };
        let ram = self.ram.get().copied();
        let answer = server
            .serve(&mut VcpuRegs(&self.fd), &ram, call.function, call.args)
            .map_err(|e| HypervisorError::Vcpu {
                id: self.id,
                reason: format!("NACL over ONE_REG: {e}"),
            })?;
        let (error, value) = match answer {
            NaclAnswer::Return { error, value } => (error, value),
            // KVM writes ret[] to a0/a1 when it completes the exit: the SRET context's.
            NaclAnswer::Resumed { a0, a1 } => (a0 as i64, a1),
        };
        exits::set_sbi_return(&mut self.buf[..], error, value)
            .map_err(|e| self.error(e.to_string()))?;
        self.pending = Pending::Sbi;
        Ok(())
    }

    /// The vCPU fd (for configuration before the first run).
    pub fn fd(&self) -> &VcpuFd {
        &self.fd
    }

    fn error(&self, reason: String) -> HypervisorError {
        HypervisorError::Vcpu {
            id: self.id,
            reason,
        }
    }

    fn get(&self, id: u64) -> Result<u64, HypervisorError> {
        get_reg(&self.fd, id).map_err(|e| self.error(format!("ONE_REG get {id:#x}: {e}")))
    }

    fn set(&self, id: u64, value: u64) -> Result<(), HypervisorError> {
        set_reg(&self.fd, id, value).map_err(|e| self.error(format!("ONE_REG set {id:#x}: {e}")))
    }

    /// Records the calling thread as the vCPU's, for kicks.
    fn bind_thread(&mut self) {
        if !self.bound {
            // SAFETY: pthread_self has no preconditions.
            let me = unsafe { libc::pthread_self() };
            *self
                .signals
                .thread
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(me);
            self.bound = true;
        }
    }

    /// One `KVM_RUN`; `Ok(None)` when the exit was handled here and the guest should
    /// simply be resumed.
    fn run_once(&mut self) -> Result<Option<VcpuExit>, HypervisorError> {
        if self.pending != Pending::None {
            self.run.write_union(&self.buf);
            self.pending = Pending::None;
        }
        // SAFETY: the fd is a vCPU fd; KVM_RUN takes no argument. The kvm_run page it
        // writes is only read by this thread after the ioctl returns.
        let ret = unsafe { ioctl(&self.fd, KVM_RUN()) };
        if ret < 0 {
            let e = errno::Error::last();
            return match e.errno() {
                libc::EINTR => {
                    self.run.clear_exit_request();
                    Ok(Some(VcpuExit::Interrupted))
                }
                libc::EAGAIN => Ok(None),
                _ => Err(self.error(format!("KVM_RUN failed: {e}"))),
            };
        }
        self.stats.exits.fetch_add(1, Ordering::Relaxed);
        self.run.read(&mut self.buf);
        let exit = exits::decode(&self.buf[..]).map_err(|e| self.error(e.to_string()))?;
        Ok(match exit {
            KvmExit::MmioRead { addr, len } => {
                self.pending = Pending::MmioRead;
                Some(VcpuExit::MmioRead { addr, len })
            }
            KvmExit::MmioWrite { addr, len, data } => Some(VcpuExit::MmioWrite { addr, len, data }),
            KvmExit::Sbi(call) if call.extension == nacl::EXTENSION_ID && self.nacl.is_some() => {
                // NACL is served here, next to the vCPU's registers, as the soft
                // backend serves it next to the hart's state.
                self.stats.sbi_exits.fetch_add(1, Ordering::Relaxed);
                self.serve_nacl(&call)?;
                None
            }
            KvmExit::Sbi(call) => {
                self.stats.sbi_exits.fetch_add(1, Ordering::Relaxed);
                self.pending = Pending::Sbi;
                Some(VcpuExit::Sbi(call))
            }
            KvmExit::Csr {
                csr_num,
                new_value,
                write_mask,
            } => {
                // Only CSRs whose in-kernel emulation is absent get here (the AIA
                // IMSIC CSRs without an in-kernel AIA, which the guest has no reason to
                // touch: its FDT has a PLIC and no IMSIC). They read as zero and
                // ignore writes.
                let count = self.stats.csr_exits.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::debug!(
                    vcpu = self.id,
                    count,
                    csr = format_args!("{csr_num:#x}"),
                    new_value,
                    write_mask,
                    "CSR access emulated as read-zero/write-ignore"
                );
                exits::set_csr_return(&mut self.buf[..], 0)
                    .map_err(|e| self.error(e.to_string()))?;
                self.run.write_union(&self.buf);
                None
            }
            exit @ (KvmExit::Shutdown { .. } | KvmExit::Crash) => match exit.as_srst_failure() {
                // The shared SBI code turns this into "shutdown, system failure".
                Some(call) => Some(VcpuExit::Sbi(call)),
                None => Some(VcpuExit::Shutdown),
            },
            KvmExit::Reset => Some(VcpuExit::Reset),
            KvmExit::Interrupted => Some(VcpuExit::Interrupted),
            KvmExit::FailEntry { reason } => {
                return Err(self.error(format!(
                    "KVM could not enter the guest (hardware reason {reason:#x})"
                )));
            }
            KvmExit::InternalError { suberror } => {
                return Err(self.error(format!("KVM internal error (suberror {suberror})")));
            }
            KvmExit::Other {
                exit_reason,
                detail,
            } => {
                return Err(self.error(format!(
                    "Unexpected KVM exit {exit_reason} (detail {detail})"
                )));
            }
        })
    }
}

impl Drop for KvmVcpu {
    fn drop(&mut self) {
        // Kicks must not target this thread once it stops owning the vCPU.
        *self
            .signals
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Vcpu for KvmVcpu {
    fn started_by_kernel(&self) -> bool {
        true
    }

    fn run(&mut self) -> Result<VcpuExit, HypervisorError> {
        self.bind_thread();
        loop {
            if let Some(exit) = self.run_once()? {
                return Ok(exit);
            }
        }
    }

    fn reset(&mut self, pc: u64, opaque: u64) -> Result<(), HypervisorError> {
        // The SBI boot state: S-mode, a0 = hart id, a1 = opaque, MMU and interrupts
        // off (Linux's boot protocol; kvmtool and QEMU set the same). The guest's
        // sstatus (CSR) is separate from the core `mode` register, which KVM keeps
        // in the sstatus.SPP it returns to the guest with.
        self.set(regs::csr(GeneralCsr::Sstatus), 0)?;
        self.set(regs::csr(GeneralCsr::Sie), 0)?;
        self.set(regs::csr(GeneralCsr::Satp), 0)?;
        self.set(regs::core_pc(), pc)?;
        self.set(regs::core_x(10), u64::from(self.id))?;
        self.set(regs::core_x(11), opaque)?;
        self.set(regs::core_mode(), regs::MODE_S)?;
        Ok(())
    }

    fn complete_mmio_read(&mut self, data: u64) {
        if self.pending == Pending::MmioRead {
            // The buffer is RUN_PREFIX long, so this cannot fail.
            let _ = exits::complete_mmio_read(&mut self.buf[..], data);
        }
    }

    fn fail_mmio(&mut self, addr: u64) {
        // KVM's RISC-V ABI has no way to turn an MMIO exit into an access fault: the
        // kernel completes the load on the next KVM_RUN. Unbacked reads return 0, as
        // on kvmtool and QEMU/KVM.
        tracing::debug!(
            vcpu = self.id,
            addr = format_args!("{addr:#x}"),
            "MMIO access to nothing: reads as zero"
        );
        self.complete_mmio_read(0);
    }

    fn set_sbi_return(&mut self, error: i64, value: u64) {
        if self.pending == Pending::Sbi {
            let _ = exits::set_sbi_return(&mut self.buf[..], error, value);
        }
    }

    fn set_timer(&mut self, deadline: u64) {
        // KVM serves SBI TIME itself; a timer set by the VMM goes through ONE_REG.
        let result = self
            .set(regs::timer(TimerReg::Compare), deadline)
            .and_then(|()| self.set(regs::timer(TimerReg::State), regs::TIMER_STATE_ON));
        if let Err(e) = result {
            tracing::error!(vcpu = self.id, error = %e, "cannot program the timer");
        }
    }

    fn time(&self) -> u64 {
        self.get(regs::timer(TimerReg::Time)).unwrap_or_else(|e| {
            tracing::error!(vcpu = self.id, error = %e, "cannot read the time");
            0
        })
    }

    fn signals(&self) -> Arc<dyn VcpuSignals> {
        self.signals.clone()
    }

    fn counters(&self) -> VcpuCounters {
        // Only exits to userspace are visible to the VMM: `exits` counts every return
        // from KVM_RUN (CSR exits answered here included), `sbi_calls` the SBI calls
        // KVM forwards. The soft backend's instruction-level counters stay 0.
        VcpuCounters {
            exits: self.stats.exits.load(Ordering::Relaxed),
            sbi_calls: self.stats.sbi_exits.load(Ordering::Relaxed),
            nacl: self.nacl.as_ref().map(NaclServer::stats),
            ..VcpuCounters::default()
        }
    }

    fn nested_acceleration(&self) -> Option<Features> {
        self.nacl.as_ref().map(NaclServer::features)
    }
}

/// Reads a 64-bit ONE_REG register.
pub fn get_reg(fd: &VcpuFd, id: u64) -> Result<u64, errno::Error> {
    let mut bytes = [0u8; 8];
    fd.get_one_reg(id, &mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}

/// Writes a 64-bit ONE_REG register.
pub fn set_reg(fd: &VcpuFd, id: u64, value: u64) -> Result<(), errno::Error> {
    fd.set_one_reg(id, &value.to_ne_bytes()).map(|_| ())
}
