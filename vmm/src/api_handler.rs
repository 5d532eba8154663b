//! The VMM's side of the API: the VM's lifecycle (`Not started` → `Running` ⇄
//! `Paused`) and the answer to every typed request, on the event-manager thread.
//!
//! Status conventions: 400 when the request itself is malformed or invalid (the
//! message names the field), 409 when it is fine but the VM's state forbids it
//! (a pre-boot resource after boot, `InstanceStart` twice or without a boot source,
//! pausing a VM that has not started, `FlushMetrics` without a metrics file), 500
//! for host failures.

use std::time::{Duration, Instant};

use api::config::{
    BootSource, ConfigError, Drive, DriveUpdate, EntropyConfig, LoggerConfig, MachineConfig,
    MetricsConfig, NetworkInterface, VmConfig, VsockConfig, check_slots, validate_drives,
    validate_network_interfaces,
};
use api::routes::{ApiRequest, ApiResponse};
use api::types::{
    APP_NAME, ActionType, FullVmConfig, InstanceInfo, InstanceState, MetricsRecord,
    RequestedVmState, VERSION, VersionInfo, VmCounters,
};

use crate::logger::{Logger, LoggerError};
use crate::machine::ExitStatus;
use crate::metrics::{MetricsError, MetricsFile, utc_timestamp_ms};
use crate::seccomp::SeccompFilters;
use crate::vm::{Vm, VmError};

/// How often the metrics file gets a line while one is set (Firecracker's period).
pub const METRICS_PERIOD: Duration = Duration::from_secs(60);

/// The VMM as the API sees it: the configuration being assembled, then the VM.
pub struct Vmm {
    id: String,
    boot_source: Option<BootSource>,
    machine_config: MachineConfig,
    logger_config: Option<LoggerConfig>,
    metrics_config: Option<MetricsConfig>,
    drives: Vec<Drive>,
    entropy: Option<EntropyConfig>,
    vsock: Option<VsockConfig>,
    network_interfaces: Vec<NetworkInterface>,
    logger: Logger,
    metrics: Option<MetricsFile>,
    last_flush: Instant,
    vm: Option<Vm>,
    shutdown: bool,
    seccomp: SeccompFilters,
}

/// Failures to apply a config file's sections before boot.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The `logger` section.
    #[error(transparent)]
    Logger(#[from] LoggerError),
    /// The `metrics` section.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The VM could not be started.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// `InstanceStart` before `PUT /boot-source`.
    #[error("Cannot start the VM without a boot source: PUT /boot-source first")]
    NoBootSource,
}

impl Vmm {
    /// A VMM with nothing configured yet (Firecracker's default machine config).
    pub fn new(id: String, logger: Logger) -> Vmm {
        Vmm {
            id,
            boot_source: None,
            machine_config: MachineConfig::default(),
            logger_config: None,
            metrics_config: None,
            drives: Vec::new(),
            entropy: None,
            vsock: None,
            network_interfaces: Vec::new(),
            logger,
            metrics: None,
            last_flush: Instant::now(),
            vm: None,
            shutdown: false,
            seccomp: SeccompFilters::disabled(),
        }
    }

    /// The seccomp filters the VM's threads (and this one, once the VM starts) load.
    pub fn with_seccomp(mut self, seccomp: SeccompFilters) -> Vmm {
        self.seccomp = seccomp;
        self
    }

    /// Takes a validated config file's sections, as the PUT requests would.
    pub fn configure(&mut self, config: &VmConfig) -> Result<(), SetupError> {
        if let Some(logger) = &config.logger {
            self.logger.configure(logger)?;
            self.logger_config = Some(logger.clone());
        }
        if let Some(metrics) = &config.metrics {
            self.metrics = Some(MetricsFile::open(&metrics.metrics_path)?);
            self.metrics_config = Some(metrics.clone());
        }
        self.boot_source = Some(config.boot_source.clone());
        self.machine_config = config.machine_config.clone();
        self.drives = config.drives.clone();
        self.entropy = config.entropy.clone();
        self.vsock = config.vsock.clone();
        self.network_interfaces = config.network_interfaces.clone();
        Ok(())
    }

