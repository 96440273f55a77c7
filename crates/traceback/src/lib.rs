//! gosleuth-traceback
