//! `rvnest-ctl`: a command-line client of rvnest's REST API, one subcommand per
//! endpoint, human-readable output or `--json`.
//!
//! Exit codes: 0 success; 1 the API answered with an error (its `fault_message` is
//! printed on stderr); 2 the socket could not be reached or the command line is
//! wrong.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use api::client::{Client, ClientError};
use api::config::{
    Backend, BootSource, IrqChip, JitConfig, LogLevel, LoggerConfig, MachineConfig,
    MachineConfigUpdate, MetricsConfig,
};
use api::types::{ActionType, RequestedVmState};
use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "rvnest-ctl",
    version,
    about = "Control an rvnest VM through its API socket"
)]
struct Args {
    /// The API socket (`rvnest --api-sock PATH`); default: $RVNEST_API_SOCK.
    #[arg(long, short = 's', value_name = "PATH")]
    api_sock: Option<PathBuf>,
    /// Print the API's JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The instance's id, state and version (GET /).
    Info,
    /// The rvnest version (GET /version).
    Version,
    /// The full configuration, in the config file's format (GET /vm/config).
    Config,
    /// The machine configuration (GET /machine-config).
    MachineConfig,
    /// Per-vCPU counters (GET /vm/counters).
    Counters,
    /// Set the kernel, initrd and command line (PUT /boot-source).
    SetBootSource {
        /// The kernel Image.
        #[arg(long, value_name = "PATH")]
        kernel: PathBuf,
        /// The initramfs.
        #[arg(long, value_name = "PATH")]
        initrd: Option<PathBuf>,
        /// The kernel command line.
        #[arg(long, value_name = "ARGS")]
        boot_args: Option<String>,
    },
    /// Replace the machine configuration (PUT /machine-config).
    SetMachineConfig {
        /// Number of vCPUs.
        #[arg(long, value_name = "N")]
        vcpus: u32,
        /// Guest RAM in MiB.
        #[arg(long, value_name = "MIB")]
        mem_mib: u64,
        /// soft, kvm or auto.
        #[arg(long, value_parser = json_enum::<Backend>, default_value = "auto")]
        backend: Backend,
        /// The interrupt controller: auto, plic or aia.
        #[arg(long, value_parser = json_enum::<IrqChip>, default_value = "auto")]
        irqchip: IrqChip,
        /// Offer the H extension to the guest.
        #[arg(long)]
        nested: bool,
        /// Interpret all guest code (the soft backend's compiled tier off).
        #[arg(long)]
        no_jit: bool,
    },
    /// Change some machine configuration fields (PATCH /machine-config).
    UpdateMachineConfig {
        /// Number of vCPUs.
        #[arg(long, value_name = "N")]
        vcpus: Option<u32>,
        /// Guest RAM in MiB.
        #[arg(long, value_name = "MIB")]
        mem_mib: Option<u64>,
        /// soft, kvm or auto.
        #[arg(long, value_parser = json_enum::<Backend>)]
        backend: Option<Backend>,
        /// The interrupt controller: auto, plic or aia.
        #[arg(long, value_parser = json_enum::<IrqChip>)]
        irqchip: Option<IrqChip>,
        /// Offer the H extension to the guest (true or false).
        #[arg(long, value_name = "BOOL")]
        nested: Option<bool>,
    },
    /// Configure rvnest's log (PUT /logger).
    SetLogger {
        /// The log file (created if missing); stderr without it.
        #[arg(long, value_name = "PATH")]
        log_path: Option<PathBuf>,
        /// Off, Error, Warning, Info, Debug or Trace.
        #[arg(long, value_parser = json_enum::<LogLevel>, default_value = "Info")]
        level: LogLevel,
        /// Prefix lines with their level.
        #[arg(long)]
        show_level: bool,
        /// Prefix lines with their source file and line.
        #[arg(long)]
        show_log_origin: bool,
        /// Only log from this module path (e.g. vmm::vcpu).
        #[arg(long, value_name = "MODULE")]
        module: Option<String>,
    },
    /// Set the metrics file (PUT /metrics).
    SetMetrics {
        /// The metrics file (created if missing).
        #[arg(long, value_name = "PATH")]
        metrics_path: PathBuf,
    },
    /// Boot the configured VM (PUT /actions InstanceStart).
    Start,
    /// Write the counters to the metrics file (PUT /actions FlushMetrics).
    FlushMetrics,
    /// Stop the VM and end rvnest (PUT /actions Shutdown).
    Shutdown,
    /// Pause the vCPUs (PATCH /vm Paused).
    Pause,
    /// Resume the vCPUs (PATCH /vm Resumed).
    Resume,
    /// Send any request: METHOD PATH [BODY] (BODY `-` reads stdin).
    Request {
        /// GET, PUT, PATCH, ...
        method: String,
        /// The path, e.g. /vm/config.
        path: String,
        /// The JSON body.
        body: Option<String>,
    },
}

