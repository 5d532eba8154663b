//! A vCPU's `kvm_run` page, mapped by us (not through kvm-ioctls' `VcpuFd`) so that
//! the signal handle of the vCPU can own it too: a kick from another thread writes
//! `immediate_exit` into a mapping that is guaranteed to still exist.
//!
//! Access discipline: `immediate_exit` (byte 1) is only ever accessed atomically, by
//! any thread. Everything from `exit_reason` (byte 8) on is only accessed by the vCPU
//! thread between two `KVM_RUN`s, by copying in and out; no reference into the page is
//! ever held.

use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};

use super::exits::{IMMEDIATE_EXIT_OFFSET, RUN_PREFIX, UNION_OFFSET};

/// The mapped `kvm_run` of one vCPU.
pub struct RunArea {
    base: NonNull<u8>,
    size: usize,
}

// SAFETY: the mapping is process-wide memory; the access discipline in the module
// docs (atomic byte for immediate_exit, copies by the owning vCPU thread for the rest)
// keeps concurrent use free of data races.
unsafe impl Send for RunArea {}
// SAFETY: as above.
unsafe impl Sync for RunArea {}

impl RunArea {
    /// Maps the `size` bytes (`KVM_GET_VCPU_MMAP_SIZE`) of `vcpu`'s run area.
    pub fn map(vcpu: &impl AsRawFd, size: usize) -> std::io::Result<RunArea> {
        if size < RUN_PREFIX {
            return Err(std::io::Error::other(format!(
                "kvm_run mmap size {size} is smaller than {RUN_PREFIX} bytes"
            )));
        }
        // SAFETY: a new shared mapping of the vCPU fd at a kernel-chosen address; no
        // existing memory is affected. The result is checked below.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                vcpu.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = NonNull::new(addr.cast::<u8>()).ok_or_else(|| std::io::Error::other("mmap"))?;
        Ok(RunArea { base, size })
    }

    fn immediate_exit(&self) -> &AtomicU8 {
        // SAFETY: the byte lies inside the mapping (size >= RUN_PREFIX), lives as long
        // as `self`, and is only ever accessed atomically (module docs).
        unsafe { AtomicU8::from_ptr(self.base.as_ptr().add(IMMEDIATE_EXIT_OFFSET)) }
    }

    /// Sets `immediate_exit`: the next (or current, once a signal interrupts it)
    /// `KVM_RUN` returns `EINTR` without entering the guest.
    pub fn request_exit(&self) {
        self.immediate_exit().store(1, Ordering::SeqCst);
    }

    /// Clears `immediate_exit` after the run it stopped.
    pub fn clear_exit_request(&self) {
        self.immediate_exit().store(0, Ordering::SeqCst);
    }

    /// Copies the exit payload (`exit_reason` to the end of the union) into `buf`;
    /// bytes 0..8 of `buf` are zeroed. Only the vCPU thread calls this, outside
    /// `KVM_RUN`.
    pub fn read(&self, buf: &mut [u8; RUN_PREFIX]) {
        buf[..8].fill(0);
        // SAFETY: bytes 8..RUN_PREFIX are inside the mapping; only the owning vCPU
        // thread touches them, and not while the kernel runs the vCPU; `buf` does not
        // overlap the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(8),
                buf.as_mut_ptr().add(8),
                RUN_PREFIX - 8,
            );
        }
    }

    /// Copies the exit union of `buf` back, with the answers the VMM put in it.
    pub fn write_union(&self, buf: &[u8; RUN_PREFIX]) {
        // SAFETY: as for `read`; the union lies inside the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(
                buf.as_ptr().add(UNION_OFFSET),
                self.base.as_ptr().add(UNION_OFFSET),
                RUN_PREFIX - UNION_OFFSET,
            );
        }
    }
}

impl Drop for RunArea {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; no reference into it
        // survives (the access discipline never hands one out).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.size);
        }
    }
}

// The uapi layout the arch-neutral decoder assumes, checked against kvm-bindings.
const _: () = {
    use kvm_bindings::kvm_run;
    use std::mem::offset_of;

    use super::exits::{EXIT_REASON_OFFSET, UNION_SIZE, offsets};
    assert!(offset_of!(kvm_run, immediate_exit) == IMMEDIATE_EXIT_OFFSET);
    assert!(offset_of!(kvm_run, exit_reason) == EXIT_REASON_OFFSET);
    assert!(offset_of!(kvm_run, __bindgen_anon_1) == UNION_OFFSET);
    assert!(size_of::<kvm_bindings::kvm_run__bindgen_ty_1>() == UNION_SIZE);
    assert!(offset_of!(kvm_run, __bindgen_anon_1.mmio.data) == offsets::MMIO_DATA);
    assert!(offset_of!(kvm_run, __bindgen_anon_1.mmio.len) == offsets::MMIO_LEN);
    assert!(offset_of!(kvm_run, __bindgen_anon_1.mmio.is_write) == offsets::MMIO_IS_WRITE);
    assert!(offset_of!(kvm_run, __bindgen_anon_1.riscv_sbi.args) == offsets::SBI_ARGS);
    assert!(offset_of!(kvm_run, __bindgen_anon_1.riscv_sbi.ret) == offsets::SBI_RET);
    assert!(offset_of!(kvm_run, __bindgen_anon_1.riscv_csr.ret_value) == offsets::CSR_RET_VALUE);
    assert!(
        offset_of!(kvm_run, __bindgen_anon_1.system_event.ndata) == offsets::SYSTEM_EVENT_NDATA
    );
    assert!(
        offset_of!(kvm_run, __bindgen_anon_1.system_event.__bindgen_anon_1)
            == offsets::SYSTEM_EVENT_DATA
    );
};
