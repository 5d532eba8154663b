//! The mission's core path: rvnest (soft backend, nesting on) runs Debian's kernel
//! as a guest hypervisor (L1); inside it the riscv64 rvnest with the kvm backend
//! runs Debian's kernel again (L2) on L1's KVM, which talks NACL to the outer rvnest.
//!
//! The L1 initramfs (busybox, kvm.ko, the riscv64 rvnest, the L2 kernel and
//! initramfs) comes from `resources/kvm-host/build-l1.sh`; the README's test command
//! builds it. Each run also reports the outer vCPUs' counters per L2 world switch.

use std::time::Duration;

use e2e::{RunResult, run_vm_with_args};

const LIMIT: Duration = Duration::from_secs(900);

/// Boots L1 with `l1_vcpus` harts and the given `nacl` section; L1 runs L2 with
/// `l2_vcpus`.
fn nested(name: &str, l1_vcpus: u32, l2_vcpus: u32, nacl: &str) -> RunResult {
    let dir = e2e::kvm_host_dir();
    let json = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 panic=-1 rvnest.l2vcpus={l2_vcpus}"
  }},
  "machine-config": {{ "vcpu_count": {l1_vcpus}, "mem_size_mib": 2048, "backend": "soft",
                      "nested": true, "nacl": {nacl} }}
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("l1-initramfs.cpio").display(),
    );
    let path = std::env::temp_dir().join(format!("rvnest-l2-{}-{name}.json", std::process::id()));
    std::fs::write(&path, json).expect("write config");
    // Info-level logging puts the outer vCPUs' counters on stderr.
    let result = run_vm_with_args(&path, &["--log-level", "info"], LIMIT);
    let _ = std::fs::remove_file(path);
    result
}

/// Asserts the whole stack came up and went down, and prints the counters.
fn check(name: &str, r: &RunResult, nacl_line: Option<&str>) {
    let context = format!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.code,
        Some(0),
        "{name}: the outer rvnest must exit 0\n{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-L1-KVM-LOADED"),
        "{name}: L1 loads kvm.ko\n{context}"
    );
    let reported = r.stdout.lines().find_map(|l| {
        l.find("using SBI nested acceleration")
            .map(|at| l[at..].trim_end())
    });
    assert_eq!(
        reported, nacl_line,
        "{name}: the NACL features L1's KVM found\n{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-GUEST-READY"),
        "{name}: L2 reaches userspace\n{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-POWEROFF"),
        "{name}: L2 powers off\n{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-L1-RVNEST-EXIT rc=0"),
        "{name}: the L1 rvnest exits 0\n{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-L1-POWEROFF"),
        "{name}: L1 powers off\n{context}"
    );
    let l2_seconds = r
        .stdout
        .lines()
        .find_map(|l| l.split("RVNEST-L1-RVNEST-EXIT rc=0 seconds=").nth(1))
        .unwrap_or("?");
    let counters = e2e::nested_counters(&r.stderr);
    eprintln!(
        "{name}: L2 boot-to-poweroff {l2_seconds} s inside L1; whole stack {:.1} s; {counters}",
        r.elapsed.as_secs_f64()
    );
    assert!(
        counters.world_switches > 0,
        "{name}: L2 ran in V=1\n{context}"
    );
}

const ALL: &str =
    "using SBI nested acceleration with sync_csr, sync_hfence, sync_sret, autoswap_csr";

#[test]
fn l2_boots_under_l1_kvm_with_every_nacl_feature() {
    let r = nested("all", 1, 1, r#"{"enabled": true}"#);
    check("nacl=all", &r, Some(ALL));
}

#[test]
fn l2_boots_with_nacl_off() {
    let r = nested("off", 1, 1, r#"{"enabled": false}"#);
    check("nacl=off", &r, None);
}

#[test]
fn l2_boots_with_sync_csr_only() {
    let r = nested("csr", 1, 1, r#"{"features": ["sync_csr"]}"#);
    check(
        "nacl=sync_csr",
        &r,
        Some("using SBI nested acceleration with sync_csr"),
    );
}

#[test]
fn l2_boots_with_sync_csr_and_sync_hfence() {
    let r = nested(
        "csr-hfence",
        1,
        1,
        r#"{"features": ["sync_csr", "sync_hfence"]}"#,
    );
    check(
        "nacl=sync_csr,sync_hfence",
        &r,
        Some("using SBI nested acceleration with sync_csr, sync_hfence"),
    );
}

#[test]
fn l2_boots_with_everything_but_autoswap() {
    let r = nested(
        "no-autoswap",
        1,
        1,
        r#"{"features": ["sync_csr", "sync_hfence", "sync_sret"]}"#,
    );
    check(
        "nacl=no-autoswap",
        &r,
        Some("using SBI nested acceleration with sync_csr, sync_hfence, sync_sret"),
    );
}

/// L1 on two harts: its scheduler moves L2's vCPU thread between them, so this also
/// covers a nested guest that patched its code on one outer hart and runs it on the
/// other (the soft backend's FENCE.I is VM-wide).
#[test]
fn two_l1_harts_run_l2_with_one_and_with_two_harts() {
    let r = nested("smp-1", 2, 1, r#"{"enabled": true}"#);
    check("l1=2,l2=1", &r, Some(ALL));
    let r = nested("smp-2", 2, 2, r#"{"enabled": true}"#);
    check("l1=2,l2=2", &r, Some(ALL));
    assert!(
        r.stdout.contains("processor\t: 1"),
        "L2 sees two harts\n{}",
        r.stdout
    );
}
