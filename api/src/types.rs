//! The API's request and response bodies that are not config-file sections (those
//! are in [`crate::config`]). Each is the serde type both the server and the client
//! use, and each has a schema of the same name in `api/openapi.yaml`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{
    BootSource, Drive, EntropyConfig, LoggerConfig, MachineConfig, MetricsConfig, NetworkInterface,
    VsockConfig,
};
use crate::parse::Body;

/// The name `GET /` reports as `app_name`.
pub const APP_NAME: &str = "rvnest";

/// The version of rvnest (the workspace version) that `GET /version` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /`: what this VMM process is and what state its VM is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceInfo {
    /// The instance id given with `--id` (default `anonymous-instance`).
    pub id: String,
    /// The VM's lifecycle state.
    pub state: InstanceState,
    /// The rvnest version.
    pub vmm_version: String,
    /// Always `rvnest`.
    pub app_name: String,
}

/// The VM's lifecycle state, with Firecracker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceState {
    /// `"Not started"`: the configuration is being assembled; `InstanceStart` boots it.
    #[serde(rename = "Not started")]
    NotStarted,
    /// `"Running"`: the vCPUs run.
    Running,
    /// `"Paused"`: the vCPU threads sleep until `PATCH /vm {"state": "Resumed"}`.
    Paused,
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstanceState::NotStarted => "Not started",
            InstanceState::Running => "Running",
            InstanceState::Paused => "Paused",
        })
    }
}

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionInfo {
    /// The rvnest version (Firecracker's field is `firecracker_version`).
    pub rvnest_version: String,
}

/// `PUT /actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceActionInfo {
    /// What to do.
    pub action_type: ActionType,
}

impl Body for InstanceActionInfo {
    const PATH: &'static [&'static str] = &[];
}

/// `PUT /actions` action types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionType {
    /// Boot the configured VM (once; pre-boot only).
    InstanceStart,
    /// Write the counters as one JSON line to the metrics file.
    FlushMetrics,
    /// rvnest's own: stop the VM and end the process (exit code 0).
    Shutdown,
}

/// `PATCH /vm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmStateUpdate {
    /// The state to move to.
    pub state: RequestedVmState,
}

impl Body for VmStateUpdate {
    const PATH: &'static [&'static str] = &[];
}

/// `PATCH /vm` target states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestedVmState {
    /// Stop the vCPUs (they sleep; the guest's clock keeps running).
    Paused,
    /// Let paused vCPUs run again.
    Resumed,
}

/// `GET /vm/config`: the configuration as assembled so far, in the config file's
/// format (a config file, less the sections not yet set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FullVmConfig {
    /// `boot-source`, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_source: Option<BootSource>,
    /// `machine-config` (defaults until set).
    pub machine_config: MachineConfig,
    /// `logger`, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<LoggerConfig>,
    /// `metrics`, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    /// `drives`, as configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drives: Vec<Drive>,
    /// `network-interfaces`, as configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
    /// `entropy`, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<EntropyConfig>,
    /// `vsock`, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsock: Option<VsockConfig>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// What went wrong: one short line, capitalised.
    pub fault_message: String,
}

/// `GET /vm/counters`: every vCPU's counters. Empty before `InstanceStart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmCounters {
    /// One entry per vCPU, by id.
    pub vcpus: Vec<VcpuCounters>,
    /// One entry per virtio device, in slot order.
    #[serde(default)]
    pub devices: Vec<DeviceCounters>,
}

/// What a virtio device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// virtio-blk (a `drives[]` entry).
    Block,
    /// virtio-net (a `network-interfaces[]` entry).
    Net,
    /// virtio-rng (`entropy`).
    Rng,
    /// virtio-vsock (`vsock`).
    Vsock,
}

