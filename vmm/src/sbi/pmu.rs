//! The Performance Monitoring Unit extension (SBI spec chapter 11): the counters
//! the soft hart counts exactly, configured, started and stopped per hart.
//!
//! Counter indices follow the CSR numbers, as Linux's legacy cycle/instret path
//! assumes: 0 is `cycle` (mcycle), 2 is `instret` (minstret), 1 (`time`) is not a
//! counter; [`FIRMWARE_COUNTERS`] firmware counters follow from index 3. The
//! hardware counters count only their fixed event (cycles, instructions: the hart
//! takes one cycle per instruction). Firmware counters count any firmware event;
//! the trap events (misaligned, access, illegal instruction) stay zero because the
//! VMM never emulates a guest's trapping access, and the HFENCE events stay zero
//! because the guest's SBI has no HFENCE calls. There is no Sscofpmf, so no
//! overflow interrupt and the snapshot's overflow bitmap is always zero.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{SbiHost, SbiOutcome, error};
use crate::hypervisor::{Counter, Vcpu};

/// Number of firmware counters per hart.
pub const FIRMWARE_COUNTERS: usize = 8;
/// Index of the first firmware counter.
const FIRST_FIRMWARE: usize = 3;
/// All counter indices, hardware and firmware (index 1 invalid).
pub const NUM_COUNTERS: usize = FIRST_FIRMWARE + FIRMWARE_COUNTERS;

/// Firmware event codes (table "PMU Firmware Events") rvnest counts; 0..=21 are
/// all defined.
pub mod fw {
    /// Set timer calls.
    pub const SET_TIMER: usize = 5;
    /// IPIs sent, one per target hart.
    pub const IPI_SENT: usize = 6;
    /// IPIs received.
    pub const IPI_RECEIVED: usize = 7;
    /// Remote FENCE.I requests sent, one per target hart.
    pub const FENCE_I_SENT: usize = 8;
    /// Remote FENCE.I requests received.
    pub const FENCE_I_RECEIVED: usize = 9;
    /// Remote SFENCE.VMA requests sent.
    pub const SFENCE_VMA_SENT: usize = 10;
    /// Remote SFENCE.VMA requests received.
    pub const SFENCE_VMA_RECEIVED: usize = 11;
    /// Remote SFENCE.VMA with ASID requests sent.
    pub const SFENCE_VMA_ASID_SENT: usize = 12;
    /// Remote SFENCE.VMA with ASID requests received.
    pub const SFENCE_VMA_ASID_RECEIVED: usize = 13;
    /// Number of defined firmware event codes.
    pub const COUNT: usize = 22;
}

/// Event types of `event_idx[19:16]`.
const TYPE_HARDWARE: u64 = 0;
const TYPE_FIRMWARE: u64 = 0xF;
/// Hardware general events.
const HW_CPU_CYCLES: u64 = 1;
const HW_INSTRUCTIONS: u64 = 2;

/// config_matching flags.
const CFG_SKIP_MATCH: u64 = 1 << 0;
const CFG_CLEAR_VALUE: u64 = 1 << 1;
const CFG_AUTO_START: u64 = 1 << 2;
/// Flags 3..=7 are filtering hints (VUINH..MINH); without Sscofpmf they are
/// ignored, as the spec allows.
const CFG_VALID: u64 = 0xFF;
/// counter_start flags.
const START_SET_INIT_VALUE: u64 = 1 << 0;
const START_INIT_SNAPSHOT: u64 = 1 << 1;
/// counter_stop flags.
const STOP_RESET: u64 = 1 << 0;
const STOP_TAKE_SNAPSHOT: u64 = 1 << 1;

/// Size of the snapshot shared memory, and its alignment.
const SNAPSHOT_SIZE: u64 = 4096;
/// Offset of counter_values[] in the snapshot.
const SNAPSHOT_VALUES: u64 = 8;

/// Firmware events of one hart, counted since the VM started. Other harts add
/// the "received" events, so the counts are atomics.
#[derive(Default)]
pub struct FirmwareEvents([AtomicU64; fw::COUNT]);

