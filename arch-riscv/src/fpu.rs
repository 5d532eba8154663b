//! IEEE-754 arithmetic for the F and D extensions, exact as RISC-V defines it.
