//! What happens when a thread makes a system call outside its filter: the filter
//! answers `SECCOMP_RET_TRAP`, the kernel sends that thread `SIGSYS`, and this
//! handler writes one line naming the thread and the call to stderr, then ends the
//! process with [`BAD_SYSCALL_EXIT_CODE`] (Firecracker's sigsys handler does the
//! same). The handler only reads thread-local bytes and calls `write` and `_exit`,
//! which are async-signal-safe and allowed by every filter.

use std::cell::Cell;
use std::io;

/// The exit code after a denied system call: 128 + SIGSYS, as a shell reports a
/// process that SIGSYS killed.
pub const BAD_SYSCALL_EXIT_CODE: i32 = 128 + libc::SIGSYS;

/// `si_code` of a SIGSYS sent by seccomp (`SYS_SECCOMP`).
const SYS_SECCOMP: i32 = 1;

/// Longest thread name kept (Linux's own limit, without the NUL).
const NAME_LEN: usize = 15;

thread_local! {
    /// The calling thread's name, as given to [`set_thread_name`]; read by the handler.
    static THREAD_NAME: Cell<[u8; NAME_LEN]> = const { Cell::new([0; NAME_LEN]) };
}

/// Records the calling thread's name for the handler's message.
pub fn set_thread_name(name: &str) {
    let mut bytes = [0u8; NAME_LEN];
    let len = name.len().min(NAME_LEN);
    bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
    THREAD_NAME.with(|cell| cell.set(bytes));
}

/// Installs the SIGSYS handler for the whole process.
pub fn install_handler() -> io::Result<()> {
    // SAFETY: sigaction is plain data; zeroed is a valid starting value.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigsys as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO;
    // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame. Every other
    // signal is blocked while the handler runs.
    unsafe { libc::sigfillset(&mut action.sa_mask) };
    // SAFETY: `action` is initialized, the handler has the SA_SIGINFO signature, and
    // a null old-action pointer is allowed.
    if unsafe { libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

extern "C" fn on_sigsys(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    // The SIGSYS layout: signo, errno, code, padding, then `_sigsys` { call_addr (a
    // pointer), syscall (int), arch }: the call number is the 7th 32-bit word on
    // every 64-bit Linux.
    // SAFETY: a siginfo_t is 128 bytes, so word 6 is inside it.
    let syscall = unsafe { *(info as *const i32).add(6) };
    let mut line = Line::default();
    line.push(b"rvnest: thread '");
    let name = THREAD_NAME.with(Cell::get);
    let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    line.push(if len == 0 { b"?" } else { &name[..len] });
    if signal == libc::SIGSYS && code == SYS_SECCOMP {
        line.push(b"' made a system call outside its seccomp filter: ");
        line.push_number(i64::from(syscall));
        if let Some(name) = syscall_name(i64::from(syscall)) {
            line.push(b" (");
            line.push(name.as_bytes());
            line.push(b")");
        }
    } else {
        line.push(b"' got an unexpected SIGSYS");
    }
    line.push(b"; exiting\n");
    // SAFETY: write and _exit are async-signal-safe; the buffer is valid for `len`.
    unsafe {
        libc::write(2, line.bytes.as_ptr().cast(), line.len);
        libc::_exit(BAD_SYSCALL_EXIT_CODE);
    }
}

/// A message built without allocating (the handler may interrupt the allocator).
struct Line {
    bytes: [u8; 160],
    len: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            bytes: [0; 160],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, text: &[u8]) {
        let room = self.bytes.len() - self.len;
        let n = text.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&text[..n]);
        self.len += n;
    }

    fn push_number(&mut self, value: i64) {
        if value < 0 {
            self.push(b"-");
        }
        let mut digits = [0u8; 20];
        let mut n = value.unsigned_abs();
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }
}

/// Names of the system calls a compromised VMM would reach for first, and of those
/// the threads make; others are logged by number only.
macro_rules! names {
    ($($name:ident),* $(,)?) => {
        &[$((libc::$name as i64, stringify!($name))),*]
    };
}

