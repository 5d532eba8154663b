//! The transport and virtio-blk driven the way Linux's drivers drive them: registers
//! through the MMIO window, descriptor chains written into guest memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use vm_memory::{Bytes, GuestAddress};

use super::block::{
    Block, BlockWorker, CacheType, DiskConfig, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK,
    VIRTIO_BLK_S_UNSUPP,
};
use super::mmio::{VirtioMmio, status};
use super::rng::Rng;
use super::{GuestMemory, VIRTIO_F_VERSION_1, VirtioDevice};
use crate::bus::MmioDevice;
use crate::irq::IrqLine;

const RAM: u64 = 0x8000_0000;
const DESC: u64 = RAM;
const AVAIL: u64 = RAM + 0x1000;
const USED: u64 = RAM + 0x2000;
const QUEUE: u16 = 8;
/// Where the tests put request headers, data and status bytes.
const BUFFERS: u64 = RAM + 0x10000;

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;

#[derive(Default)]
struct Line(AtomicBool);

impl IrqLine for Line {
    fn set_level(&self, level: bool) {
        self.0.store(level, Ordering::SeqCst);
    }
}

struct Image(PathBuf);

impl Image {
    fn new(name: &str, contents: &[u8]) -> Image {
        let path =
            std::env::temp_dir().join(format!("rvnest-virtio-{}-{name}.img", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        Image(path)
    }

    fn read(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Driver {
    transport: VirtioMmio,
    worker: Box<dyn Fn()>,
    memory: GuestMemory,
    line: Arc<Line>,
    next_avail: u16,
    seen_used: u16,
}

fn read32(t: &mut VirtioMmio, offset: u64) -> u32 {
    let mut data = [0u8; 4];
    t.read(offset, &mut data);
    u32::from_le_bytes(data)
}

fn write32(t: &mut VirtioMmio, offset: u64, value: u32) {
    t.write(offset, &value.to_le_bytes());
}

fn disk(image: &Image, read_only: bool) -> DiskConfig {
    DiskConfig {
        path: image.0.clone(),
        read_only,
        cache_type: CacheType::Writeback,
        id: "rootfs".into(),
    }
}

impl Driver {
    fn new(config: &DiskConfig) -> Driver {
        let block = Block::new(config).unwrap();
        let worker: BlockWorker = block.worker().unwrap();
        Driver::with_device(Box::new(block), Box::new(move || worker.process_queue()))
    }

    fn with_device(device: Box<dyn VirtioDevice>, worker: Box<dyn Fn()>) -> Driver {
        let memory = GuestMemory::from_ranges(&[(GuestAddress(RAM), 1 << 20)]).unwrap();
        let line = Arc::new(Line::default());
        let transport = VirtioMmio::new(device, memory.clone(), line.clone());
        Driver {
            transport,
            worker,
            memory,
            line,
            next_avail: 0,
            seen_used: 0,
        }
    }

    /// Linux's virtio_mmio probe and virtio-blk's queue set-up.
    fn start(config: &DiskConfig) -> Driver {
        Driver::new(config).started()
    }

    /// Feature negotiation (everything offered) and queue 0 set up, then DRIVER_OK.
    fn started(mut self) -> Driver {
        let t = &mut self.transport;
        write32(t, 0x70, status::ACKNOWLEDGE | status::DRIVER);
        write32(t, 0x14, 1);
        let high = read32(t, 0x10);
        write32(t, 0x14, 0);
        let low = read32(t, 0x10);
        write32(t, 0x24, 0);
        write32(t, 0x20, low);
        write32(t, 0x24, 1);
        write32(t, 0x20, high);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        write32(t, 0x70, s);
        assert_ne!(read32(t, 0x70) & status::FEATURES_OK, 0);
        write32(t, 0x30, 0);
        assert!(read32(t, 0x34) >= u32::from(QUEUE));
        write32(t, 0x38, u32::from(QUEUE));
        write32(t, 0x80, DESC as u32);
        write32(t, 0x84, (DESC >> 32) as u32);
        write32(t, 0x90, AVAIL as u32);
        write32(t, 0x94, 0);
        write32(t, 0xa0, USED as u32);
        write32(t, 0xa4, 0);
        write32(t, 0x44, 1);
        write32(t, 0x70, s | status::DRIVER_OK);
        assert!(self.transport.is_active());
        self
    }

    /// Puts the chain of `(addr, len, flags)` on the ring (descriptors from index
    /// `first`), notifies, lets the worker run; returns the used length, or `None`
    /// if the device returned nothing.
    fn submit_at(&mut self, first: u16, chain: &[(u64, u32, u16)]) -> Option<u32> {
        for (i, &(addr, len, flags)) in chain.iter().enumerate() {
            let index = first + i as u16;
            let mut desc = [0u8; 16];
            desc[0..8].copy_from_slice(&addr.to_le_bytes());
            desc[8..12].copy_from_slice(&len.to_le_bytes());
            let more = if i + 1 < chain.len() { F_NEXT } else { 0 };
            desc[12..14].copy_from_slice(&(flags | more).to_le_bytes());
            desc[14..16].copy_from_slice(&((index + 1) % QUEUE).to_le_bytes());
            self.memory
                .write_slice(&desc, GuestAddress(DESC + 16 * u64::from(index)))
                .unwrap();
        }
        self.post(first)
    }

    fn post(&mut self, head: u16) -> Option<u32> {
        let slot = AVAIL + 4 + 2 * u64::from(self.next_avail % QUEUE);
        self.memory.write_obj(head, GuestAddress(slot)).unwrap();
        self.next_avail = self.next_avail.wrapping_add(1);
        self.memory
            .write_obj(self.next_avail, GuestAddress(AVAIL + 2))
            .unwrap();
        write32(&mut self.transport, 0x50, 0);
        (self.worker)();
        let used_idx: u16 = self.memory.read_obj(GuestAddress(USED + 2)).unwrap();
        if used_idx == self.seen_used {
            return None;
        }
        let elem = USED + 4 + 8 * u64::from(self.seen_used % QUEUE);
        let id: u32 = self.memory.read_obj(GuestAddress(elem)).unwrap();
        assert_eq!(id, u32::from(head));
        self.seen_used = self.seen_used.wrapping_add(1);
        Some(self.memory.read_obj(GuestAddress(elem + 4)).unwrap())
    }

    fn submit(&mut self, chain: &[(u64, u32, u16)]) -> Option<u32> {
        self.submit_at(0, chain)
    }

    fn header(&self, request: u32, sector: u64) -> u64 {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&request.to_le_bytes());
        h[8..16].copy_from_slice(&sector.to_le_bytes());
        self.memory.write_slice(&h, GuestAddress(BUFFERS)).unwrap();
        BUFFERS
    }

    fn status(&self) -> u8 {
        self.memory.read_obj(GuestAddress(STATUS)).unwrap()
    }
}

const DATA: u64 = BUFFERS + 0x1000;
const STATUS: u64 = BUFFERS + 0x800;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 512) as u8).collect()
}

