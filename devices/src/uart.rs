//! The 16550A UART (`ns16550a`), vm-superio's [`Serial`] behind a byte-wide MMIO
//! window and a level-triggered interrupt line.
//!
//! # Interrupt level
//!
//! `Serial` reports interrupts as edges: its [`Trigger`] fires when it sets an
//! interrupt bit in the IIR, and nothing happens when the bits are cleared (the
//! driver reading the IIR or draining the receive buffer). A PLIC source is
//! level-triggered, so this wrapper ignores the edges and instead recomputes the
//! level after every access that can change the IIR (a receive-buffer read, an IIR
//! read, a THR or IER write, input from the VMM): the line is high while the IIR
//! shows a pending interrupt whose enable bit is set in the IER, which is what a
//! real 16550's INTR pin does. The level is passed to the [`IrqLine`] only when it
//! changes.
//!
//! Register accesses wider than one byte and offsets past the eight registers read 0
//! and are ignored on write (Linux's 8250 driver uses byte accesses, `reg-shift` 0).

use std::convert::Infallible;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use vm_superio::serial::{NoEvents, SerialEvents};
use vm_superio::{Serial, Trigger};

use crate::bus::MmioDevice;
use crate::irq::IrqLine;

/// Number of byte registers of the 16550A.
const NUM_REGS: u64 = 8;
/// Receive buffer / transmit holding register (divisor low with DLAB set).
const RBR_THR: u64 = 0;
/// Interrupt enable register (divisor high with DLAB set).
const IER: u64 = 1;
/// Interrupt identification register (reads) / FIFO control (writes).
const IIR: u64 = 2;
/// Modem control register.
const MCR: u8 = 4;

const IER_RDA: u8 = 0x01;
const IER_THRE: u8 = 0x02;
const IIR_NO_INT: u8 = 0x01;
const IIR_THRE: u8 = 0x02;
const IIR_RDA: u8 = 0x04;
const MCR_LOOP: u8 = 0x10;

/// `Serial`'s edge trigger, unused: the level is derived from the IIR instead.
struct EdgeIgnored;

impl Trigger for EdgeIgnored {
    type E = Infallible;

