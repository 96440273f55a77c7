//! gosleuth-target
