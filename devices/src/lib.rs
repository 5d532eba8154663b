//! Emulated devices of the rvnest machine: the MMIO bus, the 16550A UART and the
//! SiFive PLIC, and the virtio-mmio devices.
//!
//! Every device is a state machine (house style #1): it is driven by `read`/`write`
//! calls from the bus and by explicit input calls from the VMM, owns no threads or
//! file descriptors, and signals interrupts through small traits ([`irq::IrqLine`]
//! towards the PLIC, [`plic::PlicOutput`] from the PLIC towards the harts).
//!
//! # Locking rules
//!
//! Devices live in `Arc<Mutex<_>>`s shared by the vCPU threads (through the
//! [`bus::MmioBus`]) and by VMM threads that feed input (the stdin thread, virtio
//! back ends). The locks form a strict hierarchy; a thread may only take a lock of
//! a lower level while holding one of a higher level, never the reverse:
//!
//! 1. **Device locks** (the UART's `Mutex`, later the virtio devices'). A device may
//!    raise or lower its interrupt line while its own lock is held; the
//!    [`plic::PlicIrqLine`] that implements [`irq::IrqLine`] then takes the PLIC
//!    lock. A device never takes another device's lock, and never calls into the
//!    bus.
//! 2. **The PLIC lock.** Taken by the bus (a hart's MMIO access to the PLIC) or by an
//!    `IrqLine` (level 1 above). While holding it the PLIC calls
//!    [`plic::PlicOutput::set_external_interrupt`] and nothing else: it never
//!    calls back into a device.
//! 3. **`PlicOutput` implementations take no device lock, not the PLIC's, and no
//!    lock that any thread holds across an MMIO access** (for example a vCPU's
//!    state lock held while it dispatches an exit). They should only flip atomics,
//!    write an eventfd, signal a vCPU thread or issue `KVM_INTERRUPT` (which KVM
//!    RISC-V handles asynchronously, without the vCPU mutex).
//!
//! The [`bus::MmioBus`] itself is immutable once the machine is built and has no
//! lock; it holds exactly one device lock for the duration of one access.
#![deny(missing_docs)]

pub mod bus;
pub mod irq;
pub mod plic;
pub mod uart;
pub mod virtio;

#[cfg(test)]
mod tests {
    use std::io::sink;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;

    use crate::bus::MmioBus;
    use crate::plic::{Plic, PlicIrqLine, PlicOutput};
    use crate::uart::Uart;

    const PLIC_BASE: u64 = 0x0c00_0000;
    const UART_BASE: u64 = 0x1000_0000;
    const UART_IRQ: u32 = 10;

    /// One hart's SEIP, as a lock-free `PlicOutput` should keep it.
    #[derive(Default)]
    struct Seip(AtomicBool);

    impl PlicOutput for Seip {
        fn set_external_interrupt(&self, hart: usize, level: bool) {
            assert_eq!(hart, 0);
            self.0.store(level, Ordering::SeqCst);
        }
    }

    fn machine() -> (MmioBus, Arc<Mutex<Uart<std::io::Sink>>>, Arc<Seip>) {
        let seip = Arc::new(Seip::default());
        let plic = Arc::new(Mutex::new(Plic::new(96, 1, seip.clone()).unwrap()));
        let line = Arc::new(PlicIrqLine::new(plic.clone(), UART_IRQ).unwrap());
        let uart = Arc::new(Mutex::new(Uart::new(sink(), line)));
        let mut bus = MmioBus::new();
        bus.insert(PLIC_BASE, 0x60_0000, plic).unwrap();
        bus.insert(UART_BASE, 0x100, uart.clone()).unwrap();
        // What Linux's drivers do at probe: priority 1, enable for context 0, RX on.
        bus.write(PLIC_BASE + 4 * UART_IRQ as u64, &1u32.to_le_bytes());
        bus.write(PLIC_BASE + 0x2000, &(1u32 << UART_IRQ).to_le_bytes());
        bus.write(UART_BASE + 1, &[0x01]);
        (bus, uart, seip)
    }

    fn read32(bus: &MmioBus, addr: u64) -> u32 {
        let mut data = [0u8; 4];
        assert!(bus.read(addr, &mut data));
        u32::from_le_bytes(data)
    }

    #[test]
    fn uart_input_reaches_the_hart_through_the_plic() {
        let (bus, uart, seip) = machine();
        assert!(!seip.0.load(Ordering::SeqCst));
        assert_eq!(uart.lock().unwrap().enqueue_raw_bytes(b"k"), 1);
        assert!(seip.0.load(Ordering::SeqCst));

        // The hart's handler: claim, drain the UART, complete.
        let claim = PLIC_BASE + 0x20_0004;
        assert_eq!(read32(&bus, claim), UART_IRQ);
        assert!(!seip.0.load(Ordering::SeqCst));
        let mut byte = [0u8];
        assert!(bus.read(UART_BASE, &mut byte));
        assert_eq!(byte, *b"k");
        bus.write(claim, &UART_IRQ.to_le_bytes());
        assert!(!seip.0.load(Ordering::SeqCst));
        assert_eq!(read32(&bus, claim), 0);
    }

    /// The stdin thread (UART lock, then PLIC lock) and a vCPU thread (PLIC lock via
    /// the bus, then the UART's) run side by side without deadlocking.
    #[test]
    fn input_thread_and_vcpu_thread_do_not_deadlock() {
        let (bus, uart, _) = machine();
        let input = thread::spawn(move || {
            let mut sent = 0;
            while sent < 2000 {
                sent += uart.lock().unwrap().enqueue_raw_bytes(b"0123456789");
                thread::yield_now();
            }
        });
        let claim = PLIC_BASE + 0x20_0004;
        let mut received = 0;
        while !input.is_finished() || received < 2000 {
            let src = read32(&bus, claim);
            let mut lsr = [0u8];
            loop {
                bus.read(UART_BASE + 5, &mut lsr);
                if lsr[0] & 1 == 0 {
                    break;
                }
                let mut byte = [0u8];
                bus.read(UART_BASE, &mut byte);
                received += 1;
            }
            if src != 0 {
                bus.write(claim, &src.to_le_bytes());
            }
        }
        input.join().unwrap();
        assert!(received >= 2000);
    }
}
