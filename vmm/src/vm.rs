//! A VM's lifecycle: build the machine from a config and start its vCPU threads
//! ([`Vm::start`]), pause and resume them, read their counters, and stop them
//! ([`Vm::stop`]). [`run`] is the whole life of a VM without an API: start, serve the
//! console until the guest ends, stop.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use api::types::VcpuCounters as VcpuReport;
use api::types::{DeviceCounters, DeviceKind};
use arch_riscv::fdt::InterruptController;
use arch_riscv::fdt::VirtioMmioNode;
use arch_riscv::layout::{
    PLIC_BASE, PLIC_NUM_SOURCES, PLIC_SIZE, UART_BASE, UART_IRQ, UART_SIZE, VIRTIO_MMIO_BASE,
    VIRTIO_MMIO_IRQ_BASE, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SLOTS,
};
use devices::bus::MmioBus;
use devices::irq::IrqLine;
use devices::plic::{Plic, PlicIrqLine};
use devices::uart::Uart;
use devices::virtio::block::{self, Block, BlockHandle, DiskConfig};
use devices::virtio::mmio::VirtioMmio;
use devices::virtio::net::{Net, Tap};
use devices::virtio::rng::Rng;
use devices::virtio::vsock::Vsock;
use devices::virtio::{Counted, VirtioDevice};
use event_manager::{EventManager, MutEventSubscriber, SubscriberOps};
use thiserror::Error;

use crate::boot::{self, BootError, MachineDescription};
use crate::config::{Backend, CacheType, VmConfig};
use crate::console::{ConsoleUart, ExitWatcher, RawTerminal, StdinToUart};
use crate::device_thread::{DeviceThread, Worker};
use crate::hypervisor::{self, BackendKind, HypervisorError, IrqChipRequest, VmSetup};
use crate::machine::{BackendIrqLine, ExitStatus, HartLines, Machine};
use crate::memory::{GuestMemory, MemoryError};
use crate::seccomp::{SeccompFilters, ThreadKind};
use crate::vcpu::vcpu_thread;

/// How long a pause waits for every vCPU to stop executing.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a counters request waits for the executing vCPUs to publish.
const COUNTERS_TIMEOUT: Duration = Duration::from_millis(500);

