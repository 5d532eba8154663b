//! The decode cache: instructions decoded once, per guest-physical page, and a fetch
//! TLB from virtual pages to those decoded pages.
//!
//! Keyed by physical address, so every address space that maps a code page shares
//! its decoded form. Coherence follows the architecture: after FENCE.I (or the SBI
//! remote fence.i that stands for it) a hart must see code written before it. A
//! fence does not drop decoded pages; it starts a new *generation*, and a page from
//! an older generation is checked against a snapshot of the bytes its instructions
//! were decoded from the next time the fetch TLB maps it. Unchanged pages (nearly
//! all: Linux fences after every new executable mapping) keep their decoded ops.
//!
//! Fences are VM-wide here, which the architecture does not require: a FENCE.I on
//! any hart starts a new generation on every hart ([`FenceEpoch`]). A guest
//! hypervisor may move a nested guest's vCPU to another hart right after the guest
//! patched its code and fenced locally; like QEMU, rvnest then still runs the new
//! code.
//!
//! Invariant: every decoded slot of a page was decoded from the bytes in the page's
//! snapshot ([`DecodeCache::check_slot_bytes`] keeps it when memory changes under a
//! page without a fence).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use super::code_page::PageBox;
pub use super::code_page::{CodePage, GUARD_SLOTS, SLOTS};
use super::ram;
use super::tlb::MMU_INDICES;

/// Decoded pages one hart keeps (~36 KiB of address space each, resident only
/// where slots were decoded). Past this, pages not used since the last eviction go
/// (second chance).
const MAX_PAGES: usize = 4096;

/// The number of FENCE.I instructions executed by the harts of one VM. Each hart
/// compares it with the value it last saw between slices and starts a new decode
/// generation when it moved.
#[derive(Debug, Default)]
pub struct FenceEpoch(AtomicU64);

impl FenceEpoch {
    /// Records a FENCE.I and returns the new epoch.
    pub fn advance(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The current epoch.
    #[inline]
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Hashes page numbers with one multiply (Fibonacci hashing): the keys are guest
/// page numbers, not attacker-chosen strings, and SipHash cost a noticeable share of
/// every fetch-TLB fill.
#[derive(Default)]
struct PageNumberHasher(u64);

impl Hasher for PageNumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01B3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Fetch translations per MMU index (a power of two): code is denser than data, so
/// fewer than the load and store TLBs hold.
const FETCH_ENTRIES: usize = 256;

/// Direct-mapped fetch-TLB slot of a virtual address.
#[inline(always)]
fn slot(vaddr: u64) -> usize {
    (vaddr >> 12) as usize & (FETCH_ENTRIES - 1)
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
    pages: HashMap<u64, PageBox, BuildHasherDefault<PageNumberHasher>>,
    fetch: Box<[[FetchEntry; FETCH_ENTRIES]; MMU_INDICES]>,
    generation: u64,
}

// SAFETY: the raw pointers in `fetch` point only into boxes owned by `pages`, and both
// move together; the cache is never shared between threads.
unsafe impl Send for DecodeCache {}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            pages: HashMap::default(),
            fetch: Box::new([[EMPTY; FETCH_ENTRIES]; MMU_INDICES]),
            generation: 0,
        }
    }
}

impl DecodeCache {
    /// The decoded page holding virtual `pc`, if its translation is cached.
    ///
    /// The pointer stays valid until the next `fill` or `flush_*` call.
    #[inline(always)]
    pub fn lookup(&self, mmu_index: usize, pc: u64) -> Option<*mut CodePage> {
        let entry = self.fetch[mmu_index][slot(pc)];
        (entry.tag == pc & !0xFFF).then_some(entry.page)
    }

    /// Caches that virtual `pc` lies in guest-physical page `paddr`, mapped at host
    /// address `host_page`, and returns its decoded page, revalidated if a fence
    /// happened since it was last used.
    pub fn fill(
        &mut self,
        mmu_index: usize,
        pc: u64,
        paddr: u64,
        host_page: usize,
    ) -> *mut CodePage {
        if self.pages.len() >= MAX_PAGES && !self.pages.contains_key(&(paddr >> 12)) {
            self.evict();
        }
        let generation = self.generation;
        let page = self
            .pages
            .entry(paddr >> 12)
            .or_insert_with(|| PageBox::new(host_page, paddr >> 12, generation));
        if page.generation != generation {
            if !page.unchanged() {
                page.reset();
            }
            page.generation = generation;
        }
        page.used = true;
        let page: *mut CodePage = &mut **page;
        self.fetch[mmu_index][slot(pc)] = FetchEntry {
            tag: pc & !0xFFF,
            page,
        };
        page
    }

    /// The decoded page of guest-physical page `number`, if there is one. The
    /// pointer stays valid until the next `fill` or drop.
    pub fn page(&mut self, number: u64) -> Option<*mut CodePage> {
        self.pages
            .get_mut(&number)
            .map(|page| &mut **page as *mut CodePage)
    }

    /// Keeps the invariant before a slot is decoded from `bits` at `offset`: if
    /// memory no longer matches the snapshot there, the page starts over.
    pub fn check_slot_bytes(page: &mut CodePage, offset: usize, len: usize) {
        // SAFETY: offset + len <= 4096 (callers decode within the page).
        let now = unsafe { ram::load((page.host + offset) as *mut u8, len as u64) };
        let mut then = [0u8; 8];
        then[..len].copy_from_slice(&page.snapshot[offset..offset + len]);
        if now != u64::from_le_bytes(then) {
            page.reset();
        }
    }

    /// Drops every fetch translation.
    pub fn flush_translations(&mut self) {
        self.flush_indices(0..MMU_INDICES);
    }

    /// Drops the fetch translations of the MMU indices in `indices`.
    pub fn flush_indices(&mut self, indices: std::ops::Range<usize>) {
        for index in &mut self.fetch[indices] {
            index.fill(EMPTY);
        }
    }

    /// Drops the fetch translations of the page of `vaddr` in `indices`.
    pub fn flush_page(&mut self, indices: std::ops::Range<usize>, vaddr: u64) {
        for index in &mut self.fetch[indices] {
            let entry = &mut index[slot(vaddr)];
            if entry.tag == vaddr & !0xFFF {
                *entry = EMPTY;
            }
        }
    }

    /// FENCE.I: code written before now must be seen. Decoded pages are checked
    /// against memory before their next use.
    pub fn fence(&mut self) {
        self.generation += 1;
        self.flush_translations();
    }

    /// Drops the pages not used since the last eviction (those the fetch TLB holds
    /// count as used), or every page if all were; the fetch TLB starts empty.
    fn evict(&mut self) {
        for entry in self.fetch.iter().flatten() {
            // SAFETY: fetch entries point into pages `self.pages` still owns.
            if let Some(page) = unsafe { entry.page.as_mut() } {
                page.used = true;
            }
        }
        let before = self.pages.len();
        self.pages.retain(|_, page| std::mem::take(&mut page.used));
        if self.pages.len() == before {
            self.pages.clear();
        }
        self.flush_translations();
    }

    /// Forgets every decoded page (the VMM rewrote guest memory).
    pub fn drop_all(&mut self) {
        self.flush_translations();
        self.pages.clear();
    }

    /// Forgets every compiled block (the compiled tier emptied its code cache).
    pub fn forget_blocks(&mut self) {
        for page in self.pages.values_mut() {
            page.forget_blocks();
        }
    }

    /// Number of decoded pages held.
    pub fn pages(&self) -> usize {
        self.pages.len()
    }
}