#[cfg(target_arch = "x86_64")]
const ARCH_NAMES: &[(i64, &str)] = names!(
    SYS_open,
    SYS_fork,
    SYS_vfork,
    SYS_unlink,
    SYS_rename,
    SYS_mkdir,
    SYS_rmdir,
    SYS_chmod,
    SYS_chown,
    SYS_stat,
    SYS_lstat,
    SYS_poll,
    SYS_epoll_wait,
    SYS_access,
    SYS_pipe,
    SYS_dup2,
    SYS_select,
    SYS_alarm,
    SYS_getpgrp,
    SYS_creat,
    SYS_link,
    SYS_symlink,
    SYS_readlink,
    SYS_uselib,
    SYS_arch_prctl,
    SYS_iopl,
    SYS_ioperm,
);
#[cfg(not(target_arch = "x86_64"))]
const ARCH_NAMES: &[(i64, &str)] = &[];

const NAMES: &[(i64, &str)] = names!(
    SYS_read,
    SYS_write,
    SYS_openat,
    SYS_close,
    SYS_ioctl,
    SYS_mmap,
    SYS_mprotect,
    SYS_munmap,
    SYS_brk,
    SYS_execve,
    SYS_execveat,
    SYS_clone,
    SYS_clone3,
    SYS_kill,
    SYS_tkill,
    SYS_tgkill,
    SYS_ptrace,
    SYS_socket,
    SYS_connect,
    SYS_bind,
    SYS_listen,
    SYS_accept4,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_chdir,
    SYS_fchdir,
    SYS_setuid,
    SYS_setgid,
    SYS_setresuid,
    SYS_setresgid,
    SYS_setns,
    SYS_unshare,
    SYS_prctl,
    SYS_seccomp,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_kexec_load,
    SYS_reboot,
    SYS_unlinkat,
    SYS_renameat2,
    SYS_mkdirat,
    SYS_fchmodat,
    SYS_fchownat,
    SYS_linkat,
    SYS_symlinkat,
    SYS_getdents64,
    SYS_newfstatat,
    SYS_statx,
    SYS_fstat,
    SYS_lseek,
    SYS_pread64,
    SYS_pwrite64,
    SYS_readv,
    SYS_writev,
    SYS_fsync,
    SYS_fdatasync,
    SYS_fallocate,
    SYS_ftruncate,
    SYS_getppid,
    SYS_getuid,
    SYS_geteuid,
    SYS_getcwd,
    SYS_uname,
    SYS_sysinfo,
    SYS_socketpair,
    SYS_getsockopt,
    SYS_setsockopt,
    SYS_shutdown,
    SYS_dup,
    SYS_dup3,
    SYS_pipe2,
    SYS_fcntl,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_eventfd2,
    SYS_timerfd_create,
    SYS_signalfd4,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_futex,
    SYS_madvise,
    SYS_mremap,
    SYS_membarrier,
    SYS_memfd_create,
    SYS_userfaultfd,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_getrandom,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_sched_setaffinity,
    SYS_sched_getaffinity,
    SYS_set_robust_list,
    SYS_rseq,
    SYS_personality,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_name_to_handle_at,
    SYS_open_by_handle_at,
    SYS_ppoll,
    SYS_pselect6,
    SYS_wait4,
    SYS_waitid,
);

/// The name of system call `number` on this architecture, if it is a known one.
pub fn syscall_name(number: i64) -> Option<&'static str> {
    NAMES
        .iter()
        .chain(ARCH_NAMES)
        .find(|(n, _)| *n == number)
        .map(|(_, name)| name.strip_prefix("SYS_").unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_architecture_table() {
        assert_eq!(syscall_name(libc::SYS_getppid), Some("getppid"));
        assert_eq!(syscall_name(libc::SYS_openat), Some("openat"));
        assert_eq!(syscall_name(100_000), None);
    }

    #[test]
    fn numbers_print_without_allocating() {
        let mut line = Line::default();
        line.push_number(0);
        line.push(b" ");
        line.push_number(-38);
        line.push(b" ");
        line.push_number(i64::from(i32::MAX));
        assert_eq!(&line.bytes[..line.len], b"0 -38 2147483647");
    }
}
