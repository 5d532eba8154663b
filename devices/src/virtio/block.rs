//! virtio-blk (virtio 1.2, section 5.2) on a raw image file.
//!
//! Requests are served by [`BlockWorker`] on a device thread: read, write, flush
//! (fsync when the cache type is writeback), get-id, discard and write-zeroes (hole
//! punching and zero ranges where the file system has them). A read-only drive
//! answers every request that would change the image with `VIRTIO_BLK_S_IOERR` and
//! changes nothing. A chain the device cannot make sense of (no status byte at the
//! end, a readable descriptor after a writable one, a short header, buffers outside
//! guest memory, a loop) is answered with `VIRTIO_BLK_S_IOERR` when it has a status
//! byte, and returned unused when it has none; the device goes on with the next.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use event_manager::{EventOps, Events, MutEventSubscriber};
use virtio_queue::QueueT;
use virtio_queue::desc::split::Descriptor;
use vm_memory::{Bytes, GuestAddress};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::virtio::{
    ActivateError, GuestMemory, Interrupt, Queue, TYPE_BLOCK, VIRTIO_F_VERSION_1,
    VIRTIO_RING_F_EVENT_IDX, VirtioDevice,
};

/// Bytes in a sector, the unit of every offset and length of the protocol.
pub const SECTOR_SIZE: u64 = 512;
/// Size of the one request queue.
pub const QUEUE_SIZE: u16 = 256;
/// Length of the identifier get-id returns.
pub const ID_LEN: usize = 20;

/// Feature: `seg_max` in the configuration is valid.
const VIRTIO_BLK_F_SEG_MAX: u32 = 2;
/// Feature: the device is read-only.
const VIRTIO_BLK_F_RO: u32 = 5;
/// Feature: flush requests.
const VIRTIO_BLK_F_FLUSH: u32 = 9;
/// Feature: discard requests.
const VIRTIO_BLK_F_DISCARD: u32 = 13;
/// Feature: write-zeroes requests.
const VIRTIO_BLK_F_WRITE_ZEROES: u32 = 14;

const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_T_FLUSH: u32 = 4;
const VIRTIO_BLK_T_GET_ID: u32 = 8;
const VIRTIO_BLK_T_DISCARD: u32 = 11;
const VIRTIO_BLK_T_WRITE_ZEROES: u32 = 13;

/// Request status: done.
pub const VIRTIO_BLK_S_OK: u8 = 0;
/// Request status: failed (bad request, I/O error, read-only drive).
pub const VIRTIO_BLK_S_IOERR: u8 = 1;
/// Request status: the request type is not supported.
pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;

/// `virtio_blk_discard_write_zeroes.flags`: the range may be deallocated.
const WRITE_ZEROES_FLAG_UNMAP: u32 = 1;

/// Length of the request header (type, reserved, sector).
const HEADER_LEN: u64 = 16;
/// Length of one discard or write-zeroes segment.
const RANGE_LEN: u64 = 16;
/// Largest piece copied between the image and guest memory at once.
const CHUNK: usize = 128 * 1024;
/// Length of the configuration space the device fills (up to `write_zeroes_may_unmap`).
const CONFIG_LEN: usize = 60;

/// How guest writes reach the image (Firecracker's `cache_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheType {
    /// Flush requests are not offered; writes stay in the host's page cache.
    #[default]
    Unsafe,
    /// Flush requests are offered and fsync the image.
    Writeback,
}

/// What a drive is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// The raw image file.
    pub path: PathBuf,
    /// The guest may not change the image.
    pub read_only: bool,
    /// How writes are made durable.
    pub cache_type: CacheType,
    /// What get-id answers (the first [`ID_LEN`] bytes).
    pub id: String,
}

