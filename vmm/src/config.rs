//! VM configuration for `rvnest --config-file FILE`, in Firecracker's format.
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
//!     "nested": false,
//!     "nacl": { "enabled": true, "features": ["sync_csr", "sync_hfence"] }
//!   }
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
}

/// `boot-source`: the kernel, the optional initrd and the kernel command line.
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

/// `machine-config`: vCPUs, memory, backend, nesting.
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
    /// `nested` (optional, default `false`): offer the H extension to the guest so it
    /// can run its own KVM guests.
    #[serde(default)]
    pub nested: bool,
    /// `nacl` (optional): the SBI nested acceleration extension offered to a nested
    /// guest hypervisor; requires `nested: true` when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nacl: Option<NaclConfig>,
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
    /// The text is not valid JSON.
    #[error("Invalid config: JSON syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description, without its position suffix.
        message: String,
    },
    /// An object has a key the schema does not know.
    #[error("Invalid config: unknown field \"{field}\" in {section}{}", expected_suffix(.expected))]
    UnknownField {
        /// Where the key was found: `boot-source`, `machine-config`, ... or
        /// `the top-level object`.
        section: String,
        /// The unknown key.
        field: String,
        /// The keys allowed there, as serde lists them (may be empty).
        expected: String,
    },
    /// A required key is absent.
    #[error("Invalid config: {field}: missing required field")]
    MissingField {
        /// Dotted path of the missing key, e.g. `machine-config.vcpu_count`.
        field: String,
    },
    /// A key has a value of the wrong type or out of range, or the configuration is
    /// otherwise inconsistent.
    #[error("Invalid config: {field}: {message}")]
    InvalidValue {
        /// Dotted path of the key, e.g. `machine-config.mem_size_mib`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file named by the config (kernel image or initrd) cannot be read.
    #[error("Cannot read {what} {} ({field}): {}", .path.display(), io_message(.source))]
    FileAccess {
        /// What the file is: `kernel image` or `initrd`.
        what: &'static str,
        /// The path as written in the config.
        path: PathBuf,
        /// The config key that named it, e.g. `boot-source.kernel_image_path`.
        field: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// An io::Error's message without the " (os error N)" suffix std appends.
fn io_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(idx) if text.ends_with(')') => text[..idx].to_string(),
        _ => text,
    }
}