    /// Boots the configured VM (`InstanceStart`).
    pub fn start_vm(&mut self) -> Result<(), SetupError> {
        let Some(boot_source) = self.boot_source.clone() else {
            return Err(SetupError::NoBootSource);
        };
        let config = VmConfig {
            boot_source,
            machine_config: self.machine_config.clone(),
            logger: self.logger_config.clone(),
            metrics: self.metrics_config.clone(),
            drives: self.drives.clone(),
            entropy: self.entropy.clone(),
            vsock: self.vsock.clone(),
            network_interfaces: self.network_interfaces.clone(),
        };
        let vm = Vm::start(&config, &self.seccomp)?;
        tracing::info!(
            vcpus = config.machine_config.vcpu_count,
            mem_mib = config.machine_config.mem_size_mib,
            "VM started"
        );
        self.vm = Some(vm);
        Ok(())
    }

    /// The running VM, if started.
    pub fn vm(&self) -> Option<&Vm> {
        self.vm.as_ref()
    }

    /// Whether a `Shutdown` action was served.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown
    }

    /// The lifecycle state.
    pub fn state(&self) -> InstanceState {
        match &self.vm {
            None => InstanceState::NotStarted,
            Some(vm) if vm.is_paused() => InstanceState::Paused,
            Some(_) => InstanceState::Running,
        }
    }

    /// Writes a metrics line if a metrics file is set and the period has passed.
    pub fn tick(&mut self) {
        if self.metrics.is_some()
            && self.last_flush.elapsed() >= METRICS_PERIOD
            && let Err(e) = self.flush_metrics()
        {
            tracing::warn!("{e}");
        }
    }

    /// Stops the VM, writes a last metrics line, and returns how the VM ended.
    pub fn finish(mut self) -> ExitStatus {
        if let Some(vm) = &mut self.vm {
            vm.stop_threads();
        }
        if self.metrics.is_some()
            && let Err(e) = self.flush_metrics()
        {
            tracing::warn!("{e}");
        }
        self.vm.take().map(Vm::stop).unwrap_or(ExitStatus::Stopped)
    }

    fn flush_metrics(&mut self) -> Result<(), MetricsError> {
        let record = MetricsRecord {
            utc_timestamp_ms: utc_timestamp_ms(),
            id: self.id.clone(),
            state: self.state(),
            vcpus: self.vm.as_ref().map(Vm::counters).unwrap_or_default(),
            devices: self
                .vm
                .as_ref()
                .map(Vm::device_counters)
                .unwrap_or_default(),
        };
        self.last_flush = Instant::now();
        match &mut self.metrics {
            Some(file) => file.write(&record),
            None => Ok(()),
        }
    }

    /// Answers one API request.
    pub fn handle(&mut self, request: ApiRequest) -> ApiResponse {
        match request {
            ApiRequest::GetInstanceInfo => ApiResponse::ok(&InstanceInfo {
                id: self.id.clone(),
                state: self.state(),
                vmm_version: VERSION.to_string(),
                app_name: APP_NAME.to_string(),
            }),
            ApiRequest::GetVersion => ApiResponse::ok(&VersionInfo {
                rvnest_version: VERSION.to_string(),
            }),
            ApiRequest::GetMachineConfig => ApiResponse::ok(&self.machine_config),
            ApiRequest::GetVmConfig => ApiResponse::ok(&FullVmConfig {
                boot_source: self.boot_source.clone(),
                machine_config: self.machine_config.clone(),
                logger: self.logger_config.clone(),
                metrics: self.metrics_config.clone(),
                drives: self.drives.clone(),
                entropy: self.entropy.clone(),
                vsock: self.vsock.clone(),
                network_interfaces: self.network_interfaces.clone(),
            }),
            ApiRequest::GetCounters => ApiResponse::ok(&VmCounters {
                vcpus: self.vm.as_ref().map(Vm::counters).unwrap_or_default(),
                devices: self
                    .vm
                    .as_ref()
                    .map(Vm::device_counters)
                    .unwrap_or_default(),
            }),
            ApiRequest::PutBootSource(boot) => self.pre_boot("PUT /boot-source", |vmm| {
                boot.validate().map_err(config_fault)?;
                vmm.boot_source = Some(boot);
                Ok(())
            }),
            ApiRequest::PutMachineConfig(config) => {
                self.pre_boot("PUT /machine-config", |vmm| vmm.set_machine_config(config))
            }
            ApiRequest::PatchMachineConfig(update) => self
                .pre_boot("PATCH /machine-config", |vmm| {
                    vmm.set_machine_config(update.apply(&vmm.machine_config))
                }),
            ApiRequest::PutLogger(config) => self.pre_boot("PUT /logger", |vmm| {
                config.validate().map_err(field_fault)?;
                vmm.logger.configure(&config).map_err(bad_request)?;
                vmm.logger_config = Some(config);
                Ok(())
            }),
            ApiRequest::PutMetrics(config) => self.pre_boot("PUT /metrics", |vmm| {
                config.validate().map_err(field_fault)?;
                vmm.metrics = Some(MetricsFile::open(&config.metrics_path).map_err(bad_request)?);
                vmm.metrics_config = Some(config);
                Ok(())
            }),
            ApiRequest::PutDrive(drive) => self.pre_boot("PUT /drives", |vmm| {
                let mut drives = vmm.drives.clone();
                match drives.iter_mut().find(|d| d.drive_id == drive.drive_id) {
                    Some(old) => *old = drive,
                    None => drives.push(drive),
                }
                validate_drives(&drives).map_err(field_fault)?;
                check_slots(
                    drives.len(),
                    vmm.network_interfaces.len(),
                    vmm.entropy.is_some(),
                    vmm.vsock.is_some(),
                )
                .map_err(field_fault)?;
                for (i, drive) in drives.iter().enumerate() {
                    drive
                        .check_file(&format!("drives[{i}].path_on_host"))
                        .map_err(config_fault)?;
                }
                vmm.drives = drives;
                Ok(())
            }),
            ApiRequest::PatchDrive(update) => self.patch_drive(update),
            ApiRequest::PatchNetworkInterface(update) => {
                if let Err(e) = update.validate() {
                    return field_fault(e);
                }
                if self
                    .network_interfaces
                    .iter()
                    .all(|i| i.iface_id != update.iface_id)
                {
                    return ApiResponse::error(
                        400,
                        format!(
                            "Invalid request body: iface_id: no network interface {:?}",
                            update.iface_id
                        ),
                    );
                }
                ApiResponse::no_content()
            }
            ApiRequest::PutEntropy(entropy) => self.pre_boot("PUT /entropy", |vmm| {
                check_slots(
                    vmm.drives.len(),
                    vmm.network_interfaces.len(),
                    true,
                    vmm.vsock.is_some(),
                )
                .map_err(field_fault)?;
                vmm.entropy = Some(entropy);
                Ok(())
            }),
            ApiRequest::PutVsock(vsock) => self.pre_boot("PUT /vsock", |vmm| {
                vsock.validate().map_err(field_fault)?;
                check_slots(
                    vmm.drives.len(),
                    vmm.network_interfaces.len(),
                    vmm.entropy.is_some(),
                    true,
                )
                .map_err(field_fault)?;
                vmm.vsock = Some(vsock);
                Ok(())
            }),
            ApiRequest::PutNetworkInterface(iface) => {
                self.pre_boot("PUT /network-interfaces", |vmm| {
                    let mut ifaces = vmm.network_interfaces.clone();
                    match ifaces.iter_mut().find(|i| i.iface_id == iface.iface_id) {
                        Some(old) => *old = iface,
                        None => ifaces.push(iface),
                    }
                    validate_network_interfaces(&ifaces).map_err(field_fault)?;
                    check_slots(
                        vmm.drives.len(),
                        ifaces.len(),
                        vmm.entropy.is_some(),
                        vmm.vsock.is_some(),
                    )
                    .map_err(field_fault)?;
                    vmm.network_interfaces = ifaces;
                    Ok(())
                })
            }
            ApiRequest::Action(action) => self.action(action),
            ApiRequest::SetVmState(state) => self.set_vm_state(state),
        }
    }

    /// `PATCH /drives/{drive_id}`: before boot, the drive's path in the config; after
    /// boot, the running device's image too (same checks as a new drive's).
    fn patch_drive(&mut self, update: DriveUpdate) -> ApiResponse {
        if let Err(e) = update.validate() {
            return field_fault(e);
        }
        let Some(index) = self
            .drives
            .iter()
            .position(|d| d.drive_id == update.drive_id)
        else {
            return ApiResponse::error(
                400,
                format!(
                    "Invalid request body: drive_id: no drive {:?}",
                    update.drive_id
                ),
            );
        };
        let Some(path) = update.path_on_host else {
            return ApiResponse::no_content();
        };
        let mut drive = self.drives[index].clone();
        drive.path_on_host = path;
        if let Err(e) = drive.check_file("path_on_host") {
            return config_fault(e);
        }
        if let Some(vm) = self.vm.as_mut()
            && let Err(e) = vm.replace_drive_image(&drive.drive_id, &drive.path_on_host)
        {
            return bad_request(e);
        }
        self.drives[index] = drive;
        ApiResponse::no_content()
    }

    /// Runs `change` if the VM has not started; 409 otherwise.
    fn pre_boot(
        &mut self,
        what: &str,
        change: impl FnOnce(&mut Vmm) -> Result<(), ApiResponse>,
    ) -> ApiResponse {
        if self.vm.is_some() {
            return ApiResponse::error(409, format!("{what} is only allowed before InstanceStart"));
        }
        match change(self) {
            Ok(()) => ApiResponse::no_content(),
            Err(answer) => answer,
        }
    }

    fn set_machine_config(&mut self, config: MachineConfig) -> Result<(), ApiResponse> {
        config.validate().map_err(field_fault)?;
        self.machine_config = config;
        Ok(())
    }

    fn action(&mut self, action: ActionType) -> ApiResponse {
        match action {
            ActionType::InstanceStart => {
                if self.vm.is_some() {
                    return ApiResponse::error(409, "The VM has already started");
                }
                match self.start_vm() {
                    Ok(()) => ApiResponse::no_content(),
                    Err(e @ SetupError::NoBootSource) => ApiResponse::error(409, e.to_string()),
                    Err(SetupError::Vm(e)) if !e.is_config_error() => {
                        ApiResponse::error(500, format!("Cannot start the VM: {e}"))
                    }
                    Err(e) => ApiResponse::error(400, format!("Cannot start the VM: {e}")),
                }
            }
            ActionType::FlushMetrics => {
                if self.metrics.is_none() {
                    return ApiResponse::error(409, "No metrics file: PUT /metrics first");
                }
                match self.flush_metrics() {
                    Ok(()) => ApiResponse::no_content(),
                    Err(e) => ApiResponse::error(500, e.to_string()),
                }
            }
            ActionType::Shutdown => {
                tracing::info!("Shutdown requested through the API");
                if let Some(vm) = &self.vm {
                    vm.machine().request_exit(ExitStatus::Stopped);
                }
                self.shutdown = true;
                ApiResponse::no_content().and_stop_serving()
            }
        }
    }

    fn set_vm_state(&mut self, state: RequestedVmState) -> ApiResponse {
        let Some(vm) = &self.vm else {
            return ApiResponse::error(
                409,
                "The VM has not started: PUT /actions InstanceStart first",
            );
        };
        match state {
            RequestedVmState::Paused => match vm.pause() {
                Ok(()) => {
                    tracing::info!("VM paused");
                    ApiResponse::no_content()
                }
                Err(e) => ApiResponse::error(500, format!("Cannot pause the VM: {e}")),
            },
            RequestedVmState::Resumed => {
                vm.resume();
                tracing::info!("VM resumed");
                ApiResponse::no_content()
            }
        }
    }
}

