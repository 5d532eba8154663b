//! A VM's lifecycle: build the machine from a config, boot it, run the event loop
//! until the guest ends, stop the vCPU threads.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arch_riscv::layout::{PLIC_BASE, PLIC_NUM_SOURCES, PLIC_SIZE, UART_BASE, UART_IRQ, UART_SIZE};
use devices::bus::MmioBus;
use devices::plic::{Plic, PlicIrqLine};
use devices::uart::Uart;
use event_manager::{EventManager, MutEventSubscriber, SubscriberOps};
use thiserror::Error;

use crate::boot::{self, BootError};
use crate::config::{Backend, VmConfig};
use crate::console::{ExitWatcher, RawTerminal, StdinToUart};
use crate::hypervisor::{self, BackendKind, HypervisorError, VmSetup};
use crate::machine::{ExitStatus, HartLines, Machine};
use crate::memory::{GuestMemory, MemoryError};
use crate::vcpu::vcpu_thread;

/// Failures to build or start a VM.
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
}

/// Builds the VM described by `config`, runs it to the end and returns how it ended.
pub fn run(config: &VmConfig) -> Result<ExitStatus, VmError> {
    let machine_config = &config.machine_config;
    let harts = machine_config.vcpu_count as usize;
    let backend = match machine_config.backend {
        Backend::Soft => Some(BackendKind::Soft),
        Backend::Kvm => Some(BackendKind::Kvm),
        Backend::Auto => None,
    };
    let hypervisor = hypervisor::new_hypervisor(backend)?;

    let mut memory = GuestMemory::new(machine_config.mem_size_mib)?;
    let boot = boot::load(&mut memory, config, harts as u32)?;
    let memory = Arc::new(memory);

    let hart_lines = Arc::new(HartLines::default());
    let plic = Plic::new(PLIC_NUM_SOURCES, harts, hart_lines.clone())
        .map_err(|e| VmError::Devices(e.to_string()))?;
    let plic = Arc::new(Mutex::new(plic));
    let uart_line =
        PlicIrqLine::new(plic.clone(), UART_IRQ).map_err(|e| VmError::Devices(e.to_string()))?;
    let uart = Arc::new(Mutex::new(Uart::new(
        std::io::stdout(),
        Arc::new(uart_line),
    )));
    let mut bus = MmioBus::new();
    bus.insert(PLIC_BASE, PLIC_SIZE, plic)
        .map_err(|e| VmError::Devices(e.to_string()))?;
    bus.insert(UART_BASE, UART_SIZE, uart.clone())
        .map_err(|e| VmError::Devices(e.to_string()))?;

    let vm = hypervisor.create_vm(&VmSetup {
        vcpu_count: harts as u32,
        mmio_windows: vec![(PLIC_BASE, PLIC_SIZE), (UART_BASE, UART_SIZE)],
        nesting: hypervisor::Nesting::from_config(machine_config),
    })?;
    vm.add_memory_region(memory.region())?;
    let vcpus = (0..harts as u32)
        .map(|id| vm.create_vcpu(id))
        .collect::<Result<Vec<_>, _>>()?;

    let machine = Arc::new(
        Machine::new(memory, bus, hart_lines, harts).map_err(|e| VmError::Host(e.to_string()))?,
    );
    machine.set_harts(vcpus.iter().map(|v| v.signals()).collect());
    machine
        .hart_states
        .start(0, boot.entry, boot.fdt_addr)
        .map_err(|code| VmError::Host(format!("Cannot start the boot hart (SBI error {code})")))?;

    let _terminal = RawTerminal::enter();
    let threads = spawn_vcpus(vcpus, &machine)?;
    let status = event_loop(&machine, uart);
    machine.stop_vcpus();
    for thread in threads {
        let _ = thread.join();
    }
    Ok(status)
}

fn spawn_vcpus(
    vcpus: Vec<Box<dyn crate::hypervisor::Vcpu>>,
    machine: &Arc<Machine>,
) -> Result<Vec<JoinHandle<()>>, VmError> {
    vcpus
        .into_iter()
        .enumerate()
        .map(|(id, vcpu)| {
            let machine = machine.clone();
            std::thread::Builder::new()
                .name(format!("vcpu{id}"))
                .spawn(move || vcpu_thread(id, vcpu, machine))
                .map_err(|e| VmError::Host(format!("Cannot spawn vCPU thread {id}: {e}")))
        })
        .collect()
}

/// Runs the event loop (console input, the exit event) until the VM ends.
fn event_loop(machine: &Arc<Machine>, uart: Arc<Mutex<crate::console::ConsoleUart>>) -> ExitStatus {
    let mut events = match EventManager::<Arc<Mutex<dyn MutEventSubscriber + Send>>>::new() {
        Ok(events) => events,
        Err(e) => return ExitStatus::Error(format!("Cannot create the event loop: {e}")),
    };
    let exit_watcher = Arc::new(Mutex::new(ExitWatcher::new(machine.clone())));
    events.add_subscriber(exit_watcher.clone());
    events.add_subscriber(Arc::new(Mutex::new(StdinToUart::new(
        uart,
        machine.clone(),
    ))));
    loop {
        if let Err(e) = events.run_with_timeout(100) {
            return ExitStatus::Error(format!("Event loop failed: {e}"));
        }
        if exit_watcher.lock().unwrap_or_else(|e| e.into_inner()).fired {
            break;
        }
    }
    machine
        .exit_status()
        .unwrap_or(ExitStatus::Error("The VM stopped without a reason".into()))
}
