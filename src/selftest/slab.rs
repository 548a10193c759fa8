// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_slab` suite.

use crate::selftest::ffi::{kalloc_test_user_page, kalloc_test_zone};
use crate::slab::SlabBox;
use kernel::bindings;
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

/// The zone (`enum zone_type`) of the memory under a slab object.
pub(crate) fn zone_of_object<T>(object: &SlabBox<'_, T>) -> bindings::zone_type {
    let ptr: *const T = &**object;
    // SAFETY: `object` is a live slab object: its address is in the
    // kernel's linear map, where `virt_to_page()` works.
    let zone = unsafe { kalloc_test_zone(ptr.cast()) };
    zone as bindings::zone_type
}

/// Copies `len` bytes of `object`, from `offset`, to user memory with
/// `copy_to_user()`, with a length the compiler cannot see: where the
/// kernel has `CONFIG_HARDENED_USERCOPY`, the copy is checked against the
/// object's cache's user-copy region, and one outside it is a kernel BUG
/// ("usercopy: Kernel memory exposure attempt"). The user memory is a page
/// mapped for the running KUnit case.
///
/// # Errors
///
/// `EINVAL` for bytes outside the object or more than a page; `ENOMEM` if
/// no user page can be mapped; `EFAULT` if the copy fails.
pub(crate) fn copy_to_user<T>(object: &SlabBox<'_, T>, offset: usize, len: usize) -> Result {
    let len = core::hint::black_box(len);
    if offset
        .checked_add(len)
        .is_none_or(|end| end > size_of::<T>())
        || len > bindings::PAGE_SIZE
    {
        return Err(EINVAL);
    }
    // SAFETY: Maps a page for the running case (`kunit_vm_mmap()`).
    let user = unsafe { kalloc_test_user_page() };
    if user == 0 {
        return Err(ENOMEM);
    }
    let ptr: *const T = &**object;
    // SAFETY: `object` is a live `T` of `size_of::<T>()` bytes, and
    // `offset + len` is within them (checked above); its bytes are
    // initialised (a `T` without padding, which the caller passes).
    let bytes = unsafe { core::slice::from_raw_parts(ptr.cast::<u8>().add(offset), len) };
    UserSlice::new(UserPtr::from_addr(user), len)
        .writer()
        .write_slice(bytes)
}
