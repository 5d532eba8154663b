//! PMU functions against the spec's tables: counter info, matching, start/stop
//! with their flags, firmware reads, the snapshot and event info shared memory.

use super::*;
use crate::sbi::pmu::NUM_COUNTERS;

const NUM: u64 = 0;
const INFO: u64 = 1;
const MATCH: u64 = 2;
const START: u64 = 3;
const STOP: u64 = 4;
const FW_READ: u64 = 5;
const FW_READ_HI: u64 = 6;
const SNAPSHOT: u64 = 7;
const EVENT_INFO: u64 = 8;

const CYCLES: u64 = 1;
const INSTRUCTIONS: u64 = 2;
const FW_SET_TIMER: u64 = 0xF_0005;
const FW_IPI_SENT: u64 = 0xF_0006;
const FW_IPI_RECEIVED: u64 = 0xF_0007;
const FW_ILLEGAL_INSN: u64 = 0xF_0004;
const FIRST_FW: u64 = 3;

fn value(outcome: SbiOutcome) -> u64 {
    match outcome {
        SbiOutcome::Return { error: 0, value } => value,
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn counters_are_described_by_csr_and_width() {
    let host = MockHost::new(1);
    assert_eq!(call(&host, ext::BASE, 3, &[ext::PMU]), ret(0, 1));
    assert_eq!(call(&host, ext::PMU, NUM, &[]), ret(0, NUM_COUNTERS as u64));
    assert_eq!(
        call(&host, ext::PMU, INFO, &[0]),
        ret(0, (63 << 12) | 0xC00)
    );
    assert_eq!(
        call(&host, ext::PMU, INFO, &[2]),
        ret(0, (63 << 12) | 0xC02)
    );
    assert_eq!(
        call(&host, ext::PMU, INFO, &[1]),
        ret(error::INVALID_PARAM, 0),
        "time is not a PMU counter"
    );
    assert_eq!(call(&host, ext::PMU, INFO, &[FIRST_FW]), ret(0, 1 << 63));
    for bad in [NUM_COUNTERS as u64, u64::MAX] {
        assert_eq!(
            call(&host, ext::PMU, INFO, &[bad]),
            ret(error::INVALID_PARAM, 0)
        );
    }
    assert_eq!(call(&host, ext::PMU, 9, &[]), ret(error::NOT_SUPPORTED, 0));
}

#[test]
fn cycles_and_instructions_count_between_start_and_stop() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    // Linux stops every counter at boot.
    assert_eq!(hart.call(ext::PMU, STOP, &[0, 0b101, 1]), ret(0, 0));
    let all = (1 << NUM_COUNTERS) - 1 - 0b10;
    let cycle = value(hart.call(ext::PMU, MATCH, &[0, all, 0b10, CYCLES, 0]));
    assert_eq!(cycle, 0);
    let instret = value(hart.call(ext::PMU, MATCH, &[0, all, 0b10, INSTRUCTIONS, 0]));
    assert_eq!(instret, 2);
    assert_eq!(hart.call(ext::PMU, START, &[0, 0b1, 0, 0]), ret(0, 0));
    assert_eq!(hart.call(ext::PMU, START, &[2, 0b1, 1, 1000]), ret(0, 0));
    hart.vcpu.instructions += 500;
    assert_eq!(hart.call(ext::PMU, STOP, &[0, 0b101, 0]), ret(0, 0));
    hart.vcpu.instructions += 77;
    assert_eq!(hart.vcpu.machine_counter(Counter::Cycle), Some(500));
    assert_eq!(hart.vcpu.machine_counter(Counter::Instret), Some(1500));
    assert_eq!(
        hart.call(ext::PMU, FW_READ, &[0]),
        ret(error::INVALID_PARAM, 0),
        "a hardware counter"
    );
}

#[test]
fn start_and_stop_report_already_started_and_stopped() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    assert_eq!(
        hart.call(ext::PMU, START, &[0, 0b1, 0, 0]),
        ret(error::ALREADY_STARTED, 0),
        "counters run from reset"
    );
    assert_eq!(hart.call(ext::PMU, STOP, &[0, 0b1, 0]), ret(0, 0));
    assert_eq!(
        hart.call(ext::PMU, STOP, &[0, 0b101, 0]),
        ret(error::ALREADY_STOPPED, 0)
    );
    hart.vcpu.instructions += 3;
    assert_eq!(
        hart.vcpu.machine_counter(Counter::Instret),
        Some(0),
        "the running counter in the set stopped"
    );
    assert_eq!(hart.call(ext::PMU, START, &[0, 0b101, 0, 0]), ret(0, 0));
}

