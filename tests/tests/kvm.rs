//! The KVM backend on a real KVM: QEMU (TCG, `-cpu rv64,h=true`) boots Debian's
//! kernel as a KVM host whose /init runs the riscv64 rvnest with `"backend": "kvm"`
//! on Debian's kernel and the standard test initramfs (resources/kvm-host/).
//!
//! These tests need the riscv64 build and `resources/kvm-host/build-l1.sh`, so they
//! are `#[ignore]`d in a plain `cargo test`; `scripts/test-all.sh` builds the assets
//! and runs them with `--include-ignored`. Missing assets fail the test, never skip it.

use std::time::Duration;

use e2e::{RunResult, run_kvm_host, run_kvm_host_on};

/// The L1 boot takes ~5 s and each L2 boot 10-20 s under TCG on 2 cores; the limit
/// only catches hangs.
const LIMIT: Duration = Duration::from_secs(420);

fn context(r: &RunResult) -> String {
    format!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr)
}

/// The value of `key=` on the marker line starting with `marker`.
fn marker_value<'a>(out: &'a str, marker: &str, key: &str) -> Option<&'a str> {
    let line = out.lines().find(|l| l.starts_with(marker))?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The QEMU machine and CPU of a KVM host whose kernel has AIA: Ssaia and an APLIC.
///
/// `aia=aplic` (the APLIC delivering directly, no IMSICs) rather than
/// `aia=aplic-imsic`: on QEMU 7.2 the latter's APLIC in MSI mode lets the L1's own
/// level-triggered interrupts (RTC, serial) storm ("Disabling IRQ #11", hard lockups)
/// before its userspace starts (resources/kvm-host/README.md). KVM's in-kernel AIA
/// only needs Ssaia on the host ("AIA available with 0 guest external interrupts")
/// and then emulates the guest's IMSICs in software.
const AIA_HOST: (&str, &str) = ("virt,aia=aplic", "rv64,h=true,x-ssaia=true");

/// Boots the L2 guest with `vcpus` vCPUs and `"backend": backend` inside QEMU, on a
/// KVM host without AIA: the guest gets the userspace PLIC.
fn check_l2_boot(vcpus: u32, backend: &str) {
    let r = run_kvm_host(
        &format!("rvnest.l2vcpus={vcpus} rvnest.l2backend={backend}"),
        LIMIT,
    );
    check_l2_booted(&r, vcpus, backend);
    let ctx = context(&r);
    assert!(
        r.stdout.contains("irqchip: userspace PLIC"),
        "a host without AIA gives the guest the userspace PLIC\n{ctx}"
    );
}

/// What every boot of the L2 guest on KVM must show.
fn check_l2_booted(r: &RunResult, vcpus: u32, backend: &str) {
    let ctx = context(r);
    assert_eq!(
        r.code,
        Some(0),
        "QEMU must exit 0 after the L1 poweroff\n{ctx}"
    );
    assert!(
        r.stdout.contains("RVNEST-L1-KVM-LOADED"),
        "kvm.ko must load in L1\n{ctx}"
    );
    assert!(
        r.stdout.contains("hypervisor extension available"),
        "L1 kvm must find H\n{ctx}"
    );
    // rvnest ran on KVM ("kvm" exits 1 where KVM cannot be used; "auto" picks it
    // where /dev/kvm opens) and read the guest's ISA from KVM.
    assert!(
        r.stdout.contains("KVM guest CPU"),
        "rvnest's KVM log line\n{ctx}"
    );
    // The L2 guest reached userspace, printed its markers and powered off.
    for marker in ["RVNEST-INIT-START", "RVNEST-GUEST-READY", "RVNEST-POWEROFF"] {
        assert!(
            r.stdout.lines().any(|l| l.trim_end() == marker),
            "L2 marker {marker} missing\n{ctx}"
        );
    }
    for hart in 0..vcpus {
        assert!(
            r.stdout.contains(&format!("processor\t: {hart}")),
            "L2 /proc/cpuinfo lacks hart {hart}\n{ctx}"
        );
    }
    assert!(
        !r.stdout.contains(&format!("processor\t: {vcpus}")),
        "L2 has more harts than configured\n{ctx}"
    );
    assert_eq!(
        marker_value(&r.stdout, "RVNEST-L1-RVNEST-EXIT", "rc"),
        Some("0"),
        "rvnest must exit 0 after the L2 poweroff\n{ctx}"
    );
    let seconds = marker_value(&r.stdout, "RVNEST-L1-RVNEST-EXIT", "seconds").unwrap_or("?");
    eprintln!(
        "backend {backend}, {vcpus} vCPU(s): L2 boot-to-poweroff {seconds} s inside QEMU; \
         whole QEMU run {:.1} s",
        r.elapsed.as_secs_f64()
    );
}

#[test]
#[ignore = "needs the riscv64 rvnest and resources/kvm-host/build-l1.sh (scripts/test-all.sh)"]
fn debian_boots_on_kvm_inside_qemu_with_one_vcpu() {
    check_l2_boot(1, "kvm");
}