#[test]
fn transport_identifies_itself_and_insists_on_version_1() {
    let image = Image::new("ident", &[0; 4096]);
    let mut d = Driver::new(&disk(&image, false));
    let t = &mut d.transport;
    assert_eq!(read32(t, 0x0), 0x7472_6976);
    assert_eq!(read32(t, 0x4), 2);
    assert_eq!(read32(t, 0x8), 2, "block device");
    // Capacity in sectors in the configuration space.
    let mut capacity = [0u8; 8];
    t.read(0x100, &mut capacity);
    assert_eq!(u64::from_le_bytes(capacity), 8);

    write32(t, 0x70, status::ACKNOWLEDGE | status::DRIVER);
    // A legacy driver (no VERSION_1) is refused.
    write32(t, 0x20, 0);
    write32(
        t,
        0x70,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_eq!(read32(t, 0x70) & status::FEATURES_OK, 0);
    // So is a feature the device did not offer (bit 0: VIRTIO_BLK_F_BARRIER).
    write32(t, 0x24, 1);
    write32(t, 0x20, 1 << (VIRTIO_F_VERSION_1 - 32));
    write32(t, 0x24, 0);
    write32(t, 0x20, 1);
    write32(
        t,
        0x70,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_eq!(read32(t, 0x70) & status::FEATURES_OK, 0);
    write32(t, 0x20, 0);
    write32(
        t,
        0x70,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    assert_ne!(read32(t, 0x70) & status::FEATURES_OK, 0);
    // DRIVER_OK without a queue: the device needs a reset and says so.
    write32(
        t,
        0x70,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
    );
    assert!(!t.is_active());
    assert_ne!(read32(t, 0x70) & status::DEVICE_NEEDS_RESET, 0);
    assert_eq!(read32(t, 0x60), 2, "configuration change interrupt");
    write32(t, 0x70, 0);
    assert_eq!(read32(t, 0x70), 0);
    assert_eq!(read32(t, 0x60), 0);
}

#[test]
fn reads_writes_flushes_and_get_id_reach_the_image() {
    let image = Image::new("rw", &pattern(64 * 1024));
    let mut d = Driver::start(&disk(&image, false));

    // Read sectors 2..6 into two data descriptors.
    let h = d.header(0, 2);
    let used = d.submit(&[
        (h, 16, 0),
        (DATA, 1024, F_WRITE),
        (DATA + 1024, 1024, F_WRITE),
        (STATUS, 1, F_WRITE),
    ]);
    assert_eq!(used, Some(2049));
    assert_eq!(d.status(), VIRTIO_BLK_S_OK);
    let mut got = vec![0u8; 2048];
    d.memory.read_slice(&mut got, GuestAddress(DATA)).unwrap();
    assert_eq!(got, pattern(64 * 1024)[1024..3072]);
    assert!(d.line.0.load(Ordering::SeqCst), "used-buffer interrupt");
    assert_eq!(read32(&mut d.transport, 0x60), 1);
    write32(&mut d.transport, 0x64, 1);
    assert!(!d.line.0.load(Ordering::SeqCst), "acknowledged");

    // Write sector 10 with the header and the data in one descriptor.
    let mut request = vec![0u8; 16 + 512];
    request[0] = 1;
    request[8] = 10;
    request[16..].fill(0xab);
    d.memory.write_slice(&request, GuestAddress(DATA)).unwrap();
    let used = d.submit(&[(DATA, 16 + 512, 0), (STATUS, 1, F_WRITE)]);
    assert_eq!(used, Some(1));
    assert_eq!(d.status(), VIRTIO_BLK_S_OK);
    assert_eq!(image.read()[5120..5632], [0xab; 512]);

    let h = d.header(4, 0);
    assert_eq!(d.submit(&[(h, 16, 0), (STATUS, 1, F_WRITE)]), Some(1));
    assert_eq!(d.status(), VIRTIO_BLK_S_OK);

    let h = d.header(8, 0);
    let used = d.submit(&[(h, 16, 0), (DATA, 20, F_WRITE), (STATUS, 1, F_WRITE)]);
    assert_eq!(used, Some(21));
    let mut id = [0u8; 20];
    d.memory.read_slice(&mut id, GuestAddress(DATA)).unwrap();
    assert_eq!(&id[..7], b"rootfs\0");

    // Write-zeroes over sectors 0..4 (one segment).
    let h = d.header(13, 0);
    let mut range = [0u8; 16];
    range[8] = 4;
    d.memory.write_slice(&range, GuestAddress(DATA)).unwrap();
    assert_eq!(
        d.submit(&[(h, 16, 0), (DATA, 16, 0), (STATUS, 1, F_WRITE)]),
        Some(1)
    );
    assert_eq!(d.status(), VIRTIO_BLK_S_OK);
    let after = image.read();
    assert_eq!(after[..2048], [0; 2048]);
    assert_eq!(after[2048..4096], pattern(64 * 1024)[2048..4096]);
    assert_eq!(after.len(), 64 * 1024);
}

#[test]
fn a_read_only_drive_refuses_every_change() {
    let original = pattern(8192);
    let image = Image::new("ro", &original);
    let mut d = Driver::start(&disk(&image, true));
    let mut features = [0u8; 4];
    write32(&mut d.transport, 0x14, 0);
    d.transport.read(0x10, &mut features);
    assert_ne!(
        u32::from_le_bytes(features) & (1 << 5),
        0,
        "VIRTIO_BLK_F_RO"
    );

    let h = d.header(1, 0);
    d.memory
        .write_slice(&[0x55; 512], GuestAddress(DATA))
        .unwrap();
    assert_eq!(
        d.submit(&[(h, 16, 0), (DATA, 512, 0), (STATUS, 1, F_WRITE)]),
        Some(1)
    );
    assert_eq!(d.status(), VIRTIO_BLK_S_IOERR);
    for request in [11, 13] {
        let h = d.header(request, 0);
        let mut range = [0u8; 16];
        range[8] = 1;
        d.memory.write_slice(&range, GuestAddress(DATA)).unwrap();
        assert_eq!(
            d.submit(&[(h, 16, 0), (DATA, 16, 0), (STATUS, 1, F_WRITE)]),
            Some(1)
        );
        assert_eq!(d.status(), VIRTIO_BLK_S_IOERR, "request type {request}");
    }
    // Reads still work.
    let h = d.header(0, 1);
    assert_eq!(
        d.submit(&[(h, 16, 0), (DATA, 512, F_WRITE), (STATUS, 1, F_WRITE)]),
        Some(513)
    );
    assert_eq!(d.status(), VIRTIO_BLK_S_OK);
    assert_eq!(image.read(), original);
}

#[test]
fn malformed_chains_get_an_error_status_and_the_device_goes_on() {
    let original = pattern(8192);
    let image = Image::new("bad", &original);
    let mut d = Driver::start(&disk(&image, false));
    let ok_read = |d: &mut Driver| {
        let h = d.header(0, 0);
        d.memory.write_obj(0xffu8, GuestAddress(STATUS)).unwrap();
        assert_eq!(
            d.submit(&[(h, 16, 0), (DATA, 512, F_WRITE), (STATUS, 1, F_WRITE)]),
            Some(513)
        );
        assert_eq!(d.status(), VIRTIO_BLK_S_OK);
    };

    let expect = |d: &mut Driver, chain: &[(u64, u32, u16)], status: u8, what: &str| {
        d.memory.write_obj(0xffu8, GuestAddress(STATUS)).unwrap();
        assert_eq!(d.submit(chain), Some(1), "{what}");
        assert_eq!(d.status(), status, "{what}");
    };
    let h = d.header(0, 15);
    expect(
        &mut d,
        &[(h, 16, 0), (DATA, 1024, F_WRITE), (STATUS, 1, F_WRITE)],
        VIRTIO_BLK_S_IOERR,
        "past the end",
    );
    let h = d.header(0, 0);
    expect(
        &mut d,
        &[(h, 16, 0), (DATA, 100, F_WRITE), (STATUS, 1, F_WRITE)],
        VIRTIO_BLK_S_IOERR,
        "partial sector",
    );
    expect(
        &mut d,
        &[(h, 8, 0), (STATUS, 1, F_WRITE)],
        VIRTIO_BLK_S_IOERR,
        "short header",
    );
    expect(
        &mut d,
        &[(h, 16, 0), (0x1000, 512, F_WRITE), (STATUS, 1, F_WRITE)],
        VIRTIO_BLK_S_IOERR,
        "buffer outside RAM",
    );
    expect(
        &mut d,
        &[
            (h, 16, 0),
            (DATA, 512, F_WRITE),
            (DATA, 16, 0),
            (STATUS, 1, F_WRITE),
        ],
        VIRTIO_BLK_S_IOERR,
        "readable after writable",
    );
    let h = d.header(0x77, 0);
    expect(
        &mut d,
        &[(h, 16, 0), (STATUS, 1, F_WRITE)],
        VIRTIO_BLK_S_UNSUPP,
        "unknown request",
    );
    let h = d.header(1, 0);
    expect(
        &mut d,
        &[(h, 16, 0), (0x1000, 512, 0), (STATUS, 1, F_WRITE)],
        VIRTIO_BLK_S_IOERR,
        "write from outside RAM",
    );

    // No status byte: returned with nothing written.
    let h = d.header(0, 0);
    assert_eq!(d.submit(&[(h, 16, 0), (DATA, 512, 0)]), Some(0));
    ok_read(&mut d);

    // A loop: descriptor 3 points back at itself.
    let mut desc = [0u8; 16];
    desc[0..8].copy_from_slice(&h.to_le_bytes());
    desc[8..12].copy_from_slice(&16u32.to_le_bytes());
    desc[12..14].copy_from_slice(&F_NEXT.to_le_bytes());
    desc[14..16].copy_from_slice(&3u16.to_le_bytes());
    d.memory
        .write_slice(&desc, GuestAddress(DESC + 48))
        .unwrap();
    assert_eq!(d.post(3), Some(0));
    // A next index past the queue.
    desc[14..16].copy_from_slice(&500u16.to_le_bytes());
    d.memory
        .write_slice(&desc, GuestAddress(DESC + 48))
        .unwrap();
    assert_eq!(d.post(3), Some(0));
    ok_read(&mut d);
    assert_eq!(image.read(), original);
}

#[test]
fn reset_stops_the_device_until_the_driver_starts_it_again() {
    let image = Image::new("reset", &pattern(4096));
    let config = disk(&image, false);
    let mut d = Driver::start(&config);
    write32(&mut d.transport, 0x70, 0);
    assert!(!d.transport.is_active());
    let h = d.header(0, 0);
    assert_eq!(
        d.submit(&[(h, 16, 0), (DATA, 512, F_WRITE), (STATUS, 1, F_WRITE)]),
        None
    );
}

#[test]
fn images_that_cannot_back_a_drive_are_refused_with_the_reason() {
    let dir = std::env::temp_dir();
    let mut config = DiskConfig {
        path: dir.clone(),
        read_only: false,
        cache_type: CacheType::Unsafe,
        id: String::new(),
    };
    let err = Block::new(&config).err().unwrap().to_string();
    assert!(err.contains("directory"), "{err}");
    config.path = dir.join("rvnest-no-such-image.img");
    let err = Block::new(&config).err().unwrap().to_string();
    assert!(err.contains("No such file"), "{err}");
}

#[test]
fn the_entropy_device_fills_writable_buffers_and_refuses_readable_ones() {
    let rng = Rng::new().unwrap();
    let worker = rng.worker().unwrap();
    let counters = rng.counters();
    let mut d =
        Driver::with_device(Box::new(rng), Box::new(move || worker.process_queue())).started();
    assert_eq!(read32(&mut d.transport, 0x8), 4, "entropy device");
    d.memory
        .write_slice(&[0u8; 96], GuestAddress(DATA))
        .unwrap();
    assert_eq!(
        d.submit(&[(DATA, 64, F_WRITE), (DATA + 64, 32, F_WRITE)]),
        Some(96)
    );
    let mut got = [0u8; 96];
    d.memory.read_slice(&mut got, GuestAddress(DATA)).unwrap();
    assert!(got.iter().filter(|&&b| b == 0).count() < 16, "{got:?}");
    assert!(d.line.0.load(Ordering::SeqCst));

    d.memory
        .write_slice(&[0u8; 64], GuestAddress(DATA))
        .unwrap();
    assert_eq!(d.submit(&[(DATA, 64, 0)]), Some(0), "a readable buffer");
    assert_eq!(d.submit(&[(0x1000, 64, F_WRITE)]), Some(0), "outside RAM");
    let mut untouched = [0u8; 64];
    d.memory
        .read_slice(&mut untouched, GuestAddress(DATA))
        .unwrap();
    assert_eq!(untouched, [0; 64]);
    assert_eq!(counters.requests.load(Ordering::Relaxed), 1);
    assert_eq!(counters.bytes.load(Ordering::Relaxed), 96);
    assert_eq!(counters.errors.load(Ordering::Relaxed), 2);
}

#[test]
fn a_new_image_serves_later_requests_and_the_driver_is_told() {
    let first = Image::new("swap-a", &pattern(4096));
    let second_bytes: Vec<u8> = pattern(8192).iter().map(|b| b ^ 0x5a).collect();
    let second = Image::new("swap-b", &second_bytes);
    let block = Block::new(&disk(&first, false)).unwrap();
    let handle = block.handle();
    let worker: BlockWorker = block.worker().unwrap();
    let mut d =
        Driver::with_device(Box::new(block), Box::new(move || worker.process_queue())).started();
    assert_eq!(read32(&mut d.transport, 0x100), 8, "capacity in sectors");
    let generation = read32(&mut d.transport, 0xfc);

    // The read-only setting was negotiated: an image that needs another is refused.
    let err = handle
        .replace(&disk(&second, true))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is_read_only cannot change"), "{err}");
    handle.replace(&disk(&second, false)).unwrap();
    d.transport.config_changed();
    assert_eq!(read32(&mut d.transport, 0x100), 16, "the new capacity");
    assert_ne!(read32(&mut d.transport, 0xfc), generation);
    assert_ne!(
        d.transport.interrupt_status() & 2,
        0,
        "config-change interrupt"
    );

    let h = d.header(0, 8);
    assert_eq!(
        d.submit(&[(h, 16, 0), (DATA, 512, F_WRITE), (STATUS, 1, F_WRITE)]),
        Some(513)
    );
    assert_eq!(d.status(), VIRTIO_BLK_S_OK);
    let mut got = vec![0u8; 512];
    d.memory.read_slice(&mut got, GuestAddress(DATA)).unwrap();
    assert_eq!(got, second_bytes[4096..4608], "sector 8 of the new image");
}
