//! Prints the runtime layout of Go executables (with DWARF) as a Rust
//! table entry for `src/layout_tables.rs`.
//!
//!     cargo run -p gosleuth-target --example layout_table -- EXE...

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read executable");
        let bin = gosleuth_gobin::Binary::parse(&data).expect("parse executable");
        let version = bin.build_info().expect("build info").go_version;
        let v = gosleuth_target::GoVersion::parse(&version).expect("version");
        let dwarf = bin.dwarf().expect("DWARF");
        let l = gosleuth_target::Layout::from_dwarf(&dwarf).expect("layout");
        println!("        // {version} {}", bin.elf().goarch());
        println!("        ({}, Layout {{", v.minor);
        println!("            g: {:?},", l.g);
        println!("            m: {:?},", l.m);
        println!("            panic: {:?},", l.panic);
        println!("            ty: {:?},", l.ty);
        println!("            module: {:?},", l.module);
        println!("            source: LayoutSource::Builtin,");
        println!("        }}),");
    }
}
