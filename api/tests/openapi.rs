//! Keeps `api/openapi.yaml` true: its paths and methods are exactly the route table,
//! its examples parse into the Rust types, and what the Rust types serialise
//! validates against its schemas (a small validator for the JSON Schema subset the
//! document uses).

use std::collections::BTreeSet;

use api::config::{
    Backend, BootSource, CacheType, Drive, DriveUpdate, EntropyConfig, IoEngine, JitConfig,
    LogLevel, LoggerConfig, MachineConfig, MachineConfigUpdate, MetricsConfig, NaclConfig,
    NaclFeature, NetworkInterface, NetworkInterfaceUpdate, VsockConfig,
};
use api::parse::{Body, from_json};
use api::routes::ROUTES;
use api::types::{
    ApiError, CompiledTierCounters, DeviceCounters, DeviceKind, ExitCounters, FullVmConfig,
    InstanceActionInfo, InstanceInfo, InstanceState, MetricsRecord, NaclCounters, NestedCounters,
    SbiCounters, TranslationCounters, VcpuActivity, VcpuCounters, VersionInfo, VmCounters,
    VmStateUpdate,
};
use serde::Serialize;
use serde_json::{Value, json};

fn document() -> Value {
    serde_norway::from_str(api::OPENAPI_YAML).expect("openapi.yaml parses")
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
}

/// Resolves a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"))
        }
        None => schema,
    }
}

/// Validates `value` against `schema`; returns the first violation.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if value.is_null() {
        return if schema.get("nullable") == Some(&Value::Bool(true)) {
            Ok(())
        } else {
            Err(format!("{at}: null not allowed"))
        };
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            validate(doc, part, value, at)?;
        }
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "boolean" => value.is_boolean(),
            "number" => value.is_number(),
            other => return Err(format!("{at}: schema type {other} unsupported")),
        };
        if !ok {
            return Err(format!("{at}: expected {kind}, got {value}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} not in {options:?}"));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
        && value.as_i64().is_some_and(|v| v < min)
    {
        return Err(format!("{at}: {value} < {min}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_i64)
        && value.as_i64().is_some_and(|v| v > max)
    {
        return Err(format!("{at}: {value} > {max}"));
    }
    if let Some(text) = value.as_str() {
        let len = text.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|min| len < min)
            || schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|max| len > max)
        {
            return Err(format!("{at}: length {len} out of bounds"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(key) {
                    return Err(format!("{at}: missing required {key}"));
                }
            }
        }
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => validate(doc, sub, item, &format!("{at}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: undocumented property {key}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn conforms<T: Serialize>(doc: &Value, name: &str, value: &T) {
    let value = serde_json::to_value(value).expect("serialise");
    if let Err(e) = validate(doc, schema(doc, name), &value, name) {
        panic!("{name} does not match openapi.yaml: {e}\nvalue: {value}");
    }
}

#[test]
fn paths_and_methods_match_the_route_table() {
    let doc = document();
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(move |m| (r.path.to_string(), m.to_string()))
        })
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_operation_documents_its_answers() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let codes: BTreeSet<&str> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(String::as_str)
                .collect();
            let has_body = op.get("requestBody").is_some();
            if has_body {
                for code in ["204", "400", "409", "413"] {
                    assert!(codes.contains(code), "{method} {path} lacks {code}");
                }
            } else {
                assert!(codes.contains("200"), "{method} {path} lacks 200");
            }
            assert!(op.get("operationId").is_some(), "{method} {path}");
        }
    }
}

/// Each request schema's example parses into its Rust type, and each optional field
/// can be left out while each required one cannot.
fn request_schema<T: Body + Serialize>(doc: &Value, name: &str) {
    let schema = schema(doc, name);
    let example = schema
        .get("example")
        .unwrap_or_else(|| panic!("{name} has no example"));
    validate(doc, schema, example, name).expect("example matches its schema");
    let text = example.to_string();
    let parsed: T =
        from_json(&text).unwrap_or_else(|e| panic!("{name} example rejected by Rust: {e}"));
    conforms(doc, name, &parsed);

    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = schema["properties"].as_object().expect("properties");
    for key in properties.keys() {
        let mut without = example.clone();
        let Some(object) = without.as_object_mut() else {
            panic!("{name} example is not an object");
        };
        if object.remove(key).is_none() {
            continue;
        }
        let result = from_json::<T>(&without.to_string());
        if required.contains(key.as_str()) {
            assert!(
                result.is_err(),
                "{name}.{key} is documented required but optional"
            );
        } else {
            assert!(
                result.is_ok(),
                "{name}.{key} is documented optional but required"
            );
        }
    }
    let mut extra = example.clone();
    if let Some(object) = extra.as_object_mut() {
        object.insert("undocumented".into(), json!(1));
    }
    assert!(
        from_json::<T>(&extra.to_string()).is_err(),
        "{name} accepts unknown fields"
    );
}

#[test]
fn request_schemas_match_the_rust_types() {
    let doc = document();
    request_schema::<BootSource>(&doc, "BootSource");
    request_schema::<MachineConfig>(&doc, "MachineConfiguration");
    request_schema::<MachineConfigUpdate>(&doc, "MachineConfigurationUpdate");
    request_schema::<NaclConfigBody>(&doc, "NaclConfig");
    request_schema::<InstanceActionInfo>(&doc, "InstanceActionInfo");
    request_schema::<VmStateUpdate>(&doc, "Vm");
    request_schema::<LoggerConfig>(&doc, "Logger");
    request_schema::<MetricsConfig>(&doc, "Metrics");
    request_schema::<Drive>(&doc, "Drive");
    request_schema::<EntropyConfig>(&doc, "Entropy");
    request_schema::<NetworkInterface>(&doc, "NetworkInterface");
    request_schema::<VsockConfig>(&doc, "Vsock");
    request_schema::<DriveUpdate>(&doc, "PartialDrive");
    request_schema::<NetworkInterfaceUpdate>(&doc, "PartialNetworkInterface");
}

/// [`NaclConfig`] as a body of its own (it is only ever nested).
#[derive(serde::Deserialize, Serialize)]
#[serde(transparent)]
struct NaclConfigBody(NaclConfig);

impl Body for NaclConfigBody {
    const PATH: &'static [&'static str] = &["machine-config", "nacl"];
}

