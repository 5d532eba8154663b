//! The VM configuration, in Firecracker's format: the top-level object of a config
//! file (`rvnest --config-file FILE`), whose sections are exactly the bodies of the
//! API's `PUT` requests (`PUT /boot-source` takes a `boot-source` section, and so on).
//!
//! ```json
//! {
//!   "boot-source": {
//!     "kernel_image_path": "/path/to/Image",
//!     "initrd_path": "/path/to/initramfs.cpio.gz",
//!     "boot_args": "console=ttyS0 earlycon=sbi"
//!   },
//!   "machine-config": {
//!     "vcpu_count": 1,
//!     "mem_size_mib": 512,
//!     "backend": "soft",
//!     "irqchip": "auto",
//!     "nested": false,
//!     "nacl": { "enabled": true, "features": ["sync_csr", "sync_hfence"] }
//!   },
//!   "logger": { "log_path": "/tmp/rvnest.log", "level": "Info" },
//!   "metrics": { "metrics_path": "/tmp/rvnest.metrics" }
//! }
//! ```
//!
//! Top-level keys are kebab-case, the keys inside each section snake_case, as in
//! Firecracker. Unknown keys are rejected everywhere. Relative paths are relative to
//! the working directory of the rvnest process.
//!
//! Every error is one line that names the offending field (as a dotted JSON path such
//! as `machine-config.vcpu_count`) or file, e.g.
//! `Invalid config: machine-config.vcpu_count: must be between 1 and 32, got 0`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::parse::{Body, FieldError, from_json};

/// The largest `machine-config.vcpu_count` accepted.
///
/// One PLIC S-mode context per hart and the harts' FDT nodes are laid out for at most
/// 32 harts, QEMU `virt`'s historical per-socket limit, which guests built for `virt`
/// expect.
pub const MAX_VCPUS: u32 = 32;

/// The smallest `machine-config.mem_size_mib` accepted: enough for a small kernel
/// (loaded at RAM + 2 MiB), its FDT and a tiny initrd. A distribution kernel needs
/// more (Debian's riscv64 Image alone is about 36 MiB).
pub const MIN_MEM_MIB: u64 = 16;

/// The largest `machine-config.mem_size_mib` accepted (64 GiB). RAM starts at guest
/// physical 0x8000_0000, so all of it stays below 2^37, well inside the 2^41-byte
/// guest-physical space of the smallest G-stage mode (Sv39x4).
pub const MAX_MEM_MIB: u64 = 64 * 1024;

/// Longest kernel command line accepted, in bytes, without the terminating NUL
/// (RISC-V Linux's `COMMAND_LINE_SIZE` is 1024 including it).
pub const MAX_BOOT_ARGS_LEN: usize = 1023;

/// The whole VM configuration: the top-level JSON object of a config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VmConfig {
    /// `boot-source`: what to boot.
    pub boot_source: BootSource,
    /// `machine-config`: the virtual machine's shape and the execution backend.
    pub machine_config: MachineConfig,
    /// `logger` (optional): where rvnest's own log goes, as `PUT /logger` sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<LoggerConfig>,
    /// `metrics` (optional): where `FlushMetrics` writes, as `PUT /metrics` sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    /// `drives` (optional): the virtio-blk devices, at most [`MAX_DRIVES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drives: Vec<Drive>,
    /// `network-interfaces` (optional): the virtio-net devices, each on a host TAP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
    /// `entropy` (optional): a virtio-rng device, as `PUT /entropy` adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<EntropyConfig>,
    /// `vsock` (optional): a virtio-vsock device, as `PUT /vsock` adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsock: Option<VsockConfig>,
}

/// `vsock`: a virtio-vsock device with Firecracker's host side on Unix sockets. The
/// body of `PUT /vsock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VsockConfig {
    /// `vsock_id` (optional, deprecated in Firecracker): a name, ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsock_id: Option<String>,
    /// `guest_cid` (required): the guest's context id, 3 or more.
    pub guest_cid: u32,
    /// `uds_path` (required): the Unix socket host programs connect to (`CONNECT
    /// <port>`); guest connections to host port `P` go to `<uds_path>_P`. It must not
    /// exist when the VM starts.
    pub uds_path: PathBuf,
}

impl VsockConfig {
    /// Checks the values: a guest CID the guest may have, a socket path that fits
    /// `sun_path`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.guest_cid < 3 {
            return Err(invalid(
                "vsock.guest_cid",
                format!(
                    "must be 3 or more (0-2 are reserved), got {}",
                    self.guest_cid
                ),
            ));
        }
        let len = self.uds_path.as_os_str().len();
        if len == 0 {
            return Err(invalid("vsock.uds_path", "must not be empty"));
        }
        // sun_path is 108 bytes with its NUL; guest connections add `_<port>`.
        if len > 96 {
            return Err(invalid(
                "vsock.uds_path",
                format!("must be at most 96 bytes (a Unix socket path), got {len}"),
            ));
        }
        Ok(())
    }
}