#[test]
fn linux_boot_probe_match_then_stop_reset_releases_the_counter() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    let cmask = ((1 << NUM_COUNTERS) - 1) & !0b10;
    // pmu_sbi_check_event: match without flags, then stop(idx, RESET) on the
    // stopped counter: ALREADY_STOPPED, but the mapping is released.
    let fw = value(hart.call(ext::PMU, MATCH, &[0, cmask, 0, FW_SET_TIMER, 0]));
    assert_eq!(fw, FIRST_FW);
    assert_eq!(
        hart.call(ext::PMU, STOP, &[fw, 1, 1]),
        ret(error::ALREADY_STOPPED, 0)
    );
    assert_eq!(
        value(hart.call(ext::PMU, MATCH, &[0, cmask, 0, FW_SET_TIMER, 0])),
        FIRST_FW,
        "free again"
    );
    // The fixed counters match their event even while they run.
    assert_eq!(
        value(hart.call(ext::PMU, MATCH, &[0, cmask, 0, CYCLES, 0])),
        0
    );
    assert_eq!(
        value(hart.call(ext::PMU, MATCH, &[0, cmask, 0, INSTRUCTIONS, 0])),
        2
    );
}

#[test]
fn matching_errors_follow_the_spec() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    let fw_mask = 0b1111_1111 << FIRST_FW;
    assert_eq!(
        hart.call(ext::PMU, MATCH, &[0, 0b10, 0, CYCLES, 0]),
        ret(error::INVALID_PARAM, 0),
        "counter 1 is invalid"
    );
    assert_eq!(
        hart.call(ext::PMU, MATCH, &[u64::MAX, 0b10, 0, CYCLES, 0]),
        ret(error::INVALID_PARAM, 0),
        "base + bit overflows"
    );
    assert_eq!(
        hart.call(ext::PMU, MATCH, &[0, fw_mask, 1 << 8, FW_SET_TIMER, 0]),
        ret(error::INVALID_PARAM, 0),
        "reserved flag"
    );
    assert_eq!(
        hart.call(ext::PMU, MATCH, &[0, fw_mask, 0, CYCLES, 0]),
        ret(error::NOT_SUPPORTED, 0),
        "firmware counters cannot count cycles"
    );
    assert_eq!(
        hart.call(ext::PMU, MATCH, &[0, 0b100, 0, CYCLES, 0]),
        ret(error::NOT_SUPPORTED, 0),
        "instret cannot count cycles"
    );
    let timer = value(hart.call(ext::PMU, MATCH, &[0, 1 << FIRST_FW, 0b100, FW_SET_TIMER, 0]));
    assert_eq!(
        hart.call(ext::PMU, MATCH, &[0, 1 << FIRST_FW, 0, FW_SET_TIMER, 0]),
        ret(error::NOT_SUPPORTED, 0),
        "counter {timer} is started"
    );
    for (event, data, expected) in [
        (3, 0, error::NOT_SUPPORTED),             // HW cache references
        (11, 0, error::INVALID_PARAM),            // reserved HW code
        (0x1_0000, 0, error::NOT_SUPPORTED),      // cache event
        (0x2_0000, 0x1234, error::NOT_SUPPORTED), // raw event
        (0x4_0000, 0, error::INVALID_PARAM),      // reserved type
        (1 << 20, 0, error::INVALID_PARAM),       // reserved event_idx bits
        (0xF_0016, 0, error::INVALID_PARAM),      // reserved firmware code 22
        (0xF_0100, 0, error::NOT_SUPPORTED),      // implementation-specific
        (0xF_FFFF, 0x55, error::NOT_SUPPORTED),   // platform firmware event
        (FW_SET_TIMER, 1, error::INVALID_PARAM),  // event_data must be zero
    ] {
        assert_eq!(
            hart.call(ext::PMU, MATCH, &[0, fw_mask, 0, event, data]),
            ret(expected, 0),
            "{event:#x}"
        );
    }
}

