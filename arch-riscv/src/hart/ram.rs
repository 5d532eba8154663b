//! Guest RAM as the hart sees it: one contiguous host mapping, shared by all harts.
//!
//! Every access goes through atomics of the access's width with relaxed ordering, so
//! concurrent harts never form a Rust data race; on x86_64 and aarch64 a relaxed
//! aligned atomic load or store is a plain instruction. Misaligned accesses are split
//! into bytes by the caller.

use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};

/// A guest-physical RAM region backed by host memory.
#[derive(Clone, Copy, Debug)]
pub struct GuestRam {
    base: u64,
    size: u64,
    host: *mut u8,
}

// SAFETY: GuestRam is a pointer to memory that `GuestRam::new`'s caller guarantees to
// outlive every hart; all accesses through it are atomic, so sharing it between
// threads cannot cause data races.
unsafe impl Send for GuestRam {}
// SAFETY: as for Send: accesses are atomic and the mapping outlives the harts.
unsafe impl Sync for GuestRam {}

impl GuestRam {
    /// Describes RAM at guest-physical `base`, `size` bytes long, mapped at `host`.
    ///
    /// # Safety
    /// `host` must point to `size` bytes, aligned to 4 KiB, that stay mapped, readable
    /// and writable for as long as any hart or copy of this value exists, and that
    /// nothing accesses non-atomically while harts run.
    pub unsafe fn new(base: u64, host: *mut u8, size: u64) -> GuestRam {
        GuestRam { base, size, host }
    }

    /// Guest-physical base address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether `[paddr, paddr + len)` lies inside RAM.
    #[inline]
    pub fn contains(&self, paddr: u64, len: u64) -> bool {
        paddr.wrapping_sub(self.base) < self.size
            && paddr - self.base <= self.size - len.min(self.size)
    }

    /// Host address of guest-physical `paddr`, which must lie inside RAM.
    #[inline]
    pub fn host_addr(&self, paddr: u64) -> usize {
        debug_assert!(self.contains(paddr, 1));
        self.host as usize + (paddr - self.base) as usize
    }

    /// The host pointer of guest-physical `paddr` if `[paddr, paddr + len)` is RAM.
    #[inline]
    pub fn host_ptr(&self, paddr: u64, len: u64) -> Option<*mut u8> {
        if self.contains(paddr, len) {
            Some(self.host_addr(paddr) as *mut u8)
        } else {
            None
        }
    }

    /// Reads `len` (1, 2, 4 or 8) bytes at guest-physical `paddr`, zero-extended;
    /// `None` outside RAM. Misaligned reads are assembled from bytes.
    pub fn read(&self, paddr: u64, len: u64) -> Option<u64> {
        let ptr = self.host_ptr(paddr, len)?;
        // SAFETY: host_ptr checked that the `len` bytes lie inside the mapping.
        Some(unsafe { load(ptr, len) })
    }

    /// Writes the low `len` (1, 2, 4 or 8) bytes of `value` at guest-physical `paddr`;
    /// `false` outside RAM.
    pub fn write(&self, paddr: u64, len: u64, value: u64) -> bool {
        let Some(ptr) = self.host_ptr(paddr, len) else {
            return false;
        };
        // SAFETY: host_ptr checked that the `len` bytes lie inside the mapping.
        unsafe { store(ptr, len, value) };
        true
    }

    /// Copies `data` into RAM at `paddr` (image loading); `false` if it does not fit.
    pub fn write_bytes(&self, paddr: u64, data: &[u8]) -> bool {
        let Some(ptr) = self.host_ptr(paddr, data.len() as u64) else {
            return false;
        };
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: host_ptr checked that the whole range is inside the mapping.
            unsafe { AtomicU8::from_ptr(ptr.add(i)).store(*byte, Ordering::Relaxed) };
        }
        true
    }
}

/// Loads `len` bytes at `ptr`, zero-extended, as one atomic access when aligned.
///
/// # Safety
/// `ptr..ptr + len` must lie inside a live guest RAM mapping.
#[inline(always)]
pub unsafe fn load(ptr: *mut u8, len: u64) -> u64 {
    let aligned = (ptr as usize) & (len as usize - 1) == 0;
    // SAFETY: the caller guarantees the range is mapped; alignment was checked before
    // any wider atomic type is used in the arms below.
    unsafe {
        match len {
            8 if aligned => AtomicU64::from_ptr(ptr.cast()).load(Ordering::Relaxed),
            4 if aligned => AtomicU32::from_ptr(ptr.cast()).load(Ordering::Relaxed) as u64,
            2 if aligned => AtomicU16::from_ptr(ptr.cast()).load(Ordering::Relaxed) as u64,
            _ => {
                let mut value = 0u64;
                for i in 0..len as usize {
                    let byte = AtomicU8::from_ptr(ptr.add(i)).load(Ordering::Relaxed);
                    value |= (byte as u64) << (8 * i);
                }
                value
            }
        }
    }
}

/// Stores the low `len` bytes of `value` at `ptr`, as one atomic access when aligned.
///
/// # Safety
/// `ptr..ptr + len` must lie inside a live guest RAM mapping.
#[inline(always)]
pub unsafe fn store(ptr: *mut u8, len: u64, value: u64) {
    let aligned = (ptr as usize) & (len as usize - 1) == 0;
    // SAFETY: the caller guarantees the range is mapped; alignment was checked before
    // any wider atomic type is used in the arms below.
    unsafe {
        match len {
            8 if aligned => AtomicU64::from_ptr(ptr.cast()).store(value, Ordering::Relaxed),
            4 if aligned => AtomicU32::from_ptr(ptr.cast()).store(value as u32, Ordering::Relaxed),
            2 if aligned => AtomicU16::from_ptr(ptr.cast()).store(value as u16, Ordering::Relaxed),
            _ => {
                for i in 0..len as usize {
                    AtomicU8::from_ptr(ptr.add(i))
                        .store((value >> (8 * i)) as u8, Ordering::Relaxed);
                }
            }
        }
    }
}