/// `network-interfaces[]`: a virtio-net device on an existing host TAP device, with
/// Firecracker's fields. The body of `PUT /network-interfaces/{iface_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInterface {
    /// `iface_id` (required): a unique name of letters, digits and underscores.
    pub iface_id: String,
    /// `host_dev_name` (required): the TAP device, which must exist in rvnest's
    /// network namespace.
    pub host_dev_name: String,
    /// `guest_mac` (optional): the guest's MAC address, `aa:bb:cc:dd:ee:ff`; without
    /// it the guest makes one up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_mac: Option<String>,
}

/// The body of `PATCH /network-interfaces/{iface_id}`, Firecracker's
/// `PartialNetworkInterface`: only rate limiters can change after boot, and rvnest
/// has none, so a body naming one is refused with the field's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInterfaceUpdate {
    /// `iface_id` (required): the interface to change.
    pub iface_id: String,
    /// `rx_rate_limiter` (optional): refused, rvnest does not limit rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_rate_limiter: Option<serde_json::Value>,
    /// `tx_rate_limiter` (optional): refused, rvnest does not limit rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_rate_limiter: Option<serde_json::Value>,
}

impl NetworkInterfaceUpdate {
    /// Refuses the rate limiters, which rvnest does not implement.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (field, value) in [
            ("rx_rate_limiter", &self.rx_rate_limiter),
            ("tx_rate_limiter", &self.tx_rate_limiter),
        ] {
            if value.is_some() {
                return Err(invalid(field, "rate limiters are not supported by rvnest"));
            }
        }
        Ok(())
    }
}

/// The body of `PATCH /drives/{drive_id}`, Firecracker's `PartialDrive`: a new
/// backing file for a drive, before boot or while the guest runs (the guest is told
/// through a configuration-change interrupt and rereads the capacity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriveUpdate {
    /// `drive_id` (required): the drive to change.
    pub drive_id: String,
    /// `path_on_host` (optional): the new raw image, checked like a drive's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_on_host: Option<PathBuf>,
    /// `rate_limiter` (optional): refused, rvnest does not limit rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limiter: Option<serde_json::Value>,
}

impl DriveUpdate {
    /// Refuses the rate limiter and an empty path.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.rate_limiter.is_some() {
            return Err(invalid(
                "rate_limiter",
                "rate limiters are not supported by rvnest",
            ));
        }
        if self
            .path_on_host
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid("path_on_host", "must not be empty"));
        }
        Ok(())
    }
}

/// Parses a MAC address written `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Checks a list of network interfaces together: names, unique ids and TAPs, MACs.
pub fn validate_network_interfaces(ifaces: &[NetworkInterface]) -> Result<(), FieldError> {
    for (i, iface) in ifaces.iter().enumerate() {
        let field = format!("network-interfaces[{i}]");
        let id = &iface.iface_id;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(
                &format!("{field}.iface_id"),
                format!("must be letters, digits and underscores, got {id:?}"),
            ));
        }
        let tap = &iface.host_dev_name;
        if tap.is_empty()
            || tap.len() > 15
            || tap
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
        {
            return Err(invalid(
                &format!("{field}.host_dev_name"),
                format!("must be an interface name of 1 to 15 bytes, got {tap:?}"),
            ));
        }
        if let Some(mac) = &iface.guest_mac
            && parse_mac(mac).is_none()
        {
            return Err(invalid(
                &format!("{field}.guest_mac"),
                format!("must be a MAC address such as \"06:00:ac:10:00:02\", got {mac:?}"),
            ));
        }
        if ifaces[..i].iter().any(|o| o.iface_id == iface.iface_id) {
            return Err(invalid(
                &format!("{field}.iface_id"),
                format!("duplicate iface_id {id:?}"),
            ));
        }
        if ifaces[..i]
            .iter()
            .any(|o| o.host_dev_name == iface.host_dev_name)
        {
            return Err(invalid(
                &format!("{field}.host_dev_name"),
                format!("TAP {tap:?} is already used by another interface"),
            ));
        }
    }
    Ok(())
}

/// Whether the virtio devices fit in the machine's slots.
pub fn check_slots(
    drives: usize,
    ifaces: usize,
    entropy: bool,
    vsock: bool,
) -> Result<(), FieldError> {
    let used = drives + ifaces + usize::from(entropy) + usize::from(vsock);
    if used > MAX_DRIVES {
        return Err(invalid(
            "drives",
            format!(
                "{drives} drives, {ifaces} network interfaces, {} entropy and {} vsock \
                 devices need {used} virtio-mmio slots; the machine has {MAX_DRIVES}",
                usize::from(entropy),
                usize::from(vsock)
            ),
        ));
    }
    Ok(())
}

/// `entropy`: a virtio-rng device fed by the host's `getrandom` (Firecracker's
/// entropy device, without its rate limiter). The body of `PUT /entropy`: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntropyConfig {}

