//! The code cache: one mapping that holds every compiled block of a hart, written
//! while it is read-write and executed only while it is read-execute (W^X).
//!
//! Offsets into the cache name blocks (the decode cache's slots keep them), so the
//! mapping never moves. When it is full the tier empties it whole and starts over,
//! as QEMU does with its translation buffer: blocks are cheap to rebuild and the
//! hot ones come back first.

use std::ptr::NonNull;

/// Alignment of every block's first instruction.
const BLOCK_ALIGN: usize = 16;

/// Host page size assumed for protection changes (the largest the supported hosts use
/// by default is 64 KiB on some aarch64 kernels, so it is read at run time).
fn host_page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// A fixed-size region of executable memory, filled from the start.
pub struct CodeCache {
    base: NonNull<u8>,
    size: usize,
    used: usize,
    page: usize,
}

// SAFETY: the mapping is owned by this value alone; the hart that owns it is the only
// thread that writes or runs it.
unsafe impl Send for CodeCache {}

impl CodeCache {
    /// Maps `size` bytes (rounded up to whole pages), or `None` if the host refuses.
    pub fn new(size: usize) -> Option<CodeCache> {
        let page = host_page_size();
        let size = size.max(page).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping at an address of the kernel's choice
        // touches no existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        Some(CodeCache {
            base: NonNull::new(base as *mut u8)?,
            size,
            // Offset 0 is never a block, so that a slot's zero means "none".
            used: BLOCK_ALIGN,
            page,
        })
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
        let first_page = start / self.page * self.page;
        let span = end.div_ceil(self.page) * self.page - first_page;
        // SAFETY: [first_page, first_page + span) lies inside the mapping (end <= size
        // and size is page aligned); no code in it runs while it is writable, because
        // only this hart's thread runs it and it is here, compiling.
        unsafe {
            let region = self.base.as_ptr().add(first_page) as *mut libc::c_void;
            if libc::mprotect(region, span, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                return None;
            }
            std::ptr::copy_nonoverlapping(code.as_ptr(), self.base.as_ptr().add(start), code.len());
            let ok = libc::mprotect(region, span, libc::PROT_READ | libc::PROT_EXEC) == 0;
            jit_icache_coherence::clear_cache(
                self.base.as_ptr().add(start) as *const _,
                code.len(),
            )
            .ok()?;
            jit_icache_coherence::pipeline_flush_mt().ok()?;
            if !ok {
                return None;
            }
        }
        self.used = end;
        Some(start as u32)
    }

    /// Forgets every block and gives the memory back to the host; the caller must
    /// have dropped every reference to a block first.
    pub fn clear(&mut self) {
        // SAFETY: the range is the whole mapping; MADV_DONTNEED on a private anonymous
        // mapping only drops its contents, which nothing refers to any more.
        unsafe {
            libc::madvise(
                self.base.as_ptr() as *mut libc::c_void,
                self.size,
                libc::MADV_DONTNEED,
            );
        }
        self.used = BLOCK_ALIGN;
    }
}

impl Drop for CodeCache {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this size and is unmapped once.
        unsafe {
            libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.size);
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
        cache.clear();
        assert_eq!(cache.add(&[1]), Some(first));
    }
}