/// Parses an enum by its JSON name (`soft`, `Info`, ...).
fn json_enum<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|e| e.to_string())
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
    body: Option<String>,
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        let code = match error {
            ClientError::Api { .. } => 1,
            _ => 2,
        };
        Failure {
            code,
            message: error.to_string(),
            body: None,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(socket) = args
        .api_sock
        .clone()
        .or_else(|| std::env::var_os("RVNEST_API_SOCK").map(PathBuf::from))
    else {
        eprintln!("rvnest-ctl: no API socket: give --api-sock PATH or set RVNEST_API_SOCK");
        return ExitCode::from(2);
    };
    let mut client = Client::new(socket);
    match run(&mut client, args.command, args.json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if args.json
                && let Some(body) = failure.body
            {
                println!("{body}");
            }
            eprintln!("rvnest-ctl: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(client: &mut Client, command: Command, json: bool) -> Result<(), Failure> {
    let (method, path, body, done): (&str, &str, Option<Vec<u8>>, &str) = match command {
        Command::Info => return show(client, "/", json, info_text),
        Command::Version => {
            return show(client, "/version", json, |v| {
                format!("rvnest {}", v["rvnest_version"].as_str().unwrap_or("?"))
            });
        }
        Command::Config => return show(client, "/vm/config", json, pretty),
        Command::MachineConfig => return show(client, "/machine-config", json, machine_text),
        Command::Counters => return show(client, "/vm/counters", json, counters_text),
        Command::SetBootSource {
            kernel,
            initrd,
            boot_args,
        } => (
            "PUT",
            "/boot-source",
            Some(encode(&BootSource {
                kernel_image_path: kernel,
                initrd_path: initrd,
                boot_args,
            })?),
            "Boot source set",
        ),
        Command::SetMachineConfig {
            vcpus,
            mem_mib,
            backend,
            irqchip,
            nested,
            no_jit,
        } => (
            "PUT",
            "/machine-config",
            Some(encode(&MachineConfig {
                vcpu_count: vcpus,
                mem_size_mib: mem_mib,
                backend,
                irqchip,
                nested,
                nacl: None,
                jit: no_jit.then(|| JitConfig {
                    enabled: false,
                    ..JitConfig::default()
                }),
                ..MachineConfig::default()
            })?),
            "Machine configuration set",
        ),
        Command::UpdateMachineConfig {
            vcpus,
            mem_mib,
            backend,
            irqchip,
            nested,
        } => (
            "PATCH",
            "/machine-config",
            Some(encode(&MachineConfigUpdate {
                vcpu_count: vcpus,
                mem_size_mib: mem_mib,
                backend,
                irqchip,
                nested,
                nacl: None,
                ..MachineConfigUpdate::default()
            })?),
            "Machine configuration updated",
        ),
        Command::SetLogger {
            log_path,
            level,
            show_level,
            show_log_origin,
            module,
        } => (
            "PUT",
            "/logger",
            Some(encode(&LoggerConfig {
                log_path,
                level,
                show_level,
                show_log_origin,
                module,
            })?),
            "Logger configured",
        ),
        Command::SetMetrics { metrics_path } => (
            "PUT",
            "/metrics",
            Some(encode(&MetricsConfig { metrics_path })?),
            "Metrics file set",
        ),
        Command::Start => action(ActionType::InstanceStart, "VM started")?,
        Command::FlushMetrics => action(ActionType::FlushMetrics, "Metrics flushed")?,
        Command::Shutdown => action(ActionType::Shutdown, "VM shut down")?,
        Command::Pause => vm_state(RequestedVmState::Paused, "VM paused")?,
        Command::Resume => vm_state(RequestedVmState::Resumed, "VM resumed")?,
        Command::Request { method, path, body } => {
            return raw(client, &method, &path, body, json);
        }
    };
    let response = client.request(method, path, body.as_deref())?;
    check(&response)?;
    if !json {
        println!("{done}");
    }
    Ok(())
}

type Request = (&'static str, &'static str, Option<Vec<u8>>, &'static str);

fn action(action_type: ActionType, done: &'static str) -> Result<Request, Failure> {
    Ok((
        "PUT",
        "/actions",
        Some(encode(&api::types::InstanceActionInfo { action_type })?),
        done,
    ))
}

fn vm_state(state: RequestedVmState, done: &'static str) -> Result<Request, Failure> {
    Ok((
        "PATCH",
        "/vm",
        Some(encode(&api::types::VmStateUpdate { state })?),
        done,
    ))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(value).map_err(|e| Failure {
        code: 2,
        message: format!("Cannot encode the request: {e}"),
        body: None,
    })
}

/// Ok for 2xx; otherwise the failure with the API's message and body.
fn check(response: &api::client::Response) -> Result<(), Failure> {
    match response.clone().into_result() {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure {
            body: Some(response.text()),
            ..Failure::from(e)
        }),
    }
}

/// GETs `path` and prints it as JSON or through `text`.
fn show(
    client: &mut Client,
    path: &str,
    json: bool,
    text: impl Fn(&Value) -> String,
) -> Result<(), Failure> {
    let response = client.request("GET", path, None)?;
    check(&response)?;
    if json {
        println!("{}", response.text());
        return Ok(());
    }
    let value: Value = serde_json::from_slice(&response.body).map_err(|e| Failure {
        code: 2,
        message: format!("The API answered with bad JSON: {e}"),
        body: None,
    })?;
    println!("{}", text(&value));
    Ok(())
}

fn raw(
    client: &mut Client,
    method: &str,
    path: &str,
    body: Option<String>,
    json: bool,
) -> Result<(), Failure> {
    let body = match body.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure {
                    code: 2,
                    message: format!("Cannot read the body from stdin: {e}"),
                    body: None,
                })?;
            Some(text)
        }
        other => other.map(str::to_string),
    };
    let response = client.request(method, path, body.as_deref().map(str::as_bytes))?;
    check(&response)?;
    if !response.body.is_empty() {
        match serde_json::from_slice::<Value>(&response.body) {
            Ok(value) if !json => println!("{}", pretty(&value)),
            _ => println!("{}", response.text()),
        }
    } else if !json {
        println!(
            "{} {}",
            response.status,
            api::http::reason_phrase(response.status)
        );
    }
    Ok(())
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn info_text(v: &Value) -> String {
    format!(
        "id:      {}\nstate:   {}\nversion: {} {}",
        v["id"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("?"),
        v["app_name"].as_str().unwrap_or("?"),
        v["vmm_version"].as_str().unwrap_or("?"),
    )
}

fn machine_text(v: &Value) -> String {
    let nacl = match v.get("nacl") {
        Some(Value::Object(n)) if n.get("enabled") != Some(&Value::Bool(false)) => {
            let features: Vec<&str> = n
                .get("features")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if features.is_empty() && n.get("features").is_some() {
                "on (no optional features)".to_string()
            } else if features.is_empty() {
                "on (all features)".to_string()
            } else {
                format!("on ({})", features.join(", "))
            }
        }
        _ => "off".to_string(),
    };
    format!(
        "vcpus:   {}\nmemory:  {} MiB\nbackend: {}\nirqchip: {}\nnested:  {}\nnacl:    {nacl}",
        v["vcpu_count"],
        v["mem_size_mib"],
        v["backend"].as_str().unwrap_or("auto"),
        v["irqchip"].as_str().unwrap_or("auto"),
        if v["nested"].as_bool().unwrap_or(false) {
            "yes"
        } else {
            "no"
        },
    )
}

/// A table: one row per counter (dotted name), one column per vCPU. Groups that are
/// all zero (nested, nacl on a VM without nesting) are left out.
fn counters_text(v: &Value) -> String {
    let vcpus = v["vcpus"].as_array().cloned().unwrap_or_default();
    if vcpus.is_empty() {
        return "No vCPUs: the VM has not started".to_string();
    }
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for (column, vcpu) in vcpus.iter().enumerate() {
        let mut fields = Vec::new();
        flatten("", vcpu, &mut fields);
        for (name, value) in fields {
            if name == "id" {
                continue;
            }
            let row = match rows.iter_mut().position(|(n, _)| *n == name) {
                Some(i) => &mut rows[i].1,
                None => {
                    rows.push((name, vec![String::new(); vcpus.len()]));
                    let last = rows.len() - 1;
                    &mut rows[last].1
                }
            };
            row[column] = value;
        }
    }
    let quiet_group = |group: &str| {
        rows.iter()
            .filter(|(name, _)| name.starts_with(group))
            .all(|(_, values)| values.iter().all(|v| v == "0" || v == "false"))
    };
    let hide: Vec<&str> = ["nested.", "nacl."]
        .into_iter()
        .filter(|g| quiet_group(g))
        .collect();
    let rows: Vec<&(String, Vec<String>)> = rows
        .iter()
        .filter(|(name, _)| !hide.iter().any(|g| name.starts_with(g)))
        .collect();
    let name_width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let headers: Vec<String> = vcpus
        .iter()
        .enumerate()
        .map(|(i, v)| format!("vcpu{}", v["id"].as_u64().unwrap_or(i as u64)))
        .collect();
    let widths: Vec<usize> = (0..vcpus.len())
        .map(|c| {
            rows.iter()
                .map(|(_, values)| values[c].len())
                .chain([headers[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{:name_width$}", "");
    for (header, width) in headers.iter().zip(&widths) {
        out.push_str(&format!("  {header:>width$}"));
    }
    for (name, values) in rows {
        out.push_str(&format!("\n{name:name_width$}"));
        for (value, width) in values.iter().zip(&widths) {
            out.push_str(&format!("  {value:>width$}"));
        }
    }
    out
}

/// (dotted name, value) for every scalar in `value`.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, item, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counters_table_has_a_column_per_vcpu_and_hides_quiet_groups() {
        let vcpu = |id: u64, instructions: u64| {
            json!({
                "id": id, "state": "running", "instructions": instructions,
                "exits": {"sbi": 3},
                "nested": {"guest_entries": 0},
                "nacl": {"enabled": false, "sync_csr": 0},
            })
        };
        let text = counters_text(&json!({"vcpus": [vcpu(0, 12345), vcpu(1, 7)]}));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["vcpu0", "vcpu1"]
        );
        let row = lines
            .iter()
            .find(|l| l.starts_with("instructions"))
            .expect("instructions row");
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            ["instructions", "12345", "7"]
        );
        assert!(text.contains("exits.sbi"), "{text}");
        assert!(
            !text.contains("nested.") && !text.contains("nacl."),
            "{text}"
        );
        let busy = json!({"vcpus": [{"id": 0, "nacl": {"enabled": true, "sync_csr": 4}}]});
        assert!(counters_text(&busy).contains("nacl.sync_csr"));
        assert_eq!(
            counters_text(&json!({"vcpus": []})),
            "No vCPUs: the VM has not started"
        );
    }

    #[test]
    fn machine_config_text() {
        let text = machine_text(&json!({
            "vcpu_count": 2, "mem_size_mib": 512, "backend": "soft", "irqchip": "plic",
            "nested": true, "nacl": {"enabled": true, "features": ["sync_csr", "sync_sret"]}
        }));
        assert_eq!(
            text,
            "vcpus:   2\nmemory:  512 MiB\nbackend: soft\nirqchip: plic\nnested:  yes\nnacl:    on (sync_csr, sync_sret)"
        );
        let text = machine_text(
            &json!({"vcpu_count": 1, "mem_size_mib": 128, "backend": "auto", "nested": false}),
        );
        assert!(text.ends_with("nested:  no\nnacl:    off"), "{text}");
    }

    #[test]
    fn enums_parse_by_their_json_names() {
        assert_eq!(json_enum::<Backend>("kvm"), Ok(Backend::Kvm));
        assert_eq!(json_enum::<IrqChip>("aia"), Ok(IrqChip::Aia));
        assert_eq!(json_enum::<LogLevel>("Warning"), Ok(LogLevel::Warning));
        assert!(json_enum::<LogLevel>("warning").is_err());
    }
}