#[test]
fn firmware_counters_count_sbi_events() {
    let host = MockHost::new(2);
    let mut hart = Caller::new(&host);
    let fw_mask = 0b1111_1111 << FIRST_FW;
    assert_eq!(
        hart.call(ext::PMU, FW_READ, &[FIRST_FW]),
        ret(error::INVALID_PARAM, 0),
        "not configured"
    );
    assert_eq!(
        hart.call(ext::PMU, START, &[FIRST_FW, 1, 0, 0]),
        ret(error::INVALID_PARAM, 0),
        "nothing to count"
    );
    let timer = value(hart.call(ext::PMU, MATCH, &[0, fw_mask, 0b110, FW_SET_TIMER, 0]));
    assert_eq!(timer, FIRST_FW);
    let ipis = value(hart.call(ext::PMU, MATCH, &[0, fw_mask, 0, FW_IPI_SENT, 0]));
    assert_eq!(ipis, FIRST_FW + 1, "the next free counter");
    let illegal = value(hart.call(ext::PMU, MATCH, &[0, fw_mask, 0b100, FW_ILLEGAL_INSN, 0]));
    assert_eq!(hart.call(ext::PMU, START, &[ipis, 1, 1, 10]), ret(0, 0));
    hart.call(ext::TIME, 0, &[100]);
    hart.call(ext::LEGACY_SET_TIMER, 0, &[200]);
    hart.call(ext::IPI, 0, &[0b11, 0]);
    assert_eq!(hart.call(ext::PMU, FW_READ, &[timer]), ret(0, 2));
    assert_eq!(
        hart.call(ext::PMU, FW_READ, &[ipis]),
        ret(0, 12),
        "10 + 2 targets"
    );
    assert_eq!(hart.call(ext::PMU, FW_READ, &[illegal]), ret(0, 0));
    assert_eq!(hart.call(ext::PMU, FW_READ_HI, &[timer]), ret(0, 0), "RV64");
    assert_eq!(hart.call(ext::PMU, STOP, &[timer, 1, 1]), ret(0, 0));
    hart.call(ext::TIME, 0, &[300]);
    assert_eq!(
        hart.call(ext::PMU, FW_READ, &[timer]),
        ret(error::INVALID_PARAM, 0),
        "RESET unmapped it"
    );
    assert_eq!(
        hart.call(ext::PMU, FW_READ_HI, &[0]),
        ret(error::INVALID_PARAM, 0)
    );

    // The receiving side counts on the other hart.
    let mut other = Caller::on(&host, 1);
    let received = value(other.call(ext::PMU, MATCH, &[0, fw_mask, 0b100, FW_IPI_RECEIVED, 0]));
    hart.call(ext::IPI, 0, &[0b10, 0]);
    hart.call(ext::IPI, 0, &[0b01, 0]);
    assert_eq!(other.call(ext::PMU, FW_READ, &[received]), ret(0, 1));
}

