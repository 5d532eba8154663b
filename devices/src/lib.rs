//! Emulated devices of the rvnest machine.
