//! The software TLB: direct-mapped entries per access kind and per MMU index, each
//! holding a page tag and the host-address addend, so a hit costs one compare and
//! one add. Only RAM pages enter it; MMIO always takes the miss path.
//!
//! Entries are tagged by MMU index (privilege and SUM) instead of being flushed on
//! every privilege change, as QEMU does; V=1 indices will join them with the H
//! extension, and a larger lazy shadow cache of combined translations for nested
//! guests sits behind the same miss path.

/// Entries per access kind and MMU index (a power of two): 16 MiB of pages, so that
/// a working set of that size stays cached (QEMU grows its TLBs as far as this).
/// A flush clears only the slots filled since the last one (see [`Tlb::filled`]).
pub const TLB_ENTRIES: usize = 4096;

/// Filled slots remembered per MMU index; past this a flush clears the whole index.
const FILLED_MAX: usize = 256;

/// MMU indices: U, S, S with SUM (V=0), then VU, VS, VS with vsstatus.SUM (V=1).
pub const MMU_INDICES: usize = 6;

/// The MMU indices of V=0 (translated through satp).
pub const HOST_INDICES: std::ops::Range<usize> = 0..3;

/// The MMU indices of V=1 (translated through vsatp and hgatp): their entries are
/// combined guest-virtual to host translations.
pub const GUEST_INDICES: std::ops::Range<usize> = 3..6;

/// A tag no aligned access can match.
const INVALID_TAG: u64 = u64::MAX;

/// One cached translation: `tag` is the virtual page address, `addend` turns a
/// virtual address of that page into the host address of its byte.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct TlbEntry {
    /// Virtual page address, or an unmatchable value when empty.
    pub tag: u64,
    /// `host_address - virtual_address`, wrapping.
    pub addend: usize,
}

impl TlbEntry {
    const EMPTY: TlbEntry = TlbEntry {
        tag: INVALID_TAG,
        addend: 0,
    };
}

type Table = [[TlbEntry; TLB_ENTRIES]; MMU_INDICES];

/// The load and store TLBs (fetch translations live in the decode cache's TLB).
pub struct Tlb {
    load: Box<Table>,
    store: Box<Table>,
    /// Per MMU index, the slots filled since its last flush (load or store), or
    /// more than [`FILLED_MAX`] of them: a flush then clears the whole index.
    filled: [Vec<u16>; MMU_INDICES],
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            load: Box::new([[TlbEntry::EMPTY; TLB_ENTRIES]; MMU_INDICES]),
            store: Box::new([[TlbEntry::EMPTY; TLB_ENTRIES]; MMU_INDICES]),
            filled: Default::default(),
        }
    }
}

/// Direct-mapped slot of a virtual address.
#[inline(always)]
pub fn slot(vaddr: u64) -> usize {
    (vaddr >> 12) as usize & (TLB_ENTRIES - 1)
}

/// The value an aligned access of `size` bytes at `vaddr` must find in the tag:
/// keeping the low address bits makes misaligned accesses miss.
#[inline(always)]
fn probe(vaddr: u64, size: u64) -> u64 {
    vaddr & (!0xFFF | (size - 1))
}

impl Tlb {
    /// Host address for a `size`-byte load at `vaddr`, if cached and aligned.
    #[inline(always)]
    pub fn load(&self, mmu_index: usize, vaddr: u64, size: u64) -> Option<usize> {
        let entry = &self.load[mmu_index][slot(vaddr)];
        (entry.tag == probe(vaddr, size)).then(|| (vaddr as usize).wrapping_add(entry.addend))
    }

    /// Host address for a `size`-byte store at `vaddr`, if cached and aligned.
    #[inline(always)]
    pub fn store(&self, mmu_index: usize, vaddr: u64, size: u64) -> Option<usize> {
        let entry = &self.store[mmu_index][slot(vaddr)];
        (entry.tag == probe(vaddr, size)).then(|| (vaddr as usize).wrapping_add(entry.addend))
    }

    /// Caches a load translation of the page of `vaddr` to the host page at `host_page`.
    pub fn fill_load(&mut self, mmu_index: usize, vaddr: u64, host_page: usize) {
        self.load[mmu_index][slot(vaddr)] = entry(vaddr, host_page);
        self.note_fill(mmu_index, vaddr);
    }

    /// Caches a store translation of the page of `vaddr` to the host page at `host_page`.
    pub fn fill_store(&mut self, mmu_index: usize, vaddr: u64, host_page: usize) {
        self.store[mmu_index][slot(vaddr)] = entry(vaddr, host_page);
        self.note_fill(mmu_index, vaddr);
    }

    fn note_fill(&mut self, mmu_index: usize, vaddr: u64) {
        let filled = &mut self.filled[mmu_index];
        if filled.len() <= FILLED_MAX {
            filled.push(slot(vaddr) as u16);
        }
    }

    /// Host addresses of the load and store tables of `mmu_index` (the compiled
    /// tier probes them inline; the tables never move).
    pub fn tables(&self, mmu_index: usize) -> (usize, usize) {
        (
            self.load[mmu_index].as_ptr() as usize,
            self.store[mmu_index].as_ptr() as usize,
        )
    }

    /// Drops every translation.
    pub fn flush_all(&mut self) {
        self.flush(0..MMU_INDICES);
    }

    /// Drops the translations of the MMU indices in `indices`.
    pub fn flush(&mut self, indices: std::ops::Range<usize>) {
        for index in indices {
            let filled = &mut self.filled[index];
            if filled.len() > FILLED_MAX {
                self.load[index].fill(TlbEntry::EMPTY);
                self.store[index].fill(TlbEntry::EMPTY);
            } else {
                for &slot in filled.iter() {
                    self.load[index][slot as usize] = TlbEntry::EMPTY;
                    self.store[index][slot as usize] = TlbEntry::EMPTY;
                }
            }
            filled.clear();
        }
    }

    /// Drops the translations of the page of `vaddr` in the MMU indices `indices`.
    pub fn flush_page(&mut self, indices: std::ops::Range<usize>, vaddr: u64) {
        let page = vaddr & !0xFFF;
        for table in [&mut self.load, &mut self.store] {
            for index in &mut table[indices.clone()] {
                let entry = &mut index[slot(vaddr)];
                if entry.tag == page {
                    *entry = TlbEntry::EMPTY;
                }
            }
        }
    }
}

fn entry(vaddr: u64, host_page: usize) -> TlbEntry {
    let page = vaddr & !0xFFF;
    TlbEntry {
        tag: page,
        addend: host_page.wrapping_sub(page as usize),
    }
}
