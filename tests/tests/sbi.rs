//! The SBI as Debian's kernel uses it, on four soft harts: the SBI PMU driver
//! probes rvnest's counters and `perf_event_open` counts a busybox command's
//! cycles and instructions (tests/guest/perf-stat.c, a minimal `perf stat`:
//! busybox has no perf), and CPU hotplug goes through HSM hart_stop and
//! hart_start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use api::types::VcpuActivity;
use e2e::{ApiProcess, guest_dir, sh, temp_path, workspace_root};

/// Generous: the boot takes seconds; a loaded machine takes longer.
const LIMIT: Duration = Duration::from_secs(600);

/// The test initramfs with /bin/perf-stat appended as a second cpio archive
/// (the kernel unpacks concatenated archives in order).
fn initramfs_with_perf_stat(name: &str) -> PathBuf {
    let tree = temp_path(&format!("{name}-tree"));
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(tree.join("bin")).expect("tree");
    let source = workspace_root().join("tests/guest/perf-stat.c");
    sh(&format!(
        "riscv64-linux-gnu-gcc -static -O2 -Wall -o {}/bin/perf-stat {}",
        tree.display(),
        source.display()
    ));
    let initrd = temp_path(&format!("{name}-initramfs.cpio.gz"));
    sh(&format!(
        "cp {base} {out} && cd {tree} && find . | cpio --quiet -o -H newc --owner=0:0 | gzip -9n >> {out}",
        base = guest_dir().join("initramfs.cpio.gz").display(),
        out = initrd.display(),
        tree = tree.display(),
    ));
    let _ = std::fs::remove_dir_all(&tree);
    initrd
}

fn config(name: &str, initrd: &Path, nested: bool) -> PathBuf {
    let config = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.init=shell rvnest.kvm=0 rvnest.cpuinfo=0"
  }},
  "machine-config": {{ "vcpu_count": 4, "mem_size_mib": 512, "backend": "soft", "nested": {nested} }}
}}"#,
        kernel = guest_dir().join("Image").display(),
        initrd = initrd.display(),
    );
    let path = temp_path(&format!("{name}.json"));
    std::fs::write(&path, config).expect("config");
    path
}

/// Runs `command` in the guest shell and returns what it printed before the
/// end marker (computed by the shell, so the console's echo of the command
/// cannot match it).
fn shell(vm: &mut ApiProcess, command: &str, step: u32) -> String {
    let marker = format!("STEP-{step}-DONE");
    let before = vm.stdout().len();
    vm.send_console(&format!("{command}; echo STEP-$(({step}))-DONE\n"));
    vm.wait_for_output(&marker, LIMIT);
    let out = vm.stdout();
    let tail = &out[before..];
    let end = tail.find(&marker).unwrap_or(tail.len());
    tail[..end].to_string()
}

fn count(output: &str, name: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{name} "))?.parse().ok())
}

#[test]
fn debian_counts_cycles_and_instructions_and_hotplugs_harts_through_hsm() {
    perf_and_hotplug(false);
}

#[test]
fn the_same_with_the_h_extension_offered() {
    perf_and_hotplug(true);
}

fn perf_and_hotplug(nested: bool) {
    let name = format!("sbi-{}-{nested}", std::process::id());
    let initrd = initramfs_with_perf_stat(&name);
    let config_path = config(&name, &initrd, nested);
    let config_arg = config_path.display().to_string();
    let mut vm = ApiProcess::start(&name, &["--config-file", &config_arg]);
    vm.wait_for_output("RVNEST-SHELL", LIMIT);
    let mut client = vm.client();

    let pmu = shell(&mut vm, "dmesg | grep -i 'pmu'", 1);
    assert!(
        pmu.contains("SBI PMU extension is available"),
        "the kernel's SBI PMU driver did not find the extension:\n{pmu}"
    );
    assert!(
        pmu.contains("8 firmware and 2 hardware counters"),
        "counters as rvnest reports them:\n{pmu}"
    );

    let perf = shell(&mut vm, "/bin/perf-stat busybox md5sum /bin/busybox", 2);
    let cycles = count(&perf, "cycles");
    let instructions = count(&perf, "instructions");
    assert!(
        cycles.is_some_and(|c| c > 0) && instructions.is_some_and(|i| i > 0),
        "perf_event_open must count cycles and instructions:\n{perf}"
    );
    eprintln!("perf-stat busybox md5sum: {cycles:?} cycles, {instructions:?} instructions");

    let hsm_before = client.counters().expect("counters").vcpus[1].sbi.hsm;
    let off = shell(
        &mut vm,
        "echo 0 > /sys/devices/system/cpu/cpu1/online; echo ONLINE=$(cat /sys/devices/system/cpu/online)",
        3,
    );
    assert!(
        off.contains("ONLINE=0,2-3"),
        "cpu1 did not go offline:\n{off}"
    );
    let counters = client.counters().expect("counters");
    assert_eq!(
        counters.vcpus[1].state,
        VcpuActivity::Stopped,
        "cpu1 offline is HSM hart_stop"
    );
    assert!(
        counters.vcpus[1].sbi.hsm > hsm_before,
        "hart 1 made the hart_stop call"
    );
    let on = shell(
        &mut vm,
        "echo 1 > /sys/devices/system/cpu/cpu1/online; echo ONLINE=$(cat /sys/devices/system/cpu/online)",
        4,
    );
    assert!(on.contains("ONLINE=0-3"), "cpu1 did not come back:\n{on}");
    assert_eq!(
        client.counters().expect("counters").vcpus[1].state,
        VcpuActivity::Running,
        "cpu1 online is HSM hart_start"
    );
    let again = shell(&mut vm, "/bin/perf-stat busybox true", 5);
    assert!(
        count(&again, "instructions").is_some_and(|i| i > 0),
        "counting still works after the hotplug:\n{again}"
    );

    vm.send_console("poweroff -f\n");
    assert_eq!(vm.wait_exit(LIMIT), Some(0), "poweroff");
    let _ = std::fs::remove_file(config_path);
    let _ = std::fs::remove_file(initrd);
}
