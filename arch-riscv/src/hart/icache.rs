//! The decode cache: instructions decoded once, per guest-physical page, and a fetch
//! TLB from virtual pages to those decoded pages.
//!
//! Keyed by physical address, so every address space that maps a code page shares
//! its decoded form. Coherence follows the architecture: FENCE.I (and the SBI remote
//! fence.i that stands for it) drops everything, as does a write by the VMM.

use std::collections::HashMap;

use super::tlb::{MMU_INDICES, TLB_ENTRIES, slot};
use crate::isa::Op;

/// Instruction slots per page: one per 16-bit parcel.
pub const SLOTS: usize = 2048;

/// The decoded instructions of one 4 KiB guest-physical page, filled lazily.
pub struct CodePage {
    /// Slot `i` holds the instruction starting at byte `2 * i`, or `Op::UNDECODED`.
    pub ops: [Op; SLOTS],
    /// Host address of the page's first byte.
    pub host: usize,
}

/// A fetch translation: virtual page to its decoded page.
#[derive(Clone, Copy)]
struct FetchEntry {
    tag: u64,
    page: *mut CodePage,
}

const EMPTY: FetchEntry = FetchEntry {
    tag: u64::MAX,
    page: std::ptr::null_mut(),
};

/// Decoded pages by physical page number, plus the fetch TLB into them.
///
/// The fetch TLB's raw pointers point into `pages`, which this value owns; nothing
/// else holds them, so moving the whole cache to another thread is sound.
pub struct DecodeCache {
    pages: HashMap<u64, Box<CodePage>>,
    fetch: Box<[[FetchEntry; TLB_ENTRIES]; MMU_INDICES]>,
}

// SAFETY: the raw pointers in `fetch` point only into boxes owned by `pages`, and both
// move together; the cache is never shared between threads.
unsafe impl Send for DecodeCache {}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            pages: HashMap::new(),
            fetch: Box::new([[EMPTY; TLB_ENTRIES]; MMU_INDICES]),
        }
    }
}

impl DecodeCache {
    /// The decoded page holding virtual `pc`, if its translation is cached.
    ///
    /// The pointer stays valid until the next call of a `flush_*` method.
    #[inline(always)]
    pub fn lookup(&self, mmu_index: usize, pc: u64) -> Option<*mut CodePage> {
        let entry = self.fetch[mmu_index][slot(pc)];
        (entry.tag == pc & !0xFFF).then_some(entry.page)
    }

    /// Caches that virtual `pc` lies in guest-physical page `paddr`, mapped at host
    /// address `host_page`, and returns its decoded page.
    pub fn fill(
        &mut self,
        mmu_index: usize,
        pc: u64,
        paddr: u64,
        host_page: usize,
    ) -> *mut CodePage {
        let page = self.pages.entry(paddr >> 12).or_insert_with(|| {
            Box::new(CodePage {
                ops: [Op::UNDECODED; SLOTS],
                host: host_page,
            })
        });
        let page: *mut CodePage = &mut **page;
        self.fetch[mmu_index][slot(pc)] = FetchEntry {
            tag: pc & !0xFFF,
            page,
        };
        page
    }

    /// Drops the fetch translations (after SFENCE.VMA or a satp change).
    pub fn flush_translations(&mut self) {
        for index in self.fetch.iter_mut() {
            index.fill(EMPTY);
        }
    }

    /// Drops the fetch translations of the page of `vaddr`.
    pub fn flush_page(&mut self, vaddr: u64) {
        for index in self.fetch.iter_mut() {
            let entry = &mut index[slot(vaddr)];
            if entry.tag == vaddr & !0xFFF {
                *entry = EMPTY;
            }
        }
    }

    /// Drops everything decoded (FENCE.I).
    pub fn flush_all(&mut self) {
        self.flush_translations();
        self.pages.clear();
    }

    /// Number of decoded pages held.
    pub fn pages(&self) -> usize {
        self.pages.len()
    }
}
