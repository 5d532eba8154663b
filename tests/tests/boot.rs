//! Boots Debian's riscv64 kernel with a busybox initramfs on the soft backend and
//! checks what the guest prints.

use std::time::Duration;

use e2e::{RunResult, run_vm, write_config};

/// Generous: the boot takes seconds; a debug build or a loaded machine takes longer.
const LIMIT: Duration = Duration::from_secs(600);

/// The extensions the soft hart offers besides RV64IMAFDC, as the kernel lists them.
const SCALAR_EXTENSIONS: [&str; 20] = [
    "zicbom",
    "zicbop",
    "zicboz",
    "zicntr",
    "zicond",
    "zicsr",
    "zifencei",
    "zihintntl",
    "zihintpause",
    "zimop",
    "zawrs",
    "zcb",
    "zcmop",
    "zba",
    "zbb",
    "zbs",
    "sstc",
    "svinval",
    "svnapot",
    "svpbmt",
];

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
    // What the kernel took from the device tree: the soft hart's multi-letter
    // extensions, each one checked by name in every hart's string.
    for line in r.stdout.lines().filter(|l| l.starts_with("isa\t\t: ")) {
        let names: Vec<&str> = line.split('_').skip(1).collect();
        for ext in SCALAR_EXTENSIONS {
            assert!(
                names.contains(&ext),
                "{ext} missing from `{line}`\n{context}"
            );
        }
    }
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
