//! Interrupt lines from devices to the interrupt controller.

/// A level-sensitive interrupt line driven by one device.
///
/// The device calls [`IrqLine::set_level`] with the current state of its interrupt
/// output whenever that state may have changed; implementations must tolerate
/// repeated calls with the same level. See the crate-level locking rules: the
/// caller usually holds its own device lock, so an implementation may take the
/// interrupt controller's lock but no device lock.
pub trait IrqLine: Send + Sync {
    /// Drives the line high (`true`, interrupt requested) or low.
    fn set_level(&self, level: bool);
}
