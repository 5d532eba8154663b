//! Guest RAM: one anonymous mapping at [`RAM_BASE`], owned by the VMM through
//! vm-memory and lent to the backend.

use arch_riscv::layout::RAM_BASE;
use thiserror::Error;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use crate::hypervisor::MemoryRegion;

/// Failures to set up guest memory.
#[derive(Debug, Error)]
pub enum MemoryError {
    /// The mapping could not be created.
    #[error("Cannot allocate {size_mib} MiB of guest memory: {reason}")]
    Allocate {
        /// Requested size.
        size_mib: u64,
        /// Why.
        reason: String,
    },
}

/// The VM's RAM.
pub struct GuestMemory {
    mem: GuestMemoryMmap,
    size: u64,
    host: *mut u8,
}

// SAFETY: `host` points into `mem`'s mapping, which lives as long as this value; the
// pointer is only handed to the backend and used for guest-memory accesses.
unsafe impl Send for GuestMemory {}
// SAFETY: as above; shared use goes through vm-memory's volatile accessors or the
// backend's atomic accesses.
unsafe impl Sync for GuestMemory {}

impl GuestMemory {
    /// Maps `size_mib` MiB of zeroed RAM at [`RAM_BASE`].
    pub fn new(size_mib: u64) -> Result<GuestMemory, MemoryError> {
        let size = size_mib << 20;
        let fail = |reason: String| MemoryError::Allocate { size_mib, reason };
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(RAM_BASE), size as usize)])
            .map_err(|e| fail(e.to_string()))?;
        let host = mem
            .get_host_address(GuestAddress(RAM_BASE))
            .map_err(|e| fail(e.to_string()))?;
        Ok(GuestMemory { mem, size, host })
    }

    /// The region as the backend maps it.
    pub fn region(&self) -> MemoryRegion {
        MemoryRegion {
            gpa: RAM_BASE,
            size: self.size,
            host: self.host,
        }
    }

    /// The mapping as vm-memory has it, for the virtio devices.
    pub fn mmap(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole of RAM as a byte slice, for loading images before boot.
    ///
    /// # Safety
    /// No vCPU may run, and no other reference into guest RAM may exist, while the
    /// returned slice is alive.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `size` bytes long and lives as long as `self`; the
        // caller guarantees exclusive access for the slice's lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.host, self.size as usize) }
    }

    /// Whether `[gpa, gpa + len)` lies in RAM.
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        gpa >= RAM_BASE
            && gpa
                .checked_add(len)
                .is_some_and(|end| end <= RAM_BASE + self.size)
    }

    /// Copies guest RAM at `gpa` into `buf`; false if it is not all RAM.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> bool {
        self.contains(gpa, buf.len() as u64) && self.mem.read_slice(buf, GuestAddress(gpa)).is_ok()
    }

    /// Copies `data` into guest RAM at `gpa`; false if it is not all RAM.
    pub fn write(&self, gpa: u64, data: &[u8]) -> bool {
        self.contains(gpa, data.len() as u64)
            && self.mem.write_slice(data, GuestAddress(gpa)).is_ok()
    }
}