fn expected_suffix(expected: &str) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!(" (expected {expected})")
    }
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
        // First pass: syntax, and objects where objects are due (serde's derived
        // structs would also accept a JSON array in their place).
        let value: serde_json::Value = serde_json::from_str(json).map_err(map_json_error)?;
        check_objects(&value)?;
        // Second pass: typed, tracking the JSON path of any error.
        let mut de = serde_json::Deserializer::from_str(json);
        let config: VmConfig = serde_path_to_error::deserialize(&mut de).map_err(map_path_error)?;
        de.end().map_err(map_json_error)?;
        Ok(config)
    }

    /// Checks every value's range and consistency, then that the kernel image and the
    /// initrd are readable regular files. Returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_values()?;
        check_file(
            &self.boot_source.kernel_image_path,
            "kernel image",
            "boot-source.kernel_image_path",
        )?;
        if let Some(initrd) = &self.boot_source.initrd_path {
            check_file(initrd, "initrd", "boot-source.initrd_path")?;
        }
        Ok(())
    }

    /// The checks of [`VmConfig::validate`] that do not touch the file system.
    pub fn validate_values(&self) -> Result<(), ConfigError> {
        let boot = &self.boot_source;
        if boot.kernel_image_path.as_os_str().is_empty() {
            return Err(invalid(
                "boot-source.kernel_image_path",
                "must not be empty",
            ));
        }
        if boot
            .initrd_path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "boot-source.initrd_path",
                "must not be empty (omit it for no initrd)",
            ));
        }
        if let Some(args) = &boot.boot_args {
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

        let machine = &self.machine_config;
        if !(1..=MAX_VCPUS).contains(&machine.vcpu_count) {
            return Err(invalid(
                "machine-config.vcpu_count",
                format!(
                    "must be between 1 and {MAX_VCPUS}, got {}",
                    machine.vcpu_count
                ),
            ));
        }
        if !(MIN_MEM_MIB..=MAX_MEM_MIB).contains(&machine.mem_size_mib) {
            return Err(invalid(
                "machine-config.mem_size_mib",
                format!(
                    "must be between {MIN_MEM_MIB} and {MAX_MEM_MIB}, got {}",
                    machine.mem_size_mib
                ),
            ));
        }
        if let Some(nacl) = &machine.nacl {
            if nacl.enabled && !machine.nested {
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
        Ok(())
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The file exists, is a regular file, and can be opened and read.
fn check_file(path: &Path, what: &'static str, field: &'static str) -> Result<(), ConfigError> {
    let fail = |source: io::Error| ConfigError::FileAccess {
        what,
        path: path.to_path_buf(),
        field,
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

/// Where derived structs sit in the schema: (path, section name for messages).
const OBJECT_PATHS: &[(&[&str], &str)] = &[
    (&[], "the top-level object"),
    (&["boot-source"], "boot-source"),
    (&["machine-config"], "machine-config"),
    (&["machine-config", "nacl"], "machine-config.nacl"),
];

/// Rejects a non-object where the schema has an object (serde's derived structs also
/// accept arrays, which would silently bind fields by position).
fn check_objects(value: &serde_json::Value) -> Result<(), ConfigError> {
    for (path, name) in OBJECT_PATHS {
        let mut node = Some(value);
        for key in *path {
            node = node.and_then(|n| n.as_object()).and_then(|o| o.get(*key));
        }
        match node {
            None | Some(serde_json::Value::Object(_)) => {}
            // `"nacl": null` is as good as omitting it.
            Some(serde_json::Value::Null) if path.len() == 2 => {}
            Some(other) => {
                let field = if path.is_empty() { "top level" } else { name };
                return Err(invalid(
                    field,
                    format!("invalid type: {}, expected an object", json_kind(other)),
                ));
            }
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// Syntax/EOF errors (no JSON path available).
fn map_json_error(err: serde_json::Error) -> ConfigError {
    let message = bare_message(&err);
    match err.classify() {
        serde_json::error::Category::Data => invalid("top level", message),
        _ => ConfigError::Syntax {
            line: err.line(),
            column: err.column(),
            message,
        },
    }
}

/// The text between the first pair of backticks: serde's "unknown field `x`, ...".
fn backticked(message: &str) -> Option<(&str, &str)> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some((&message[start..start + len], &message[start + len + 1..]))
}

/// Typed-pass errors, with the JSON path serde_path_to_error tracked.
fn map_path_error(err: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let segments: Vec<String> = err.path().iter().map(|s| s.to_string()).collect();
    let inner = err.into_inner();
    if !matches!(inner.classify(), serde_json::error::Category::Data) {
        return map_json_error(inner);
    }
    let message = bare_message(&inner);
    let position = format!("line {}, column {}", inner.line(), inner.column());
    let join = |segs: &[String]| -> String {
        let mut out = String::new();
        for seg in segs {
            if !out.is_empty() && !seg.starts_with('[') {
                out.push('.');
            }
            out.push_str(seg);
        }
        out
    };

    if let Some(rest) = message.strip_prefix("unknown field ")
        && let Some((field, tail)) = backticked(rest)
    {
        // The path ends with the unknown key itself.
        let parent = &segments[..segments.len().saturating_sub(1)];
        let section = if parent.is_empty() {
            "the top-level object".to_string()
        } else {
            join(parent)
        };
        let expected = tail
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected ")
            .replace("there are no fields", "no fields")
            .replace('`', "");
        return ConfigError::UnknownField {
            section,
            field: field.to_string(),
            expected,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some((field, _)) = backticked(rest)
    {
        // The path is the object missing the key ("." at the top level).
        let mut full: Vec<String> = segments.into_iter().filter(|s| s != ".").collect();
        full.push(field.to_string());
        return ConfigError::MissingField { field: join(&full) };
    }
    let field = match join(&segments).as_str() {
        "" | "." | "?" => "top level".to_string(),
        path => path.to_string(),
    };
    ConfigError::InvalidValue {
        field,
        message: format!("{message} ({position})"),
    }
}

#[cfg(test)]
mod tests {
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
    fn unknown_top_level_field() {
        let assets = Assets::new();
        let json = assets
            .json(MINIMAL_MACHINE)
            .replacen('{', r#"{"drives": [], "#, 1);
        let e = err(&json);
        assert_eq!(
            e,
            "Invalid config: unknown field \"drives\" in the top-level object (expected boot-source or machine-config)"
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
            e.starts_with(
                "Invalid config: machine-config.nacl.features[1]: unknown variant `fast`"
            ),
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
            err(&assets
                .json(r#"{"vcpu_count": 1, "mem_size_mib": 512, "nacl": {"enabled": true}}"#)),
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
            format!(
                "Cannot read kernel image {dir} (boot-source.kernel_image_path): is a directory"
            )
        );
        std::fs::write(assets.dir.join("empty"), b"").expect("write empty");
        let empty = assets.path("empty");
        let json = assets
            .json(MINIMAL_MACHINE)
            .replace(&assets.path("Image"), &empty);
        assert_eq!(
            err(&json),
            format!(
                "Cannot read kernel image {empty} (boot-source.kernel_image_path): file is empty"
            )
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
}
