//! Loading a RISC-V Linux `Image` (the 64-byte header format of Linux's
//! `Documentation/arch/riscv/boot-image-header.rst`) into guest memory, and choosing
//! where the initrd and the FDT go.
//!
//! Guest RAM is handed in as a host slice covering `[ram_base, ram_base + len)`; this
//! module does no `unsafe` and touches nothing outside the slice.
//!
//! Placement, from the bottom of RAM:
//!
//! ```text
//!   ram_base                  kernel entry = ram_base + text_offset (2 MiB on RV64)
//!   │                         │                     kernel end (entry + image_size)
//!   ▼                         ▼                     ▼
//!   ├─── free (Linux uses) ───┼─ Image + bss ───────┼── free ──┬─ initrd ─┬─ FDT ─┤
//!                                                             page-aligned    ram end
//! ```
//!
//! The FDT goes in a fixed [`FDT_MAX_SIZE`] slot at the top of RAM and the initrd
//! directly below it, as far from the kernel as possible (QEMU puts the FDT at the top
//! for the same reason: nothing the kernel does early can clobber them). Linux
//! reserves both in memblock before it allocates anything, and on RV64 all of RAM is
//! in its linear map, so the top of RAM is reachable. kvmtool and QEMU keep them
//! lower only for 32-bit guests' lowmem limits, which do not apply here.

use thiserror::Error;

use crate::layout::FDT_MAX_SIZE;

/// Size of the `Image` header.
pub const IMAGE_HEADER_SIZE: usize = 64;
/// The deprecated first magic number, "RISCV\0\0\0" read as a little-endian `u64`.
pub const IMAGE_MAGIC: u64 = 0x0056_4353_4952;
/// The second magic number, "RSC\x05" read as a little-endian `u32`.
pub const IMAGE_MAGIC2: u32 = 0x0543_5352;
/// Alignment of the initrd and the FDT: a page, so Linux reserves exactly them.
pub const BLOB_ALIGN: u64 = 0x1000;

/// Why a kernel image could not be loaded, or an initrd or FDT placed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// The file is shorter than the 64-byte header.
    #[error("Kernel image is too short: {0} bytes, the header alone is 64")]
    TooShort(usize),
    /// The file is gzip-compressed (`Image.gz`).
    #[error("Kernel image is gzip-compressed; decompress it to a raw Image first")]
    Compressed,
    /// The file is an EFI zboot image: a PE stub around a compressed kernel, which
    /// only EFI firmware can boot.
    #[error("Kernel image is an EFI zboot image ({0} payload); extract the raw Image first")]
    EfiZboot(String),
    /// Neither magic number matches.
    #[error("Kernel image has no RISC-V Image header magic")]
    BadMagic,
    /// The header's flags say the kernel is big-endian.
    #[error("Kernel image is big-endian")]
    BigEndian,
    /// The kernel's memory footprint does not fit in RAM.
    #[error("Kernel needs [{start:#x}, {end:#x}) but RAM is [{ram_base:#x}, {ram_end:#x})")]
    KernelDoesNotFit {
        /// Load address.
        start: u64,
        /// End of the footprint (image plus bss); 0 if it overflowed.
        end: u64,
        /// Base of RAM.
        ram_base: u64,
        /// End of RAM.
        ram_end: u64,
    },
    /// The FDT is larger than the slot reserved for it.
    #[error("Device tree is {len} bytes, more than the {FDT_MAX_SIZE} reserved for it")]
    FdtTooLarge {
        /// Size of the FDT in bytes.
        len: usize,
    },
    /// The initrd or FDT would overlap the kernel or fall outside RAM.
    #[error(
        "No room for the {what} ({len} bytes) between the kernel end {kernel_end:#x} and {limit:#x}"
    )]
    NoRoom {
        /// "initrd" or "device tree".
        what: &'static str,
        /// Size of the blob in bytes.
        len: u64,
        /// End of the kernel's footprint.
        kernel_end: u64,
        /// The highest address the blob could have ended at.
        limit: u64,
    },
}

/// The 64-byte header at the start of a RISC-V Linux `Image`; all fields are
/// little-endian in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// First instruction word (the jump over the header, or "MZ" for an EFI stub).
    pub code0: u32,
    /// Second instruction word.
    pub code1: u32,
    /// Offset from the start of RAM the image must be loaded at (2 MiB on RV64).
    pub text_offset: u64,
    /// Memory footprint of the loaded kernel, bss included, in bytes (0 in headers
    /// older than version 0.1).
    pub image_size: u64,
    /// Kernel flags; bit 0 set means big-endian.
    pub flags: u64,
    /// Header version, major in the upper 16 bits, minor in the lower.
    pub version: u32,
    /// Reserved.
    pub res1: u32,
    /// Reserved.
    pub res2: u64,
    /// Deprecated magic, [`IMAGE_MAGIC`].
    pub magic: u64,
    /// Magic, [`IMAGE_MAGIC2`].
    pub magic2: u32,
    /// Reserved (offset of the PE header for EFI-stub kernels).
    pub res3: u32,
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

