//! Development aid: DWARF variables of a function.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let exe = std::fs::read(&args[1]).expect("exe");
    let bin = gosleuth_gobin::Binary::parse(&exe).unwrap();
    let d = bin.dwarf().unwrap();
    let f = d.function(&args[2]).unwrap();
    println!("{f:?}");
    for v in d.variables(&f).unwrap() {
        println!(
            "{} {:?} inl={:?} scope={:x?} loc_none={} list={} ranges={:x?}",
            v.name,
            v.role,
            v.inlined_from,
            v.scope,
            v.location.is_none(),
            v.location.is_list(),
            v.location.ranges()
        );
    }
}
