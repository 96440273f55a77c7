//! gosleuth-render