impl ImageHeader {
    /// Parses the header at the start of `image`. Either magic number is accepted,
    /// as Linux's own loaders do: `magic` is deprecated in favour of `magic2` but
    /// still written by every kernel.
    pub fn parse(image: &[u8]) -> Result<ImageHeader, ImageError> {
        if image.starts_with(&[0x1f, 0x8b]) {
            return Err(ImageError::Compressed);
        }
        if image.len() < IMAGE_HEADER_SIZE {
            return Err(ImageError::TooShort(image.len()));
        }
        let h = &image[..IMAGE_HEADER_SIZE];
        let header = ImageHeader {
            code0: le_u32(h, 0),
            code1: le_u32(h, 4),
            text_offset: le_u64(h, 8),
            image_size: le_u64(h, 16),
            flags: le_u64(h, 24),
            version: le_u32(h, 32),
            res1: le_u32(h, 36),
            res2: le_u64(h, 40),
            magic: le_u64(h, 48),
            magic2: le_u32(h, 56),
            res3: le_u32(h, 60),
        };
        if header.magic2 != IMAGE_MAGIC2 && header.magic != IMAGE_MAGIC {
            // The zboot header: "MZ", "zimg", payload offset and size, then the
            // compression type as a NUL-padded string at 24.
            if h.starts_with(b"MZ") && &h[4..8] == b"zimg" {
                let kind = h[24..32].split(|&b| b == 0).next().unwrap_or_default();
                return Err(ImageError::EfiZboot(
                    String::from_utf8_lossy(kind).into_owned(),
                ));
            }
            return Err(ImageError::BadMagic);
        }
        if header.flags & 1 != 0 {
            return Err(ImageError::BigEndian);
        }
        Ok(header)
    }

    /// Major version of the header format.
    pub fn version_major(&self) -> u16 {
        (self.version >> 16) as u16
    }

    /// Minor version of the header format.
    pub fn version_minor(&self) -> u16 {
        self.version as u16
    }

    /// Bytes the kernel occupies once loaded from a file of `file_len` bytes: the
    /// header's `image_size` (image plus bss), or the file size if that is larger or
    /// the header predates the field.
    pub fn footprint(&self, file_len: usize) -> u64 {
        self.image_size.max(file_len as u64)
    }
}

/// Where a kernel was loaded, as guest-physical addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedKernel {
    /// The entry point: the first byte of the image, `ram_base + text_offset`.
    pub entry: u64,
    /// End of the kernel's memory footprint (image plus bss), exclusive.
    pub end: u64,
}

