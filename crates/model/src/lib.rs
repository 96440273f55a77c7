//! gosleuth-model
