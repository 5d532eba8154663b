//! The fuzz targets' bodies, one function per target, each taking arbitrary bytes.
//! cargo-fuzz runs them under libFuzzer (`fuzz/fuzz_targets/`); `tests/replay.rs`
//! runs them on the stable toolchain over the kept corpus (`fuzz/corpus/<target>/`)
//! and a fixed number of seeded random inputs, so the suite catches regressions.
//!
//! A target fails by panicking: every one also checks properties that must hold
//! for any input (answers in range, no state escaping its bounds).
#![deny(missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use api::http::{self, Parsed};
use api::routes;
use arch_riscv::image;
use arch_riscv::isa::decode;
use arch_riscv::layout::{PLIC_BASE, UART_BASE, UART_IRQ};
use devices::bus::MmioBus;
use devices::plic::{Plic, PlicIrqLine, PlicOutput};
use devices::uart::Uart;
use devices::virtio::block::{Block, CacheType, DiskConfig};
use devices::virtio::mmio::{VirtioMmio, status};
use devices::virtio::rng::Rng;
use devices::virtio::{GuestMemory, VirtioDevice};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the corpus directory and the cargo-fuzz binary).
pub const TARGETS: &[(&str, Target)] = &[
    ("http_request", http_request),
    ("config", config),
    ("decoder", decoder),
    ("uart_plic_mmio", uart_plic_mmio),
    ("kernel_image", kernel_image),
    ("virtio_block", virtio_block),
    ("virtio_rng", virtio_rng),
];

/// The API's HTTP framing, then the router on whatever it frames: the answer is an
/// error or a typed request, never a panic, and a complete request never claims
/// more bytes than it was given.
pub fn http_request(data: &[u8]) {
    match http::parse_request(data, http::DEFAULT_MAX_BODY_LEN) {
        Ok(Parsed::Complete(request, used)) => {
            assert!(used <= data.len());
            assert!(request.body.len() <= http::DEFAULT_MAX_BODY_LEN);
            let _ = routes::route(&request.method, &request.path, &request.body);
        }
        Ok(Parsed::Incomplete { .. }) => {}
        Err(e) => assert!(matches!(e.status(), 400 | 413 | 431 | 501)),
    }
    // The router alone, on a split of the input into method, path and body.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, ' ');
    let (method, path, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let _ = routes::route(method, path, body.as_bytes());
}

/// The config file parser and its validation (files named in it are looked up, not
/// read; the errors name the field).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = api::config::VmConfig::parse_json_str(text) {
        let _ = config.validate();
    }
}

/// The instruction decoder on every 16- and 32-bit parcel in the input: decoding
/// never panics, the length matches the parcel, and only encodings the decoder
/// names are not illegal.
pub fn decoder(data: &[u8]) {
    for window in data.windows(4).step_by(2) {
        let bits = u32::from_le_bytes([window[0], window[1], window[2], window[3]]);
        let op = decode::decode(bits);
        let expected_len = if bits & 3 == 3 { 4 } else { 2 };
        assert_eq!(u32::from(op.len), expected_len, "{bits:#010x}");
        let _ = decode::mnemonic(bits);
    }
}

#[derive(Default)]
struct ExternalInterrupt(AtomicBool);

impl PlicOutput for ExternalInterrupt {
    fn set_external_interrupt(&self, _hart: usize, level: bool) {
        self.0.store(level, Ordering::SeqCst);
    }
}

/// The UART and the PLIC (4 contexts) on the MMIO bus, driven by a program read
/// from the input: each 12-byte step is an access of width 1, 2, 4 or 8 at an
/// offset inside or just around either device (unaligned and straddling accesses
/// included), a read or a write, with console input fed in between.
pub fn uart_plic_mmio(data: &[u8]) {
    let output = Arc::new(ExternalInterrupt::default());
    let Ok(plic) = Plic::new(96, 4, output) else {
        return;
    };
    let plic = Arc::new(Mutex::new(plic));
    let Ok(line) = PlicIrqLine::new(plic.clone(), UART_IRQ) else {
        return;
    };
    let uart = Arc::new(Mutex::new(Uart::new(std::io::sink(), Arc::new(line))));
    let mut bus = MmioBus::new();
    if bus.insert(PLIC_BASE, 0x60_0000, plic).is_err()
        || bus.insert(UART_BASE, 0x100, uart.clone()).is_err()
    {
        return;
    }
    for step in data.chunks_exact(12) {
        let width = 1usize << (step[0] & 3);
        let base = if step[0] & 4 == 0 {
            UART_BASE
        } else {
            PLIC_BASE
        };
        let span: u64 = if base == UART_BASE { 0x110 } else { 0x60_0010 };
        let raw = u32::from_le_bytes([step[1], step[2], step[3], step[4]]);
        let addr = (base - 8).wrapping_add(u64::from(raw) % span);
        let value = u64::from_le_bytes([
            step[4], step[5], step[6], step[7], step[8], step[9], step[10], step[11],
        ]);
        if step[0] & 8 == 0 {
            let mut bytes = [0u8; 8];
            bus.read(addr, &mut bytes[..width]);
        } else {
            bus.write(addr, &value.to_le_bytes()[..width]);
        }
        if step[0] & 0x30 == 0x30 {
            let _ = uart
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .enqueue_raw_bytes(&step[5..8]);
        }
    }
}

