//! The default allow lists, one per thread kind, from what each thread was seen to
//! call (strace of boots with every virtio device, the API tests, the KVM backend's
//! ioctls) and nothing more. Numbers come from `libc::SYS_*`, so a list that names a
//! call an architecture does not have fails to compile there: the lists are checked
//! on x86_64, aarch64 and riscv64 builds alike.
//!
//! Arguments are checked where they make the difference: `ioctl` by request number,
//! `mmap`/`mprotect` without `PROT_EXEC` outside the vCPU threads (only the compiled
//! tier makes code), `openat` read-only with `O_CLOEXEC` (glibc's allocator reads
//! `/proc/sys/vm/overcommit_memory` once, from whichever thread frees first, as Cloud
//! Hypervisor found), `socket` for `AF_UNIX` only, `tgkill` for the vCPU kick signal
//! and `SIGABRT` only, `rt_sigaction` for `SIGABRT` only (so that a panic still
//! aborts).

use std::collections::BTreeMap;

use seccompiler::{
    SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond, SeccompRule,
};

use super::ThreadKind;

/// Syscall number to the rules that allow it (an empty list: any arguments).
pub type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// The signal that kicks a KVM vCPU out of `KVM_RUN` (glibc's `SIGRTMIN`; see
/// `hypervisor/kvm/vcpu.rs`).
const KICK_SIGNAL: u64 = 34;

/// An ioctl request as the filter compares it (`libc::Ioctl` is `c_ulong` on glibc,
/// `c_int` elsewhere).
#[allow(clippy::unnecessary_cast)]
fn request(number: libc::Ioctl) -> u64 {
    number as u64
}

/// Terminal ioctls: the console's raw mode is restored when the VM ends.
fn terminal_ioctls() -> Vec<u64> {
    [libc::TCGETS, libc::TCSETS, libc::TCSETSW, libc::TCSETSF]
        .into_iter()
        .map(request)
        .collect()
}

/// The TAP's offload ioctl: virtio-net sets the offloads the guest accepted when the
/// guest activates or resets the device (a register write on a vCPU thread, or the
/// device thread).
fn tap_ioctls() -> Vec<u64> {
    vec![request(devices::virtio::net::TUNSETOFFLOAD)]
}

/// The ioctls the KVM backend makes once the guest runs: on a vCPU fd from its own
/// thread (`KVM_RUN`, ONE_REG), `KVM_INTERRUPT` (an asynchronous vCPU ioctl on RISC-V,
/// from whichever thread raises the PLIC's line) and `KVM_IRQ_LINE` on the VM fd
/// (the in-kernel AIA's wired sources).
#[cfg(target_arch = "riscv64")]
fn kvm_ioctls() -> Vec<u64> {
    use crate::hypervisor::kvm::ioctls::{
        KVM_GET_ONE_REG, KVM_INTERRUPT, KVM_IRQ_LINE, KVM_RUN, KVM_SET_ONE_REG,
    };
    vec![
        KVM_RUN(),
        KVM_GET_ONE_REG(),
        KVM_SET_ONE_REG(),
        KVM_INTERRUPT(),
        KVM_IRQ_LINE(),
    ]
}

/// The KVM backend exists only on riscv64 hosts.
#[cfg(not(target_arch = "riscv64"))]
fn kvm_ioctls() -> Vec<u64> {
    Vec::new()
}

/// The default rules of `kind`.
pub fn rules(kind: ThreadKind) -> Result<Rules> {
    let mut rules = Rules::new();
    common(&mut rules)?;
    match kind {
        ThreadKind::Vmm => vmm(&mut rules)?,
        ThreadKind::Api => api(&mut rules)?,
        ThreadKind::Devices => devices(&mut rules)?,
        ThreadKind::Vcpu => vcpu(&mut rules)?,
    }
    if kind != ThreadKind::Vcpu {
        no_exec_memory(&mut rules)?;
    }
    Ok(rules)
}

type Result<T> = std::result::Result<T, seccompiler::BackendError>;

fn allow(rules: &mut Rules, calls: &[libc::c_long]) {
    for &call in calls {
        rules.insert(call, Vec::new());
    }
}

/// Allows `call` when argument `index` equals one of `values` (32-bit compare).
fn allow_arg_in(rules: &mut Rules, call: libc::c_long, index: u8, values: &[u64]) -> Result<()> {
    // An empty rule list would allow every argument: nothing to add instead.
    if values.is_empty() {
        return Ok(());
    }
    let entry = rules.entry(call).or_default();
    for &value in values {
        entry.push(SeccompRule::new(vec![Cond::new(
            index,
            Len::Dword,
            Op::Eq,
            value,
        )?])?);
    }
    Ok(())
}

/// What every thread needs: memory, locks, time, its own exit, reading and writing
/// descriptors it already has, logging, and a clean abort.
fn common(rules: &mut Rules) -> Result<()> {
    allow(
        rules,
        &[
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_readv,
            libc::SYS_writev,
            libc::SYS_close,
            libc::SYS_futex,
            libc::SYS_sched_yield,
            libc::SYS_munmap,
            libc::SYS_mremap,
            libc::SYS_madvise,
            libc::SYS_brk,
            libc::SYS_rt_sigreturn,
            libc::SYS_rt_sigprocmask,
            libc::SYS_sigaltstack,
            libc::SYS_restart_syscall,
            libc::SYS_exit,
            libc::SYS_exit_group,
            libc::SYS_getrandom,
            libc::SYS_gettid,
            libc::SYS_getpid,
            libc::SYS_clock_gettime,
            libc::SYS_clock_nanosleep,
            libc::SYS_nanosleep,
        ],
    );
    allow_arg_in(
        rules,
        libc::SYS_tgkill,
        2,
        &[KICK_SIGNAL, libc::SIGABRT as u64],
    )?;
    allow_arg_in(rules, libc::SYS_rt_sigaction, 0, &[libc::SIGABRT as u64])?;
    allow_arg_in(
        rules,
        libc::SYS_openat,
        2,
        &[(libc::O_RDONLY | libc::O_CLOEXEC) as u64],
    )?;
    Ok(())
}

