//! What a compiled block holds: the decoded operations from an entry point onwards,
//! in one page, until control leaves for good.

use crate::isa::{Op, OpKind};

use super::super::icache::SLOTS;

/// The most operations one block holds (longer straight lines end in a chain).
pub const MAX_OPS: usize = 64;

/// How the compiler treats an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Integer, M and memory operations compiled to host code.
    Native,
    /// A conditional branch compiled to host code.
    Branch,
    /// An unconditional jump (JAL, JALR) compiled to host code: ends the trace.
    Jump,
    /// Run by the interpreter from compiled code; the block goes on after it when it
    /// falls through.
    Interpreted,
    /// Run by the interpreter, and the block always ends after it (it changes the
    /// privilege, translation or decoded code, or waits).
    Final,
}

/// The class of `kind`.
pub fn class(kind: OpKind) -> Class {
    use OpKind::*;
    match kind {
        Lui | Auipc | Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu | Sb | Sh | Sw | Sd | Addi | Slti
        | Sltiu | Xori | Ori | Andi | Slli | Srli | Srai | Add | Sub | Sll | Slt | Sltu | Xor
        | Srl | Sra | Or | And | Addiw | Slliw | Srliw | Sraiw | Addw | Subw | Sllw | Srlw
        | Sraw | Mul | Mulh | Mulhsu | Mulhu | Div | Divu | Rem | Remu | Mulw | Divw | Divuw
        | Remw | Remuw | Fence => Class::Native,
        Beq | Bne | Blt | Bge | Bltu | Bgeu => Class::Branch,
        Jal | Jalr => Class::Jump,
        Undecoded | Illegal | FenceI | Ecall | Ebreak | Sret | Mret | Wfi | SfenceVma
        | HfenceVvma | HfenceGvma => Class::Final,
        _ => Class::Interpreted,
    }
}

/// What compiled code depends on, as a hash key: every operation's offset and
/// decoded fields (not the slot's heat or block), and the fall-through.
pub type TraceKey = Box<[u64]>;

/// The operations of one block.
pub struct Trace {
    /// The operations with their page offsets, in address order.
    pub ops: Vec<(usize, Op)>,
    /// Offsets in the page that a branch or jump inside the trace targets.
    pub labels: Vec<usize>,
    /// Integer registers (1..32) the block reads or writes natively.
    pub used: u32,
    /// Where straight-line flow goes after the last operation (`None` when the last
    /// one never falls through).
    pub fall_through: Option<usize>,
}

impl Trace {
    /// Collects the block at `entry` from the decoded slots of a page. It stops before
    /// a slot not decoded yet (code never run is not compiled), at a page's end, after
    /// a jump or a final operation, and at [`MAX_OPS`]. `None` when not even the first
    /// operation qualifies.
    pub fn collect(slots: &[Op], entry: usize) -> Option<Trace> {
        let mut ops = Vec::new();
        let mut offset = entry;
        let mut fall_through = None;
        while offset < SLOTS * 2 {
            let op = slots[offset >> 1];
            if op.len == 0 || ops.len() == MAX_OPS {
                fall_through = Some(offset);
                break;
            }
            ops.push((offset, op));
            let class = class(op.kind);
            offset += op.len as usize;
            if matches!(class, Class::Jump | Class::Final) {
                break;
            }
            if offset >= SLOTS * 2 {
                fall_through = Some(offset);
            }
        }
        if ops.is_empty() || (ops.len() == 1 && class(ops[0].1.kind) == Class::Final) {
            return None;
        }
        let mut trace = Trace {
            ops,
            labels: Vec::new(),
            used: 0,
            fall_through,
        };
        trace.find_labels();
        trace.find_used();
        Some(trace)
    }

    /// The trace as a key: two traces with equal keys compile to the same code.
    pub fn key(&self) -> TraceKey {
        let mut key = Vec::with_capacity(self.ops.len() * 2 + 1);
        key.push(self.fall_through.map_or(u64::MAX, |offset| offset as u64));
        for &(at, op) in &self.ops {
            key.push(
                op.kind as u64
                    | (op.rd as u64) << 8
                    | (op.rs1 as u64) << 16
                    | (op.rs2 as u64) << 24
                    | (op.imm as u32 as u64) << 32,
            );
            key.push(
                at as u64 | (op.rs3 as u64) << 16 | (op.rm as u64) << 24 | (op.len as u64) << 32,
            );
        }
        key.into_boxed_slice()
    }

    /// Whether an operation of the trace starts at `offset`.
    pub fn contains(&self, offset: usize) -> bool {
        self.ops
            .binary_search_by_key(&offset, |&(at, _)| at)
            .is_ok()
    }

    fn find_labels(&mut self) {
        let mut labels: Vec<usize> = self
            .ops
            .iter()
            .filter(|(_, op)| matches!(class(op.kind), Class::Branch) || op.kind == OpKind::Jal)
            .filter_map(|&(at, op)| {
                let target = (at as i64).wrapping_add(op.imm as i64);
                usize::try_from(target).ok()
            })
            .filter(|&target| self.contains(target))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        self.labels = labels;
    }

    fn find_used(&mut self) {
        let mut used = 0u32;
        let mut mark = |r: u8| {
            if (1..32).contains(&r) {
                used |= 1 << r;
            }
        };
        for &(_, op) in &self.ops {
            match class(op.kind) {
                Class::Native | Class::Branch | Class::Jump => {
                    mark(op.rs1);
                    mark(op.rs2);
                    mark(op.rd);
                }
                Class::Interpreted | Class::Final => {}
            }
        }
        self.used = used;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::decode;
    use crate::isa::encode::Assembler;

    fn page(program: &Assembler) -> Vec<Op> {
        let bytes = program.bytes();
        let mut slots = vec![Op::UNDECODED; SLOTS];
        let mut offset = 0;
        while offset + 2 <= bytes.len() {
            let low = u16::from_le_bytes([bytes[offset], bytes[offset + 1]]) as u32;
            let bits = if low & 3 == 3 {
                low | (u16::from_le_bytes([bytes[offset + 2], bytes[offset + 3]]) as u32) << 16
            } else {
                low
            };
            let op = decode(bits);
            slots[offset >> 1] = op;
            offset += op.len as usize;
        }
        slots
    }

    #[test]
    fn a_loop_has_a_label_at_its_head_and_ends_at_the_jump() {
        let mut a = Assembler::new(0);
        a.addi(5, 0, 10);
        let top = a.label();
        a.bind(top);
        a.addi(5, 5, -1);
        a.bne_to(5, 0, top);
        a.jal(0, 8);
        a.addi(6, 0, 1);
        let trace = Trace::collect(&page(&a), 0).expect("compilable");
        assert_eq!(trace.ops.len(), 4);
        assert_eq!(trace.labels, vec![4]);
        assert_eq!(trace.fall_through, None);
        assert_eq!(trace.used, 1 << 5);
    }

    #[test]
    fn a_trace_stops_before_code_never_decoded_and_after_a_final_operation() {
        let mut a = Assembler::new(0);
        a.addi(5, 0, 1);
        a.ecall();
        a.addi(6, 0, 1);
        let mut slots = page(&a);
        let trace = Trace::collect(&slots, 0).expect("compilable");
        assert_eq!(trace.ops.len(), 2);
        slots[1] = Op::UNDECODED;
        slots[2] = Op::UNDECODED;
        let trace = Trace::collect(&slots, 0).expect("compilable");
        assert_eq!(trace.ops.len(), 1);
        assert_eq!(trace.fall_through, Some(4));
        assert!(Trace::collect(&slots, 4).is_none());
    }
}
