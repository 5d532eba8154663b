//! The MMIO bus: dispatches guest-physical accesses to the device mapped there.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;

/// A device with memory-mapped registers.
///
/// `offset` is relative to the base the device was inserted at; `data.len()` is the
/// access width in bytes (1, 2, 4 or 8 for loads and stores from a hart). A device
/// answers accesses it does not implement by reading zeros and ignoring writes; it
/// never fails, since a guest's misbehaviour is not a host error.
pub trait MmioDevice {
    /// Handles a load of `data.len()` bytes at `offset`, filling `data`.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// Handles a store of `data` at `offset`.
    fn write(&mut self, offset: u64, data: &[u8]);
}

/// A device as the bus holds it: shared with the VMM threads that feed it input.
pub type SharedMmioDevice = Arc<Mutex<dyn MmioDevice + Send>>;

/// Why a device could not be mapped.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BusError {
    /// The range has no bytes.
    #[error("Empty MMIO range at {base:#x}")]
    EmptyRange {
        /// Requested base address.
        base: u64,
    },
    /// The range runs past the end of the 64-bit address space.
    #[error("MMIO range at {base:#x} of {len:#x} bytes wraps around the address space")]
    Wraps {
        /// Requested base address.
        base: u64,
        /// Requested length in bytes.
        len: u64,
    },
    /// The range overlaps one that is already mapped.
    #[error(
        "MMIO range [{base:#x}, +{len:#x}) overlaps the device at [{other_base:#x}, +{other_len:#x})"
    )]
    Overlap {
        /// Requested base address.
        base: u64,
        /// Requested length in bytes.
        len: u64,
        /// Base of the device already mapped there.
        other_base: u64,
        /// Length of the device already mapped there.
        other_len: u64,
    },
}

struct Mapping {
    base: u64,
    len: u64,
    device: SharedMmioDevice,
}

impl Mapping {
    /// The offset of `[addr, addr + size)` inside this mapping, if it lies wholly inside.
    fn offset_of(&self, addr: u64, size: usize) -> Option<u64> {
        let offset = addr.checked_sub(self.base)?;
        let end = offset.checked_add(u64::try_from(size).ok()?)?;
        (offset < self.len && end <= self.len).then_some(offset)
    }
}

/// Maps non-overlapping guest-physical ranges `[base, base + len)` to devices.
///
/// Built once while the machine is assembled, then shared read-only by the vCPU
/// threads (it needs no lock of its own). The ranges are kept sorted by base, so a
/// lookup is a binary search.
#[derive(Default)]
pub struct MmioBus {
    mappings: Vec<Mapping>,
}

impl fmt::Debug for MmioBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.mappings
                    .iter()
                    .map(|m| format!("[{:#x}, {:#x})", m.base, m.base + m.len)),
            )
            .finish()
    }
}