/// The most drives a VM takes: one virtio-mmio slot of the machine each.
/// The slots are shared with the network interfaces and the entropy device.
pub const MAX_DRIVES: usize = 8;

/// `drives[]`: a virtio-blk device backed by a raw image file, with Firecracker's
/// fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drive {
    /// `drive_id` (required): a unique name of letters, digits and underscores; the
    /// guest reads it back as the device's serial (get-id, first 20 bytes).
    pub drive_id: String,
    /// `path_on_host` (required): the raw image (a regular file or a block device).
    pub path_on_host: PathBuf,
    /// `is_root_device` (required): the guest's root file system; at most one drive.
    /// It becomes `/dev/vda` and the command line gets `root=` and `ro` or `rw`.
    pub is_root_device: bool,
    /// `is_read_only` (optional, default `false`): the guest may not write.
    #[serde(default)]
    pub is_read_only: bool,
    /// `partuuid` (optional): with `is_root_device`, the root is
    /// `root=PARTUUID=<partuuid>` instead of `/dev/vda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partuuid: Option<String>,
    /// `cache_type` (optional, default `"Unsafe"`): `"Writeback"` offers the guest flush
    /// requests, which fsync the image.
    #[serde(default)]
    pub cache_type: CacheType,
    /// `io_engine` (optional, default `"Sync"`): only `"Sync"` is available.
    #[serde(default)]
    pub io_engine: IoEngine,
}

/// `drives[].cache_type`, with Firecracker's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheType {
    /// `"Unsafe"` (default): no flush requests; writes reach the image's page cache.
    #[default]
    Unsafe,
    /// `"Writeback"`: flush requests fsync the image.
    Writeback,
}

/// `drives[].io_engine`, with Firecracker's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IoEngine {
    /// `"Sync"` (default): requests are served one after the other on a device thread.
    #[default]
    Sync,
    /// `"Async"`: io_uring in Firecracker; refused by rvnest.
    Async,
}

impl Drive {
    /// Checks one drive's values; `field` is its path (`drives[0]`).
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        let id = &self.drive_id;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(
                &format!("{field}.drive_id"),
                format!("must be letters, digits and underscores, got {id:?}"),
            ));
        }
        if self.path_on_host.as_os_str().is_empty() {
            return Err(invalid(
                &format!("{field}.path_on_host"),
                "must not be empty",
            ));
        }
        if let Some(partuuid) = &self.partuuid
            && (partuuid.is_empty() || !partuuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        {
            return Err(invalid(
                &format!("{field}.partuuid"),
                format!("must be a partition UUID (hex digits and dashes), got {partuuid:?}"),
            ));
        }
        if self.io_engine == IoEngine::Async {
            return Err(invalid(
                &format!("{field}.io_engine"),
                "\"Async\" is not available in rvnest; use \"Sync\"",
            ));
        }
        Ok(())
    }

    /// Checks that the image exists, is not a directory, and can be opened the way the
    /// drive needs it (for writing unless read-only).
    pub fn check_file(&self, field: &str) -> Result<(), ConfigError> {
        let path = &self.path_on_host;
        let fail = |source: io::Error| ConfigError::FileAccess {
            what: "drive image",
            path: path.clone(),
            field: field.to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(fail)?;
        if meta.is_dir() {
            return Err(fail(io::Error::other("is a directory")));
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(!self.is_read_only)
            .open(path)
            .map(drop)
            .map_err(fail)
    }
}

/// Checks a list of drives together: each drive, unique ids, at most one root
/// device, at most [`MAX_DRIVES`].
pub fn validate_drives(drives: &[Drive]) -> Result<(), FieldError> {
    if drives.len() > MAX_DRIVES {
        return Err(invalid(
            "drives",
            format!("at most {MAX_DRIVES} drives, got {}", drives.len()),
        ));
    }
    for (i, drive) in drives.iter().enumerate() {
        let field = format!("drives[{i}]");
        drive.validate(&field)?;
        if drives[..i].iter().any(|d| d.drive_id == drive.drive_id) {
            return Err(invalid(
                &format!("{field}.drive_id"),
                format!("duplicate drive_id {:?}", drive.drive_id),
            ));
        }
        if drive.is_root_device && drives[..i].iter().any(|d| d.is_root_device) {
            return Err(invalid(
                &format!("{field}.is_root_device"),
                "only one drive can be the root device",
            ));
        }
    }
    Ok(())
}

impl VmConfig {
    /// The drives in the order the guest sees them: the root device first (`vda`),
    /// then the others as listed.
    pub fn drives_in_guest_order(&self) -> Vec<&Drive> {
        let root = self.drives.iter().filter(|d| d.is_root_device);
        root.chain(self.drives.iter().filter(|d| !d.is_root_device))
            .collect()
    }

    /// What the root drive adds to the kernel command line, as Firecracker does:
    /// `root=/dev/vda` (or `root=PARTUUID=...`) and `ro` or `rw`.
    pub fn root_boot_args(&self) -> Option<String> {
        let root = self.drives.iter().find(|d| d.is_root_device)?;
        let device = match &root.partuuid {
            Some(partuuid) => format!("PARTUUID={partuuid}"),
            None => "/dev/vda".to_string(),
        };
        let mode = if root.is_read_only { "ro" } else { "rw" };
        Some(format!("root={device} {mode}"))
    }
}

/// `boot-source`: the kernel, the optional initrd and the kernel command line.
/// The body of `PUT /boot-source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootSource {
    /// `kernel_image_path` (required): a RISC-V Linux `Image` (the uncompressed
    /// format with the `RISCV\0\0\0` header magic).
    pub kernel_image_path: PathBuf,
    /// `initrd_path` (optional): an initramfs, loaded into guest RAM as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd_path: Option<PathBuf>,
    /// `boot_args` (optional): the kernel command line, put in the FDT's
    /// `/chosen/bootargs`; at most [`MAX_BOOT_ARGS_LEN`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_args: Option<String>,
}

