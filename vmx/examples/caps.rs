//! Prints the decoded capability MSRs of every CPU model
//! (`cargo run -p vtx32-vmx --example caps`).

fn main() {
    for model in vtx32_vmx::CpuModel::ALL {
        println!("{}", vtx32_vmx::caps_report(model));
    }
}