impl MmioBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `device` at `[base, base + len)`.
    pub fn insert(
        &mut self,
        base: u64,
        len: u64,
        device: SharedMmioDevice,
    ) -> Result<(), BusError> {
        if len == 0 {
            return Err(BusError::EmptyRange { base });
        }
        let end = base.checked_add(len).ok_or(BusError::Wraps { base, len })?;
        // First mapping whose base is at or above ours; only it and its predecessor
        // can overlap.
        let idx = self.mappings.partition_point(|m| m.base < base);
        let overlapping = [idx.checked_sub(1), Some(idx)]
            .into_iter()
            .flatten()
            .filter_map(|i| self.mappings.get(i))
            .find(|m| m.base < end && base < m.base + m.len);
        if let Some(m) = overlapping {
            return Err(BusError::Overlap {
                base,
                len,
                other_base: m.base,
                other_len: m.len,
            });
        }
        self.mappings.insert(idx, Mapping { base, len, device });
        Ok(())
    }

    /// The device covering all of `[addr, addr + size)` and the offset of `addr`
    /// inside it.
    pub fn find(&self, addr: u64, size: usize) -> Option<(&SharedMmioDevice, u64)> {
        let idx = self.mappings.partition_point(|m| m.base <= addr);
        let mapping = self.mappings.get(idx.checked_sub(1)?)?;
        let offset = mapping.offset_of(addr, size)?;
        Some((&mapping.device, offset))
    }

    /// Dispatches a load to the device mapped at `addr`. Returns `false`, leaving
    /// `data` untouched, when no single device covers the whole access.
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.find(addr, data.len()) {
            Some((device, offset)) => {
                // A poisoned lock only means another vCPU thread panicked mid-access;
                // the device state is still a valid state machine.
                let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
                device.read(offset, data);
                true
            }
            None => false,
        }
    }

    /// Dispatches a store to the device mapped at `addr`. Returns `false` when no
    /// single device covers the whole access.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr, data.len()) {
            Some((device, offset)) => {
                let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
                device.write(offset, data);
                true
            }
            None => false,
        }
    }

    /// Number of mapped devices.
    pub fn len(&self) -> usize {
        self.mappings.len()
    }

    /// Whether no device is mapped.
    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Remembers the last access and reads back a byte pattern derived from the offset.
    #[derive(Default)]
    struct Recorder {
        last_write: Option<(u64, Vec<u8>)>,
        reads: usize,
    }

    impl MmioDevice for Recorder {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            self.reads += 1;
            for (i, b) in data.iter_mut().enumerate() {
                *b = (offset as u8).wrapping_add(i as u8);
            }
        }

        fn write(&mut self, offset: u64, data: &[u8]) {
            self.last_write = Some((offset, data.to_vec()));
        }
    }

    fn recorder() -> Arc<Mutex<Recorder>> {
        Arc::new(Mutex::new(Recorder::default()))
    }

    #[test]
    fn insert_rejects_overlaps_on_either_side() {
        let mut bus = MmioBus::new();
        bus.insert(0x1000, 0x100, recorder()).unwrap();
        bus.insert(0x3000, 0x100, recorder()).unwrap();
        // Touching ranges are fine.
        bus.insert(0x1100, 0x100, recorder()).unwrap();
        bus.insert(0x2f00, 0x100, recorder()).unwrap();

        for (base, len) in [
            (0x1000, 0x100), // identical
            (0x0f00, 0x101), // tail overlaps the first byte
            (0x10ff, 0x1),   // last byte
            (0x1050, 0x10),  // inside
            (0x0, 0x10000),  // covers everything
            (0x30ff, 0x10),  // head overlaps the last byte
        ] {
            let err = bus.insert(base, len, recorder()).unwrap_err();
            assert!(
                matches!(err, BusError::Overlap { .. }),
                "{base:#x}+{len:#x}"
            );
        }
        assert_eq!(bus.len(), 4);
    }

    #[test]
    fn insert_rejects_empty_and_wrapping_ranges() {
        let mut bus = MmioBus::new();
        assert_eq!(
            bus.insert(0x1000, 0, recorder()),
            Err(BusError::EmptyRange { base: 0x1000 })
        );
        assert!(matches!(
            bus.insert(u64::MAX - 0xf, 0x20, recorder()),
            Err(BusError::Wraps { .. })
        ));
        // Ending exactly at the top of the address space is fine.
        bus.insert(u64::MAX - 0xf, 0xf, recorder()).unwrap();
    }

    #[test]
    fn dispatches_to_the_right_device_with_relative_offsets() {
        let mut bus = MmioBus::new();
        let (a, b, c) = (recorder(), recorder(), recorder());
        // Inserted out of order on purpose.
        bus.insert(0x2000, 0x1000, b.clone()).unwrap();
        bus.insert(0x1000_0000, 0x100, c.clone()).unwrap();
        bus.insert(0x1000, 0x100, a.clone()).unwrap();

        assert!(bus.write(0x2010, &[1, 2, 3, 4]));
        assert_eq!(b.lock().unwrap().last_write, Some((0x10, vec![1, 2, 3, 4])));
        assert!(a.lock().unwrap().last_write.is_none());

        let mut data = [0u8; 2];
        assert!(bus.read(0x1000_0005, &mut data));
        assert_eq!(data, [5, 6]);
        assert_eq!(c.lock().unwrap().reads, 1);

        assert!(bus.write(0x10ff, &[9]));
        assert_eq!(a.lock().unwrap().last_write, Some((0xff, vec![9])));
    }

    #[test]
    fn unmapped_and_straddling_accesses_are_refused() {
        let mut bus = MmioBus::new();
        let dev = recorder();
        bus.insert(0x1000, 0x100, dev.clone()).unwrap();
        bus.insert(0x1100, 0x100, recorder()).unwrap();

        let mut data = [0xaau8; 4];
        assert!(!bus.read(0xfff, &mut data[..1]));
        assert!(!bus.read(0x1200, &mut data));
        assert!(!bus.read(0, &mut data));
        assert_eq!(data, [0xaa; 4]);
        // Crosses from the first device into the second.
        assert!(!bus.write(0x10fe, &[1, 2, 3, 4]));
        assert!(dev.lock().unwrap().last_write.is_none());
        assert!(MmioBus::new().find(0x1000, 1).is_none());
    }
}
