//! Boots Debian's riscv64 kernel with a busybox initramfs on the soft backend and
//! checks what the guest prints.

use std::time::Duration;

use e2e::{RunResult, run_vm, write_config};

/// Generous: the boot takes seconds; a debug build or a loaded machine takes longer.
const LIMIT: Duration = Duration::from_secs(600);

fn boot(vcpus: u32) -> RunResult {
    let config = write_config(&format!("boot{vcpus}"), vcpus, 512, "");
    let result = run_vm(&config, LIMIT);
    let _ = std::fs::remove_file(config);
    result
}

fn check_boot(vcpus: u32) {
    let r = boot(vcpus);
    let context = format!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.code,
        Some(0),
        "rvnest must exit 0 after poweroff -f\n{context}"
    );
    assert!(
        r.stdout.contains("Linux version"),
        "kernel banner missing\n{context}"
    );
    assert!(
        r.stdout.contains("RVNEST-GUEST-READY"),
        "userspace marker missing\n{context}"
    );
    for hart in 0..vcpus {
        assert!(
            r.stdout.contains(&format!("processor\t: {hart}")),
            "/proc/cpuinfo lacks hart {hart}\n{context}"
        );
    }
    let isa_lines = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("isa\t\t: rv64imafdc"))
        .count();
    assert_eq!(
        isa_lines, vcpus as usize,
        "every hart must show its ISA string\n{context}"
    );
    assert!(
        r.stdout.contains("zicsr") && r.stdout.contains("sstc"),
        "ISA extensions missing\n{context}"
    );
    eprintln!(
        "booted {vcpus} hart(s) to poweroff in {:.1} s",
        r.elapsed.as_secs_f64()
    );
}

#[test]
fn debian_boots_to_userspace_and_powers_off_with_one_hart() {
    check_boot(1);
}

#[test]
fn debian_boots_to_userspace_and_powers_off_with_four_harts() {
    check_boot(4);
}