#[test]
#[ignore = "needs the riscv64 rvnest and resources/kvm-host/build-l1.sh (scripts/test-all.sh)"]
fn debian_boots_on_kvm_inside_qemu_with_two_vcpus_and_backend_auto() {
    check_l2_boot(2, "auto");
}

/// On a KVM host with AIA, `"irqchip": "aia"` gives the L2 guest KVM's in-kernel APLIC
/// and IMSICs: its kernel finds them in the device tree, the UART interrupts through
/// the APLIC (the console's interrupt-driven output reaches the markers), and both
/// harts take MSIs.
#[test]
#[ignore = "needs the riscv64 rvnest and resources/kvm-host/build-l1.sh (scripts/test-all.sh)"]
fn debian_boots_on_kvm_inside_qemu_with_the_in_kernel_aia() {
    let (machine, cpu) = AIA_HOST;
    let r = run_kvm_host_on(machine, cpu, "rvnest.l2vcpus=2 rvnest.l2irqchip=aia", LIMIT);
    check_l2_booted(&r, 2, "kvm");
    let ctx = context(&r);
    assert!(
        r.stdout.contains("AIA available"),
        "the L1 KVM must find AIA\n{ctx}"
    );
    assert!(
        r.stdout.contains("irqchip: in-kernel AIA"),
        "rvnest must choose the in-kernel AIA\n{ctx}"
    );
    // The L1 has no IMSIC: these lines are the L2 kernel's.
    assert!(
        r.stdout.contains("riscv-imsic: imsics@28000000"),
        "the L2 kernel must find the IMSICs\n{ctx}"
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains("d000000.aplic") && l.contains("forwarded to MSI")),
        "the L2 kernel's APLIC must forward to the IMSICs\n{ctx}"
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("isa") && l.contains("_ssaia")),
        "the L2 harts must report Ssaia in /proc/cpuinfo\n{ctx}"
    );
}

/// `"irqchip": "aia"` where the host has no AIA is refused with the reason; nothing
/// boots. (`"auto"` falls back to the PLIC there: the cases above.)
#[test]
#[ignore = "needs the riscv64 rvnest and resources/kvm-host/build-l1.sh (scripts/test-all.sh)"]
fn asking_for_an_aia_on_a_host_without_one_is_a_clear_error() {
    let r = run_kvm_host("rvnest.l2vcpus=1 rvnest.l2irqchip=aia", LIMIT);
    let error = refusal(&r);
    assert!(
        error.contains("machine-config.irqchip is \"aia\"")
            && error.contains("\"plic\" or \"auto\""),
        "{error}"
    );
}

/// Asserts that QEMU exited 0, that L1's rvnest refused its config (exit code 1) with
/// exactly one error line and booted no L2; returns that line.
fn refusal(r: &RunResult) -> String {
    let ctx = context(r);
    assert_eq!(r.code, Some(0), "QEMU must exit 0\n{ctx}");
    assert_eq!(
        marker_value(&r.stdout, "RVNEST-L1-RVNEST-EXIT", "rc"),
        Some("1"),
        "rvnest must refuse the config\n{ctx}"
    );
    let errors: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("rvnest: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line\n{ctx}");
    assert!(
        !r.stdout.contains("RVNEST-INIT-START"),
        "no L2 may boot\n{ctx}"
    );
    errors[0].to_string()
}

/// Mainline KVM gives guests no H extension: asking for nesting on kvm must fail with
/// the probed reason and point at the soft backend, and must not boot anything.
#[test]
#[ignore = "needs the riscv64 rvnest and resources/kvm-host/build-l1.sh (scripts/test-all.sh)"]
fn nesting_on_mainline_kvm_is_refused_with_the_probed_reason() {
    let r = run_kvm_host("rvnest.l2vcpus=1 rvnest.l2nested=1", LIMIT);
    assert!(r.stdout.contains("RVNEST-L1-KVM-LOADED"), "{}", context(&r));
    let line = refusal(&r);
    assert!(
        line.contains("nested virtualization needs a KVM that gives guests the H extension"),
        "{line}"
    );
    assert!(line.contains("ISA_EXT_H: no"), "{line}");
    assert!(line.contains("\"backend\": \"soft\""), "{line}");
}

/// Without /dev/kvm, asking for the kvm backend on a riscv64 host is one line that
/// says why and points at the soft backend; nothing boots.
#[test]
#[ignore = "needs the riscv64 rvnest and resources/kvm-host/build-l1.sh (scripts/test-all.sh)"]
fn kvm_backend_without_dev_kvm_is_a_clear_error() {
    let r = run_kvm_host("rvnest.l1kvm=0 rvnest.l2vcpus=1", LIMIT);
    assert!(
        r.stdout.contains("RVNEST-L1-KVM-SKIPPED"),
        "{}",
        context(&r)
    );
    let error = refusal(&r);
    assert!(
        error.contains("The kvm backend is not available on this host")
            && error.contains("cannot open /dev/kvm")
            && error.contains("\"soft\""),
        "{error}"
    );
}