/// One virtio device's counters, as `GET /vm/counters` and the metrics file show
/// them. A request is a block request (read, write or flush), a network frame, an
/// entropy request or a vsock packet, either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCounters {
    /// The kind of device.
    pub kind: DeviceKind,
    /// Its id: the `drive_id`, the `iface_id`, `entropy` or `vsock`.
    pub id: String,
    /// Requests served.
    pub requests: u64,
    /// Payload bytes the device gave the guest (read from an image, received
    /// frames, random bytes, vsock data to the guest).
    pub bytes_to_guest: u64,
    /// Payload bytes the guest gave the device.
    pub bytes_from_guest: u64,
    /// Malformed chains, error statuses, host-side failures.
    pub errors: u64,
}

/// One vCPU's counters, as `GET /vm/counters` and the metrics file show them.
///
/// The counts are taken on the vCPU's own thread when the request kicks it (or when
/// it last stopped), so they are at most a few microseconds old.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VcpuCounters {
    /// The vCPU (hart) id.
    pub id: u32,
    /// What the vCPU thread is doing.
    pub state: VcpuActivity,
    /// Guest instructions executed (soft backend; 0 on KVM).
    pub instructions: u64,
    /// Exceptions delivered to the guest (soft backend).
    pub exceptions: u64,
    /// Interrupts delivered to the guest (soft backend).
    pub interrupts: u64,
    /// Exits from the vCPU's `run()` to the VMM, by reason.
    pub exits: ExitCounters,
    /// SBI calls the VMM served, by extension.
    pub sbi: SbiCounters,
    /// Nested virtualization: what a guest hypervisor did.
    pub nested: NestedCounters,
    /// Nested acceleration (NACL) statistics.
    pub nacl: NaclCounters,
    /// Translation and decode caches (soft backend).
    pub translation: TranslationCounters,
    /// The soft hart's compiled tier.
    pub compiled: CompiledTierCounters,
}

/// What a vCPU thread is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VcpuActivity {
    /// Executing the guest (or handling one of its exits).
    #[default]
    Running,
    /// Sleeping because the VM is paused.
    Paused,
    /// The hart is stopped (SBI HSM) and waits to be started.
    Stopped,
    /// The vCPU thread has ended.
    Exited,
}

impl fmt::Display for VcpuActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VcpuActivity::Running => "running",
            VcpuActivity::Paused => "paused",
            VcpuActivity::Stopped => "stopped",
            VcpuActivity::Exited => "exited",
        })
    }
}

/// Exits from a vCPU's `run()`, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitCounters {
    /// Loads from MMIO devices.
    pub mmio_read: u64,
    /// Stores to MMIO devices.
    pub mmio_write: u64,
    /// SBI calls (see [`SbiCounters`] for the extensions).
    pub sbi: u64,
    /// Returns on a kick from another thread (pause, counters, shutdown).
    pub interrupted: u64,
    /// Shutdown requests handled by the backend itself.
    pub shutdown: u64,
    /// Reset requests handled by the backend itself.
    pub reset: u64,
}

/// SBI calls served, by extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbiCounters {
    /// Base extension (probing, versions, ids).
    pub base: u64,
    /// TIME (set_timer).
    pub time: u64,
    /// sPI (IPIs).
    pub ipi: u64,
    /// RFNC (remote fences).
    pub rfence: u64,
    /// HSM (hart start, stop, status, suspend).
    pub hsm: u64,
    /// SRST (system reset).
    pub srst: u64,
    /// DBCN (debug console).
    pub dbcn: u64,
    /// The v0.1 legacy calls (console, timer, shutdown, ...).
    pub legacy: u64,
    /// NACL (nested acceleration).
    pub nacl: u64,
    /// Any other extension (answered NOT_SUPPORTED).
    pub other: u64,
}