/// `machine-config`: vCPUs, memory, backend, nesting. The body of
/// `PUT /machine-config` and the answer of `GET /machine-config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfig {
    /// `vcpu_count` (required): number of harts, 1 to [`MAX_VCPUS`].
    pub vcpu_count: u32,
    /// `mem_size_mib` (required): guest RAM in MiB, [`MIN_MEM_MIB`] to [`MAX_MEM_MIB`].
    pub mem_size_mib: u64,
    /// `backend` (optional, default `"auto"`): how guest code runs.
    #[serde(default)]
    pub backend: Backend,
    /// `irqchip` (optional, default `"auto"`): the guest's interrupt controller.
    #[serde(default)]
    pub irqchip: IrqChip,
    /// `nested` (optional, default `false`): offer the H extension to the guest so it
    /// can run its own KVM guests.
    #[serde(default)]
    pub nested: bool,
    /// `nacl` (optional): the SBI nested acceleration extension offered to a nested
    /// guest hypervisor; requires `nested: true` when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nacl: Option<NaclConfig>,
    /// `jit` (optional): the soft backend's compiled tier (on by default where the
    /// host architecture has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit: Option<JitConfig>,
    /// `smt` (optional, Firecracker's): `false` is accepted; `true` is refused (a
    /// RISC-V hart has no SMT sibling to pair it with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smt: Option<bool>,
    /// `track_dirty_pages` (optional, Firecracker's): `false` is accepted; `true` is
    /// refused (rvnest takes no snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_dirty_pages: Option<bool>,
    /// `huge_pages` (optional, Firecracker's): `"None"` is accepted; `"2M"` is refused
    /// (guest RAM is backed by ordinary pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub huge_pages: Option<HugePages>,
    /// `cpu_template` (optional, Firecracker's): `"None"` is accepted; the x86 and Arm
    /// templates are refused (the harts' ISA comes from the backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_template: Option<String>,
    /// `sbi_disabled_extensions` (optional, default empty): SBI extensions the
    /// soft backend's firmware leaves out (answering NOT_SUPPORTED, probing 0), to
    /// test guests against smaller firmwares; names from [`SBI_EXTENSION_NAMES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbi_disabled_extensions: Vec<String>,
}

/// The SBI extensions `machine-config.sbi_disabled_extensions` can name (BASE
/// cannot be left out; `legacy` is the v0.1 calls).
pub const SBI_EXTENSION_NAMES: [&str; 10] = [
    "time", "ipi", "rfence", "hsm", "srst", "pmu", "dbcn", "susp", "fwft", "legacy",
];

/// `machine-config.huge_pages`, with Firecracker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HugePages {
    /// `"None"`: ordinary pages.
    None,
    /// `"2M"`: 2 MiB huge pages (refused).
    #[serde(rename = "2M")]
    Huge2M,
}

impl Default for MachineConfig {
    /// What an API-driven VM has before `PUT /machine-config`: Firecracker's defaults
    /// (1 vCPU, 128 MiB) on the `auto` backend.
    fn default() -> MachineConfig {
        MachineConfig {
            vcpu_count: 1,
            mem_size_mib: 128,
            backend: Backend::Auto,
            irqchip: IrqChip::Auto,
            nested: false,
            nacl: None,
            jit: None,
            smt: None,
            track_dirty_pages: None,
            huge_pages: None,
            cpu_template: None,
            sbi_disabled_extensions: Vec::new(),
        }
    }
}