/// `mmap` and `mprotect` only without `PROT_EXEC` (argument 2).
fn no_exec_memory(rules: &mut Rules) -> Result<()> {
    for call in [libc::SYS_mmap, libc::SYS_mprotect] {
        rules.insert(
            call,
            vec![SeccompRule::new(vec![Cond::new(
                2,
                Len::Dword,
                Op::MaskedEq(libc::PROT_EXEC as u64),
                0,
            )?])?],
        );
    }
    Ok(())
}

/// Waiting on epoll, under both names.
fn epoll(rules: &mut Rules) {
    allow(rules, &[libc::SYS_epoll_pwait, libc::SYS_epoll_ctl]);
    #[cfg(target_arch = "x86_64")]
    allow(rules, &[libc::SYS_epoll_wait]);
}

/// Setting `O_NONBLOCK` on sockets (`FIONBIO`, or `fcntl`).
fn nonblocking(rules: &mut Rules) -> Result<()> {
    allow_arg_in(rules, libc::SYS_ioctl, 1, &[request(libc::FIONBIO)])?;
    allow_arg_in(
        rules,
        libc::SYS_fcntl,
        1,
        &[libc::F_GETFL as u64, libc::F_SETFL as u64],
    )
}

/// The event loop after boot: API requests (pause, counters, metrics), console
/// input (with a retry timer while the UART's FIFO is full), raising the UART's
/// interrupt, SIGTERM, and the end of the VM (joining threads, unmapping memory,
/// removing the vsock and API sockets, restoring the terminal).
fn vmm(rules: &mut Rules) -> Result<()> {
    epoll(rules);
    allow(
        rules,
        &[
            libc::SYS_timerfd_create,
            libc::SYS_timerfd_settime,
            libc::SYS_epoll_create1,
            libc::SYS_statx,
            libc::SYS_newfstatat,
            libc::SYS_fstat,
            libc::SYS_unlinkat,
            libc::SYS_fsync,
        ],
    );
    #[cfg(target_arch = "x86_64")]
    allow(rules, &[libc::SYS_unlink, libc::SYS_lstat, libc::SYS_stat]);
    let mut ioctls = terminal_ioctls();
    ioctls.extend(kvm_ioctls());
    allow_arg_in(rules, libc::SYS_ioctl, 1, &ioctls)
}

/// The API thread: its socket's connections.
fn api(rules: &mut Rules) -> Result<()> {
    epoll(rules);
    allow(
        rules,
        &[
            libc::SYS_accept4,
            libc::SYS_recvfrom,
            libc::SYS_sendto,
            libc::SYS_recvmsg,
            libc::SYS_sendmsg,
            libc::SYS_shutdown,
            libc::SYS_statx,
            libc::SYS_newfstatat,
            libc::SYS_unlinkat,
        ],
    );
    #[cfg(target_arch = "x86_64")]
    allow(rules, &[libc::SYS_unlink, libc::SYS_lstat]);
    nonblocking(rules)
}

/// The virtio workers: disk images (positioned I/O, flush, discard), the TAP
/// device, the vsock Unix sockets (accepting host connections, connecting to
/// `<uds_path>_<port>` for the guest), the entropy source, and interrupts.
fn devices(rules: &mut Rules) -> Result<()> {
    epoll(rules);
    allow(
        rules,
        &[
            libc::SYS_pread64,
            libc::SYS_pwrite64,
            libc::SYS_preadv,
            libc::SYS_pwritev,
            libc::SYS_lseek,
            libc::SYS_fsync,
            libc::SYS_fdatasync,
            libc::SYS_fallocate,
            libc::SYS_accept4,
            libc::SYS_connect,
            libc::SYS_recvfrom,
            libc::SYS_sendto,
            libc::SYS_recvmsg,
            libc::SYS_sendmsg,
            libc::SYS_shutdown,
            libc::SYS_getsockopt,
        ],
    );
    allow_arg_in(rules, libc::SYS_socket, 0, &[libc::AF_UNIX as u64])?;
    nonblocking(rules)?;
    let mut ioctls = kvm_ioctls();
    ioctls.extend(tap_ioctls());
    allow_arg_in(rules, libc::SYS_ioctl, 1, &ioctls)
}

/// A vCPU: the hart itself (KVM's ioctls, or the compiled tier's code memory and
/// instruction-cache maintenance), MMIO to the devices (the UART writes stdout, a
/// queue notification writes an eventfd) and waiting for interrupts.
fn vcpu(rules: &mut Rules) -> Result<()> {
    allow(rules, &[libc::SYS_mmap, libc::SYS_mprotect]);
    // A full code cache is replaced by a fresh memfd mapped twice; the thread's CPU
    // time goes into its last log line.
    allow(
        rules,
        &[
            libc::SYS_memfd_create,
            libc::SYS_ftruncate,
            libc::SYS_getrusage,
        ],
    );
    #[cfg(any(target_arch = "riscv64", target_arch = "aarch64"))]
    allow(rules, &[libc::SYS_membarrier]);
    // riscv_flush_icache (__NR_arch_specific_syscall + 15), which libc does not name.
    #[cfg(target_arch = "riscv64")]
    allow(rules, &[259]);
    let mut ioctls = kvm_ioctls();
    ioctls.extend(tap_ioctls());
    allow_arg_in(rules, libc::SYS_ioctl, 1, &ioctls)
}
