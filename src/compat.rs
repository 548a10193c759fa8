// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernel crates kalloc builds against (Linux 7.3
//! and, with `--cfg kalloc_linux_7_2`, Linux 7.2).

use pin_init::PinInit;

/// `pin_init::raw_try_init` (7.3); 7.2 calls the initialiser's
/// `PinInit::__pinned_init`.
///
/// # Safety
///
/// As for `pin_init::raw_try_init`.
#[inline(always)]
pub(crate) unsafe fn raw_try_init<T, E>(slot: *mut T, init: impl PinInit<T, E>) -> Result<(), E> {
    #[cfg(not(kalloc_linux_7_2))]
    // SAFETY: The caller's promise.
    let r = unsafe { pin_init::raw_try_init(slot, init) };
    #[cfg(kalloc_linux_7_2)]
    // SAFETY: The caller's promise.
    let r = unsafe { init.__pinned_init(slot) };
    r
}

/// `pin_init::raw_init` (7.3), for an initialiser that cannot fail.
///
/// # Safety
///
/// As for `pin_init::raw_init`.
#[inline(always)]
pub(crate) unsafe fn raw_init<T>(slot: *mut T, init: impl PinInit<T>) {
    // SAFETY: The caller's promise.
    match unsafe { raw_try_init(slot, init) } {
        Ok(()) => {}
        Err(e) => match e {},
    }
}

/// `EBADMSG`, which 7.3's kernel crate names and 7.2's does not.
#[cfg(kalloc_selftest)]
pub(crate) fn ebadmsg() -> kernel::error::Error {
    kernel::error::Error::from_errno(-(kernel::bindings::EBADMSG as kernel::ffi::c_int))
}

/// `ENODATA`, as [`ebadmsg`].
#[cfg(kalloc_selftest)]
pub(crate) fn enodata() -> kernel::error::Error {
    kernel::error::Error::from_errno(-(kernel::bindings::ENODATA as kernel::ffi::c_int))
}

/// C's `enum dma_data_direction` values: constants of a newtype in 7.3's
/// bindings, of an integer type in 7.2's.
pub(crate) mod dma_direction {
    use kernel::bindings::dma_data_direction;

    #[cfg(not(kalloc_linux_7_2))]
    pub(crate) const TO_DEVICE: dma_data_direction = dma_data_direction::DMA_TO_DEVICE;
    #[cfg(not(kalloc_linux_7_2))]
    pub(crate) const FROM_DEVICE: dma_data_direction = dma_data_direction::DMA_FROM_DEVICE;
    #[cfg(not(kalloc_linux_7_2))]
    pub(crate) const BIDIRECTIONAL: dma_data_direction = dma_data_direction::DMA_BIDIRECTIONAL;
    #[cfg(kalloc_linux_7_2)]
    pub(crate) const TO_DEVICE: dma_data_direction =
        kernel::bindings::dma_data_direction_DMA_TO_DEVICE;
    #[cfg(kalloc_linux_7_2)]
    pub(crate) const FROM_DEVICE: dma_data_direction =
        kernel::bindings::dma_data_direction_DMA_FROM_DEVICE;
    #[cfg(kalloc_linux_7_2)]
    pub(crate) const BIDIRECTIONAL: dma_data_direction =
        kernel::bindings::dma_data_direction_DMA_BIDIRECTIONAL;
}