/// The body of `PATCH /machine-config`: the fields to change, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfigUpdate {
    /// New `vcpu_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_count: Option<u32>,
    /// New `mem_size_mib`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_size_mib: Option<u64>,
    /// New `backend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// New `irqchip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irqchip: Option<IrqChip>,
    /// New `nested`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested: Option<bool>,
    /// New `nacl` section (replaces the old one whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nacl: Option<NaclConfig>,
    /// New `jit` section (replaces the old one whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit: Option<JitConfig>,
    /// `smt` (Firecracker's, as in `machine-config`): `false` is accepted; `true` is refused (a
    /// RISC-V hart has no SMT sibling to pair it with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smt: Option<bool>,
    /// `track_dirty_pages` (Firecracker's, as in `machine-config`): `false` is accepted; `true` is
    /// refused (rvnest takes no snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_dirty_pages: Option<bool>,
    /// `huge_pages` (Firecracker's, as in `machine-config`): `"None"` is accepted; `"2M"` is refused
    /// (guest RAM is backed by ordinary pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub huge_pages: Option<HugePages>,
    /// `cpu_template` (Firecracker's, as in `machine-config`): `"None"` is accepted; the x86 and Arm
    /// templates are refused (the harts' ISA comes from the backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_template: Option<String>,
    /// New `sbi_disabled_extensions` (replaces the old list whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbi_disabled_extensions: Option<Vec<String>>,
}

impl MachineConfigUpdate {
    /// `base` with this update's fields applied (not validated).
    pub fn apply(&self, base: &MachineConfig) -> MachineConfig {
        MachineConfig {
            vcpu_count: self.vcpu_count.unwrap_or(base.vcpu_count),
            mem_size_mib: self.mem_size_mib.unwrap_or(base.mem_size_mib),
            backend: self.backend.unwrap_or(base.backend),
            irqchip: self.irqchip.unwrap_or(base.irqchip),
            nested: self.nested.unwrap_or(base.nested),
            nacl: self.nacl.clone().or_else(|| base.nacl.clone()),
            jit: self.jit.or(base.jit),
            smt: self.smt.or(base.smt),
            track_dirty_pages: self.track_dirty_pages.or(base.track_dirty_pages),
            huge_pages: self.huge_pages.or(base.huge_pages),
            cpu_template: self
                .cpu_template
                .clone()
                .or_else(|| base.cpu_template.clone()),
            sbi_disabled_extensions: self
                .sbi_disabled_extensions
                .clone()
                .unwrap_or_else(|| base.sbi_disabled_extensions.clone()),
        }
    }
}

/// `machine-config.backend`: the execution backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `"soft"`: rvnest's own software RISC-V hart (works on any host).
    Soft,
    /// `"kvm"`: the host's KVM (`/dev/kvm` on a riscv64 host with H).
    Kvm,
    /// `"auto"` (default): KVM when usable, otherwise the software hart.
    #[default]
    Auto,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Soft => "soft",
            Backend::Kvm => "kvm",
            Backend::Auto => "auto",
        })
    }
}

/// `machine-config.irqchip`: the interrupt controller the guest gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IrqChip {
    /// `"auto"` (default): KVM's in-kernel AIA (APLIC + IMSIC) where the host has
    /// one, otherwise the PLIC emulated by rvnest.
    #[default]
    Auto,
    /// `"plic"`: the PLIC emulated by rvnest (every backend).
    Plic,
    /// `"aia"`: KVM's in-kernel AIA; the VM is not built where the host has none.
    Aia,
}

impl fmt::Display for IrqChip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IrqChip::Auto => "auto",
            IrqChip::Plic => "plic",
            IrqChip::Aia => "aia",
        })
    }
}

/// `machine-config.jit`: the soft backend's compiled tier, which turns hot guest code
/// into host machine code (the interpreter runs the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitConfig {
    /// `enabled` (optional, default `true`); `false` interprets everything.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `threshold` (optional, default [`JitConfig::DEFAULT_THRESHOLD`]): times a jump
    /// target is reached before the block there is compiled, 0 to
    /// [`JitConfig::MAX_THRESHOLD`] (0 compiles every block at its first run).
    #[serde(default = "JitConfig::default_threshold")]
    pub threshold: u32,
    /// `code_cache_mib` (optional, default [`JitConfig::DEFAULT_CODE_CACHE_MIB`]): the
    /// size of each vCPU's code cache, 1 to [`JitConfig::MAX_CODE_CACHE_MIB`]; a full
    /// cache is emptied and refilled with what is hot.
    #[serde(default = "JitConfig::default_code_cache_mib")]
    pub code_cache_mib: u32,
}

impl JitConfig {
    /// The default `threshold`.
    pub const DEFAULT_THRESHOLD: u32 = 200;
    /// The largest `threshold`.
    pub const MAX_THRESHOLD: u32 = 254;
    /// The default `code_cache_mib`.
    pub const DEFAULT_CODE_CACHE_MIB: u32 = 32;
    /// The largest `code_cache_mib`.
    pub const MAX_CODE_CACHE_MIB: u32 = 1024;

    fn default_threshold() -> u32 {
        JitConfig::DEFAULT_THRESHOLD
    }

    fn default_code_cache_mib() -> u32 {
        JitConfig::DEFAULT_CODE_CACHE_MIB
    }
}