impl FirmwareEvents {
    /// Counts one event `code`.
    pub fn count(&self, code: usize) {
        if let Some(slot) = self.0.get(code) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events `code` so far.
    pub fn total(&self, code: usize) -> u64 {
        self.0
            .get(code)
            .map_or(0, |slot| slot.load(Ordering::Relaxed))
    }
}

/// A firmware counter: its event, and its value while stopped or at the count
/// it last started from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FirmwareCounter {
    event: Option<usize>,
    started: bool,
    /// The value when stopped; the value at `since` when started.
    value: u64,
    since: u64,
}

/// One hart's PMU state: what each counter counts, and the snapshot area.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HartPmu {
    /// Whether the cycle (0) and instret (1) counters are stopped and mapped.
    hardware_stopped: [bool; 2],
    hardware_mapped: [bool; 2],
    firmware: [FirmwareCounter; FIRMWARE_COUNTERS],
    snapshot: Option<u64>,
}

/// What a counter index names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Hardware(Counter),
    Firmware(usize),
}

fn slot(index: u64) -> Option<Slot> {
    match index {
        0 => Some(Slot::Hardware(Counter::Cycle)),
        2 => Some(Slot::Hardware(Counter::Instret)),
        i if (FIRST_FIRMWARE as u64..NUM_COUNTERS as u64).contains(&i) => {
            Some(Slot::Firmware(i as usize - FIRST_FIRMWARE))
        }
        _ => None,
    }
}

/// The counters named by (base, mask), with their offsets from base; None if one
/// of them is not a counter.
fn counter_set(base: u64, mask: u64) -> Option<Vec<(u64, Slot)>> {
    (0..64u64)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| {
            let index = base.checked_add(bit)?;
            Some((bit, slot(index)?))
        })
        .collect()
}

/// An event a counter can count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Hardware(Counter),
    Firmware(usize),
}

/// Decodes (event_idx, event_data): Err(INVALID_PARAM) for malformed or reserved
/// encodings, Err(NOT_SUPPORTED) for valid events nothing here counts.
fn event(event_idx: u64, event_data: u64) -> Result<Event, i64> {
    if event_idx >> 20 != 0 {
        return Err(error::INVALID_PARAM);
    }
    let (kind, code) = (event_idx >> 16, event_idx & 0xFFFF);
    match (kind, code) {
        (TYPE_HARDWARE, HW_CPU_CYCLES) => Ok(Event::Hardware(Counter::Cycle)),
        (TYPE_HARDWARE, HW_INSTRUCTIONS) => Ok(Event::Hardware(Counter::Instret)),
        (TYPE_HARDWARE, 0..=10) => Err(error::NOT_SUPPORTED),
        (TYPE_HARDWARE, _) => Err(error::INVALID_PARAM),
        // Cache events, raw events (v1 and v2).
        (1..=3, _) => Err(error::NOT_SUPPORTED),
        (TYPE_FIRMWARE, c) if c < fw::COUNT as u64 && event_data != 0 => Err(error::INVALID_PARAM),
        (TYPE_FIRMWARE, c) if c < fw::COUNT as u64 => Ok(Event::Firmware(c as usize)),
        (TYPE_FIRMWARE, 22..=255) => Err(error::INVALID_PARAM),
        // Implementation-specific and platform events: none.
        (TYPE_FIRMWARE, _) => Err(error::NOT_SUPPORTED),
        _ => Err(error::INVALID_PARAM),
    }
}

impl HartPmu {
    fn started(&self, slot: Slot) -> bool {
        match slot {
            Slot::Hardware(c) => !self.hardware_stopped[c as usize],
            Slot::Firmware(i) => self.firmware[i].started,
        }
    }

    fn can_count(slot: Slot, event: Event) -> bool {
        match (slot, event) {
            (Slot::Hardware(c), Event::Hardware(e)) => c == e,
            (Slot::Firmware(_), Event::Firmware(_)) => true,
            _ => false,
        }
    }

    fn firmware_value(&self, i: usize, events: &FirmwareEvents) -> u64 {
        let c = self.firmware[i];
        match (c.started, c.event) {
            (true, Some(e)) => c.value.wrapping_add(events.total(e).wrapping_sub(c.since)),
            _ => c.value,
        }
    }

