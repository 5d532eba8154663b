//! Debian's kernel as a guest hypervisor on the soft backend: loading kvm.ko finds
//! the H extension, and reports exactly the NACL features the config offers.

use std::path::PathBuf;
use std::time::Duration;

use e2e::{RunResult, guest_dir, run_vm};

const LIMIT: Duration = Duration::from_secs(600);

/// Boots one hart with `nested: true` and the given `nacl` section (JSON or none).
fn boot_nested(name: &str, nacl: Option<&str>) -> RunResult {
    let dir = guest_dir();
    let nacl = nacl
        .map(|n| format!(r#", "nacl": {n}"#))
        .unwrap_or_default();
    let json = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 panic=-1 rvnest.cpuinfo=0"
  }},
  "machine-config": {{ "vcpu_count": 1, "mem_size_mib": 512, "backend": "soft", "nested": true{nacl} }}
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
    );
    let path: PathBuf =
        std::env::temp_dir().join(format!("rvnest-nested-{}-{name}.json", std::process::id()));
    std::fs::write(&path, json).expect("write config");
    let result = run_vm(&path, LIMIT);
    let _ = std::fs::remove_file(path);
    result
}

/// Checks kvm.ko loaded with H and returns its NACL line, if any.
fn nacl_line(r: &RunResult) -> Option<String> {
    let context = format!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, Some(0), "rvnest must exit 0\n{context}");
    assert!(
        r.stdout.contains("kvm [") && r.stdout.contains("hypervisor extension available"),
        "{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-KVM-LOADED"),
        "kvm.ko must load\n{context}"
    );
    assert!(r.stdout.contains("VMID 14 bits available"), "{context}");
    r.stdout
        .lines()
        .find(|l| l.contains("using SBI nested acceleration"))
        .map(|l| l[l.find("using").unwrap_or(0)..].trim_end().to_string())
}

#[test]
fn kvm_finds_h_and_every_nacl_feature_by_default() {
    let r = boot_nested("all", None);
    assert_eq!(
        nacl_line(&r).as_deref(),
        Some("using SBI nested acceleration with sync_csr, sync_hfence, sync_sret, autoswap_csr")
    );
}

#[test]
fn kvm_loads_without_nacl_when_it_is_disabled() {
    let r = boot_nested("off", Some(r#"{"enabled": false}"#));
    assert_eq!(nacl_line(&r), None);
}

#[test]
fn kvm_lists_exactly_the_offered_feature_subset() {
    let r = boot_nested(
        "subset",
        Some(r#"{"features": ["sync_csr", "sync_hfence"]}"#),
    );
    assert_eq!(
        nacl_line(&r).as_deref(),
        Some("using SBI nested acceleration with sync_csr, sync_hfence")
    );
}
