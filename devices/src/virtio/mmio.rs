//! The virtio-mmio transport, version 2 (virtio 1.2, section 4.2.2): the register
//! window of one device slot.
//!
//! Registers are 32 bits wide and 4-byte aligned; other accesses below the
//! configuration space read as zero and are ignored. The configuration space at
//! [`CONFIG_OFFSET`] takes accesses of any width.

use std::sync::Arc;

use virtio_queue::QueueT;

use crate::bus::MmioDevice;
use crate::irq::IrqLine;
use crate::virtio::{
    GuestMemory, INTERRUPT_CONFIG_CHANGE, Interrupt, Queue, VIRTIO_F_VERSION_1, VirtioDevice,
};

const MAGIC_VALUE: u64 = 0x000;
const VERSION: u64 = 0x004;
const DEVICE_ID: u64 = 0x008;
const VENDOR_ID: u64 = 0x00c;
const DEVICE_FEATURES: u64 = 0x010;
const DEVICE_FEATURES_SEL: u64 = 0x014;
const DRIVER_FEATURES: u64 = 0x020;
const DRIVER_FEATURES_SEL: u64 = 0x024;
const QUEUE_SEL: u64 = 0x030;
const QUEUE_NUM_MAX: u64 = 0x034;
const QUEUE_NUM: u64 = 0x038;
const QUEUE_READY: u64 = 0x044;
const QUEUE_NOTIFY: u64 = 0x050;
const INTERRUPT_STATUS: u64 = 0x060;
const INTERRUPT_ACK: u64 = 0x064;
const STATUS: u64 = 0x070;
const QUEUE_DESC_LOW: u64 = 0x080;
const QUEUE_DESC_HIGH: u64 = 0x084;
const QUEUE_DRIVER_LOW: u64 = 0x090;
const QUEUE_DRIVER_HIGH: u64 = 0x094;
const QUEUE_DEVICE_LOW: u64 = 0x0a0;
const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
const SHM_LEN_LOW: u64 = 0x0b0;
const SHM_LEN_HIGH: u64 = 0x0b4;
const SHM_BASE_LOW: u64 = 0x0b8;
const SHM_BASE_HIGH: u64 = 0x0bc;
const CONFIG_GENERATION: u64 = 0x0fc;
/// Offset of the device-specific configuration space.
pub const CONFIG_OFFSET: u64 = 0x100;

/// "virt" in little-endian.
const MAGIC: u32 = 0x7472_6976;
/// The modern transport.
const TRANSPORT_VERSION: u32 = 2;
/// The vendor ID the device reports: "RVNS".
const VENDOR: u32 = u32::from_le_bytes(*b"RVNS");

/// Device status bits (virtio 1.2, 2.1).
pub mod status {
    /// The guest found the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest has a driver for it.
    pub const DRIVER: u32 = 2;
    /// The driver is ready: the device runs.
    pub const DRIVER_OK: u32 = 4;
    /// The driver accepted the features (the device clears it when it refuses them).
    pub const FEATURES_OK: u32 = 8;
    /// The device failed and needs a reset.
    pub const DEVICE_NEEDS_RESET: u32 = 0x40;
    /// The driver gave up on the device.
    pub const FAILED: u32 = 0x80;
}

/// One device slot: the transport registers around a [`VirtioDevice`].
pub struct VirtioMmio {
    device: Box<dyn VirtioDevice>,
    memory: GuestMemory,
    interrupt: Arc<Interrupt>,
    queues: Vec<Queue>,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    status: u32,
    config_generation: u32,
    active: bool,
}

impl VirtioMmio {
    /// The transport of `device` over `memory`, interrupting on `line`.
    pub fn new(device: Box<dyn VirtioDevice>, memory: GuestMemory, line: Arc<dyn IrqLine>) -> Self {
        let queues = new_queues(device.as_ref());
        VirtioMmio {
            device,
            memory,
            interrupt: Arc::new(Interrupt::new(line)),
            queues,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            status: 0,
            config_generation: 0,
            active: false,
        }
    }

    /// The device status register.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// Whether the device runs (the driver set `DRIVER_OK` and activation worked).
    pub fn is_active(&self) -> bool {
        self.active
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// Queue registers may change only between `FEATURES_OK` and `DRIVER_OK`, on a
    /// queue that is not yet ready.
    fn selected_queue_configurable(&mut self) -> Option<&mut Queue> {
        let open = self.status & status::FEATURES_OK != 0 && self.status & status::DRIVER_OK == 0;
        self.selected_queue().filter(|q| open && !q.ready())
    }

    fn read_register(&mut self, offset: u64) -> u32 {
        match offset {
            MAGIC_VALUE => MAGIC,
            VERSION => TRANSPORT_VERSION,
            DEVICE_ID => self.device.device_type(),
            VENDOR_ID => VENDOR,
            DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device.device_features() as u32,
                1 => (self.device.device_features() >> 32) as u32,
                _ => 0,
            },
            QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            INTERRUPT_STATUS => self.interrupt.status(),
            STATUS => self.status,
            // No shared memory regions: a length of all ones says "none".
            SHM_LEN_LOW | SHM_LEN_HIGH | SHM_BASE_LOW | SHM_BASE_HIGH => u32::MAX,
            CONFIG_GENERATION => self.config_generation,
            _ => 0,
        }
    }

