//! Sets `cfg(jit)` when the compiled tier is built: the `jit` feature is on and the
//! target is one cranelift generates code for.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(jit)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let supported = matches!(arch.as_str(), "x86_64" | "aarch64" | "riscv64");
    if std::env::var_os("CARGO_FEATURE_JIT").is_some() && supported {
        println!("cargo::rustc-cfg=jit");
    }
}