impl Default for JitConfig {
    fn default() -> JitConfig {
        JitConfig {
            enabled: true,
            threshold: JitConfig::DEFAULT_THRESHOLD,
            code_cache_mib: JitConfig::DEFAULT_CODE_CACHE_MIB,
        }
    }
}

/// `machine-config.nacl`: SBI nested acceleration (NACL) settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaclConfig {
    /// `enabled` (optional, default `true`: writing the section asks for NACL).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `features` (optional, default: all of them): the optional NACL features
    /// advertised to the guest; each may appear once. An empty list offers NACL's
    /// shared memory without any optional feature.
    #[serde(default = "NaclFeature::all")]
    pub features: Vec<NaclFeature>,
}

fn default_true() -> bool {
    true
}

/// One optional feature of the SBI NACL extension (SBI spec, chapter "Nested
/// Acceleration Extension").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NaclFeature {
    /// `"sync_csr"`: `SBI_NACL_FEAT_SYNC_CSR`, CSR values synchronised through
    /// shared memory.
    SyncCsr,
    /// `"sync_hfence"`: `SBI_NACL_FEAT_SYNC_HFENCE`, HFENCEs requested through shared
    /// memory.
    SyncHfence,
    /// `"sync_sret"`: `SBI_NACL_FEAT_SYNC_SRET`, SRET to the nested guest done by an
    /// SBI call.
    SyncSret,
    /// `"autoswap_csr"`: `SBI_NACL_FEAT_AUTOSWAP_CSR`, CSRs swapped automatically on
    /// the synchronised SRET.
    AutoswapCsr,
}

impl NaclFeature {
    /// Every feature, in the SBI specification's feature-ID order.
    pub fn all() -> Vec<NaclFeature> {
        vec![
            NaclFeature::SyncCsr,
            NaclFeature::SyncHfence,
            NaclFeature::SyncSret,
            NaclFeature::AutoswapCsr,
        ]
    }

    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        match self {
            NaclFeature::SyncCsr => "sync_csr",
            NaclFeature::SyncHfence => "sync_hfence",
            NaclFeature::SyncSret => "sync_sret",
            NaclFeature::AutoswapCsr => "autoswap_csr",
        }
    }
}

impl fmt::Display for NaclFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `logger`: rvnest's own log (the body of `PUT /logger`, as Firecracker's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggerConfig {
    /// `log_path` (optional): a file (created if missing, appended to) or a named
    /// pipe; without it the log stays on stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_path: Option<PathBuf>,
    /// `level` (optional, default `"Info"`): the most verbose level written.
    #[serde(default)]
    pub level: LogLevel,
    /// `show_level` (optional, default `false`): prefix each line with its level.
    #[serde(default)]
    pub show_level: bool,
    /// `show_log_origin` (optional, default `false`): prefix each line with the source
    /// file and line that logged it.
    #[serde(default)]
    pub show_log_origin: bool,
    /// `module` (optional): only log from this Rust module path (e.g. `vmm::vcpu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

/// `logger.level`, with Firecracker's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogLevel {
    /// Nothing is logged.
    Off,
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warning,
    /// Informational messages and above (default).
    #[default]
    Info,
    /// Debug messages and above.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The `tracing` filter directive for this level (`off`, `error`, `warn`, ...).
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warning => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// `metrics`: where `FlushMetrics` writes (the body of `PUT /metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `metrics_path` (required): a file (created if missing, appended to) or a
    /// named pipe; each flush writes one JSON line.
    pub metrics_path: PathBuf,
}

/// Why a configuration was rejected. Every message is a single line naming the field
/// (dotted JSON path) or the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file itself could not be read.
    #[error("Cannot read config file {}: {}", .path.display(), io_message(.source))]
    ReadConfig {
        /// The config file's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The JSON is malformed, or a field is unknown, missing, mistyped or out of range.
    #[error("Invalid config: {0}")]
    Invalid(#[from] FieldError),
    /// A file named by the config (kernel image, initrd, drive image) cannot be used.
    #[error("Cannot read {what} {} ({field}): {}", .path.display(), io_message(.source))]
    FileAccess {
        /// What the file is: `kernel image`, `initrd` or `drive image`.
        what: &'static str,
        /// The path as written in the config.
        path: PathBuf,
        /// The config key that named it, e.g. `boot-source.kernel_image_path`.
        field: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// An io::Error's message without the " (os error N)" suffix std appends.
pub fn io_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(idx) if text.ends_with(')') => text[..idx].to_string(),
        _ => text,
    }
}

impl Body for VmConfig {
    const PATH: &'static [&'static str] = &[];
    const OBJECTS: &'static [&'static [&'static str]] = &[
        &["boot-source"],
        &["machine-config"],
        &["machine-config", "nacl"],
        &["machine-config", "jit"],
        &["logger"],
        &["metrics"],
        &["entropy"],
        &["vsock"],
    ];
}