/// Nested acceleration (SBI NACL) statistics, all zero when NACL is not offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaclCounters {
    /// Whether this vCPU offers NACL (`machine-config.nacl`).
    pub enabled: bool,
    /// `sbi_nacl_probe_feature` calls.
    pub probe_feature: u64,
    /// `sbi_nacl_set_shmem` calls.
    pub set_shmem: u64,
    /// `sbi_nacl_sync_csr` calls.
    pub sync_csr: u64,
    /// `sbi_nacl_sync_hfence` calls.
    pub sync_hfence: u64,
    /// `sbi_nacl_sync_sret` calls.
    pub sync_sret: u64,
    /// Calls of unknown NACL functions.
    pub other_calls: u64,
    /// CSR writes applied from the shared memory's CSR space.
    pub csrs_written: u64,
    /// HFENCE entries processed from the shared memory.
    pub hfences: u64,
    /// NACL calls answered with an error.
    pub errors: u64,
}

/// What a guest hypervisor (a guest with the H extension) did on this vCPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NestedCounters {
    /// Entries into the nested guest (V=1) by SRET or NACL sync_sret.
    pub guest_entries: u64,
    /// Exits from the nested guest into the guest hypervisor.
    pub guest_exits: u64,
    /// H and VS CSR accesses by the guest hypervisor.
    pub h_csr_accesses: u64,
    /// HFENCE instructions and NACL HFENCE entries applied.
    pub hfences: u64,
    /// HLV/HLVX/HSV executed.
    pub hypervisor_loads_stores: u64,
}

/// The soft hart's translation and decode caches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationCounters {
    /// Load/store TLB misses (page-table walks).
    pub tlb_misses: u64,
    /// Fetch-TLB misses.
    pub fetch_misses: u64,
    /// Instructions decoded into the decode cache.
    pub decodes: u64,
}

/// The soft hart's compiled tier (`machine-config.jit`), all zero when it is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompiledTierCounters {
    /// Whether this vCPU compiles hot code.
    pub enabled: bool,
    /// Blocks compiled.
    pub blocks: u64,
    /// Blocks another vCPU had compiled already (copied, not compiled again).
    pub blocks_shared: u64,
    /// Blocks the code generator refused (they stay interpreted).
    pub failures: u64,
    /// Time spent compiling, in microseconds.
    pub compile_us: u64,
    /// Bytes of the code cache in use.
    pub code_bytes: u64,
    /// Size of the code cache (`machine-config.jit.code_cache_mib`).
    pub code_cache_bytes: u64,
    /// Times the code cache filled up and was emptied.
    pub cache_flushes: u64,
    /// Entries from the interpreter into compiled code.
    pub entries: u64,
    /// Guest instructions run in compiled code (part of the vCPU's `instructions`).
    pub instructions: u64,
    /// Returns from compiled code to the interpreter, by reason.
    pub side_exits: SideExitCounters,
}

/// Why compiled code returned to the interpreter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideExitCounters {
    /// The next block is not compiled (yet).
    pub not_compiled: u64,
    /// The time slice ran out (interrupts, timers and kicks are checked).
    pub budget: u64,
    /// A load or store missed the TLB, trapped, or reached MMIO.
    pub slow_access: u64,
    /// An instruction the tier does not compile changed the control flow.
    pub stepped: u64,
    /// An instruction the tier does not compile ended the slice (CSR write, SRET,
    /// WFI...).
    pub end_slice: u64,
    /// An instruction needs the VMM (SBI call, MMIO).
    pub vmm: u64,
}

/// One line of the metrics file, written by `FlushMetrics`, every 60 seconds while a
/// metrics file is set, and when the process ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsRecord {
    /// Wall-clock time of the flush, milliseconds since the Unix epoch.
    pub utc_timestamp_ms: u64,
    /// The instance id.
    pub id: String,
    /// The VM's state at the flush.
    pub state: InstanceState,
    /// Every vCPU's counters.
    pub vcpus: Vec<VcpuCounters>,
    /// Every virtio device's counters.
    #[serde(default)]
    pub devices: Vec<DeviceCounters>,
}