#[test]
fn the_snapshot_area_is_checked_and_written_on_stop() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    let shmem = RAM.0 + 0x2000;
    assert_eq!(
        hart.call(ext::PMU, STOP, &[0, 1, 0b10]),
        ret(error::NO_SHMEM, 0)
    );
    for (lo, hi, flags, expected) in [
        (shmem, 0, 1, error::INVALID_PARAM),
        (shmem + 8, 0, 0, error::INVALID_PARAM),
        (0x1000, 0, 0, error::INVALID_ADDRESS),
        (shmem, 1, 0, error::INVALID_ADDRESS),
        (RAM.0 + RAM.1 - 0x1000, 1, 0, error::INVALID_ADDRESS),
        (RAM.0 + RAM.1, 0, 0, error::INVALID_ADDRESS),
    ] {
        assert_eq!(
            hart.call(ext::PMU, SNAPSHOT, &[lo, hi, flags]),
            ret(expected, 0),
            "{lo:#x} {hi:#x} {flags}"
        );
    }
    assert_eq!(hart.call(ext::PMU, SNAPSHOT, &[shmem, 0, 0]), ret(0, 0));
    host.write_guest(shmem, &[0xAA; 24]);
    hart.vcpu.instructions = 40;
    assert_eq!(hart.call(ext::PMU, STOP, &[0, 0b101, 0b10]), ret(0, 0));
    let mut area = [0u8; 24];
    host.read_guest(shmem, &mut area);
    assert_eq!(&area[0..8], &[0; 8], "no overflow bitmap without Sscofpmf");
    assert_eq!(&area[8..16], &40u64.to_le_bytes(), "cycle at offset 0");
    assert_eq!(&area[16..24], &[0xAA; 8], "counter 1 is not in the set");
    // INIT_SNAPSHOT reads the start values back.
    host.write_guest(shmem + 8 + 16, &7u64.to_le_bytes());
    assert_eq!(
        hart.call(ext::PMU, START, &[0, 0b101, 0b11, 0]),
        ret(error::INVALID_PARAM, 0),
        "SET_INIT_VALUE and INIT_SNAPSHOT exclude each other"
    );
    assert_eq!(hart.call(ext::PMU, START, &[0, 0b100, 0b10, 0]), ret(0, 0));
    assert_eq!(
        hart.vcpu.machine_counter(Counter::Instret),
        Some(7),
        "counter_values[] is relative to counter_idx_base"
    );
    assert_eq!(hart.call(ext::PMU, START, &[0, 0b1, 0b10, 0]), ret(0, 0));
    assert_eq!(hart.vcpu.machine_counter(Counter::Cycle), Some(40));
    assert_eq!(
        hart.call(ext::PMU, SNAPSHOT, &[u64::MAX, u64::MAX, 0]),
        ret(0, 0),
        "all-ones disables"
    );
    assert_eq!(
        hart.call(ext::PMU, START, &[0, 0b1, 0b10, 0]),
        ret(error::NO_SHMEM, 0)
    );
    assert_eq!(
        hart.call(ext::PMU, START, &[0, 0b1, 0b100, 0]),
        ret(error::INVALID_PARAM, 0),
        "reserved start flag"
    );
    assert_eq!(
        hart.call(ext::PMU, STOP, &[0, 0b1, 0b100]),
        ret(error::INVALID_PARAM, 0),
        "reserved stop flag"
    );
}

#[test]
fn event_info_marks_what_can_be_counted() {
    let host = MockHost::new(1);
    let table = RAM.0 + 0x3000;
    let entries: [(u32, u64); 4] = [
        (CYCLES as u32, 0),
        (3, 0),
        (FW_SET_TIMER as u32, 0),
        (0xF_FFFF, 9),
    ];
    for (n, (event, data)) in entries.iter().enumerate() {
        let at = table + n as u64 * 16;
        host.write_guest(at, &event.to_le_bytes());
        host.write_guest(at + 4, &0xFFFF_FFFFu32.to_le_bytes());
        host.write_guest(at + 8, &data.to_le_bytes());
    }
    assert_eq!(
        call(&host, ext::PMU, EVENT_INFO, &[table, 0, 4, 0]),
        ret(0, 0)
    );
    let outputs: Vec<u32> = (0..4)
        .map(|n| {
            let mut word = [0u8; 4];
            host.read_guest(table + n * 16 + 4, &mut word);
            u32::from_le_bytes(word)
        })
        .collect();
    assert_eq!(outputs, [1, 0, 1, 0]);
    for (lo, hi, n, flags, expected) in [
        (table, 0, 4, 1, error::INVALID_PARAM),
        (table + 8, 0, 4, 0, error::INVALID_PARAM),
        (0x1000, 0, 4, 0, error::INVALID_ADDRESS),
        (table, 1, 4, 0, error::INVALID_ADDRESS),
        (RAM.0 + RAM.1 - 16, 0, 2, 0, error::INVALID_ADDRESS),
        (table, 0, u64::MAX, 0, error::INVALID_ADDRESS),
    ] {
        assert_eq!(
            call(&host, ext::PMU, EVENT_INFO, &[lo, hi, n, flags]),
            ret(expected, 0),
            "{lo:#x} {hi} {n} {flags}"
        );
    }
    host.write_guest(table + 16, &(1u32 << 20).to_le_bytes());
    assert_eq!(
        call(&host, ext::PMU, EVENT_INFO, &[table, 0, 4, 0]),
        ret(error::INVALID_PARAM, 0),
        "a reserved event_idx bit"
    );
}
