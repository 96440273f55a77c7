//! gosleuth-testkit
