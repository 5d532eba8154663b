use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory with a non-empty `Image` and `initrd` in it.
struct Assets {
    dir: PathBuf,
}

impl Assets {
    fn new() -> Assets {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rvnest-config-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create test dir");
        std::fs::write(dir.join("Image"), b"kernel").expect("write Image");
        std::fs::write(dir.join("initrd"), b"initrd").expect("write initrd");
        Assets { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn json(&self, machine: &str) -> String {
        format!(
            r#"{{
                "boot-source": {{
                    "kernel_image_path": "{}",
                    "initrd_path": "{}",
                    "boot_args": "console=ttyS0 earlycon=sbi"
                }},
                "machine-config": {machine}
            }}"#,
            self.path("Image"),
            self.path("initrd")
        )
    }
}

impl Drop for Assets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn err(json: &str) -> String {
    match VmConfig::from_json_str(json) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains('\n'), "multi-line error: {text}");
            text
        }
    }
}

const MINIMAL_MACHINE: &str = r#"{"vcpu_count": 1, "mem_size_mib": 512}"#;

#[test]
fn valid_config() {
    let assets = Assets::new();
    let json = assets.json(
        r#"{"vcpu_count": 2, "mem_size_mib": 512, "backend": "soft", "nested": true,
            "nacl": {"enabled": true, "features": ["sync_csr", "autoswap_csr"]}}"#,
    );
    let config = VmConfig::from_json_str(&json).expect("valid");
    assert_eq!(
        config.boot_source.kernel_image_path,
        PathBuf::from(assets.path("Image"))
    );
    assert_eq!(
        config.boot_source.initrd_path,
        Some(PathBuf::from(assets.path("initrd")))
    );
    assert_eq!(
        config.boot_source.boot_args.as_deref(),
        Some("console=ttyS0 earlycon=sbi")
    );
    let m = &config.machine_config;
    assert_eq!((m.vcpu_count, m.mem_size_mib), (2, 512));
    assert_eq!(m.backend, Backend::Soft);
    assert!(m.nested);
    let nacl = m.nacl.as_ref().expect("nacl");
    assert!(nacl.enabled);
    assert_eq!(
        nacl.features,
        [NaclFeature::SyncCsr, NaclFeature::AutoswapCsr]
    );
    assert_eq!(nacl.features[1].to_string(), "autoswap_csr");

    // from_file reads the same thing.
    let file = assets.dir.join("vm.json");
    std::fs::write(&file, &json).expect("write vm.json");
    assert_eq!(VmConfig::from_file(&file).expect("from_file"), config);

    // Serialising and parsing again gives the same config.
    let again = serde_json::to_string(&config).expect("serialize");
    assert_eq!(VmConfig::from_json_str(&again).expect("round trip"), config);
}

#[test]
fn defaults() {
    let assets = Assets::new();
    let config = VmConfig::from_json_str(&assets.json(MINIMAL_MACHINE)).expect("valid");
    let m = &config.machine_config;
    assert_eq!(m.backend, Backend::Auto);
    assert!(!m.nested);
    assert_eq!(m.nacl, None);

    let json = format!(
        r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {MINIMAL_MACHINE}}}"#,
        assets.path("Image")
    );
    let config = VmConfig::from_json_str(&json).expect("valid");
    assert_eq!(config.boot_source.initrd_path, None);
    assert_eq!(config.boot_source.boot_args, None);

    let config = VmConfig::from_json_str(
        &assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "nested": true, "nacl": {}}"#),
    )
    .expect("valid");
    let nacl = config.machine_config.nacl.expect("nacl");
    assert!(nacl.enabled);
    assert_eq!(nacl.features, NaclFeature::all());
}