    fn value(&self, slot: Slot, vcpu: &dyn Vcpu, events: &FirmwareEvents) -> u64 {
        match slot {
            Slot::Hardware(c) => vcpu.machine_counter(c).unwrap_or(0),
            Slot::Firmware(i) => self.firmware_value(i, events),
        }
    }

    fn start(
        &mut self,
        slot: Slot,
        value: Option<u64>,
        vcpu: &mut dyn Vcpu,
        events: &FirmwareEvents,
    ) {
        match slot {
            Slot::Hardware(c) => {
                self.hardware_stopped[c as usize] = false;
                vcpu.set_machine_counter(c, value, true);
            }
            Slot::Firmware(i) => {
                let value = value.unwrap_or(self.firmware[i].value);
                let counter = &mut self.firmware[i];
                counter.started = true;
                counter.value = value;
                counter.since = counter.event.map_or(0, |e| events.total(e));
            }
        }
    }

    fn stop(&mut self, slot: Slot, vcpu: &mut dyn Vcpu, events: &FirmwareEvents) {
        match slot {
            Slot::Hardware(c) => {
                self.hardware_stopped[c as usize] = true;
                vcpu.set_machine_counter(c, None, false);
            }
            Slot::Firmware(i) => {
                self.firmware[i].value = self.firmware_value(i, events);
                self.firmware[i].started = false;
            }
        }
    }

    fn set_value(&mut self, slot: Slot, value: u64, vcpu: &mut dyn Vcpu) {
        match slot {
            Slot::Hardware(c) => {
                let running = !self.hardware_stopped[c as usize];
                vcpu.set_machine_counter(c, Some(value), running);
            }
            Slot::Firmware(i) => self.firmware[i].value = value,
        }
    }

    fn mapped(&self, slot: Slot) -> bool {
        match slot {
            Slot::Hardware(c) => self.hardware_mapped[c as usize],
            Slot::Firmware(i) => self.firmware[i].event.is_some(),
        }
    }

    fn map(&mut self, slot: Slot, event: Option<Event>) {
        match slot {
            Slot::Hardware(c) => self.hardware_mapped[c as usize] = event.is_some(),
            Slot::Firmware(i) => {
                self.firmware[i].event = match event {
                    Some(Event::Firmware(code)) => Some(code),
                    _ => None,
                }
            }
        }
    }
}

/// The PMU call's context: the calling hart's vCPU, its firmware events and
/// the machine (for guest memory).
pub struct Caller<'a> {
    /// The calling vCPU (its machine counters).
    pub vcpu: &'a mut dyn Vcpu,
    /// The calling hart's firmware events.
    pub events: &'a FirmwareEvents,
    /// The machine.
    pub host: &'a dyn SbiHost,
}

/// Serves PMU function `function` with arguments `a`.
pub fn handle(function: u64, a: [u64; 6], pmu: &mut HartPmu, caller: Caller<'_>) -> SbiOutcome {
    match function {
        0 => SbiOutcome::ok(NUM_COUNTERS as u64),
        1 => counter_info(a[0]),
        2 => config_matching(pmu, a, caller),
        3 => start(pmu, a, caller),
        4 => stop(pmu, a, caller),
        5 | 6 => match slot(a[0]) {
            Some(Slot::Firmware(i)) if pmu.firmware[i].event.is_some() => {
                // RV64: fw_read_hi always reads zero.
                let value = if function == 5 {
                    pmu.firmware_value(i, caller.events)
                } else {
                    0
                };
                SbiOutcome::ok(value)
            }
            _ => SbiOutcome::err(error::INVALID_PARAM),
        },
        7 => snapshot_set_shmem(pmu, a, caller.host),
        8 => event_get_info(a, caller.host),
        _ => SbiOutcome::err(error::NOT_SUPPORTED),
    }
}

/// counter_get_info: CSR number and width - 1 for hardware counters, bit XLEN-1
/// for firmware counters.
fn counter_info(index: u64) -> SbiOutcome {
    match slot(index) {
        Some(Slot::Hardware(_)) => SbiOutcome::ok((63 << 12) | (0xC00 + index)),
        Some(Slot::Firmware(_)) => SbiOutcome::ok(1 << 63),
        None => SbiOutcome::err(error::INVALID_PARAM),
    }
}