/// Why an image cannot back a drive.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The file cannot be opened (missing, no permission for the mode asked).
    #[error("Cannot open {path} {mode}: {source}")]
    Open {
        /// The image.
        path: PathBuf,
        /// "read-only" or "read-write".
        mode: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The path names something that is not a regular file or block device.
    #[error("{path} is not a disk image: it is a directory")]
    Directory {
        /// The image.
        path: PathBuf,
    },
    /// A new backing file would change what the driver negotiated.
    #[error("{path}: {what} cannot change after boot")]
    Immutable {
        /// The new image.
        path: PathBuf,
        /// The setting that differs.
        what: &'static str,
    },
    /// The size cannot be found.
    #[error("Cannot find the size of {path}: {source}")]
    Size {
        /// The image.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// An open image.
#[derive(Debug)]
struct Disk {
    file: File,
    sectors: u64,
    read_only: bool,
    cache_type: CacheType,
    id: [u8; ID_LEN],
}

impl Disk {
    fn open(config: &DiskConfig) -> Result<Disk, DiskError> {
        let path = &config.path;
        if path.is_dir() {
            return Err(DiskError::Directory { path: path.clone() });
        }
        let mode = if config.read_only {
            "read-only"
        } else {
            "read-write"
        };
        let file = OpenOptions::new()
            .read(true)
            .write(!config.read_only)
            .open(path)
            .map_err(|source| DiskError::Open {
                path: path.clone(),
                mode,
                source,
            })?;
        let size = image_size(&file).map_err(|source| DiskError::Size {
            path: path.clone(),
            source,
        })?;
        let mut id = [0u8; ID_LEN];
        let bytes = config.id.as_bytes();
        let n = bytes.len().min(ID_LEN);
        id[..n].copy_from_slice(&bytes[..n]);
        Ok(Disk {
            file,
            // A partial last sector is not addressable.
            sectors: size / SECTOR_SIZE,
            read_only: config.read_only,
            cache_type: config.cache_type,
            id,
        })
    }

    fn size(&self) -> u64 {
        self.sectors * SECTOR_SIZE
    }
}

/// The size of a regular file or of a block device (whose metadata says 0).
fn image_size(file: &File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    let size = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    Ok(size)
}

/// What the device counts, for the VMM's metrics.
#[derive(Debug, Default)]
pub struct BlockCounters {
    /// Read requests served.
    pub reads: AtomicU64,
    /// Write requests served.
    pub writes: AtomicU64,
    /// Flush requests served.
    pub flushes: AtomicU64,
    /// Bytes read from the image.
    pub read_bytes: AtomicU64,
    /// Bytes written to the image.
    pub write_bytes: AtomicU64,
    /// Requests answered with an error status, or returned without one.
    pub errors: AtomicU64,
}

struct Running {
    memory: GuestMemory,
    queue: Queue,
    interrupt: Arc<Interrupt>,
}

struct BlockState {
    disk: Disk,
    running: Option<Running>,
    counters: Arc<BlockCounters>,
}

/// The transport-facing half of a virtio-blk device.
pub struct Block {
    features: u64,
    config: [u8; CONFIG_LEN],
    queue_event: EventFd,
    state: Arc<Mutex<BlockState>>,
    counters: Arc<BlockCounters>,
}

impl Block {
    /// A device on the image `config` names.
    pub fn new(config: &DiskConfig) -> Result<Block, DiskError> {
        let disk = Disk::open(config)?;
        let mut features =
            1u64 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_RING_F_EVENT_IDX | 1 << VIRTIO_BLK_F_SEG_MAX;
        if disk.read_only {
            features |= 1 << VIRTIO_BLK_F_RO;
        } else {
            features |= 1 << VIRTIO_BLK_F_DISCARD | 1 << VIRTIO_BLK_F_WRITE_ZEROES;
        }
        if disk.cache_type == CacheType::Writeback {
            features |= 1 << VIRTIO_BLK_F_FLUSH;
        }
        let mut cfg = [0u8; CONFIG_LEN];
        cfg[0..8].copy_from_slice(&disk.sectors.to_le_bytes());
        // seg_max: the header and the status take two descriptors.
        cfg[12..16].copy_from_slice(&u32::from(QUEUE_SIZE - 2).to_le_bytes());
        // max_discard_sectors, max_discard_seg, discard_sector_alignment.
        cfg[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
        cfg[40..44].copy_from_slice(&1u32.to_le_bytes());
        cfg[44..48].copy_from_slice(&1u32.to_le_bytes());
        // max_write_zeroes_sectors, max_write_zeroes_seg, write_zeroes_may_unmap.
        cfg[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
        cfg[52..56].copy_from_slice(&1u32.to_le_bytes());
        cfg[56] = 1;
        let queue_event = EventFd::new(EFD_NONBLOCK).map_err(|source| DiskError::Open {
            path: config.path.clone(),
            mode: "with an event",
            source,
        })?;
        let counters = Arc::new(BlockCounters::default());
        Ok(Block {
            features,
            config: cfg,
            queue_event,
            state: Arc::new(Mutex::new(BlockState {
                disk,
                running: None,
                counters: counters.clone(),
            })),
            counters,
        })
    }

    /// A handle that swaps the backing file while the VM runs.
    pub fn handle(&self) -> BlockHandle {
        BlockHandle {
            state: self.state.clone(),
        }
    }

    /// The half that serves the requests, for a device thread's event manager.
    pub fn worker(&self) -> std::io::Result<BlockWorker> {
        Ok(BlockWorker {
            state: self.state.clone(),
            queue_event: self.queue_event.try_clone()?,
        })
    }

    /// The device's counters.
    pub fn counters(&self) -> Arc<BlockCounters> {
        self.counters.clone()
    }

    /// The image's size in bytes (whole sectors).
    pub fn size(&self) -> u64 {
        self.lock().disk.size()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BlockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl VirtioDevice for Block {
    fn device_type(&self) -> u32 {
        TYPE_BLOCK
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn device_features(&self) -> u64 {
        self.features
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        // The capacity follows the backing file, which `BlockHandle` may swap.
        let mut config = self.config;
        config[0..8].copy_from_slice(&self.lock().disk.sectors.to_le_bytes());
        if let Some(bytes) = config.get(start..) {
            let n = bytes.len().min(data.len());
            data[..n].copy_from_slice(&bytes[..n]);
        }
    }

    fn queue_event(&self, index: usize) -> Option<&EventFd> {
        (index == 0).then_some(&self.queue_event)
    }

    fn activate(
        &mut self,
        memory: GuestMemory,
        _features: u64,
        queues: Vec<Queue>,
        interrupt: Arc<Interrupt>,
    ) -> Result<(), ActivateError> {
        let queue = queues
            .into_iter()
            .next()
            .ok_or(ActivateError::QueueNotReady(0))?;
        self.lock().running = Some(Running {
            memory,
            queue,
            interrupt,
        });
        // Serve whatever the driver queued before it set DRIVER_OK.
        let _ = self.queue_event.write(1);
        Ok(())
    }

    fn reset(&mut self) {
        self.lock().running = None;
    }
}

/// Swaps the image behind a running [`Block`] device, as Firecracker's
/// `PATCH /drives/{drive_id}` does. The caller tells the driver through the
/// transport's configuration-change interrupt (the capacity may differ).
#[derive(Clone)]
pub struct BlockHandle {
    state: Arc<Mutex<BlockState>>,
}

impl BlockHandle {
    /// Opens `config`'s image and serves every later request from it; requests
    /// already served went to the old one. The read-only setting and the cache
    /// type were negotiated with the driver and must stay.
    pub fn replace(&self, config: &DiskConfig) -> Result<(), DiskError> {
        let disk = Disk::open(config)?;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let immutable = |what| DiskError::Immutable {
            path: config.path.clone(),
            what,
        };
        if disk.read_only != state.disk.read_only {
            return Err(immutable("is_read_only"));
        }
        if disk.cache_type != state.disk.cache_type {
            return Err(immutable("cache_type"));
        }
        state.disk = disk;
        Ok(())
    }

    /// The current image's size in bytes.
    pub fn size(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .disk
            .size()
    }
}

/// Serves a [`Block`] device's queue when the guest notifies it.
pub struct BlockWorker {
    state: Arc<Mutex<BlockState>>,
    queue_event: EventFd,
}

impl BlockWorker {
    /// Serves every available request; signals the driver if it wants to know.
    pub fn process_queue(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let BlockState {
            disk,
            running,
            counters,
        } = &mut *state;
        let Some(Running {
            memory,
            queue,
            interrupt,
        }) = running
        else {
            return;
        };
        let mut used_any = false;
        let mut empty_turns = 0;
        loop {
            if queue.disable_notification(memory).is_err() {
                break;
            }
            let mut popped = false;
            while let Some(chain) = queue.pop_descriptor_chain(&*memory) {
                popped = true;
                let head = chain.head_index();
                let descriptors: Vec<Descriptor> = chain.collect();
                let written = serve(disk, memory, &descriptors, counters);
                if queue.add_used(memory, head, written).is_err() {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                used_any = true;
            }
            // More requests may have come in while notifications were off.
            empty_turns = if popped { 0 } else { empty_turns + 1 };
            // An available index out of range pops nothing yet always reports more:
            // give up after two empty turns rather than spin (found by fuzzing).
            match queue.enable_notification(memory) {
                Ok(true) if empty_turns < 2 => continue,
                _ => break,
            }
        }
        if used_any && queue.needs_notification(memory).unwrap_or(true) {
            interrupt.signal_used_buffer();
        }
    }
}

impl MutEventSubscriber for BlockWorker {
    fn process(&mut self, _events: Events, _ops: &mut EventOps) {
        let _ = self.queue_event.read();
        self.process_queue();
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&self.queue_event, EventSet::IN)) {
            tracing::error!("cannot watch the virtio-blk queue: {e}");
        }
    }
}

/// A descriptor chain split by direction: what the device reads, then what it
/// writes.
struct Buffers {
    readable: Vec<(u64, u64)>,
    writable: Vec<(u64, u64)>,
}

impl Buffers {
    /// `None` when the chain is malformed beyond an error status: it does not end
    /// (a loop or a broken link) or has no writable byte at its end.
    fn split(descriptors: &[Descriptor]) -> Option<Result<Buffers, ()>> {
        let last = descriptors.last()?;
        if last.has_next() || !last.is_write_only() || last.len() == 0 {
            return None;
        }
        let mut buffers = Buffers {
            readable: Vec::new(),
            writable: Vec::new(),
        };
        for d in descriptors {
            let piece = (d.addr().0, u64::from(d.len()));
            if d.is_write_only() {
                buffers.writable.push(piece);
            } else if buffers.writable.is_empty() {
                buffers.readable.push(piece);
            } else {
                // A readable buffer after a writable one: the wrong direction.
                return Some(Err(()));
            }
        }
        Some(Ok(buffers))
    }
}

/// The guest-physical pieces of `[start, start + len)` of the stream `pieces` makes.
fn slice(pieces: &[(u64, u64)], mut start: u64, mut len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(addr, size) in pieces {
        if len == 0 {
            break;
        }
        if start >= size {
            start -= size;
            continue;
        }
        let take = (size - start).min(len);
        out.push((addr.wrapping_add(start), take));
        len -= take;
        start = 0;
    }
    out
}

fn total(pieces: &[(u64, u64)]) -> u64 {
    pieces.iter().map(|&(_, len)| len).sum()
}

/// Why a request failed, and the status that says so.
enum Failure {
    Error,
    Unsupported,
}

/// Serves one chain; returns the number of bytes written into it (status included).
fn serve(
    disk: &Disk,
    memory: &GuestMemory,
    descriptors: &[Descriptor],
    counters: &BlockCounters,
) -> u32 {
    let Some(buffers) = Buffers::split(descriptors) else {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return 0;
    };
    let writable_len = buffers.as_ref().map_or_else(
        |_| descriptors.last().map_or(0, |d| u64::from(d.len())),
        |b| total(&b.writable),
    );
    let status_piece = match &buffers {
        Ok(b) => slice(&b.writable, writable_len - 1, 1),
        Err(()) => descriptors
            .last()
            .map(|d| vec![(d.addr().0 + u64::from(d.len()) - 1, 1)])
            .unwrap_or_default(),
    };
    let (status, written) = match buffers {
        Ok(b) => match execute(disk, memory, &b, writable_len - 1, counters) {
            Ok(written) => (VIRTIO_BLK_S_OK, written),
            Err(Failure::Error) => (VIRTIO_BLK_S_IOERR, 0),
            Err(Failure::Unsupported) => (VIRTIO_BLK_S_UNSUPP, 0),
        },
        Err(()) => (VIRTIO_BLK_S_IOERR, 0),
    };
    if status != VIRTIO_BLK_S_OK {
        counters.errors.fetch_add(1, Ordering::Relaxed);
    }
    let Some(&(addr, _)) = status_piece.first() else {
        return 0;
    };
    if memory.write_slice(&[status], GuestAddress(addr)).is_err() {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return 0;
    }
    u32::try_from(written + 1).unwrap_or(u32::MAX)
}

/// Carries out the request in `buffers` (whose last writable byte is the status,
/// `data_out` writable bytes before it); returns the data bytes written to the guest.
fn execute(
    disk: &Disk,
    memory: &GuestMemory,
    buffers: &Buffers,
    data_out: u64,
    counters: &BlockCounters,
) -> Result<u64, Failure> {
    let readable = total(&buffers.readable);
    if readable < HEADER_LEN {
        return Err(Failure::Error);
    }
    let mut header = [0u8; HEADER_LEN as usize];
    read_guest(
        memory,
        &slice(&buffers.readable, 0, HEADER_LEN),
        &mut header,
    )?;
    let request_type = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let mut sector_bytes = [0u8; 8];
    sector_bytes.copy_from_slice(&header[8..16]);
    let sector = u64::from_le_bytes(sector_bytes);
    let data_in = readable - HEADER_LEN;
    match request_type {
        VIRTIO_BLK_T_IN => {
            let offset = checked_range(disk, sector, data_out)?;
            copy_to_guest(disk, memory, &slice(&buffers.writable, 0, data_out), offset)?;
            counters.reads.fetch_add(1, Ordering::Relaxed);
            counters.read_bytes.fetch_add(data_out, Ordering::Relaxed);
            Ok(data_out)
        }
        VIRTIO_BLK_T_OUT => {
            if disk.read_only {
                return Err(Failure::Error);
            }
            let offset = checked_range(disk, sector, data_in)?;
            let pieces = slice(&buffers.readable, HEADER_LEN, data_in);
            copy_from_guest(disk, memory, &pieces, offset)?;
            counters.writes.fetch_add(1, Ordering::Relaxed);
            counters.write_bytes.fetch_add(data_in, Ordering::Relaxed);
            Ok(0)
        }
        VIRTIO_BLK_T_FLUSH => {
            if disk.cache_type == CacheType::Writeback && !disk.read_only {
                disk.file.sync_all().map_err(|_| Failure::Error)?;
            }
            counters.flushes.fetch_add(1, Ordering::Relaxed);
            Ok(0)
        }
        VIRTIO_BLK_T_GET_ID => {
            let n = data_out.min(ID_LEN as u64);
            write_guest(
                memory,
                &slice(&buffers.writable, 0, n),
                &disk.id[..n as usize],
            )?;
            Ok(n)
        }
        VIRTIO_BLK_T_DISCARD | VIRTIO_BLK_T_WRITE_ZEROES => {
            if disk.read_only {
                return Err(Failure::Error);
            }
            if data_in == 0 || !data_in.is_multiple_of(RANGE_LEN) {
                return Err(Failure::Error);
            }
            let mut ranges = vec![0u8; usize::try_from(data_in).map_err(|_| Failure::Error)?];
            read_guest(
                memory,
                &slice(&buffers.readable, HEADER_LEN, data_in),
                &mut ranges,
            )?;
            for range in ranges.chunks_exact(RANGE_LEN as usize) {
                let mut field = [0u8; 8];
                field.copy_from_slice(&range[0..8]);
                let start = u64::from_le_bytes(field);
                let sectors = u32::from_le_bytes([range[8], range[9], range[10], range[11]]);
                let flags = u32::from_le_bytes([range[12], range[13], range[14], range[15]]);
                let len = u64::from(sectors) * SECTOR_SIZE;
                let offset = checked_range(disk, start, len)?;
                if request_type == VIRTIO_BLK_T_DISCARD {
                    // Discarded sectors may read as anything: a hole, or the old data
                    // where the file system cannot punch one.
                    let _ = punch_hole(&disk.file, offset, len);
                } else {
                    zero_range(
                        &disk.file,
                        offset,
                        len,
                        flags & WRITE_ZEROES_FLAG_UNMAP != 0,
                    )?;
                }
            }
            Ok(0)
        }
        _ => Err(Failure::Unsupported),
    }
}

/// The byte offset of `len` bytes at `sector`, if they are whole sectors inside the image.
fn checked_range(disk: &Disk, sector: u64, len: u64) -> Result<u64, Failure> {
    if !len.is_multiple_of(SECTOR_SIZE) {
        return Err(Failure::Error);
    }
    let offset = sector.checked_mul(SECTOR_SIZE).ok_or(Failure::Error)?;
    let end = offset.checked_add(len).ok_or(Failure::Error)?;
    if end > disk.size() {
        return Err(Failure::Error);
    }
    Ok(offset)
}

fn read_guest(memory: &GuestMemory, pieces: &[(u64, u64)], out: &mut [u8]) -> Result<(), Failure> {
    let mut at = 0usize;
    for &(addr, len) in pieces {
        let len = len as usize;
        let dest = out.get_mut(at..at + len).ok_or(Failure::Error)?;
        memory
            .read_slice(dest, GuestAddress(addr))
            .map_err(|_| Failure::Error)?;
        at += len;
    }
    Ok(())
}

fn write_guest(memory: &GuestMemory, pieces: &[(u64, u64)], data: &[u8]) -> Result<(), Failure> {
    let mut at = 0usize;
    for &(addr, len) in pieces {
        let len = len as usize;
        let src = data.get(at..at + len).ok_or(Failure::Error)?;
        memory
            .write_slice(src, GuestAddress(addr))
            .map_err(|_| Failure::Error)?;
        at += len;
    }
    Ok(())
}

/// The bounce buffer for `pieces`: their largest, up to [`CHUNK`] (a 4 KiB request
/// should not allocate and zero 128 KiB).
fn chunk_for(pieces: &[(u64, u64)]) -> usize {
    pieces
        .iter()
        .map(|&(_, len)| len)
        .max()
        .map_or(0, |len| usize::try_from(len).unwrap_or(CHUNK).min(CHUNK))
}

/// Reads the image at `offset` into the guest buffers `pieces`.
fn copy_to_guest(
    disk: &Disk,
    memory: &GuestMemory,
    pieces: &[(u64, u64)],
    mut offset: u64,
) -> Result<(), Failure> {
    let mut buf = vec![0u8; chunk_for(pieces)];
    for &(addr, len) in pieces {
        let mut done = 0u64;
        while done < len {
            let n = ((len - done) as usize).min(CHUNK);
            disk.file
                .read_exact_at(&mut buf[..n], offset)
                .map_err(|_| Failure::Error)?;
            let at = addr.checked_add(done).ok_or(Failure::Error)?;
            memory
                .write_slice(&buf[..n], GuestAddress(at))
                .map_err(|_| Failure::Error)?;
            done += n as u64;
            offset += n as u64;
        }
    }
    Ok(())
}

/// Writes the guest buffers `pieces` to the image at `offset`.
fn copy_from_guest(
    disk: &Disk,
    memory: &GuestMemory,
    pieces: &[(u64, u64)],
    mut offset: u64,
) -> Result<(), Failure> {
    let mut buf = vec![0u8; chunk_for(pieces)];
    for &(addr, len) in pieces {
        let mut done = 0u64;
        while done < len {
            let n = ((len - done) as usize).min(CHUNK);
            let at = addr.checked_add(done).ok_or(Failure::Error)?;
            memory
                .read_slice(&mut buf[..n], GuestAddress(at))
                .map_err(|_| Failure::Error)?;
            disk.file
                .write_all_at(&buf[..n], offset)
                .map_err(|_| Failure::Error)?;
            done += n as u64;
            offset += n as u64;
        }
    }
    Ok(())
}

fn fallocate(file: &File, mode: i32, offset: u64, len: u64) -> std::io::Result<()> {
    let offset = i64::try_from(offset).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let len = i64::try_from(len).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: fallocate only reads its integer arguments; the descriptor is open for
    // as long as `file` lives.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn punch_hole(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    fallocate(
        file,
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        offset,
        len,
    )
}

/// Zeroes `[offset, offset + len)`: a hole when `unmap` allows it, else a zero range,
/// else zeros written.
fn zero_range(file: &File, offset: u64, len: u64, unmap: bool) -> Result<(), Failure> {
    if len == 0 {
        return Ok(());
    }
    if unmap && punch_hole(file, offset, len).is_ok() {
        return Ok(());
    }
    if fallocate(
        file,
        libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
        offset,
        len,
    )
    .is_ok()
    {
        return Ok(());
    }
    let zeros = vec![0u8; CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = ((len - done) as usize).min(CHUNK);
        file.write_all_at(&zeros[..n], offset + done)
            .map_err(|_| Failure::Error)?;
        done += n as u64;
    }
    Ok(())
}

/// Whether `path` can back a drive as `config` asks, without keeping it open.
pub fn check_image(config: &DiskConfig) -> Result<(), DiskError> {
    Disk::open(config).map(drop)
}

/// The path of a drive's image, for messages.
pub fn image_path(config: &DiskConfig) -> &Path {
    &config.path
}
