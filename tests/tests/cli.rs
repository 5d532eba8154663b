//! The command line's answers to bad input: one line naming the field or path, exit
//! code 1, never a panic.

use std::process::Command;

use e2e::rvnest_binary;

/// Runs rvnest on a config with `json` and returns (exit code, stderr).
fn run_with(name: &str, json: &str) -> (Option<i32>, String) {
    let path = std::env::temp_dir().join(format!("rvnest-cli-{}-{name}.json", std::process::id()));
    std::fs::write(&path, json).expect("write config");
    let out = Command::new(rvnest_binary())
        .arg("--config-file")
        .arg(&path)
        .output()
        .expect("run rvnest");
    let _ = std::fs::remove_file(path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_rejected(name: &str, json: &str, must_mention: &[&str]) {
    let (code, stderr) = run_with(name, json);
    assert_eq!(code, Some(1), "{name}: exit code, stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{name}: one line, got: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    for word in must_mention {
        assert!(
            stderr.contains(word),
            "{name}: {stderr:?} should mention {word:?}"
        );
    }
}

#[test]
fn unknown_field_is_named() {
    assert_rejected(
        "unknown",
        r#"{"boot-source": {"kernel_image_path": "/x", "colour": 1}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}"#,
        &["colour", "boot-source"],
    );
}

#[test]
fn wrong_type_is_named() {
    assert_rejected(
        "type",
        r#"{"boot-source": {"kernel_image_path": "/x"}, "machine-config": {"vcpu_count": "two", "mem_size_mib": 64}}"#,
        &["machine-config.vcpu_count"],
    );
}

#[test]
fn missing_field_is_named() {
    assert_rejected(
        "missing",
        r#"{"boot-source": {"kernel_image_path": "/x"}, "machine-config": {"vcpu_count": 1}}"#,
        &["mem_size_mib"],
    );
}

#[test]
fn out_of_range_value_is_named() {
    assert_rejected(
        "range",
        r#"{"boot-source": {"kernel_image_path": "/x"}, "machine-config": {"vcpu_count": 0, "mem_size_mib": 64}}"#,
        &["vcpu_count"],
    );
}

#[test]
fn missing_kernel_names_the_path_and_field() {
    assert_rejected(
        "nofile",
        r#"{"boot-source": {"kernel_image_path": "/nonexistent/Image"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}"#,
        &["/nonexistent/Image", "kernel_image_path"],
    );
}

#[test]
fn malformed_json_is_reported() {
    assert_rejected("json", r#"{"boot-source": "#, &["config"]);
}

#[test]
fn a_file_that_is_not_a_kernel_is_refused() {
    let bogus = std::env::temp_dir().join(format!("rvnest-cli-{}-bogus-image", std::process::id()));
    std::fs::write(&bogus, vec![0u8; 4096]).expect("write");
    let json = format!(
        r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {{"vcpu_count": 1, "mem_size_mib": 64, "backend": "soft"}}}}"#,
        bogus.display()
    );
    assert_rejected("notkernel", &json, &["kernel image", "bogus-image"]);
    let _ = std::fs::remove_file(bogus);
}

#[test]
fn kvm_backend_on_this_host_is_a_clear_error() {
    if cfg!(target_arch = "riscv64") {
        return; // a riscv64 host may have KVM
    }
    let kernel = e2e::guest_dir().join("Image");
    let json = format!(
        r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {{"vcpu_count": 1, "mem_size_mib": 64, "backend": "kvm"}}}}"#,
        kernel.display()
    );
    assert_rejected("kvm", &json, &["kvm", "soft"]);
}

#[test]
fn an_aia_without_kvm_is_a_clear_error() {
    if cfg!(target_arch = "riscv64") {
        return; // a riscv64 host may have KVM with an in-kernel AIA
    }
    let kernel = e2e::guest_dir().join("Image");
    let config = |backend: &str| {
        format!(
            r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {{"vcpu_count": 1, "mem_size_mib": 64, "backend": "{backend}", "irqchip": "aia"}}}}"#,
            kernel.display()
        )
    };
    // Refused by the config check where the backend is known to be soft...
    assert_rejected(
        "aia-soft",
        &config("soft"),
        &["machine-config.irqchip", "\"aia\"", "kvm"],
    );
    // ...and by the soft backend where "auto" ends there.
    assert_rejected(
        "aia-auto",
        &config("auto"),
        &["machine-config.irqchip", "\"aia\"", "PLIC"],
    );
}