/// A 400 whose message is `error`'s.
fn bad_request(error: impl std::fmt::Display) -> ApiResponse {
    ApiResponse::error(400, error.to_string())
}

/// A 400 for a field that fails validation, worded like a body that fails parsing.
fn field_fault(error: api::parse::FieldError) -> ApiResponse {
    ApiResponse::error(400, format!("Invalid request body: {error}"))
}

fn config_fault(error: ConfigError) -> ApiResponse {
    match error {
        ConfigError::Invalid(field) => field_fault(field),
        other => bad_request(other),
    }
}

#[cfg(test)]
mod tests {
    use api::config::MachineConfigUpdate;

    use super::*;

    fn vmm() -> Vmm {
        Vmm::new("test".into(), Logger::init("off"))
    }

    fn fault(answer: &ApiResponse) -> String {
        let body = answer.body.as_deref().unwrap_or_default();
        let error: api::types::ApiError = serde_json::from_slice(body).expect("error body");
        error.fault_message
    }

    #[test]
    fn pre_boot_configuration() {
        let mut vmm = vmm();
        assert_eq!(vmm.state(), InstanceState::NotStarted);
        let answer = vmm.handle(ApiRequest::PutMachineConfig(MachineConfig {
            vcpu_count: 0,
            ..MachineConfig::default()
        }));
        assert_eq!(answer.status, 400);
        assert_eq!(
            fault(&answer),
            "Invalid request body: machine-config.vcpu_count: must be between 1 and 32, got 0"
        );
        let answer = vmm.handle(ApiRequest::PatchMachineConfig(MachineConfigUpdate {
            mem_size_mib: Some(256),
            ..MachineConfigUpdate::default()
        }));
        assert_eq!(answer.status, 204);
        assert_eq!(vmm.machine_config.mem_size_mib, 256);
        assert_eq!(vmm.machine_config.vcpu_count, 1);

        let answer = vmm.handle(ApiRequest::PutBootSource(BootSource {
            kernel_image_path: "/nonexistent/Image".into(),
            initrd_path: None,
            boot_args: None,
        }));
        assert_eq!(answer.status, 400);
        assert_eq!(
            fault(&answer),
            "Cannot read kernel image /nonexistent/Image (boot-source.kernel_image_path): No such file or directory"
        );
        assert!(vmm.boot_source.is_none());
    }