    fn write_register(&mut self, offset: u64, value: u32) {
        match offset {
            DEVICE_FEATURES_SEL => self.device_features_sel = value,
            DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            DRIVER_FEATURES => {
                // Features are fixed once the driver set FEATURES_OK.
                if self.status & status::FEATURES_OK != 0 || self.status & status::DRIVER == 0 {
                    return;
                }
                let value = u64::from(value);
                match self.driver_features_sel {
                    0 => self.driver_features = (self.driver_features & !0xffff_ffff) | value,
                    1 => self.driver_features = (self.driver_features & 0xffff_ffff) | value << 32,
                    _ => {}
                }
            }
            QUEUE_SEL => self.queue_sel = value,
            QUEUE_NUM => {
                if let Some(q) = self.selected_queue_configurable() {
                    // An invalid size (zero, too large, not a power of two) is kept
                    // out by the queue and makes activation fail.
                    q.set_size(value.try_into().unwrap_or(0));
                }
            }
            QUEUE_READY => {
                let open = self.status & status::DRIVER_OK == 0;
                if let Some(q) = self.selected_queue()
                    && (value == 0 || open)
                {
                    q.set_ready(value == 1);
                }
            }
            QUEUE_NOTIFY => {
                if self.active
                    && let Some(event) = self.device.queue_event(value as usize)
                    && let Err(e) = event.write(1)
                {
                    tracing::warn!("cannot signal virtio queue {value}: {e}");
                }
            }
            INTERRUPT_ACK => self.interrupt.acknowledge(value),
            STATUS => self.write_status(value),
            QUEUE_DESC_LOW => self.with_queue(|q| q.set_desc_table_address(Some(value), None)),
            QUEUE_DESC_HIGH => self.with_queue(|q| q.set_desc_table_address(None, Some(value))),
            QUEUE_DRIVER_LOW => self.with_queue(|q| q.set_avail_ring_address(Some(value), None)),
            QUEUE_DRIVER_HIGH => self.with_queue(|q| q.set_avail_ring_address(None, Some(value))),
            QUEUE_DEVICE_LOW => self.with_queue(|q| q.set_used_ring_address(Some(value), None)),
            QUEUE_DEVICE_HIGH => self.with_queue(|q| q.set_used_ring_address(None, Some(value))),
            _ => {}
        }
    }

    fn with_queue(&mut self, set: impl FnOnce(&mut Queue)) {
        if let Some(q) = self.selected_queue_configurable() {
            set(q);
        }
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        // The driver may only add bits (virtio 1.2, 2.1.1), except FAILED.
        let added = value & !self.status;
        if value & self.status != self.status {
            return;
        }
        if added & status::FEATURES_OK != 0 {
            let offered = self.device.device_features();
            let acceptable = self.driver_features & !offered == 0
                && self.driver_features & (1 << VIRTIO_F_VERSION_1) != 0;
            if !acceptable {
                // The driver reads the status back and sees the features refused.
                self.status = value & !status::FEATURES_OK;
                return;
            }
        }
        self.status = value;
        if added & status::DRIVER_OK != 0 && self.status & status::FEATURES_OK != 0 {
            self.activate();
        }
    }

    fn activate(&mut self) {
        let event_idx = self.driver_features & (1 << super::VIRTIO_RING_F_EVENT_IDX) != 0;
        let memory = &self.memory;
        if let Some(index) = self.queues.iter().position(|q| !q.is_valid(memory)) {
            self.fail_activation(&format!("queue {index} is not set up"));
            return;
        }
        // The device gets its own copies; the transport keeps the register view.
        let mut queues = Vec::with_capacity(self.queues.len());
        for queue in &self.queues {
            let mut state = queue.state();
            state.event_idx_enabled = event_idx;
            match Queue::try_from(state) {
                Ok(queue) => queues.push(queue),
                Err(e) => {
                    self.fail_activation(&format!("a queue is invalid: {e}"));
                    return;
                }
            }
        }
        match self.device.activate(
            self.memory.clone(),
            self.driver_features,
            queues,
            self.interrupt.clone(),
        ) {
            Ok(()) => self.active = true,
            Err(e) => self.fail_activation(&e.to_string()),
        }
    }

    fn fail_activation(&mut self, why: &str) {
        tracing::warn!("virtio device cannot start: {why}");
        self.status |= status::DEVICE_NEEDS_RESET;
        self.interrupt.signal_config_change();
    }

    fn reset(&mut self) {
        if self.active {
            self.device.reset();
        }
        self.active = false;
        self.status = 0;
        self.driver_features = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
        self.queues = new_queues(self.device.as_ref());
        self.interrupt.clear();
    }

    /// Tells the driver the configuration space changed (a new backing file).
    pub fn config_changed(&mut self) {
        self.config_generation = self.config_generation.wrapping_add(1);
        if self.status & status::DRIVER_OK != 0 {
            self.interrupt.signal_config_change();
        }
    }

    /// The pending interrupt bits, for tests and diagnostics.
    pub fn interrupt_status(&self) -> u32 {
        self.interrupt.status() & (super::INTERRUPT_USED_BUFFER | INTERRUPT_CONFIG_CHANGE)
    }
}

fn new_queues(device: &dyn VirtioDevice) -> Vec<Queue> {
    device
        .queue_max_sizes()
        .iter()
        .map(|&max| Queue::new(max).expect("queue_max_sizes are powers of two up to 32768"))
        .collect()
}

impl MmioDevice for VirtioMmio {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= CONFIG_OFFSET {
            self.device.read_config(offset - CONFIG_OFFSET, data);
            return;
        }
        data.fill(0);
        if data.len() == 4 && offset.is_multiple_of(4) {
            data.copy_from_slice(&self.read_register(offset).to_le_bytes());
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= CONFIG_OFFSET {
            self.device.write_config(offset - CONFIG_OFFSET, data);
            return;
        }
        if let Ok(bytes) = <[u8; 4]>::try_from(data)
            && offset.is_multiple_of(4)
        {
            self.write_register(offset, u32::from_le_bytes(bytes));
        }
    }
}
