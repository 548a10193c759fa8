// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shims in `shims.c`, with safe wrappers for the
//! ones that have no safety requirement.
//!
//! The kernel's `bindings` crate cannot reach macros and inline functions;
//! `shims.c` wraps the ones kalloc needs in real functions, declared here.

use kernel::bindings;
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;

/// The value `kalloc_shim_abi()` returns: "kalc" in ASCII.
pub(crate) const ABI: u32 = 0x6b61_6c63;

extern "C" {
    fn kalloc_shim_abi() -> u32;
    fn kalloc_gfp_by_name(name: *const c_char, out: *mut bindings::gfp_t) -> c_int;
    fn kalloc_gfp_zone(flags: bindings::gfp_t) -> c_int;
    fn kalloc_gfp_allow_blocking(flags: bindings::gfp_t) -> bool;
}

/// Calls into `shims.c`, proving the C object is linked into the module.
pub(crate) fn abi() -> u32 {
    // SAFETY: `kalloc_shim_abi` takes no arguments and only returns a constant.
    unsafe { kalloc_shim_abi() }
}

/// The value of the C GFP macro called `name`, or `ENOENT`.
pub(crate) fn gfp_c_value(name: &CStr) -> Result<bindings::gfp_t> {
    let mut out: bindings::gfp_t = 0;
    // SAFETY: `name` is a NUL-terminated string and `out` a valid, writable
    // `gfp_t`; the shim only reads the one and writes the other.
    let ret = unsafe { kalloc_gfp_by_name(name.as_char_ptr(), &mut out) };
    if ret != 0 {
        return Err(ENOENT);
    }
    Ok(out)
}

/// C's `gfp_zone()` for flags whose zone combination is valid, else `EINVAL`.
pub(crate) fn gfp_c_zone(flags: crate::gfp::Gfp) -> Result<bindings::zone_type> {
    // `gfp_zone()` hits VM_BUG_ON on an invalid combination: never pass one.
    flags.zone()?;
    // SAFETY: the zone bits are a valid combination (checked above), so
    // `gfp_zone` only computes a table lookup.
    let zone = unsafe { kalloc_gfp_zone(flags.as_raw()) };
    Ok(zone as bindings::zone_type)
}

/// C's `gfpflags_allow_blocking()`.
pub(crate) fn gfp_c_allow_blocking(flags: crate::gfp::Gfp) -> bool {
    // SAFETY: a pure function of its argument.
    unsafe { kalloc_gfp_allow_blocking(flags.as_raw()) }
}

#[kunit_tests(kalloc_module)]
mod tests {
    use super::*;

    /// The C shim object is linked into the same module and callable.
    #[test]
    fn c_shims_are_linked() {
        assert_eq!(abi(), ABI);
    }

    /// The suite runs inside KUnit, at module load.
    #[test]
    fn runs_under_kunit() {
        assert!(kernel::kunit::in_kunit_test());
    }
}