impl Body for BootSource {
    const PATH: &'static [&'static str] = &["boot-source"];
}

impl Body for MachineConfig {
    const PATH: &'static [&'static str] = &["machine-config"];
    const OBJECTS: &'static [&'static [&'static str]] = &[&["nacl"], &["jit"]];
}

impl Body for MachineConfigUpdate {
    const PATH: &'static [&'static str] = &["machine-config"];
    const OBJECTS: &'static [&'static [&'static str]] = &[&["nacl"], &["jit"]];
}

impl Body for LoggerConfig {
    const PATH: &'static [&'static str] = &["logger"];
}

impl Body for MetricsConfig {
    const PATH: &'static [&'static str] = &["metrics"];
}

impl Body for NetworkInterface {
    const PATH: &'static [&'static str] = &["network-interfaces[]"];
}

impl Body for EntropyConfig {
    const PATH: &'static [&'static str] = &["entropy"];
}

impl Body for VsockConfig {
    const PATH: &'static [&'static str] = &["vsock"];
}

impl Body for Drive {
    const PATH: &'static [&'static str] = &["drives[]"];
}

impl Body for DriveUpdate {
    const PATH: &'static [&'static str] = &[];
}

impl Body for NetworkInterfaceUpdate {
    const PATH: &'static [&'static str] = &[];
}

impl VmConfig {
    /// Reads, parses and validates ([`VmConfig::validate`]) the config file at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<VmConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        VmConfig::from_json_str(&text)
    }

    /// Parses and validates ([`VmConfig::validate`]) a config given as JSON text.
    pub fn from_json_str(json: &str) -> Result<VmConfig, ConfigError> {
        let config = VmConfig::parse_json_str(json)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses JSON text into a config without validating ranges or files.
    pub fn parse_json_str(json: &str) -> Result<VmConfig, ConfigError> {
        Ok(from_json(json)?)
    }

    /// Checks every value's range and consistency, then that the kernel image and the
    /// initrd are readable regular files. Returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_values()?;
        self.boot_source.check_files()?;
        for (i, drive) in self.drives.iter().enumerate() {
            drive.check_file(&format!("drives[{i}].path_on_host"))?;
        }
        Ok(())
    }

    /// The checks of [`VmConfig::validate`] that do not touch the file system.
    pub fn validate_values(&self) -> Result<(), ConfigError> {
        self.boot_source.validate_values()?;
        self.machine_config.validate()?;
        if let Some(logger) = &self.logger {
            logger.validate()?;
        }
        if let Some(metrics) = &self.metrics {
            metrics.validate()?;
        }
        validate_drives(&self.drives)?;
        validate_network_interfaces(&self.network_interfaces)?;
        if let Some(vsock) = &self.vsock {
            vsock.validate()?;
        }
        check_slots(
            self.drives.len(),
            self.network_interfaces.len(),
            self.entropy.is_some(),
            self.vsock.is_some(),
        )?;
        Ok(())
    }
}

impl BootSource {
    /// Checks the values: paths not empty, the command line short enough and free of
    /// NUL characters.
    pub fn validate_values(&self) -> Result<(), FieldError> {
        if self.kernel_image_path.as_os_str().is_empty() {
            return Err(invalid(
                "boot-source.kernel_image_path",
                "must not be empty",
            ));
        }
        if self
            .initrd_path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "boot-source.initrd_path",
                "must not be empty (omit it for no initrd)",
            ));
        }
        if let Some(args) = &self.boot_args {
            if args.len() > MAX_BOOT_ARGS_LEN {
                return Err(invalid(
                    "boot-source.boot_args",
                    format!(
                        "must be at most {MAX_BOOT_ARGS_LEN} bytes, got {}",
                        args.len()
                    ),
                ));
            }
            if args.contains('\0') {
                return Err(invalid(
                    "boot-source.boot_args",
                    "must not contain a NUL character",
                ));
            }
        }
        Ok(())
    }

    /// Checks that the kernel image and the initrd are readable, non-empty regular
    /// files.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        check_file(
            &self.kernel_image_path,
            "kernel image",
            "boot-source.kernel_image_path",
        )?;
        if let Some(initrd) = &self.initrd_path {
            check_file(initrd, "initrd", "boot-source.initrd_path")?;
        }
        Ok(())
    }

    /// [`BootSource::validate_values`], then [`BootSource::check_files`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_values()?;
        self.check_files()
    }
}

