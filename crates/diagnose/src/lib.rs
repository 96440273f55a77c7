//! gosleuth-diagnose