/// Failures to build or start a VM, or to pause it.
#[derive(Debug, Error)]
pub enum VmError {
    /// Guest memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// Kernel, initrd or FDT loading.
    #[error(transparent)]
    Boot(#[from] BootError),
    /// The backend.
    #[error(transparent)]
    Hypervisor(#[from] HypervisorError),
    /// Device setup.
    #[error("Cannot set up devices: {0}")]
    Devices(String),
    /// Host resources (threads, event loop).
    #[error("Host error: {0}")]
    Host(String),
    /// Some vCPUs did not stop executing in time.
    #[error("vCPUs {0:?} did not pause in time")]
    PauseTimeout(Vec<usize>),
}

impl VmError {
    /// Whether the failure comes from the configuration (a client's doing) rather
    /// than from the host.
    pub fn is_config_error(&self) -> bool {
        !matches!(self, VmError::Host(_) | VmError::PauseTimeout(_))
    }
}

/// A started VM: its machine, console UART and vCPU threads. Dropping it stops it.
pub struct Vm {
    machine: Arc<Machine>,
    uart: Arc<Mutex<ConsoleUart>>,
    threads: Vec<JoinHandle<()>>,
    devices: Option<DeviceThread>,
    device_counters: Vec<CountedDevice>,
    drives: Vec<LiveDrive>,
    gate: Arc<StartGate>,
    _terminal: RawTerminal,
}

/// Holds the vCPU threads, their filters loaded, until the thread that started the
/// VM has loaded its own: no guest instruction runs in a process with an unfiltered
/// thread.
#[derive(Default)]
pub struct StartGate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl StartGate {
    /// Lets the waiting threads go (they check whether the VM is still wanted).
    pub fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.opened.notify_all();
    }

    /// Waits until [`StartGate::open`].
    pub fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A drive of the running VM, for `PATCH /drives/{drive_id}`.
struct LiveDrive {
    config: DiskConfig,
    handle: BlockHandle,
    transport: Arc<Mutex<VirtioMmio>>,
}

/// A virtio device's counters with what names it.
struct CountedDevice {
    kind: DeviceKind,
    id: String,
    counters: Arc<dyn Counted>,
}

impl Vm {
    /// Builds the VM described by `config` and starts its vCPU threads (the boot
    /// hart runs; the others wait for HSM). The terminal on stdin, if any, is put
    /// in raw mode for the guest's console until the VM is dropped.
    ///
    /// Each thread it starts loads its kind's filter from `seccomp` first; the
    /// calling thread loads the `vmm` filter last, and only then do the vCPUs run.
    pub fn start(config: &VmConfig, seccomp: &SeccompFilters) -> Result<Vm, VmError> {
        let machine_config = &config.machine_config;
        let harts = machine_config.vcpu_count as usize;
        let backend = match machine_config.backend {
            Backend::Soft => Some(BackendKind::Soft),
            Backend::Kvm => Some(BackendKind::Kvm),
            Backend::Auto => None,
        };
        let hypervisor = hypervisor::new_hypervisor(backend)?;

        // The backend decides what the harts are and which interrupt controller the
        // guest gets; the device tree and the devices follow it.
        let vm = hypervisor.create_vm(&VmSetup {
            vcpu_count: harts as u32,
            mmio_windows: vec![
                (PLIC_BASE, PLIC_SIZE),
                (UART_BASE, UART_SIZE),
                (
                    VIRTIO_MMIO_BASE,
                    VIRTIO_MMIO_SIZE * u64::from(VIRTIO_MMIO_SLOTS),
                ),
            ],
            nesting: hypervisor::Nesting::from_config(machine_config),
            irqchip: IrqChipRequest::from_config(machine_config),
            compile: hypervisor::compile_config(machine_config, {
                // The compile worker does what a vCPU thread does to memory: it
                // gets the vCPU filter.
                let seccomp = seccomp.clone();
                move || match seccomp.install(ThreadKind::Vcpu, "rvnest-jit") {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!("compile worker: {e}; the harts interpret");
                        false
                    }
                }
            }),
        })?;
        let irqchip = vm.interrupt_controller();
        tracing::info!("irqchip: {}", hypervisor::irqchip_name(&irqchip));

        // The virtio devices first: an image that cannot be used stops the VM before it
        // is built. Slot order: the drives (root first), the network interfaces, the
        // entropy device, the vsock device.
        let mut virtio: Vec<(Box<dyn VirtioDevice>, Worker)> = Vec::new();
        let mut device_counters = Vec::new();
        let mut count = |kind, id: &str, counters: Arc<dyn Counted>| {
            device_counters.push(CountedDevice {
                kind,
                id: id.to_string(),
                counters,
            })
        };
        let mut drive_handles = Vec::new();
        for drive in config.drives_in_guest_order() {
            let disk = DiskConfig {
                path: drive.path_on_host.clone(),
                read_only: drive.is_read_only,
                cache_type: match drive.cache_type {
                    CacheType::Unsafe => block::CacheType::Unsafe,
                    CacheType::Writeback => block::CacheType::Writeback,
                },
                id: drive.drive_id.clone(),
            };
            let block = Block::new(&disk)
                .map_err(|e| VmError::Devices(format!("drive {}: {e}", drive.drive_id)))?;
            drive_handles.push((disk, block.handle()));
            count(DeviceKind::Block, &drive.drive_id, block.counters());
            let worker = block
                .worker()
                .map_err(|e| VmError::Host(format!("Cannot set up a drive: {e}")))?;
            virtio.push((Box::new(block), Arc::new(Mutex::new(worker))));
        }
        for iface in &config.network_interfaces {
            let failed =
                |e: String| VmError::Devices(format!("network interface {}: {e}", iface.iface_id));
            let tap = Tap::open(&iface.host_dev_name).map_err(|e| failed(e.to_string()))?;
            let mac = match &iface.guest_mac {
                Some(text) => Some(
                    api::config::parse_mac(text)
                        .ok_or_else(|| failed(format!("bad guest_mac {text:?}")))?,
                ),
                None => None,
            };
            let net = Net::new(tap, mac).map_err(|e| failed(e.to_string()))?;
            let worker = net.worker().map_err(|e| failed(e.to_string()))?;
            count(DeviceKind::Net, &iface.iface_id, net.counters());
            virtio.push((Box::new(net), Arc::new(Mutex::new(worker))));
        }
        if config.entropy.is_some() {
            let host =
                |e: std::io::Error| VmError::Host(format!("Cannot set up the entropy device: {e}"));
            let rng = Rng::new().map_err(host)?;
            let worker = rng.worker().map_err(host)?;
            count(DeviceKind::Rng, "entropy", rng.counters());
            virtio.push((Box::new(rng), Arc::new(Mutex::new(worker))));
        }
        if let Some(vsock) = &config.vsock {
            let failed = |e: String| VmError::Devices(format!("vsock: {e}"));
            let device = Vsock::new(u64::from(vsock.guest_cid), &vsock.uds_path)
                .map_err(|e| failed(e.to_string()))?;
            let worker = device.worker().map_err(|e| failed(e.to_string()))?;
            count(DeviceKind::Vsock, "vsock", device.counters());
            virtio.push((Box::new(device), Arc::new(Mutex::new(worker))));
        }
        let slots: Vec<VirtioMmioNode> = (0..virtio.len() as u32)
            .map(|slot| VirtioMmioNode {
                base: VIRTIO_MMIO_BASE + u64::from(slot) * VIRTIO_MMIO_SIZE,
                size: VIRTIO_MMIO_SIZE,
                irq: VIRTIO_MMIO_IRQ_BASE + slot,
            })
            .collect();

        let mut memory = GuestMemory::new(machine_config.mem_size_mib)?;
        let boot = boot::load(
            &mut memory,
            config,
            &MachineDescription {
                harts: harts as u32,
                cpu: vm.guest_cpu(),
                irqchip,
                virtio_mmio: slots.clone(),
            },
        )?;
        let memory = Arc::new(memory);

        let hart_lines = Arc::new(HartLines::default());
        let mut bus = MmioBus::new();
        let plic = match irqchip {
            InterruptController::Plic => {
                let plic = Plic::new(PLIC_NUM_SOURCES, harts, hart_lines.clone())
                    .map_err(|e| VmError::Devices(e.to_string()))?;
                let plic = Arc::new(Mutex::new(plic));
                bus.insert(PLIC_BASE, PLIC_SIZE, plic.clone())
                    .map_err(|e| VmError::Devices(e.to_string()))?;
                Some(plic)
            }
            // The backend's controller lives in the kernel: no MMIO for the VMM.
            InterruptController::Aia(_) => None,
        };
        let irq_line = |source: u32| -> Result<Arc<dyn IrqLine>, VmError> {
            Ok(match &plic {
                Some(plic) => Arc::new(
                    PlicIrqLine::new(plic.clone(), source)
                        .map_err(|e| VmError::Devices(e.to_string()))?,
                ),
                None => Arc::new(BackendIrqLine::new(vm.clone(), source)),
            })
        };
        let uart = Arc::new(Mutex::new(Uart::new(
            std::io::stdout(),
            irq_line(UART_IRQ)?,
        )));
        bus.insert(UART_BASE, UART_SIZE, uart.clone())
            .map_err(|e| VmError::Devices(e.to_string()))?;
        let mut workers: Vec<Worker> = Vec::with_capacity(virtio.len());
        let mut transports = Vec::with_capacity(virtio.len());
        for ((device, worker), slot) in virtio.into_iter().zip(&slots) {
            workers.push(worker);
            let transport = Arc::new(Mutex::new(VirtioMmio::new(
                device,
                memory.mmap().clone(),
                irq_line(slot.irq)?,
            )));
            bus.insert(slot.base, slot.size, transport.clone())
                .map_err(|e| VmError::Devices(e.to_string()))?;
            transports.push(transport);
        }
        // The drives hold the first slots.
        let drives = drive_handles
            .into_iter()
            .zip(transports)
            .map(|((config, handle), transport)| LiveDrive {
                config,
                handle,
                transport,
            })
            .collect();
        let devices = if workers.is_empty() {
            None
        } else {
            Some(
                DeviceThread::spawn(workers, seccomp.clone())
                    .map_err(|e| VmError::Host(format!("Cannot start the device thread: {e}")))?,
            )
        };

        vm.add_memory_region(memory.region())?;
        let vcpus = (0..harts as u32)
            .map(|id| vm.create_vcpu(id))
            .collect::<Result<Vec<_>, _>>()?;

        let mut machine = Machine::new(memory, bus, hart_lines, harts)
            .map_err(|e| VmError::Host(e.to_string()))?;
        machine.sbi_disabled = machine_config
            .sbi_disabled_extensions
            .iter()
            .filter_map(|name| crate::sbi::extension_ids(name))
            .flatten()
            .copied()
            .collect();
        let machine = Arc::new(machine);
        machine.set_harts(vcpus.iter().map(|v| v.signals()).collect());
        machine
            .hart_states
            .start(0, boot.entry, boot.fdt_addr)
            .map_err(|code| {
                VmError::Host(format!("Cannot start the boot hart (SBI error {code})"))
            })?;

        let terminal = RawTerminal::enter();
        let mut vm = Vm {
            machine,
            uart,
            threads: Vec::with_capacity(harts),
            devices,
            device_counters,
            drives,
            gate: Arc::new(StartGate::default()),
            _terminal: terminal,
        };
        for (id, vcpu) in vcpus.into_iter().enumerate() {
            let machine = vm.machine.clone();
            let gate = vm.gate.clone();
            let seccomp = seccomp.clone();
            let thread = std::thread::Builder::new()
                .name(format!("vcpu{id}"))
                .spawn(move || vcpu_thread(id, vcpu, machine, &seccomp, &gate))
                .map_err(|e| VmError::Host(format!("Cannot spawn vCPU thread {id}: {e}")))?;
            vm.threads.push(thread);
        }
        // On failure, dropping `vm` stops the vCPUs and opens the gate for them to end.
        seccomp
            .install(ThreadKind::Vmm, "main")
            .map_err(|e| VmError::Host(e.to_string()))?;
        vm.gate.open();
        Ok(vm)
    }

    /// The machine the vCPUs share.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// The console UART.
    pub fn uart(&self) -> &Arc<Mutex<ConsoleUart>> {
        &self.uart
    }

    /// Stops every vCPU from executing; returns once all sleep (or are stopped by
    /// HSM). Pausing a paused VM does nothing.
    pub fn pause(&self) -> Result<(), VmError> {
        let machine = &self.machine;
        let late = machine.control.pause(|| machine.kick_all(), PAUSE_TIMEOUT);
        if late.is_empty() {
            Ok(())
        } else {
            Err(VmError::PauseTimeout(late))
        }
    }

    /// Lets the vCPUs run again.
    pub fn resume(&self) {
        self.machine.control.resume();
    }

    /// Whether the VM is paused.
    pub fn is_paused(&self) -> bool {
        self.machine.control.is_paused()
    }

    /// Every vCPU's counters, fresh from its thread.
    pub fn counters(&self) -> Vec<VcpuReport> {
        let machine = &self.machine;
        machine
            .control
            .snapshots(|| machine.kick_all(), COUNTERS_TIMEOUT)
            .iter()
            .enumerate()
            .map(|(id, snapshot)| snapshot.report(id as u32))
            .collect()
    }

    /// Puts the image at `path` behind the running drive `drive_id` (Firecracker's
    /// `PATCH /drives/{drive_id}`) and raises the configuration-change interrupt, so
    /// the guest reads the new capacity.
    pub fn replace_drive_image(&mut self, drive_id: &str, path: &Path) -> Result<(), VmError> {
        let drive = self
            .drives
            .iter_mut()
            .find(|d| d.config.id == drive_id)
            .ok_or_else(|| VmError::Devices(format!("drive {drive_id}: no such drive")))?;
        let mut config = drive.config.clone();
        config.path = path.to_path_buf();
        drive
            .handle
            .replace(&config)
            .map_err(|e| VmError::Devices(format!("drive {drive_id}: {e}")))?;
        drive.config = config;
        drive
            .transport
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .config_changed();
        tracing::info!(
            "drive {drive_id}: now {} ({} bytes)",
            path.display(),
            drive.handle.size()
        );
        Ok(())
    }

    /// Every virtio device's counters, in slot order.
    pub fn device_counters(&self) -> Vec<DeviceCounters> {
        self.device_counters
            .iter()
            .map(|device| {
                let now = device.counters.snapshot();
                DeviceCounters {
                    kind: device.kind,
                    id: device.id.clone(),
                    requests: now.requests,
                    bytes_to_guest: now.bytes_to_guest,
                    bytes_from_guest: now.bytes_from_guest,
                    errors: now.errors,
                }
            })
            .collect()
    }

    /// Stops the vCPU threads and waits for them; returns how the VM ended (the
    /// first recorded reason, or [`ExitStatus::Stopped`] if none was).
    pub fn stop(mut self) -> ExitStatus {
        self.stop_threads();
        self.machine.exit_status().unwrap_or(ExitStatus::Stopped)
    }

    /// Stops the vCPU threads and waits for them, keeping the machine (and the
    /// vCPUs' last counters) around.
    pub fn stop_threads(&mut self) {
        self.machine.stop_vcpus();
        self.gate.open();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // The vCPUs are gone: nothing notifies the queues any more.
        self.devices.take();
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Builds the VM described by `config`, runs it to the end and returns how it ended.
pub fn run(config: &VmConfig) -> Result<ExitStatus, VmError> {
    let vm = Vm::start(config, &SeccompFilters::disabled())?;
    let status = event_loop(&vm);
    let stopped = vm.stop();
    Ok(status.unwrap_or(stopped))
}

/// Runs the event loop (console input, the exit event) until the VM ends; `None` if
/// it ended without a recorded reason.
fn event_loop(vm: &Vm) -> Option<ExitStatus> {
    let mut events = match EventManager::<Arc<Mutex<dyn MutEventSubscriber + Send>>>::new() {
        Ok(events) => events,
        Err(e) => {
            return Some(ExitStatus::Error(format!(
                "Cannot create the event loop: {e}"
            )));
        }
    };
    let exit_watcher = Arc::new(Mutex::new(ExitWatcher::new(vm.machine.clone())));
    events.add_subscriber(exit_watcher.clone());
    events.add_subscriber(Arc::new(Mutex::new(StdinToUart::new(
        vm.uart.clone(),
        vm.machine.clone(),
    ))));
    loop {
        if let Err(e) = events.run_with_timeout(100) {
            return Some(ExitStatus::Error(format!("Event loop failed: {e}")));
        }
        if exit_watcher.lock().unwrap_or_else(|e| e.into_inner()).fired {
            break;
        }
    }
    vm.machine.exit_status()
}