/// The JSON names of `values`.
fn names<T: Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .map(|v| match serde_json::to_value(v).expect("serialise") {
            Value::String(s) => s,
            other => panic!("not a string: {other}"),
        })
        .collect()
}

fn documented_enum(doc: &Value, pointer: &str) -> Vec<String> {
    doc.pointer(&format!("/components/schemas/{pointer}"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no enum at {pointer}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn enums_match_the_rust_types() {
    let doc = document();
    assert_eq!(
        documented_enum(&doc, "Backend/enum"),
        names(&[Backend::Soft, Backend::Kvm, Backend::Auto])
    );
    assert_eq!(
        documented_enum(&doc, "NaclConfig/properties/features/items/enum"),
        names(&NaclFeature::all())
    );
    assert_eq!(
        documented_enum(&doc, "Logger/properties/level/enum"),
        names(&[
            LogLevel::Off,
            LogLevel::Error,
            LogLevel::Warning,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace
        ])
    );
    let states = names(&[
        InstanceState::NotStarted,
        InstanceState::Running,
        InstanceState::Paused,
    ]);
    assert_eq!(
        documented_enum(&doc, "InstanceInfo/properties/state/enum"),
        states
    );
    assert_eq!(
        documented_enum(&doc, "MetricsRecord/properties/state/enum"),
        states
    );
    assert_eq!(
        documented_enum(&doc, "VcpuCounters/properties/state/enum"),
        names(&[
            VcpuActivity::Running,
            VcpuActivity::Paused,
            VcpuActivity::Stopped,
            VcpuActivity::Exited
        ])
    );
    assert_eq!(
        documented_enum(&doc, "InstanceActionInfo/properties/action_type/enum"),
        names(&[
            api::types::ActionType::InstanceStart,
            api::types::ActionType::FlushMetrics,
            api::types::ActionType::Shutdown
        ])
    );
    assert_eq!(
        documented_enum(&doc, "Vm/properties/state/enum"),
        names(&[
            api::types::RequestedVmState::Paused,
            api::types::RequestedVmState::Resumed
        ])
    );
}

fn sample_vcpu(id: u32) -> VcpuCounters {
    VcpuCounters {
        id,
        state: VcpuActivity::Stopped,
        instructions: u64::MAX,
        exceptions: 2,
        interrupts: 3,
        exits: ExitCounters {
            mmio_read: 1,
            ..ExitCounters::default()
        },
        sbi: SbiCounters {
            hsm: 1,
            ..SbiCounters::default()
        },
        nested: NestedCounters {
            guest_entries: 7,
            ..NestedCounters::default()
        },
        nacl: NaclCounters {
            enabled: true,
            sync_sret: 8,
            ..NaclCounters::default()
        },
        translation: TranslationCounters {
            tlb_misses: 4,
            fetch_misses: 5,
            decodes: 6,
        },
        compiled: CompiledTierCounters {
            enabled: true,
            blocks: 9,
            ..CompiledTierCounters::default()
        },
    }
}

#[test]
fn response_bodies_match_their_schemas() {
    let doc = document();
    conforms(
        &doc,
        "InstanceInfo",
        &InstanceInfo {
            id: "anonymous-instance".into(),
            state: InstanceState::NotStarted,
            vmm_version: api::types::VERSION.into(),
            app_name: api::types::APP_NAME.into(),
        },
    );
    conforms(
        &doc,
        "VersionInfo",
        &VersionInfo {
            rvnest_version: api::types::VERSION.into(),
        },
    );
    conforms(
        &doc,
        "Error",
        &ApiError {
            fault_message: "x".into(),
        },
    );
    conforms(&doc, "MachineConfiguration", &MachineConfig::default());
    let full = FullVmConfig {
        boot_source: Some(BootSource {
            kernel_image_path: "/k".into(),
            initrd_path: Some("/i".into()),
            boot_args: Some("console=ttyS0".into()),
        }),
        machine_config: MachineConfig {
            nested: true,
            nacl: Some(NaclConfig {
                enabled: true,
                features: NaclFeature::all(),
            }),
            jit: Some(JitConfig {
                threshold: 0,
                ..JitConfig::default()
            }),
            ..MachineConfig::default()
        },
        logger: Some(LoggerConfig {
            log_path: Some("/l".into()),
            level: LogLevel::Trace,
            show_level: true,
            show_log_origin: true,
            module: Some("vmm::vcpu".into()),
        }),
        metrics: Some(MetricsConfig {
            metrics_path: "/m".into(),
        }),
        drives: vec![Drive {
            drive_id: "rootfs".into(),
            path_on_host: "/r.ext4".into(),
            is_root_device: true,
            is_read_only: false,
            partuuid: Some("0eaa91a0-01".into()),
            cache_type: CacheType::Writeback,
            io_engine: IoEngine::Sync,
        }],
        entropy: Some(EntropyConfig {}),
        vsock: Some(VsockConfig {
            vsock_id: Some("vsock0".into()),
            guest_cid: 3,
            uds_path: "/tmp/v.sock".into(),
        }),
        network_interfaces: vec![NetworkInterface {
            iface_id: "eth0".into(),
            host_dev_name: "tap0".into(),
            guest_mac: Some("06:00:ac:10:00:02".into()),
        }],
    };
    conforms(&doc, "FullVmConfiguration", &full);
    conforms(
        &doc,
        "FullVmConfiguration",
        &FullVmConfig {
            boot_source: None,
            machine_config: MachineConfig::default(),
            logger: None,
            metrics: None,
            drives: Vec::new(),
            entropy: None,
            vsock: None,
            network_interfaces: Vec::new(),
        },
    );
    conforms(&doc, "VmCounters", &VmCounters::default());
    conforms(
        &doc,
        "VmCounters",
        &VmCounters {
            vcpus: vec![sample_vcpu(0), sample_vcpu(1)],
            devices: vec![DeviceCounters {
                kind: DeviceKind::Vsock,
                id: "vsock".into(),
                requests: 4,
                bytes_to_guest: 10,
                bytes_from_guest: 20,
                errors: 1,
            }],
        },
    );
    conforms(
        &doc,
        "MetricsRecord",
        &MetricsRecord {
            utc_timestamp_ms: 1,
            id: "i".into(),
            state: InstanceState::Paused,
            vcpus: vec![sample_vcpu(0)],
            devices: Vec::new(),
        },
    );
}

#[test]
fn the_validator_catches_what_it_should() {
    let doc = document();
    let s = schema(&doc, "VcpuCounters");
    let mut value = serde_json::to_value(sample_vcpu(0)).expect("value");
    assert!(validate(&doc, s, &value, "v").is_ok());
    value["surprise"] = json!(1);
    assert!(validate(&doc, s, &value, "v").is_err());
    let mut value = serde_json::to_value(sample_vcpu(0)).expect("value");
    value["state"] = json!("dozing");
    assert!(validate(&doc, s, &value, "v").is_err());
    let m = schema(&doc, "MachineConfiguration");
    assert!(validate(&doc, m, &json!({"vcpu_count": 33, "mem_size_mib": 64}), "m").is_err());
    assert!(validate(&doc, m, &json!({"vcpu_count": 1}), "m").is_err());
    assert!(
        validate(
            &doc,
            m,
            &json!({"vcpu_count": 1, "mem_size_mib": 64, "nacl": null}),
            "m"
        )
        .is_ok()
    );
}