fn config_matching(pmu: &mut HartPmu, a: [u64; 6], caller: Caller<'_>) -> SbiOutcome {
    let (base, mask, flags, event_idx, event_data) = (a[0], a[1], a[2], a[3], a[4]);
    if flags & !CFG_VALID != 0 {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    let Some(set) = counter_set(base, mask) else {
        return SbiOutcome::err(error::INVALID_PARAM);
    };
    let event = match event(event_idx, event_data) {
        Ok(event) => event,
        Err(e) => return SbiOutcome::err(e),
    };
    let chosen = if flags & CFG_SKIP_MATCH != 0 {
        set.first()
            .copied()
            .filter(|&(_, slot)| HartPmu::can_count(slot, event))
    } else {
        // cycle and instret are fixed-function: as OpenSBI does, and as Linux's
        // boot-time event probe relies on, they match their event even while
        // they run. A firmware counter matches only when free and stopped.
        set.iter().copied().find(|&(_, slot)| {
            HartPmu::can_count(slot, event)
                && (matches!(slot, Slot::Hardware(_)) || (!pmu.started(slot) && !pmu.mapped(slot)))
        })
    };
    let Some((offset, slot)) = chosen else {
        return SbiOutcome::err(error::NOT_SUPPORTED);
    };
    pmu.map(slot, Some(event));
    if flags & CFG_CLEAR_VALUE != 0 {
        pmu.set_value(slot, 0, caller.vcpu);
    }
    if flags & CFG_AUTO_START != 0 && !pmu.started(slot) {
        pmu.start(slot, None, caller.vcpu, caller.events);
    }
    SbiOutcome::ok(base + offset)
}

fn start(pmu: &mut HartPmu, a: [u64; 6], caller: Caller<'_>) -> SbiOutcome {
    let (base, mask, flags, initial) = (a[0], a[1], a[2], a[3]);
    let both = START_SET_INIT_VALUE | START_INIT_SNAPSHOT;
    if flags & !both != 0 || flags & both == both {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    let Some(set) = counter_set(base, mask) else {
        return SbiOutcome::err(error::INVALID_PARAM);
    };
    if set
        .iter()
        .any(|&(_, slot)| matches!(slot, Slot::Firmware(_)) && !pmu.mapped(slot))
    {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    let snapshot = if flags & START_INIT_SNAPSHOT != 0 {
        let Some(shmem) = pmu.snapshot else {
            return SbiOutcome::err(error::NO_SHMEM);
        };
        let mut values = [0u8; 512];
        if !caller.host.read_guest(shmem + SNAPSHOT_VALUES, &mut values) {
            return SbiOutcome::err(error::FAILED);
        }
        Some(values)
    } else {
        None
    };
    if set.iter().any(|&(_, slot)| pmu.started(slot)) {
        return SbiOutcome::err(error::ALREADY_STARTED);
    }
    for (offset, slot) in set {
        let value = match &snapshot {
            Some(values) => {
                let at = offset as usize * 8;
                let mut word = [0u8; 8];
                word.copy_from_slice(&values[at..at + 8]);
                Some(u64::from_le_bytes(word))
            }
            None if flags & START_SET_INIT_VALUE != 0 => Some(initial),
            None => None,
        };
        pmu.start(slot, value, caller.vcpu, caller.events);
    }
    SbiOutcome::ok(0)
}

fn stop(pmu: &mut HartPmu, a: [u64; 6], caller: Caller<'_>) -> SbiOutcome {
    let (base, mask, flags) = (a[0], a[1], a[2]);
    if flags & !(STOP_RESET | STOP_TAKE_SNAPSHOT) != 0 {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    let Some(set) = counter_set(base, mask) else {
        return SbiOutcome::err(error::INVALID_PARAM);
    };
    let snapshot = flags & STOP_TAKE_SNAPSHOT != 0;
    if snapshot && pmu.snapshot.is_none() {
        return SbiOutcome::err(error::NO_SHMEM);
    }
    // Counters already stopped make the call ALREADY_STOPPED, but the others stop
    // and RESET still releases every mapping in the set: Linux probes events at
    // boot by matching a stopped counter and releasing it with a stop+RESET, as
    // OpenSBI allows.
    let mut outcome = SbiOutcome::ok(0);
    for &(_, slot) in &set {
        if pmu.started(slot) {
            pmu.stop(slot, caller.vcpu, caller.events);
        } else {
            outcome = SbiOutcome::err(error::ALREADY_STOPPED);
        }
        if flags & STOP_RESET != 0 {
            pmu.map(slot, None);
        }
    }
    if let (true, Some(shmem)) = (snapshot, pmu.snapshot) {
        // No Sscofpmf: the overflow bitmap is zero.
        let mut ok = caller.host.write_guest(shmem, &0u64.to_le_bytes());
        for &(offset, slot) in &set {
            let value = pmu.value(slot, caller.vcpu, caller.events);
            ok &= caller
                .host
                .write_guest(shmem + SNAPSHOT_VALUES + offset * 8, &value.to_le_bytes());
        }
        if !ok {
            return SbiOutcome::err(error::FAILED);
        }
    }
    outcome
}

/// The guest-physical address of a shared memory area (SBI spec 3.3): the low
/// XLEN bits in `lo`, the high in `hi`; RAM ends far below 2^64, so `hi` must be
/// zero.
fn shmem_address(lo: u64, hi: u64, len: u64, host: &dyn SbiHost) -> Option<u64> {
    (hi == 0 && host.is_ram(lo, len)).then_some(lo)
}

fn snapshot_set_shmem(pmu: &mut HartPmu, a: [u64; 6], host: &dyn SbiHost) -> SbiOutcome {
    let (lo, hi, flags) = (a[0], a[1], a[2]);
    if flags != 0 {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    if lo == u64::MAX && hi == u64::MAX {
        pmu.snapshot = None;
        return SbiOutcome::ok(0);
    }
    if !lo.is_multiple_of(SNAPSHOT_SIZE) {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    match shmem_address(lo, hi, SNAPSHOT_SIZE, host) {
        Some(gpa) => {
            pmu.snapshot = Some(gpa);
            SbiOutcome::ok(0)
        }
        None => SbiOutcome::err(error::INVALID_ADDRESS),
    }
}

/// event_get_info: for each 16-byte entry, output = whether the event is countable
/// here. Entries with a reserved event_idx bit make the call INVALID_PARAM before
/// anything is written.
fn event_get_info(a: [u64; 6], host: &dyn SbiHost) -> SbiOutcome {
    let (lo, hi, entries, flags) = (a[0], a[1], a[2], a[3]);
    if flags != 0 || !lo.is_multiple_of(16) {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    let Some(len) = entries.checked_mul(16).filter(|&len| len <= 1 << 20) else {
        return SbiOutcome::err(error::INVALID_ADDRESS);
    };
    let Some(gpa) = shmem_address(lo, hi, len, host) else {
        return SbiOutcome::err(error::INVALID_ADDRESS);
    };
    let mut table = vec![0u8; len as usize];
    if !host.read_guest(gpa, &mut table) {
        return SbiOutcome::err(error::INVALID_ADDRESS);
    }
    let word = |entry: &[u8], at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&entry[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    if table
        .chunks_exact(16)
        .any(|entry| word(entry, 0) as u32 >> 20 != 0)
    {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    for (n, entry) in table.chunks_exact(16).enumerate() {
        let event_idx = u64::from(word(entry, 0) as u32);
        let event_data = word(entry, 8);
        match event(event_idx, event_data) {
            Ok(_) | Err(error::NOT_SUPPORTED) => {
                let supported = u32::from(event(event_idx, event_data).is_ok());
                let at = gpa + n as u64 * 16 + 4;
                if !host.write_guest(at, &supported.to_le_bytes()) {
                    return SbiOutcome::err(error::FAILED);
                }
            }
            // An invalid event_data: the entry is left alone.
            Err(_) => {}
        }
    }
    SbiOutcome::ok(0)
}