/// The kernel Image loader and the initrd placement with hostile headers and
/// sizes: a load succeeds only inside RAM, the initrd is placed inside RAM past the
/// kernel or refused.
pub fn kernel_image(data: &[u8]) {
    const RAM_BASE: u64 = 0x8000_0000;
    let mut ram = vec![0u8; 4 << 20];
    let ram_size = ram.len() as u64;
    if let Ok(kernel) = image::load_kernel(&mut ram, RAM_BASE, data) {
        assert!(kernel.entry >= RAM_BASE && kernel.entry < RAM_BASE + ram_size);
        assert!(kernel.end <= RAM_BASE + ram_size);
        let initrd_len = data
            .get(64..72)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .unwrap_or(0);
        if let Ok(start) = image::place_initrd(RAM_BASE, ram_size, kernel.end, initrd_len) {
            assert!(start >= kernel.end);
            assert!(
                start
                    .checked_add(initrd_len)
                    .is_some_and(|e| e <= RAM_BASE + ram_size)
            );
        }
    }
}

/// Guest RAM of the virtio targets.
const VIRTIO_RAM: u64 = 0x8000_0000;
const VIRTIO_RAM_SIZE: usize = 256 << 10;

/// A scratch disk image shared by every run of the block target (1 MiB).
fn scratch_disk() -> Option<&'static std::path::Path> {
    static DISK: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DISK.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("rvnest-fuzz-{}.img", std::process::id()));
        let file = std::fs::File::create(&path).ok()?;
        file.set_len(1 << 20).ok()?;
        Some(path)
    })
    .as_deref()
}

#[derive(Default)]
struct Line(AtomicBool);

impl devices::irq::IrqLine for Line {
    fn set_level(&self, level: bool) {
        self.0.store(level, Ordering::SeqCst);
    }
}

fn mmio_write32(transport: &mut VirtioMmio, offset: u64, value: u32) {
    devices::bus::MmioDevice::write(transport, offset, &value.to_le_bytes());
}

/// A virtio device on the MMIO transport over guest memory filled with the input:
/// the first 16 bytes choose the queue size and where the descriptor table, the
/// available and the used rings are (anywhere in RAM, aligned or not, overlapping
/// or not); the rest is RAM's contents, so the chains, their lengths, flags and
/// buffers are all the fuzzer's. The driver set-up is Linux's; then the queue is
/// notified and the worker serves it. Every bad chain must be answered, dropped or
/// refused, without a panic and without touching memory outside RAM.
fn virtio_queue(data: &[u8], device: Box<dyn VirtioDevice>, serve: &dyn Fn()) {
    use vm_memory::{Bytes, GuestAddress};
    let Some((head, contents)) = data.split_first_chunk::<16>() else {
        return;
    };
    let Ok(memory) = GuestMemory::from_ranges(&[(GuestAddress(VIRTIO_RAM), VIRTIO_RAM_SIZE)])
    else {
        return;
    };
    let len = contents.len().min(VIRTIO_RAM_SIZE);
    if memory
        .write_slice(&contents[..len], GuestAddress(VIRTIO_RAM))
        .is_err()
    {
        return;
    }
    let place = |at: usize| {
        let raw = u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        // Mostly inside RAM; sometimes just past its end.
        VIRTIO_RAM + u64::from(raw) % (VIRTIO_RAM_SIZE as u64 + 64)
    };
    let queue_size = u32::from(head[0]) + 1;
    let mut t = VirtioMmio::new(device, memory, Arc::new(Line::default()));
    let ready = status::ACKNOWLEDGE | status::DRIVER;
    mmio_write32(&mut t, 0x70, ready);
    for select in 0..2 {
        mmio_write32(&mut t, 0x14, select);
        let mut features = [0u8; 4];
        devices::bus::MmioDevice::read(&mut t, 0x10, &mut features);
        mmio_write32(&mut t, 0x24, select);
        mmio_write32(&mut t, 0x20, u32::from_le_bytes(features));
    }
    mmio_write32(&mut t, 0x70, ready | status::FEATURES_OK);
    mmio_write32(&mut t, 0x30, u32::from(head[1] & 1));
    mmio_write32(&mut t, 0x38, queue_size);
    for (offset, at) in [(0x80, 4), (0x90, 8), (0xa0, 12)] {
        let addr = place(at);
        mmio_write32(&mut t, offset, addr as u32);
        mmio_write32(&mut t, offset + 4, (addr >> 32) as u32);
    }
    mmio_write32(&mut t, 0x44, 1);
    mmio_write32(
        &mut t,
        0x70,
        ready | status::FEATURES_OK | status::DRIVER_OK,
    );
    for _ in 0..=(head[2] & 3) {
        mmio_write32(&mut t, 0x50, u32::from(head[1] & 1));
        serve();
    }
}

/// virtio-blk's request parsing and I/O on a scratch image (see [`virtio_queue`]).
pub fn virtio_block(data: &[u8]) {
    let Some(path) = scratch_disk() else {
        return;
    };
    let config = DiskConfig {
        path: path.to_path_buf(),
        read_only: data.first().is_some_and(|b| b & 0x80 != 0),
        cache_type: CacheType::Writeback,
        id: "fuzz".into(),
    };
    let Ok(block) = Block::new(&config) else {
        return;
    };
    let Ok(worker) = block.worker() else {
        return;
    };
    virtio_queue(data, Box::new(block), &|| worker.process_queue());
}

/// virtio-rng's request handling (see [`virtio_queue`]).
pub fn virtio_rng(data: &[u8]) {
    let Ok(rng) = Rng::new() else {
        return;
    };
    let Ok(worker) = rng.worker() else {
        return;
    };
    virtio_queue(data, Box::new(rng), &|| worker.process_queue());
}