    #[test]
    fn drives_are_added_replaced_and_checked_together() {
        let mut vmm = vmm();
        let image =
            std::env::temp_dir().join(format!("rvnest-api-drive-{}.img", std::process::id()));
        std::fs::write(&image, [0u8; 4096]).unwrap();
        let drive = |id: &str, root: bool| Drive {
            drive_id: id.into(),
            path_on_host: image.clone(),
            is_root_device: root,
            is_read_only: false,
            partuuid: None,
            cache_type: Default::default(),
            io_engine: Default::default(),
        };
        assert_eq!(
            vmm.handle(ApiRequest::PutDrive(drive("rootfs", true)))
                .status,
            204
        );
        assert_eq!(
            vmm.handle(ApiRequest::PutDrive(drive("data", false)))
                .status,
            204
        );
        let answer = vmm.handle(ApiRequest::PutDrive(drive("other", true)));
        assert_eq!(answer.status, 400);
        assert_eq!(
            fault(&answer),
            "Invalid request body: drives[2].is_root_device: only one drive can be the root device"
        );
        // Replacing the root drive by a data drive of the same id is fine.
        assert_eq!(
            vmm.handle(ApiRequest::PutDrive(drive("rootfs", false)))
                .status,
            204
        );
        assert_eq!(vmm.drives.len(), 2);
        assert!(!vmm.drives[0].is_root_device);
        let mut missing = drive("gone", false);
        missing.path_on_host = "/nonexistent/disk.img".into();
        let answer = vmm.handle(ApiRequest::PutDrive(missing));
        assert_eq!(answer.status, 400);
        assert!(
            fault(&answer).contains("(drives[2].path_on_host): No such file"),
            "{}",
            fault(&answer)
        );
        assert_eq!(vmm.drives.len(), 2, "a refused drive is not kept");
        let _ = std::fs::remove_file(image);
    }

