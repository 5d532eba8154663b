//! An instruction encoder, so tests can build guest programs without a cross toolchain.
