//! One decoded page of the decode cache, and the memory it lives in.
//!
//! A page has a slot for every 16-bit parcel (32 KiB), but a hart decodes only the
//! instructions it runs, often a few functions of a page. So pages are mapped from
//! the host zeroed and untouched ([`PageBox`]): an undecoded slot is all zero bits,
//! and only the 4 KiB stretches of slots that were decoded become resident.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ram;
use crate::isa::Op;

/// Instruction slots per page: one per 16-bit parcel.
pub const SLOTS: usize = 2048;

/// Slots past the page's end that stay undecoded forever: straight-line execution
/// runs into them (at offsets 0x1000 and 0x1002) instead of checking its offset
/// after every instruction.
pub const GUARD_SLOTS: usize = 2;

/// Incarnations handed out so far: a page gets a new one when it is made and
/// whenever its slots start over, so that work done for its old contents (a block
/// compiled on another thread) can tell it is stale.
static INCARNATIONS: AtomicU64 = AtomicU64::new(0);

fn next_incarnation() -> u64 {
    INCARNATIONS.fetch_add(1, Ordering::Relaxed) + 1
}

/// The decoded instructions of one 4 KiB guest-physical page, filled lazily.
///
/// All zero bits is a valid value (every slot `Op::UNDECODED`), which [`PageBox`]
/// relies on.
#[repr(C)]
pub struct CodePage {
    /// Slot `i` holds the instruction starting at byte `2 * i`, or `Op::UNDECODED`;
    /// then the guard slots.
    pub ops: [Op; SLOTS + GUARD_SLOTS],
    /// Host address of the page's first byte.
    pub host: usize,
    /// Guest-physical page number.
    pub number: u64,
    /// Changes whenever the slots start over (see [`next_incarnation`]).
    pub incarnation: u64,
    /// The page's bytes when its decoded slots were decoded.
    pub(super) snapshot: [u8; 4096],
    /// The cache generation this page was last validated in.
    pub(super) generation: u64,
    /// Whether the page was filled into the fetch TLB since the last eviction.
    pub(super) used: bool,
}

impl CodePage {
    /// Copies the page's current bytes into the snapshot.
    fn take_snapshot(&mut self) {
        for (i, chunk) in self.snapshot.chunks_exact_mut(8).enumerate() {
            // SAFETY: `host` is the start of a 4 KiB page of guest RAM; i * 8 < 4096.
            let word = unsafe { ram::load((self.host + i * 8) as *mut u8, 8) };
            chunk.copy_from_slice(&word.to_le_bytes());
        }
    }

    /// Whether guest memory still holds the snapshot's bytes.
    pub(super) fn unchanged(&self) -> bool {
        self.snapshot.chunks_exact(8).enumerate().all(|(i, chunk)| {
            // SAFETY: as in take_snapshot.
            let word = unsafe { ram::load((self.host + i * 8) as *mut u8, 8) };
            chunk == word.to_le_bytes()
        })
    }

    /// Forgets every decoded slot and snapshots the current bytes.
    pub(super) fn reset(&mut self) {
        // Only slots that hold something are written, so that untouched stretches
        // stay unbacked.
        for op in &mut self.ops {
            if *op != Op::UNDECODED {
                *op = Op::UNDECODED;
            }
        }
        self.incarnation = next_incarnation();
        self.take_snapshot();
    }

    /// Forgets the slots' compiled blocks and heat.
    pub(super) fn forget_blocks(&mut self) {
        for op in &mut self.ops {
            if op.block != 0 || op.heat != 0 {
                op.block = 0;
                op.heat = 0;
            }
        }
    }
}

/// A [`CodePage`] in its own anonymous mapping of the host: pages of it never
/// written stay unbacked.
pub struct PageBox(NonNull<CodePage>);

// SAFETY: the mapping is owned by this value alone, like a Box.
unsafe impl Send for PageBox {}

impl PageBox {
    /// A page of guest-physical page `number`, mapped at host address `host`, with
    /// no slot decoded.
    pub fn new(host: usize, number: u64, generation: u64) -> PageBox {
        // SAFETY: a private anonymous mapping at an address of the kernel's choice
        // touches no existing memory; it comes zeroed, which is a valid CodePage.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size_of::<CodePage>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let Some(page) = (at != libc::MAP_FAILED)
            .then(|| NonNull::new(at as *mut CodePage))
            .flatten()
        else {
            // Like a failed Box allocation: the host has no memory left.
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<CodePage>());
        };
        let mut page = PageBox(page);
        page.host = host;
        page.number = number;
        page.incarnation = next_incarnation();
        page.generation = generation;
        page.used = true;
        page.take_snapshot();
        page
    }
}

impl Deref for PageBox {
    type Target = CodePage;

    fn deref(&self) -> &CodePage {
        // SAFETY: the mapping holds a valid CodePage for as long as self lives.
        unsafe { self.0.as_ref() }
    }
}

impl DerefMut for PageBox {
    fn deref_mut(&mut self) -> &mut CodePage {
        // SAFETY: as in deref; `&mut self` makes the access unique.
        unsafe { self.0.as_mut() }
    }
}

impl Drop for PageBox {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this size and is unmapped once.
        unsafe {
            libc::munmap(self.0.as_ptr() as *mut libc::c_void, size_of::<CodePage>());
        }
    }
}