#[test]
fn backends() {
    let assets = Assets::new();
    for (name, backend) in [
        ("soft", Backend::Soft),
        ("kvm", Backend::Kvm),
        ("auto", Backend::Auto),
    ] {
        let json = assets.json(&format!(
            r#"{{"vcpu_count": 1, "mem_size_mib": 64, "backend": "{name}"}}"#
        ));
        let config = VmConfig::from_json_str(&json).expect("valid");
        assert_eq!(config.machine_config.backend, backend);
        assert_eq!(backend.to_string(), name);
    }
    let e = err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 64, "backend": "tcg"}"#));
    assert!(
        e.starts_with(
            "Invalid config: machine-config.backend: unknown variant `tcg`, expected one of `soft`, `kvm`, `auto` (line "
        ),
        "{e}"
    );
}

#[test]
fn irqchips() {
    let assets = Assets::new();
    let parse = |fields: &str| {
        VmConfig::from_json_str(&assets.json(&format!(
            r#"{{"vcpu_count": 1, "mem_size_mib": 64{fields}}}"#
        )))
    };
    let config = parse("").expect("valid");
    assert_eq!(config.machine_config.irqchip, IrqChip::Auto);
    for (name, irqchip) in [
        ("auto", IrqChip::Auto),
        ("plic", IrqChip::Plic),
        ("aia", IrqChip::Aia),
    ] {
        let config = parse(&format!(r#", "backend": "kvm", "irqchip": "{name}""#)).expect("valid");
        assert_eq!(config.machine_config.irqchip, irqchip);
        assert_eq!(irqchip.to_string(), name);
    }
    // The AIA is KVM's: on the soft backend it is refused, naming the field.
    let e = parse(r#", "backend": "soft", "irqchip": "aia""#)
        .expect_err("soft has no AIA")
        .to_string();
    assert!(
        e.starts_with("Invalid config: machine-config.irqchip: \"aia\" needs the kvm backend"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    assert!(parse(r#", "backend": "auto", "irqchip": "aia""#).is_ok());
    assert!(parse(r#", "backend": "soft", "irqchip": "plic""#).is_ok());
    let e = err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 64, "irqchip": "gic"}"#));
    assert!(
        e.starts_with(
            "Invalid config: machine-config.irqchip: unknown variant `gic`, expected one of `auto`, `plic`, `aia` (line "
        ),
        "{e}"
    );
}

#[test]
fn unknown_top_level_field() {
    let assets = Assets::new();
    let json = assets
        .json(MINIMAL_MACHINE)
        .replacen('{', r#"{"balloon": {}, "#, 1);
    let e = err(&json);
    assert_eq!(
        e,
        "Invalid config: unknown field \"balloon\" in the top-level object (expected one of boot-source, machine-config, logger, metrics, drives, network-interfaces, entropy, vsock)"
    );
}

/// The config with `drives` (a JSON array) added.
fn with_drives(assets: &Assets, drives: &str) -> String {
    assets
        .json(MINIMAL_MACHINE)
        .replacen('{', &format!(r#"{{"drives": {drives}, "#), 1)
}

fn drive(id: &str, path: &Path, root: bool) -> String {
    format!(
        r#"{{"drive_id": "{id}", "path_on_host": "{}", "is_root_device": {root}}}"#,
        path.display()
    )
}

#[test]
fn drives_are_checked_together_and_name_the_field() {
    let assets = Assets::new();
    let image = assets.dir.join("disk.img");
    std::fs::write(&image, [0u8; 4096]).unwrap();
    let ok = VmConfig::from_json_str(&with_drives(
        &assets,
        &format!(
            "[{}, {}]",
            drive("data", &image, false),
            drive("rootfs", &image, true)
        ),
    ))
    .unwrap();
    let order: Vec<&str> = ok
        .drives_in_guest_order()
        .iter()
        .map(|d| d.drive_id.as_str())
        .collect();
    assert_eq!(order, ["rootfs", "data"], "the root device is vda");
    assert_eq!(ok.root_boot_args().as_deref(), Some("root=/dev/vda rw"));
    assert_eq!(ok.drives[0].cache_type, CacheType::Unsafe);

    let e = err(&with_drives(
        &assets,
        &format!(
            "[{}, {}]",
            drive("a", &image, false),
            drive("a", &image, false)
        ),
    ));
    assert_eq!(
        e,
        "Invalid config: drives[1].drive_id: duplicate drive_id \"a\""
    );
    let e = err(&with_drives(
        &assets,
        &format!(
            "[{}, {}]",
            drive("a", &image, true),
            drive("b", &image, true)
        ),
    ));
    assert_eq!(
        e,
        "Invalid config: drives[1].is_root_device: only one drive can be the root device"
    );
    let e = err(&with_drives(
        &assets,
        &format!("[{}]", drive("a-b", &image, false)),
    ));
    assert!(
        e.starts_with("Invalid config: drives[0].drive_id: must be letters"),
        "{e}"
    );
    let e = err(&with_drives(
        &assets,
        &format!("[{}]", drive("a", &assets.dir.join("missing.img"), false)),
    ));
    assert!(
        e.starts_with("Cannot read drive image")
            && e.contains("(drives[0].path_on_host): No such file"),
        "{e}"
    );
    let e = err(&with_drives(
        &assets,
        &format!("[{}]", drive("a", &assets.dir, false)),
    ));
    assert!(
        e.ends_with("(drives[0].path_on_host): is a directory"),
        "{e}"
    );
    let e = err(&with_drives(
        &assets,
        &format!(
            r#"[{{"drive_id": "a", "path_on_host": "{}", "is_root_device": false, "io_engine": "Async"}}]"#,
            image.display()
        ),
    ));
    assert!(e.starts_with("Invalid config: drives[0].io_engine:"), "{e}");
    let e = err(&with_drives(
        &assets,
        &format!(
            r#"[{{"drive_id": "a", "path_on_host": "{}", "is_root_device": false, "rate_limiter": {{}}}}]"#,
            image.display()
        ),
    ));
    assert!(e.contains("unknown field \"rate_limiter\""), "{e}");

    let partuuid = VmConfig::from_json_str(&with_drives(
        &assets,
        &format!(
            r#"[{{"drive_id": "r", "path_on_host": "{}", "is_root_device": true, "is_read_only": true, "partuuid": "0eaa91a0-01"}}]"#,
            image.display()
        ),
    ))
    .unwrap();
    assert_eq!(
        partuuid.root_boot_args().as_deref(),
        Some("root=PARTUUID=0eaa91a0-01 ro")
    );
}

#[test]
fn unknown_nested_field() {
    let assets = Assets::new();
    let e = err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "foo": true}"#));
    assert!(
        e.starts_with("Invalid config: unknown field \"foo\" in machine-config (expected one of vcpu_count, mem_size_mib"),
        "{e}"
    );
    let e = err(&assets.json(
        r#"{"vcpu_count": 1, "mem_size_mib": 512, "nested": true, "nacl": {"enable": true}}"#,
    ));
    assert!(
        e.starts_with("Invalid config: unknown field \"enable\" in machine-config.nacl"),
        "{e}"
    );
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace("\"boot_args\"", "\"bootargs\"");
    assert!(
        err(&json).starts_with("Invalid config: unknown field \"bootargs\" in boot-source"),
        "{json}"
    );
}

#[test]
fn wrong_type() {
    let assets = Assets::new();
    let e = err(&assets.json(r#"{"vcpu_count": "1", "mem_size_mib": 512}"#));
    assert!(
        e.starts_with(
            "Invalid config: machine-config.vcpu_count: invalid type: string \"1\", expected u32 (line "
        ),
        "{e}"
    );
    let e = err(&assets.json(r#"{"vcpu_count": -1, "mem_size_mib": 512}"#));
    assert!(
        e.starts_with("Invalid config: machine-config.vcpu_count: invalid value: integer `-1`"),
        "{e}"
    );
    let e = err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "nested": "yes"}"#));
    assert!(
        e.starts_with("Invalid config: machine-config.nested: invalid type: string"),
        "{e}"
    );
    let e = err(&assets.json(
        r#"{"vcpu_count": 1, "mem_size_mib": 512, "nested": true, "nacl": {"features": ["sync_csr", "fast"]}}"#,
    ));
    assert!(
        e.starts_with("Invalid config: machine-config.nacl.features[1]: unknown variant `fast`"),
        "{e}"
    );
    // An array where an object belongs is not bound by position.
    let e = err(&assets.json(r#"[1, 512]"#));
    assert_eq!(
        e,
        "Invalid config: machine-config: invalid type: array, expected an object"
    );
    assert_eq!(
        err("[]"),
        "Invalid config: top level: invalid type: array, expected an object"
    );
}

#[test]
fn missing_required_field() {
    let assets = Assets::new();
    assert_eq!(
        err(&assets.json(r#"{"mem_size_mib": 512}"#)),
        "Invalid config: machine-config.vcpu_count: missing required field"
    );
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 1}"#)),
        "Invalid config: machine-config.mem_size_mib: missing required field"
    );
    assert_eq!(
        err(r#"{"machine-config": {"vcpu_count": 1, "mem_size_mib": 512}}"#),
        "Invalid config: boot-source: missing required field"
    );
    assert_eq!(
        err(r#"{"boot-source": {}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 512}}"#),
        "Invalid config: boot-source.kernel_image_path: missing required field"
    );
}

#[test]
fn syntax_errors() {
    let e = err("{\n  \"boot-source\": {,\n}");
    assert!(
        e.starts_with("Invalid config: JSON syntax error at line 2, column"),
        "{e}"
    );
    let e = err(r#"{"boot-source": {"kernel_image_path": "x"}"#);
    assert!(
        e.starts_with("Invalid config: JSON syntax error at line 1"),
        "{e}"
    );
    let e = err(
        r#"{"boot-source": {"kernel_image_path": "x"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}} x"#,
    );
    assert!(e.contains("trailing characters"), "{e}");
    assert!(err("").starts_with("Invalid config: JSON syntax error"));
}

#[test]
fn vcpu_count_out_of_range() {
    let assets = Assets::new();
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 0, "mem_size_mib": 512}"#)),
        "Invalid config: machine-config.vcpu_count: must be between 1 and 32, got 0"
    );
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 33, "mem_size_mib": 512}"#)),
        "Invalid config: machine-config.vcpu_count: must be between 1 and 32, got 33"
    );
    let ok = assets.json(r#"{"vcpu_count": 32, "mem_size_mib": 512}"#);
    assert!(VmConfig::from_json_str(&ok).is_ok());
}

#[test]
fn mem_size_out_of_range() {
    let assets = Assets::new();
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 15}"#)),
        "Invalid config: machine-config.mem_size_mib: must be between 16 and 65536, got 15"
    );
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 65537}"#)),
        "Invalid config: machine-config.mem_size_mib: must be between 16 and 65536, got 65537"
    );
    for ok in [16, 65536] {
        let json = assets.json(&format!(r#"{{"vcpu_count": 1, "mem_size_mib": {ok}}}"#));
        assert!(VmConfig::from_json_str(&json).is_ok());
    }
}

#[test]
fn nacl_checks() {
    let assets = Assets::new();
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "nacl": {"enabled": true}}"#)),
        "Invalid config: machine-config.nacl.enabled: NACL needs \"machine-config.nested\": true"
    );
    let disabled =
        assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "nacl": {"enabled": false}}"#);
    assert!(VmConfig::from_json_str(&disabled).is_ok());
    assert_eq!(
        err(&assets.json(
            r#"{"vcpu_count": 1, "mem_size_mib": 512, "nested": true,
                "nacl": {"features": ["sync_sret", "sync_sret"]}}"#
        )),
        "Invalid config: machine-config.nacl.features: duplicate feature \"sync_sret\""
    );
}

#[test]
fn jit_checks() {
    let assets = Assets::new();
    let config = VmConfig::from_json_str(
        &assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "jit": {"threshold": 0}}"#),
    )
    .expect("jit with a threshold");
    assert_eq!(
        config.machine_config.jit,
        Some(JitConfig {
            enabled: true,
            threshold: 0,
            code_cache_mib: JitConfig::DEFAULT_CODE_CACHE_MIB,
        })
    );
    let absent = VmConfig::from_json_str(&assets.json(MINIMAL_MACHINE)).expect("no jit");
    assert_eq!(absent.machine_config.jit, None);
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "jit": {"threshold": 255}}"#)),
        "Invalid config: machine-config.jit.threshold: must be between 0 and 254, got 255"
    );
    assert_eq!(
        err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "jit": {"code_cache_mib": 0}}"#)),
        "Invalid config: machine-config.jit.code_cache_mib: must be between 1 and 1024, got 0"
    );
    let e = err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "jit": {"on": true}}"#));
    assert!(
        e.starts_with("Invalid config: unknown field \"on\" in machine-config.jit"),
        "{e}"
    );
    let e =
        err(&assets.json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "jit": {"threshold": -1}}"#));
    assert!(
        e.starts_with("Invalid config: machine-config.jit.threshold"),
        "{e}"
    );
}

#[test]
fn boot_args_checks() {
    let assets = Assets::new();
    let long = "x".repeat(MAX_BOOT_ARGS_LEN + 1);
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace("console=ttyS0 earlycon=sbi", &long);
    assert_eq!(
        err(&json),
        "Invalid config: boot-source.boot_args: must be at most 1023 bytes, got 1024"
    );
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace("console=ttyS0 earlycon=sbi", "console=ttyS0\\u0000");
    assert_eq!(
        err(&json),
        "Invalid config: boot-source.boot_args: must not contain a NUL character"
    );
}

#[test]
fn missing_kernel_file() {
    let assets = Assets::new();
    let missing = assets.path("no-such-Image");
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace(&assets.path("Image"), &missing);
    assert_eq!(
        err(&json),
        format!(
            "Cannot read kernel image {missing} (boot-source.kernel_image_path): No such file or directory"
        )
    );
    let missing = assets.path("no-such-initrd");
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace(&assets.path("initrd"), &missing);
    assert_eq!(
        err(&json),
        format!(
            "Cannot read initrd {missing} (boot-source.initrd_path): No such file or directory"
        )
    );
    // A directory or an empty file is no kernel either.
    let dir = assets.dir.display().to_string();
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace(&assets.path("Image"), &dir);
    assert_eq!(
        err(&json),
        format!("Cannot read kernel image {dir} (boot-source.kernel_image_path): is a directory")
    );
    std::fs::write(assets.dir.join("empty"), b"").expect("write empty");
    let empty = assets.path("empty");
    let json = assets
        .json(MINIMAL_MACHINE)
        .replace(&assets.path("Image"), &empty);
    assert_eq!(
        err(&json),
        format!("Cannot read kernel image {empty} (boot-source.kernel_image_path): file is empty")
    );
    // Parsing alone does not look at files; validate_values neither.
    let config = VmConfig::parse_json_str(&json).expect("parses");
    assert!(config.validate_values().is_ok());
    assert!(config.validate().is_err());
}

#[test]
fn missing_config_file() {
    let assets = Assets::new();
    let path = assets.dir.join("absent.json");
    let e = VmConfig::from_file(&path).expect_err("no file").to_string();
    assert_eq!(
        e,
        format!(
            "Cannot read config file {}: No such file or directory",
            path.display()
        )
    );
}

#[test]
fn logger_and_metrics_sections() {
    let assets = Assets::new();
    let json = assets.json(MINIMAL_MACHINE).replacen(
        '{',
        r#"{"logger": {"log_path": "/tmp/l", "level": "Debug", "show_level": true, "module": "vmm::vcpu"},
            "metrics": {"metrics_path": "/tmp/m"}, "#,
        1,
    );
    let config = VmConfig::from_json_str(&json).expect("valid");
    let logger = config.logger.expect("logger");
    assert_eq!(logger.level, LogLevel::Debug);
    assert_eq!(logger.level.directive(), "debug");
    assert!(logger.show_level && !logger.show_log_origin);
    assert_eq!(logger.module.as_deref(), Some("vmm::vcpu"));
    assert_eq!(
        config.metrics.expect("metrics").metrics_path,
        PathBuf::from("/tmp/m")
    );

    let defaults: LoggerConfig = crate::parse::from_json("{}").expect("empty logger");
    assert_eq!(defaults.level, LogLevel::Info);
    assert_eq!(defaults.log_path, None);

    let bad_module =
        assets
            .json(MINIMAL_MACHINE)
            .replacen('{', r#"{"logger": {"module": "vmm::"}, "#, 1);
    assert!(
        err(&bad_module).starts_with("Invalid config: logger.module: must be a Rust module path"),
        "{}",
        err(&bad_module)
    );
    let empty_path =
        assets
            .json(MINIMAL_MACHINE)
            .replacen('{', r#"{"metrics": {"metrics_path": ""}, "#, 1);
    assert_eq!(
        err(&empty_path),
        "Invalid config: metrics.metrics_path: must not be empty"
    );
    let level = assets
        .json(MINIMAL_MACHINE)
        .replacen('{', r#"{"logger": {"level": "info"}, "#, 1);
    assert!(
        err(&level).starts_with("Invalid config: logger.level: unknown variant `info`"),
        "{}",
        err(&level)
    );
}

#[test]
fn machine_config_update_applies_only_its_fields() {
    let base = MachineConfig {
        vcpu_count: 2,
        mem_size_mib: 512,
        backend: Backend::Soft,
        irqchip: IrqChip::Plic,
        nested: true,
        nacl: Some(NaclConfig {
            enabled: true,
            features: vec![NaclFeature::SyncCsr],
        }),
        jit: Some(JitConfig {
            enabled: false,
            ..JitConfig::default()
        }),
        ..MachineConfig::default()
    };
    assert_eq!(MachineConfigUpdate::default().apply(&base), base);
    let update = MachineConfigUpdate {
        vcpu_count: Some(4),
        nested: Some(false),
        irqchip: Some(IrqChip::Auto),
        ..MachineConfigUpdate::default()
    };
    let merged = update.apply(&base);
    assert_eq!((merged.vcpu_count, merged.mem_size_mib), (4, 512));
    assert_eq!(merged.irqchip, IrqChip::Auto);
    assert!(!merged.nested);
    // Merged configs are validated as a whole: NACL now lacks nesting.
    assert!(merged.validate().is_err());
    assert_eq!(MachineConfig::default().vcpu_count, 1);
    assert_eq!(MachineConfig::default().mem_size_mib, 128);
}

#[test]
fn network_interfaces_name_the_field_at_fault() {
    let assets = Assets::new();
    let with = |ifaces: &str| {
        assets.json(MINIMAL_MACHINE).replacen(
            '{',
            &format!(r#"{{"network-interfaces": {ifaces}, "#),
            1,
        )
    };
    let ok = VmConfig::from_json_str(&with(
        r#"[{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02"}]"#,
    ))
    .unwrap();
    assert_eq!(
        parse_mac(ok.network_interfaces[0].guest_mac.as_deref().unwrap()),
        Some([6, 0, 0xac, 0x10, 0, 2])
    );
    let e = err(&with(
        r#"[{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00"}]"#,
    ));
    assert!(
        e.starts_with("Invalid config: network-interfaces[0].guest_mac: must be a MAC"),
        "{e}"
    );
    let e = err(&with(
        r#"[{"iface_id": "a", "host_dev_name": "tap0"}, {"iface_id": "b", "host_dev_name": "tap0"}]"#,
    ));
    assert_eq!(
        e,
        "Invalid config: network-interfaces[1].host_dev_name: TAP \"tap0\" is already used by another interface"
    );
    let e = err(&with(r#"[{"iface_id": "a", "host_dev_name": "a/b"}]"#));
    assert!(
        e.starts_with("Invalid config: network-interfaces[0].host_dev_name:"),
        "{e}"
    );
    let e = err(&with(
        r#"[{"iface_id": "a", "host_dev_name": "tap0", "rx_rate_limiter": {}}]"#,
    ));
    assert!(e.contains("unknown field \"rx_rate_limiter\""), "{e}");
}

#[test]
fn firecracker_machine_fields_are_accepted_with_their_meaning_or_refused_by_name() {
    let assets = Assets::new();
    let ok = VmConfig::from_json_str(&assets.json(
        r#"{"vcpu_count": 1, "mem_size_mib": 512, "smt": false, "track_dirty_pages": false, "huge_pages": "None", "cpu_template": "None"}"#,
    ))
    .unwrap();
    assert_eq!(ok.machine_config.smt, Some(false));
    for (field, value, message) in [
        ("smt", "true", "machine-config.smt: true is not available"),
        (
            "track_dirty_pages",
            "true",
            "machine-config.track_dirty_pages: true is not available",
        ),
        (
            "huge_pages",
            "\"2M\"",
            "machine-config.huge_pages: \"2M\" is not available",
        ),
        (
            "cpu_template",
            "\"T2\"",
            "machine-config.cpu_template: \"T2\" is not available",
        ),
    ] {
        let e = err(&assets.json(&format!(
            r#"{{"vcpu_count": 1, "mem_size_mib": 512, "{field}": {value}}}"#
        )));
        assert!(e.starts_with(&format!("Invalid config: {message}")), "{e}");
    }
}

#[test]
fn vsock_values_are_checked_and_name_the_field() {
    let assets = Assets::new();
    let with = |vsock: &str| {
        assets
            .json(MINIMAL_MACHINE)
            .replacen('{', &format!(r#"{{"vsock": {vsock}, "#), 1)
    };
    let ok = VmConfig::from_json_str(&with(
        r#"{"vsock_id": "vsock0", "guest_cid": 3, "uds_path": "/tmp/v.sock"}"#,
    ))
    .unwrap();
    assert_eq!(ok.vsock.as_ref().map(|v| v.guest_cid), Some(3));
    let e = err(&with(r#"{"guest_cid": 2, "uds_path": "/tmp/v.sock"}"#));
    assert_eq!(
        e,
        "Invalid config: vsock.guest_cid: must be 3 or more (0-2 are reserved), got 2"
    );
    let e = err(&with(r#"{"guest_cid": 3, "uds_path": ""}"#));
    assert_eq!(e, "Invalid config: vsock.uds_path: must not be empty");
    let long = "x".repeat(97);
    let e = err(&with(&format!(
        r#"{{"guest_cid": 3, "uds_path": "/{long}"}}"#
    )));
    assert!(
        e.starts_with("Invalid config: vsock.uds_path: must be at most 96 bytes"),
        "{e}"
    );
    let e = err(&with(r#"{"guest_cid": 3}"#));
    assert!(e.contains("uds_path"), "{e}");
}

#[test]
fn sbi_disabled_extensions_are_checked_by_name_and_backend() {
    let config = |names: &[&str], backend| MachineConfig {
        backend,
        sbi_disabled_extensions: names.iter().map(|n| n.to_string()).collect(),
        ..MachineConfig::default()
    };
    assert!(
        config(&["pmu", "susp", "legacy"], Backend::Soft)
            .validate()
            .is_ok()
    );
    let unknown = config(&["pmu", "sse"], Backend::Soft)
        .validate()
        .expect_err("sse is not implemented")
        .to_string();
    assert!(
        unknown.contains("machine-config.sbi_disabled_extensions") && unknown.contains("\"sse\""),
        "{unknown}"
    );
    let kvm = config(&["pmu"], Backend::Kvm)
        .validate()
        .expect_err("kvm serves SBI itself")
        .to_string();
    assert!(
        kvm.contains("machine-config.sbi_disabled_extensions"),
        "{kvm}"
    );
    assert!(config(&[], Backend::Kvm).validate().is_ok());
}