    #[test]
    fn state_conflicts_before_boot() {
        let mut vmm = vmm();
        let answer = vmm.handle(ApiRequest::Action(ActionType::InstanceStart));
        assert_eq!(answer.status, 409);
        let answer = vmm.handle(ApiRequest::SetVmState(RequestedVmState::Paused));
        assert_eq!(answer.status, 409);
        let answer = vmm.handle(ApiRequest::Action(ActionType::FlushMetrics));
        assert_eq!(answer.status, 409);
        assert_eq!(fault(&answer), "No metrics file: PUT /metrics first");
        let answer = vmm.handle(ApiRequest::GetCounters);
        assert_eq!(
            answer.body.as_deref(),
            Some(br#"{"vcpus":[],"devices":[]}"#.as_slice())
        );
    }

    #[test]
    fn metrics_flush_before_boot() {
        let path = std::env::temp_dir().join(format!("rvnest-vmm-metrics-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut vmm = vmm();
        let answer = vmm.handle(ApiRequest::PutMetrics(MetricsConfig {
            metrics_path: path.clone(),
        }));
        assert_eq!(answer.status, 204);
        let answer = vmm.handle(ApiRequest::Action(ActionType::FlushMetrics));
        assert_eq!(answer.status, 204);
        let text = std::fs::read_to_string(&path).expect("metrics");
        let record: MetricsRecord = serde_json::from_str(text.trim()).expect("line");
        assert_eq!(record.state, InstanceState::NotStarted);
        assert_eq!(record.id, "test");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn shutdown_before_boot() {
        let mut vmm = vmm();
        assert_eq!(
            vmm.handle(ApiRequest::Action(ActionType::Shutdown)).status,
            204
        );
        assert!(vmm.shutdown_requested());
        assert_eq!(vmm.finish(), ExitStatus::Stopped);
    }
}
