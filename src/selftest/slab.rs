// SPDX-License-Identifier: GPL-2.0

//! Test aids for the `kalloc_slab` suite.

use crate::selftest::ffi::kalloc_test_zone;
use crate::slab::SlabBox;
use kernel::bindings;

/// The zone (`enum zone_type`) of the memory under a slab object.
pub(crate) fn zone_of_object<T>(object: &SlabBox<'_, T>) -> bindings::zone_type {
    let ptr: *const T = &**object;
    // SAFETY: `object` is a live slab object: its address is in the
    // kernel's linear map, where `virt_to_page()` works.
    let zone = unsafe { kalloc_test_zone(ptr.cast()) };
    zone as bindings::zone_type
}
