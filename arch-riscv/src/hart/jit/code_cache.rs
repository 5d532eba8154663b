//! The code cache: one region that holds every compiled block of a hart, executed
//! through a read-execute view and written through a separate read-write one (W^X).
//!
//! Offsets into the cache name blocks (the decode cache's slots keep them), so the
//! mapping never moves. When it is full the tier empties it whole and starts over,
//! as QEMU does with its translation buffer: blocks are cheap to rebuild and the
//! hot ones come back first.

use std::ptr::NonNull;

/// Alignment of every block's first instruction.
const BLOCK_ALIGN: usize = 16;

/// Host page size the cache's size is rounded to (64 KiB on some aarch64 kernels, so
/// it is read at run time).
fn host_page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// A fixed-size region of executable memory, filled from the start.
///
/// The memory is mapped twice: read-execute where code runs, read-write at another
/// address where blocks are copied in. No page is ever writable and executable at
/// one address, and adding a block costs no `mprotect` (each one was a TLB
/// shootdown across the host CPUs that run the VM's threads).
pub struct CodeCache {
    base: NonNull<u8>,
    writable: NonNull<u8>,
    size: usize,
    used: usize,
}

// SAFETY: the mappings are owned by this value alone; the hart that owns it is the
// only thread that writes or runs them.
unsafe impl Send for CodeCache {}

/// Maps `size` bytes of `fd` shared with `protection`.
fn map(fd: libc::c_int, size: usize, protection: libc::c_int) -> Option<NonNull<u8>> {
    // SAFETY: a new shared mapping of our own memfd at an address of the kernel's
    // choice touches no existing memory.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            protection,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if at == libc::MAP_FAILED {
        None
    } else {
        NonNull::new(at as *mut u8)
    }
}

impl CodeCache {
    /// Maps `size` bytes (rounded up to whole pages), or `None` if the host refuses.
    pub fn new(size: usize) -> Option<CodeCache> {
        let page = host_page_size();
        let size = size.max(page).div_ceil(page) * page;
        // SAFETY: memfd_create takes a NUL-terminated name and flags; it makes a new
        // descriptor that this function owns.
        let fd = unsafe { libc::memfd_create(c"rvnest-code".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` is our memfd; ftruncate sizes it.
        let sized = unsafe { libc::ftruncate(fd, size as libc::off_t) } == 0;
        let base = sized
            .then(|| map(fd, size, libc::PROT_READ | libc::PROT_EXEC))
            .flatten();
        let writable = base.and_then(|_| map(fd, size, libc::PROT_READ | libc::PROT_WRITE));
        // SAFETY: the mappings keep the memory; the descriptor is no longer needed.
        unsafe { libc::close(fd) };
        match (base, writable) {
            (Some(base), Some(writable)) => Some(CodeCache {
                base,
                writable,
                size,
                // Offset 0 is never a block, so that a slot's zero means "none".
                used: BLOCK_ALIGN,
            }),
            (base, _) => {
                if let Some(base) = base {
                    // SAFETY: mapped above with this size, never handed out.
                    unsafe { libc::munmap(base.as_ptr() as *mut libc::c_void, size) };
                }
                None
            }
        }
    }

    /// The address of the first byte; blocks live at `base() + offset`.
    pub fn base(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes mapped.
    pub fn capacity(&self) -> usize {
        self.size
    }

    /// Copies `code` in and returns its offset, or `None` when it does not fit (the
    /// caller then flushes and retries).
    pub fn add(&mut self, code: &[u8]) -> Option<u32> {
        let start = self.used.next_multiple_of(BLOCK_ALIGN);
        let end = start.checked_add(code.len())?;
        if end > self.size || u32::try_from(start).is_err() {
            return None;
        }
        // SAFETY: [start, end) lies inside both views (end <= size); no code runs
        // there yet (nothing points to it before this returns), and only this
        // hart's thread writes the cache.
        unsafe {
            std::ptr::copy_nonoverlapping(
                code.as_ptr(),
                self.writable.as_ptr().add(start),
                code.len(),
            );
            jit_icache_coherence::clear_cache(
                self.base.as_ptr().add(start) as *const _,
                code.len(),
            )
            .ok()?;
            jit_icache_coherence::pipeline_flush_mt().ok()?;
        }
        self.used = end;
        Some(start as u32)
    }

    /// Forgets every block: the region is replaced by a fresh one (its base may
    /// move) and the old memory goes back to the host. The caller must have dropped
    /// every reference to a block first. `false` when the host refuses a new
    /// region; the cache is then left as it was.
    pub fn clear(&mut self) -> bool {
        // A fresh mapping rather than the old one zeroed: code is never written
        // again at an address that has run code, so no instruction cache (nor an
        // emulator's translation cache, which does not see writes through the
        // other view) can hold a stale block there.
        match CodeCache::new(self.size) {
            Some(fresh) => {
                *self = fresh;
                true
            }
            None => false,
        }
    }
}

impl Drop for CodeCache {
    fn drop(&mut self) {
        // SAFETY: both mappings were made by `new` with this size and are unmapped
        // once.
        unsafe {
            libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.size);
            libc::munmap(self.writable.as_ptr() as *mut libc::c_void, self.size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_the_cache_refuses_what_does_not_fit() {
        let mut cache = CodeCache::new(8192).expect("mmap");
        let first = cache.add(&[0xC3; 10]).expect("fits");
        assert_eq!(first as usize % BLOCK_ALIGN, 0);
        assert_ne!(first, 0);
        let second = cache.add(&[0x90; 100]).expect("fits");
        assert_eq!(second, first + 16);
        // SAFETY: the block was just written and the mapping is readable.
        let byte = unsafe { *((cache.base() + second as usize) as *const u8) };
        assert_eq!(byte, 0x90);
        assert!(cache.add(&vec![0; cache.capacity()]).is_none());
        assert!(cache.clear());
        assert_eq!(cache.add(&[1]), Some(first));
    }
}
