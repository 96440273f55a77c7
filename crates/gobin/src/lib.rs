//! gosleuth-gobin
