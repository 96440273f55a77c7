//! gosleuth-coredump
