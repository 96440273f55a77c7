//! gosleuth-pprof