    fn trigger(&self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A 16550A UART writing the guest's output to `W` and raising its interrupt on
/// an [`IrqLine`]. `EV` receives vm-superio's [`SerialEvents`] (bytes written, bytes
/// lost, input buffer drained), e.g. to count them or to resume reading stdin.
pub struct Uart<W: Write + Send, EV: SerialEvents + Send = NoEvents> {
    serial: Serial<EdgeIgnored, EV, W>,
    irq: Arc<dyn IrqLine>,
    /// The level last passed to `irq`.
    level: bool,
}

impl<W: Write + Send, EV: SerialEvents + Send> fmt::Debug for Uart<W, EV> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uart")
            .field("level", &self.level)
            .field("fifo_capacity", &self.serial.fifo_capacity())
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> Uart<W, NoEvents> {
    /// A UART in its reset state writing to `out`, its interrupt on `irq`.
    pub fn new(out: W, irq: Arc<dyn IrqLine>) -> Self {
        Self::with_events(out, NoEvents, irq)
    }
}

impl<W: Write + Send, EV: SerialEvents + Send> Uart<W, EV> {
    /// A UART in its reset state writing to `out`, reporting to `events`, its
    /// interrupt on `irq`.
    pub fn with_events(out: W, events: EV, irq: Arc<dyn IrqLine>) -> Self {
        Uart {
            serial: Serial::with_events(EdgeIgnored, events, out),
            irq,
            level: false,
        }
    }

    /// Offers `input` to the guest and returns how many bytes were consumed: as many
    /// as fit in the receive FIFO (0 when it is full; the caller keeps the rest and
    /// retries once [`Uart::input_buffer_has_room`]). In loopback mode the port is
    /// cut off from its input, so everything is consumed and dropped, as on hardware.
    pub fn enqueue_raw_bytes(&mut self, input: &[u8]) -> usize {
        if self.serial.read(MCR) & MCR_LOOP != 0 {
            return input.len();
        }
        // With an infallible trigger the only error left is the full FIFO.
        let accepted = self.serial.enqueue_raw_bytes(input).unwrap_or(0);
        self.update_irq();
        accepted
    }

    /// Free space in the receive FIFO, in bytes.
    pub fn fifo_capacity(&self) -> usize {
        self.serial.fifo_capacity()
    }

    /// Whether the receive FIFO can take at least one more byte; the VMM stops
    /// reading its input while this is false.
    pub fn input_buffer_has_room(&self) -> bool {
        self.fifo_capacity() > 0
    }

    /// The current level of the interrupt line.
    pub fn irq_level(&self) -> bool {
        self.level
    }

    /// The output the guest writes to.
    pub fn writer(&self) -> &W {
        self.serial.writer()
    }

    /// The output the guest writes to, mutably.
    pub fn writer_mut(&mut self) -> &mut W {
        self.serial.writer_mut()
    }

    /// The event sink.
    pub fn events(&self) -> &EV {
        self.serial.events()
    }

    /// Recomputes the interrupt level from the IIR and IER and reports a change.
    fn update_irq(&mut self) {
        // `state()` is the only side-effect-free view of the IIR (reading the
        // register clears it). It copies the receive FIFO (at most 64 bytes), which
        // is why this runs only after accesses that can change the IIR.
        let state = self.serial.state();
        let iir = state.interrupt_identification;
        let ier = state.interrupt_enable;
        let level = iir & IIR_NO_INT == 0
            && ((iir & IIR_RDA != 0 && ier & IER_RDA != 0)
                || (iir & IIR_THRE != 0 && ier & IER_THRE != 0));
        if level != self.level {
            self.level = level;
            self.irq.set_level(level);
        }
    }
}

impl<W: Write + Send, EV: SerialEvents + Send> MmioDevice for Uart<W, EV> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        match data {
            [byte] if offset < NUM_REGS => {
                *byte = self.serial.read(offset as u8);
                // Reading the RBR pops the FIFO and clears RDA; reading the IIR
                // clears every pending interrupt.
                if offset == RBR_THR || offset == IIR {
                    self.update_irq();
                }
            }
            _ => data.fill(0),
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let ([byte], true) = (data, offset < NUM_REGS) {
            // The only error left with an infallible trigger is a failed write to
            // the output; the byte is lost (reported to `EV` as `tx_lost_byte`) and
            // the guest carries on, as it would with a disconnected line.
            let _ = self.serial.write(offset as u8, *byte);
            // A THR write raises THRE; an IER write may unmask pending interrupts.
            if offset == RBR_THR || offset == IER {
                self.update_irq();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Mutex;

    use super::*;

    const LSR: u64 = 5;
    const LCR: u64 = 3;
    const LSR_DR: u8 = 0x01;
    const LSR_THRE: u8 = 0x20;
    const LSR_TEMT: u8 = 0x40;

    /// Records every level change, and the calls that did not change anything.
    #[derive(Default)]
    struct Line {
        calls: Mutex<Vec<bool>>,
    }

    impl Line {
        fn take(&self) -> Vec<bool> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    impl IrqLine for Line {
        fn set_level(&self, level: bool) {
            self.calls.lock().unwrap().push(level);
        }
    }

    /// A writer shared with the test.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("gone"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn uart() -> (Uart<Sink>, Sink, Arc<Line>) {
        let sink = Sink::default();
        let line = Arc::new(Line::default());
        (Uart::new(sink.clone(), line.clone()), sink, line)
    }

    fn rd<W: Write + Send>(u: &mut Uart<W>, offset: u64) -> u8 {
        let mut b = [0u8];
        u.read(offset, &mut b);
        b[0]
    }

    fn wr<W: Write + Send>(u: &mut Uart<W>, offset: u64, value: u8) {
        u.write(offset, &[value]);
    }

    #[test]
    fn thr_writes_land_in_the_writer() {
        let (mut u, sink, line) = uart();
        for &b in b"hello\n" {
            wr(&mut u, RBR_THR, b);
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"hello\n");
        assert_eq!(u.writer().0.lock().unwrap().len(), 6);
        // No interrupt enabled: the line never moved.
        assert!(line.take().is_empty());
    }

    #[test]
    fn lsr_reports_empty_transmitter_and_received_data() {
        let (mut u, _, _) = uart();
        let lsr = rd(&mut u, LSR);
        assert_eq!(lsr & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
        assert_eq!(lsr & LSR_DR, 0);

        assert_eq!(u.enqueue_raw_bytes(b"ab"), 2);
        assert_ne!(rd(&mut u, LSR) & LSR_DR, 0);
        assert_eq!(rd(&mut u, RBR_THR), b'a');
        assert_ne!(rd(&mut u, LSR) & LSR_DR, 0);
        assert_eq!(rd(&mut u, RBR_THR), b'b');
        assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
        // Transmitting never fills the THR in this model.
        wr(&mut u, RBR_THR, b'x');
        assert_ne!(rd(&mut u, LSR) & LSR_THRE, 0);
    }

    #[test]
    fn thre_interrupt_follows_ier_and_clears_on_iir_read() {
        let (mut u, _, line) = uart();
        // Enabling THRE with an empty THR raises the line at once.
        wr(&mut u, IER, IER_THRE);
        assert!(u.irq_level());
        assert_eq!(line.take(), [true]);
        // Reading the IIR identifies (and acknowledges) THRE.
        assert_eq!(rd(&mut u, IIR) & 0x0f, IIR_THRE);
        assert!(!u.irq_level());
        assert_eq!(line.take(), [false]);
        assert_eq!(rd(&mut u, IIR) & 0x0f, IIR_NO_INT);
        assert!(line.take().is_empty());
        // The next transmitted byte raises it again.
        wr(&mut u, RBR_THR, b'x');
        assert_eq!(line.take(), [true]);
        // Masking THRE in the IER drops the line even though the IIR still has it.
        wr(&mut u, IER, 0);
        assert_eq!(line.take(), [false]);
        // Unmasking re-asserts the still-pending condition.
        wr(&mut u, IER, IER_THRE);
        assert_eq!(line.take(), [true]);
    }

    #[test]
    fn rx_interrupt_is_high_while_data_is_unread() {
        let (mut u, _, line) = uart();
        wr(&mut u, IER, IER_RDA);
        assert!(line.take().is_empty());

        assert_eq!(u.enqueue_raw_bytes(b"xyz"), 3);
        assert_eq!(line.take(), [true]);
        assert_eq!(rd(&mut u, RBR_THR), b'x');
        assert!(!u.irq_level());
        assert_eq!(line.take(), [false]);

        // Data left in the FIFO: more input re-raises it, draining clears it.
        assert_eq!(u.enqueue_raw_bytes(b"!"), 1);
        assert_eq!(line.take(), [true]);
        assert_eq!(rd(&mut u, IIR) & 0x0f, IIR_RDA);
        assert_eq!(line.take(), [false]);
        for expected in *b"yz!" {
            assert_eq!(rd(&mut u, RBR_THR), expected);
        }
        assert!(!u.irq_level());
        assert!(line.take().is_empty());
    }

    #[test]
    fn rx_data_received_while_masked_interrupts_on_unmask() {
        let (mut u, _, line) = uart();
        assert_eq!(u.enqueue_raw_bytes(b"q"), 1);
        assert!(line.take().is_empty());
        wr(&mut u, IER, IER_RDA);
        assert_eq!(line.take(), [true]);
    }

    #[test]
    fn fifo_fills_up_and_throttles_input() {
        let (mut u, _, _) = uart();
        let capacity = u.fifo_capacity();
        assert!(capacity > 0);
        let input = vec![b'.'; capacity + 10];
        assert_eq!(u.enqueue_raw_bytes(&input), capacity);
        assert!(!u.input_buffer_has_room());
        assert_eq!(u.enqueue_raw_bytes(b"more"), 0);
        assert_eq!(u.enqueue_raw_bytes(b""), 0);
        rd(&mut u, RBR_THR);
        assert!(u.input_buffer_has_room());
        assert_eq!(u.enqueue_raw_bytes(b"more"), 1);
    }

    #[test]
    fn loopback_mode_discards_external_input() {
        let (mut u, _, _) = uart();
        wr(&mut u, MCR as u64, MCR_LOOP);
        assert_eq!(u.enqueue_raw_bytes(b"abc"), 3);
        assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
        // What the guest transmits comes back instead.
        wr(&mut u, RBR_THR, b'L');
        assert_eq!(rd(&mut u, RBR_THR), b'L');
    }

    #[test]
    fn wide_and_out_of_range_accesses_are_ignored() {
        let (mut u, sink, line) = uart();
        wr(&mut u, 0x7, 0x5a); // scratch
        assert_eq!(rd(&mut u, 0x7), 0x5a);
        let mut word = [0xffu8; 4];
        u.read(0x4, &mut word);
        assert_eq!(word, [0; 4]);
        u.write(RBR_THR, b"ab");
        u.write(IER, &[IER_THRE, 0, 0, 0]);
        wr(&mut u, 0x8, b'c');
        wr(&mut u, 0xff, b'c');
        assert_eq!(rd(&mut u, 0x8), 0);
        assert!(sink.0.lock().unwrap().is_empty());
        assert!(line.take().is_empty());
    }

    #[test]
    fn dlab_selects_the_divisor_latch() {
        let (mut u, sink, line) = uart();
        wr(&mut u, LCR, 0x80);
        wr(&mut u, RBR_THR, 0x01);
        wr(&mut u, IER, 0x02);
        assert_eq!(rd(&mut u, RBR_THR), 0x01);
        assert_eq!(rd(&mut u, IER), 0x02);
        wr(&mut u, LCR, 0x03);
        assert_eq!(rd(&mut u, IER), 0);
        assert!(sink.0.lock().unwrap().is_empty());
        assert!(line.take().is_empty());
    }

    #[test]
    fn a_failing_writer_loses_the_byte_but_not_the_interrupt() {
        let line = Arc::new(Line::default());
        let mut u = Uart::new(Broken, line.clone());
        wr(&mut u, IER, IER_THRE);
        rd(&mut u, IIR);
        line.take();
        wr(&mut u, RBR_THR, b'x');
        assert_eq!(line.take(), [true]);
    }
}
