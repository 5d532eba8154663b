//! Transformed instructions for htinst (privileged spec 9.6.3): on a guest-page
//! fault of an explicit load or store, the trapping instruction with its address
//! operands cleared (rs1 = 0, offset 0), in its 32-bit form; bit 1 is cleared
//! when the original was a compressed instruction. A hypervisor emulating MMIO
//! reads it instead of fetching the instruction from guest memory.

use crate::isa::encode as e;
use crate::isa::{Op, OpKind, SINK};

/// The transformed instruction of `op`, or 0 for instructions that have none.
pub fn transformed(op: &Op) -> u64 {
    use OpKind::*;
    let rd = if op.rd == SINK { 0 } else { op.rd };
    let rs2 = op.rs2;
    let aq = op.rm & 2 != 0;
    let rl = op.rm & 1 != 0;
    let bits = match op.kind {
        Lb => e::lb(rd, 0, 0),
        Lh => e::lh(rd, 0, 0),
        Lw => e::lw(rd, 0, 0),
        Ld => e::ld(rd, 0, 0),
        Lbu => e::lbu(rd, 0, 0),
        Lhu => e::lhu(rd, 0, 0),
        Lwu => e::lwu(rd, 0, 0),
        Flw => e::flw(rd, 0, 0),
        Fld => e::fld(rd, 0, 0),
        Sb => e::sb(rs2, 0, 0),
        Sh => e::sh(rs2, 0, 0),
        Sw => e::sw(rs2, 0, 0),
        Sd => e::sd(rs2, 0, 0),
        Fsw => e::fsw(rs2, 0, 0),
        Fsd => e::fsd(rs2, 0, 0),
        LrW => e::lr_w(rd, 0, aq, rl),
        LrD => e::lr_d(rd, 0, aq, rl),
        ScW => e::sc_w(rd, rs2, 0, aq, rl),
        ScD => e::sc_d(rd, rs2, 0, aq, rl),
        AmoswapW => e::amoswap_w(rd, rs2, 0, aq, rl),
        AmoaddW => e::amoadd_w(rd, rs2, 0, aq, rl),
        AmoxorW => e::amoxor_w(rd, rs2, 0, aq, rl),
        AmoandW => e::amoand_w(rd, rs2, 0, aq, rl),
        AmoorW => e::amoor_w(rd, rs2, 0, aq, rl),
        AmominW => e::amomin_w(rd, rs2, 0, aq, rl),
        AmomaxW => e::amomax_w(rd, rs2, 0, aq, rl),
        AmominuW => e::amominu_w(rd, rs2, 0, aq, rl),
        AmomaxuW => e::amomaxu_w(rd, rs2, 0, aq, rl),
        AmoswapD => e::amoswap_d(rd, rs2, 0, aq, rl),
        AmoaddD => e::amoadd_d(rd, rs2, 0, aq, rl),
        AmoxorD => e::amoxor_d(rd, rs2, 0, aq, rl),
        AmoandD => e::amoand_d(rd, rs2, 0, aq, rl),
        AmoorD => e::amoor_d(rd, rs2, 0, aq, rl),
        AmominD => e::amomin_d(rd, rs2, 0, aq, rl),
        AmomaxD => e::amomax_d(rd, rs2, 0, aq, rl),
        AmominuD => e::amominu_d(rd, rs2, 0, aq, rl),
        AmomaxuD => e::amomaxu_d(rd, rs2, 0, aq, rl),
        _ => return 0,
    } as u64;
    if op.len == 2 { bits & !2 } else { bits }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::decode;

    #[test]
    fn loads_and_stores_lose_their_address_operands() {
        // ld a0, 16(a1) -> ld a0, 0(x0)
        assert_eq!(
            transformed(&decode(e::ld(10, 11, 16))),
            e::ld(10, 0, 0) as u64
        );
        // sw a2, -4(sp) -> sw a2, 0(x0)
        assert_eq!(
            transformed(&decode(e::sw(12, 2, -4))),
            e::sw(12, 0, 0) as u64
        );
        // amoadd.d.aqrl a0, a1, (a2)
        let amo = decode(e::amoadd_d(10, 11, 12, true, true));
        assert_eq!(transformed(&amo), e::amoadd_d(10, 11, 0, true, true) as u64);
    }

    #[test]
    fn compressed_forms_become_32_bit_with_bit_1_clear() {
        // c.lw a0, 4(a1) -> lw a0, 0(x0) with bit 1 cleared
        let op = decode(e::c_lw(10, 11, 4) as u32);
        assert_eq!(transformed(&op), (e::lw(10, 0, 0) & !2) as u64);
        assert_eq!(transformed(&op) & 3, 1);
    }

    #[test]
    fn other_instructions_have_none() {
        assert_eq!(transformed(&decode(e::addi(1, 2, 3))), 0);
    }
}