impl MachineConfig {
    /// Checks ranges and consistency (NACL needs nesting, features listed once, an
    /// AIA needs a backend that has one).
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(1..=MAX_VCPUS).contains(&self.vcpu_count) {
            return Err(invalid(
                "machine-config.vcpu_count",
                format!("must be between 1 and {MAX_VCPUS}, got {}", self.vcpu_count),
            ));
        }
        if !(MIN_MEM_MIB..=MAX_MEM_MIB).contains(&self.mem_size_mib) {
            return Err(invalid(
                "machine-config.mem_size_mib",
                format!(
                    "must be between {MIN_MEM_MIB} and {MAX_MEM_MIB}, got {}",
                    self.mem_size_mib
                ),
            ));
        }
        if self.irqchip == IrqChip::Aia && self.backend == Backend::Soft {
            return Err(invalid(
                "machine-config.irqchip",
                "\"aia\" needs the kvm backend's in-kernel AIA; the soft backend has a PLIC \
                 (use \"plic\" or \"auto\")",
            ));
        }
        if self.smt == Some(true) {
            return Err(invalid(
                "machine-config.smt",
                "true is not available: RISC-V harts have no SMT siblings (send false or omit it)",
            ));
        }
        if self.track_dirty_pages == Some(true) {
            return Err(invalid(
                "machine-config.track_dirty_pages",
                "true is not available: rvnest takes no snapshots (send false or omit it)",
            ));
        }
        if self.huge_pages == Some(HugePages::Huge2M) {
            return Err(invalid(
                "machine-config.huge_pages",
                "\"2M\" is not available: guest RAM uses ordinary pages (send \"None\")",
            ));
        }
        if let Some(template) = &self.cpu_template
            && template != "None"
        {
            return Err(invalid(
                "machine-config.cpu_template",
                format!(
                    "{template:?} is not available: the harts' ISA comes from the backend \
                     (send \"None\" or omit it)"
                ),
            ));
        }
        for name in &self.sbi_disabled_extensions {
            if !SBI_EXTENSION_NAMES.contains(&name.as_str()) {
                return Err(invalid(
                    "machine-config.sbi_disabled_extensions",
                    format!(
                        "unknown SBI extension {name:?} (known: {})",
                        SBI_EXTENSION_NAMES.join(", ")
                    ),
                ));
            }
        }
        if !self.sbi_disabled_extensions.is_empty() && self.backend == Backend::Kvm {
            return Err(invalid(
                "machine-config.sbi_disabled_extensions",
                "the kvm backend serves SBI in the kernel: only the soft backend can leave \
                 extensions out",
            ));
        }
        if let Some(nacl) = &self.nacl {
            if nacl.enabled && !self.nested {
                return Err(invalid(
                    "machine-config.nacl.enabled",
                    "NACL needs \"machine-config.nested\": true",
                ));
            }
            for (i, feature) in nacl.features.iter().enumerate() {
                if nacl.features[..i].contains(feature) {
                    return Err(invalid(
                        "machine-config.nacl.features",
                        format!("duplicate feature \"{feature}\""),
                    ));
                }
            }
        }
        if let Some(jit) = &self.jit {
            if jit.threshold > JitConfig::MAX_THRESHOLD {
                return Err(invalid(
                    "machine-config.jit.threshold",
                    format!(
                        "must be between 0 and {}, got {}",
                        JitConfig::MAX_THRESHOLD,
                        jit.threshold
                    ),
                ));
            }
            if !(1..=JitConfig::MAX_CODE_CACHE_MIB).contains(&jit.code_cache_mib) {
                return Err(invalid(
                    "machine-config.jit.code_cache_mib",
                    format!(
                        "must be between 1 and {}, got {}",
                        JitConfig::MAX_CODE_CACHE_MIB,
                        jit.code_cache_mib
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl LoggerConfig {
    /// Checks the values: a non-empty path, a module path made of Rust identifiers.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self
            .log_path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "logger.log_path",
                "must not be empty (omit it to log to stderr)",
            ));
        }
        if let Some(module) = &self.module {
            let valid = !module.is_empty()
                && module.split("::").all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if !valid {
                return Err(invalid(
                    "logger.module",
                    format!("must be a Rust module path such as \"vmm::vcpu\", got {module:?}"),
                ));
            }
        }
        Ok(())
    }
}

impl MetricsConfig {
    /// Checks the path is not empty.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.metrics_path.as_os_str().is_empty() {
            return Err(invalid("metrics.metrics_path", "must not be empty"));
        }
        Ok(())
    }
}

fn invalid(field: &str, message: impl Into<String>) -> FieldError {
    FieldError::InvalidValue {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The file exists, is a regular file, and can be opened and read.
fn check_file(path: &Path, what: &'static str, field: &'static str) -> Result<(), ConfigError> {
    let fail = |source: io::Error| ConfigError::FileAccess {
        what,
        path: path.to_path_buf(),
        field: field.to_string(),
        source,
    };
    let mut file = File::open(path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(fail(io::Error::other(if meta.is_dir() {
            "is a directory"
        } else {
            "not a regular file"
        })));
    }
    if meta.len() == 0 {
        return Err(fail(io::Error::other("file is empty")));
    }
    let mut byte = [0u8; 1];
    file.read(&mut byte).map(|_| ()).map_err(fail)
}

#[cfg(test)]
mod tests;
