// SPDX-License-Identifier: GPL-2.0

//! Declarations of the test-only C in `selftest/shims.c`. Each caller states
//! why its call is sound.

use crate::gfp::Gfp;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_ulong, c_void};
use kernel::prelude::*;

/// The value `kalloc_shim_abi()` returns: "kalc" in ASCII.
pub(crate) const ABI: u32 = 0x6b61_6c63;

// See `crate::ffi` for the lint: only pointers to `struct device` cross.
#[expect(improper_ctypes)]
extern "C" {
    fn kalloc_shim_abi() -> u32;
    fn kalloc_c_macro(name: *const c_char, out: *mut c_ulong) -> c_int;

    fn kalloc_gfp_zone(flags: bindings::gfp_t) -> c_int;
    fn kalloc_gfp_allow_blocking(flags: bindings::gfp_t) -> bool;
    fn kalloc_gfp_zone_bad(flags: bindings::gfp_t) -> bool;
    fn kalloc_current_gfp_context(flags: bindings::gfp_t) -> bindings::gfp_t;

    pub(crate) fn kalloc_stop_machine(
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        data: *mut c_void,
    ) -> c_int;
    pub(crate) fn kalloc_nr_free_pages_stopped() -> c_ulong;

    pub(crate) fn kalloc_test_c_user(p: *mut c_void, len: usize, byte: c_int) -> c_int;
    pub(crate) fn kalloc_slab_read_sysfs(path: *const c_char, buf: *mut u8, len: usize) -> isize;
    pub(crate) fn kalloc_slab_write_sysfs(
        path: *const c_char,
        buf: *const c_char,
        len: usize,
    ) -> isize;
    pub(crate) fn kalloc_test_zone(p: *const c_void) -> c_int;
    pub(crate) fn kalloc_test_kmalloc_cache(
        size: usize,
        flags: bindings::gfp_t,
    ) -> *mut bindings::kmem_cache;
    pub(crate) fn kalloc_test_init_on_free() -> bool;
    pub(crate) fn kalloc_test_alias(p: *const c_void, len: usize) -> *mut c_void;
    pub(crate) fn kalloc_test_read_unalias(dst: *mut c_void, alias: *mut c_void, len: usize);
    pub(crate) fn kalloc_test_fail_nth(nth: kernel::ffi::c_uint);
    pub(crate) fn kalloc_test_fail_nth_left() -> kernel::ffi::c_uint;
    pub(crate) fn kalloc_test_make_it_fail(fail: bool);
    pub(crate) fn kalloc_test_make_task_fail(task: *mut bindings::task_struct, fail: bool);
    pub(crate) fn kalloc_test_skip(option: *const c_char);
    pub(crate) fn kalloc_test_nid_of(p: *const c_void) -> c_int;
    pub(crate) fn kalloc_test_vmapped(p: *const c_void) -> bool;
    pub(crate) fn kalloc_test_user_page() -> c_ulong;
    pub(crate) fn kalloc_test_num_online_nodes() -> c_int;
    pub(crate) fn kalloc_test_run_on_cpus(
        work: unsafe extern "C" fn(*mut c_void, kernel::ffi::c_uint) -> c_int,
        data: *mut c_void,
    ) -> c_int;
    pub(crate) fn kalloc_test_debug_pagealloc() -> bool;
    pub(crate) fn kalloc_test_as_nmi(f: unsafe extern "C" fn(*mut c_void), data: *mut c_void);
    pub(crate) fn kalloc_test_as_hardirq(f: unsafe extern "C" fn(*mut c_void), data: *mut c_void);
    pub(crate) fn kalloc_test_irqs_off(f: unsafe extern "C" fn(*mut c_void), data: *mut c_void);

    pub(crate) fn kalloc_devres_count(dev: *mut bindings::device) -> usize;
    pub(crate) fn kalloc_device_lock(dev: *mut bindings::device);
    pub(crate) fn kalloc_device_unlock(dev: *mut bindings::device);
    pub(crate) fn kalloc_device_bound_to_kalloc(dev: *mut bindings::device) -> bool;
}

/// Calls into `selftest/shims.c`, proving the C object is linked into the
/// module.
pub(crate) fn abi() -> u32 {
    // SAFETY: `kalloc_shim_abi` takes no arguments and only returns a constant.
    unsafe { kalloc_shim_abi() }
}

/// The value of the C macro called `name` (a GFP or SLAB flag), or `ENOENT`
/// if `selftest/shims.c` does not list it.
pub(crate) fn c_macro(name: &CStr) -> Result<c_ulong> {
    let mut out: c_ulong = 0;
    // SAFETY: `name` is a NUL-terminated string and `out` a valid, writable
    // `unsigned long`; the shim only reads the one and writes the other.
    let ret = unsafe { kalloc_c_macro(name.as_char_ptr(), &mut out) };
    if ret != 0 {
        return Err(ENOENT);
    }
    Ok(out)
}

/// C's `gfp_zone()` for flags whose zone combination is valid, else `EINVAL`.
pub(crate) fn gfp_c_zone(flags: Gfp) -> Result<bindings::zone_type> {
    // `gfp_zone()` hits VM_BUG_ON on an invalid combination: never pass one.
    flags.zone()?;
    // SAFETY: the zone bits are a valid combination (checked above), so
    // `gfp_zone` only computes a table lookup.
    let zone = unsafe { kalloc_gfp_zone(flags.as_raw()) };
    Ok(zone as bindings::zone_type)
}

/// C's `gfpflags_allow_blocking()`.
pub(crate) fn gfp_c_allow_blocking(flags: Gfp) -> bool {
    // SAFETY: a pure function of its argument.
    unsafe { kalloc_gfp_allow_blocking(flags.as_raw()) }
}

/// Whether C's `GFP_ZONE_BAD` table calls the zone modifiers of `flags` an
/// invalid combination.
pub(crate) fn gfp_c_zone_bad(flags: bindings::gfp_t) -> bool {
    // SAFETY: a pure function of its argument (a table lookup).
    unsafe { kalloc_gfp_zone_bad(flags) }
}

/// C's `current_gfp_context()`: the flags in the current task's memalloc
/// scopes.
pub(crate) fn gfp_c_context(flags: Gfp) -> bindings::gfp_t {
    // SAFETY: Only reads the current task's flags.
    unsafe { kalloc_current_gfp_context(flags.as_raw()) }
}