/// Copies `image` into `mem` (guest RAM starting at guest-physical `ram_base`) at
/// the header's `text_offset`, after checking that its whole footprint, bss
/// included, fits in RAM. The bss is not cleared: the kernel clears its own, and
/// fresh guest RAM is zero anyway. Linux wants a PMD-aligned load address (2 MiB on
/// RV64); with RAM starting on such a boundary, the header's `text_offset` gives one.
pub fn load_kernel(
    mem: &mut [u8],
    ram_base: u64,
    image: &[u8],
) -> Result<LoadedKernel, ImageError> {
    let header = ImageHeader::parse(image)?;
    let ram_size = mem.len() as u64;
    // Work in offsets from the RAM base, then translate: a text_offset past RAM, an
    // overflowing footprint and RAM at the top of the address space all fail here.
    let end_offset = header
        .text_offset
        .checked_add(header.footprint(image.len()))
        .filter(|&end| end <= ram_size);
    let addrs = end_offset.and_then(|end_offset| {
        Some((
            ram_base.checked_add(header.text_offset)?,
            ram_base.checked_add(end_offset)?,
        ))
    });
    let Some((entry, end)) = addrs else {
        return Err(ImageError::KernelDoesNotFit {
            start: ram_base.saturating_add(header.text_offset),
            end: ram_base
                .checked_add(header.text_offset)
                .and_then(|start| start.checked_add(header.footprint(image.len())))
                .unwrap_or(0),
            ram_base,
            ram_end: ram_base.saturating_add(ram_size),
        });
    };
    // Bounded by mem.len() (checked above), so the conversion is exact.
    let offset = header.text_offset as usize;
    mem[offset..offset + image.len()].copy_from_slice(image);
    Ok(LoadedKernel { entry, end })
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

/// The start of the FDT slot: [`FDT_MAX_SIZE`] bytes at the top of RAM, page aligned.
fn fdt_slot(ram_base: u64, ram_size: u64) -> Option<u64> {
    let ram_end = ram_base.checked_add(ram_size)?;
    let slot = align_down(ram_end.checked_sub(FDT_MAX_SIZE)?, BLOB_ALIGN);
    (slot >= ram_base).then_some(slot)
}

/// The guest-physical address for an FDT of `fdt_len` bytes: the start of the
/// [`FDT_MAX_SIZE`] slot at the top of RAM, page aligned. Fails if the FDT is larger
/// than the slot or the slot would overlap the kernel, whose footprint ends at
/// `kernel_end`.
pub fn place_fdt(
    ram_base: u64,
    ram_size: u64,
    kernel_end: u64,
    fdt_len: usize,
) -> Result<u64, ImageError> {
    if fdt_len as u64 > FDT_MAX_SIZE {
        return Err(ImageError::FdtTooLarge { len: fdt_len });
    }
    match fdt_slot(ram_base, ram_size) {
        Some(slot) if slot >= kernel_end => Ok(slot),
        _ => Err(ImageError::NoRoom {
            what: "device tree",
            len: FDT_MAX_SIZE,
            kernel_end,
            limit: ram_base.saturating_add(ram_size),
        }),
    }
}

/// The guest-physical address for an initrd of `initrd_len` bytes: page aligned,
/// ending just below the FDT slot (see [`place_fdt`]), above the kernel whose
/// footprint ends at `kernel_end`.
pub fn place_initrd(
    ram_base: u64,
    ram_size: u64,
    kernel_end: u64,
    initrd_len: u64,
) -> Result<u64, ImageError> {
    let limit = fdt_slot(ram_base, ram_size);
    let start = limit
        .and_then(|limit| limit.checked_sub(initrd_len))
        .map(|start| align_down(start, BLOB_ALIGN));
    match (start, align_up(kernel_end, BLOB_ALIGN)) {
        (Some(start), Some(lowest)) if start >= lowest => Ok(start),
        _ => Err(ImageError::NoRoom {
            what: "initrd",
            len: initrd_len,
            kernel_end,
            limit: limit.unwrap_or(ram_base),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{KERNEL_DEFAULT_TEXT_OFFSET, RAM_BASE};

    const MIB: u64 = 1 << 20;

    /// A synthetic kernel: a header as Linux's `head.S` writes it, then `body` bytes.
    fn image(text_offset: u64, image_size: u64, body: usize) -> Vec<u8> {
        let mut img = vec![0u8; IMAGE_HEADER_SIZE];
        img[0..4].copy_from_slice(&0x0400_006fu32.to_le_bytes()); // j 0x40
        img[8..16].copy_from_slice(&text_offset.to_le_bytes());
        img[16..24].copy_from_slice(&image_size.to_le_bytes());
        img[32..36].copy_from_slice(&0x0000_0002u32.to_le_bytes()); // version 0.2
        img[48..56].copy_from_slice(b"RISCV\0\0\0");
        img[56..60].copy_from_slice(b"RSC\x05");
        img.extend((0..body).map(|i| i as u8));
        img
    }

    #[test]
    fn parses_a_valid_header() {
        let img = image(KERNEL_DEFAULT_TEXT_OFFSET, 0x150_0000, 16);
        let h = ImageHeader::parse(&img).unwrap();
        assert_eq!(h.code0, 0x0400_006f);
        assert_eq!(h.text_offset, 0x20_0000);
        assert_eq!(h.image_size, 0x150_0000);
        assert_eq!((h.version_major(), h.version_minor()), (0, 2));
        assert_eq!(h.magic, IMAGE_MAGIC);
        assert_eq!(h.magic2, IMAGE_MAGIC2);
        assert_eq!(h.footprint(img.len()), 0x150_0000);
    }

    #[test]
    fn accepts_either_magic() {
        let mut only_magic2 = image(0x20_0000, 0, 0);
        only_magic2[48..56].fill(0);
        assert!(ImageHeader::parse(&only_magic2).is_ok());
        let mut only_magic = image(0x20_0000, 0, 0);
        only_magic[56..60].fill(0);
        assert!(ImageHeader::parse(&only_magic).is_ok());
    }

    #[test]
    fn rejects_bad_magic_short_files_and_wrapped_kernels() {
        let mut bad = image(0x20_0000, 0, 0);
        bad[48..60].fill(0);
        assert_eq!(ImageHeader::parse(&bad), Err(ImageError::BadMagic));
        assert_eq!(
            ImageHeader::parse(&bad[..63]),
            Err(ImageError::TooShort(63))
        );
        assert_eq!(
            ImageHeader::parse(&[0x1f, 0x8b, 8, 0]),
            Err(ImageError::Compressed)
        );
        let mut zboot = vec![0u8; 64];
        zboot[0..2].copy_from_slice(b"MZ");
        zboot[4..8].copy_from_slice(b"zimg");
        zboot[24..28].copy_from_slice(b"gzip");
        assert_eq!(
            ImageHeader::parse(&zboot),
            Err(ImageError::EfiZboot("gzip".into()))
        );
        let mut big_endian = image(0x20_0000, 0, 0);
        big_endian[24] = 1;
        assert_eq!(ImageHeader::parse(&big_endian), Err(ImageError::BigEndian));
    }

    #[test]
    fn loads_at_text_offset() {
        let mut ram = vec![0u8; (8 * MIB) as usize];
        let img = image(0x20_0000, 3 * MIB, 100);
        let k = load_kernel(&mut ram, RAM_BASE, &img).unwrap();
        assert_eq!(k.entry, RAM_BASE + 0x20_0000);
        assert_eq!(k.end, RAM_BASE + 0x20_0000 + 3 * MIB);
        assert_eq!(&ram[0x20_0000..0x20_0000 + img.len()], &img[..]);
        assert!(ram[..0x20_0000].iter().all(|&b| b == 0));

        // A header without image_size: the file size is the footprint.
        let img = image(0, 0, 100);
        let k = load_kernel(&mut ram, RAM_BASE, &img).unwrap();
        assert_eq!((k.entry, k.end), (RAM_BASE, RAM_BASE + 164));
    }

    #[test]
    fn rejects_kernels_too_big_for_ram() {
        let mut ram = vec![0u8; (4 * MIB) as usize];
        // The file fits, the bss does not.
        let img = image(0x20_0000, 2 * MIB + 1, 16);
        assert_eq!(
            load_kernel(&mut ram, RAM_BASE, &img),
            Err(ImageError::KernelDoesNotFit {
                start: RAM_BASE + 2 * MIB,
                end: RAM_BASE + 4 * MIB + 1,
                ram_base: RAM_BASE,
                ram_end: RAM_BASE + 4 * MIB,
            })
        );
        // Exactly filling RAM is fine.
        let img = image(0x20_0000, 2 * MIB, 16);
        assert!(load_kernel(&mut ram, RAM_BASE, &img).is_ok());
        // A text_offset past the end of RAM, and one that overflows.
        assert!(load_kernel(&mut ram, RAM_BASE, &image(8 * MIB, 0, 16)).is_err());
        assert!(load_kernel(&mut ram, RAM_BASE, &image(u64::MAX - 8, 0, 16)).is_err());
    }

    #[test]
    fn places_fdt_at_the_top_and_initrd_below_it() {
        let ram_size = 256 * MIB;
        let kernel_end = RAM_BASE + 20 * MIB;
        let fdt = place_fdt(RAM_BASE, ram_size, kernel_end, 0x2000).unwrap();
        assert_eq!(fdt, RAM_BASE + ram_size - FDT_MAX_SIZE);
        let initrd = place_initrd(RAM_BASE, ram_size, kernel_end, 10 * MIB + 123).unwrap();
        assert_eq!(initrd % BLOB_ALIGN, 0);
        assert!(initrd >= kernel_end);
        assert!(initrd + 10 * MIB + 123 <= fdt);
        assert!(fdt - (initrd + 10 * MIB + 123) < BLOB_ALIGN);

        // An odd RAM size still yields aligned, in-RAM addresses.
        let odd = 64 * MIB + 0x123;
        let fdt = place_fdt(RAM_BASE, odd, kernel_end, 100).unwrap();
        assert_eq!(fdt % BLOB_ALIGN, 0);
        assert!(fdt + FDT_MAX_SIZE <= RAM_BASE + odd);
    }

    #[test]
    fn refuses_blobs_that_do_not_fit() {
        let ram_size = 32 * MIB;
        let kernel_end = RAM_BASE + 20 * MIB;
        assert!(matches!(
            place_initrd(RAM_BASE, ram_size, kernel_end, 12 * MIB),
            Err(ImageError::NoRoom { what: "initrd", .. })
        ));
        assert!(place_initrd(RAM_BASE, ram_size, kernel_end, 11 * MIB).is_ok());
        assert!(place_initrd(RAM_BASE, ram_size, kernel_end, u64::MAX).is_err());
        assert_eq!(
            place_fdt(RAM_BASE, ram_size, kernel_end, FDT_MAX_SIZE as usize + 1),
            Err(ImageError::FdtTooLarge {
                len: FDT_MAX_SIZE as usize + 1
            })
        );
        assert!(place_fdt(RAM_BASE, 20 * MIB, kernel_end, 100).is_err());
        assert!(place_fdt(RAM_BASE, 0x8000, RAM_BASE, 100).is_err());
    }
}
