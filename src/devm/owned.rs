// SPDX-License-Identifier: GPL-2.0

//! [`DevmOwned`]: a Rust value that a bound device drops when it is unbound.

use super::raw;
use crate::gfp::context_may_sleep;
use core::{ops::Deref, ptr::NonNull};
use kernel::{
    bindings,
    device::{Bound, Device},
    error::to_result,
    prelude::*,
};

/// A value that belongs to a bound device: the device drops it when it is
/// unbound (a release action, C's `devm_add_action_or_reset()`), or
/// [`DevmOwned::release`] drops it at once (C's `devm_release_action()`).
///
/// This is for device-scoped values that need their destructor, such as a
/// mapping ([`DevmIoMap`](crate::devm::DevmIoMap)). The handle dereferences to the value; dropping
/// the handle leaves the value with the device.
///
/// # Invariants
///
/// `ptr` comes from [`KBox::into_raw`], and a release action on `dev`'s
/// list, `release_action::<T>` with `ptr`, owns it. The action stays on the
/// list while this handle exists: only [`DevmOwned::release`], which
/// consumes the handle, runs it early, and the device runs it when it is
/// unbound, after `'a`.
pub struct DevmOwned<'a, T: Send + 'static> {
    dev: &'a Device<Bound>,
    ptr: NonNull<T>,
}

// SAFETY: The handle only gives `&T`, like `&T`: it may go to another
// thread if `T` is `Sync`. (Where the value is dropped is the device's
// business: `T: Send`.)
unsafe impl<T: Send + Sync + 'static> Send for DevmOwned<'_, T> {}

// SAFETY: As for `Send`.
unsafe impl<T: Send + Sync + 'static> Sync for DevmOwned<'_, T> {}

impl<'a, T: Send + 'static> DevmOwned<'a, T> {
    /// Hands `value` to `dev`, which drops it when it is unbound.
    ///
    /// May sleep: the value and C's bookkeeping are allocated with
    /// `GFP_KERNEL`.
    ///
    /// # Errors
    ///
    /// `EAGAIN` where sleeping is not allowed (under a spinlock, with
    /// interrupts off); `ENOMEM` if an allocation fails. `value` is dropped
    /// then.
    pub fn new(dev: &'a Device<Bound>, value: T) -> Result<Self> {
        crate::gfp::as_gfp::GFP_KERNEL.check()?;
        let ptr = KBox::into_raw(KBox::new(value, GFP_KERNEL)?);
        // SAFETY: `dev` is bound, so it runs the action when it is unbound.
        // The action owns `ptr` (from `KBox::into_raw`); on failure, C runs
        // it at once, which drops the value.
        to_result(unsafe {
            bindings::devm_add_action_or_reset(raw(dev), Some(Self::release_action), ptr.cast())
        })?;
        // INVARIANT: The action with `ptr` is now on `dev`'s list.
        Ok(Self {
            dev,
            // SAFETY: `KBox::into_raw` does not return NULL.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        })
    }

    /// The release action: drops the value.
    ///
    /// # Safety
    ///
    /// `ptr` comes from `KBox::<T>::into_raw`, and this is the only call
    /// with it.
    unsafe extern "C" fn release_action(ptr: *mut c_void) {
        // SAFETY: By the function's safety requirements.
        drop(unsafe { KBox::from_raw(ptr.cast::<T>()) });
    }

    /// The device the value belongs to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Drops the value now (C's `devm_release_action()`): takes its action
    /// off the device's list and runs it. The device does not run it again.
    ///
    /// # Errors
    ///
    /// In a context that cannot sleep, the handle comes back unchanged and
    /// the value stays with the device: dropping it may sleep (an
    /// [`IoMap`](crate::iomem::IoMap) unmaps its registers, for one).
    pub fn release(self) -> Result<(), Self> {
        if !context_may_sleep() {
            return Err(self);
        }
        // SAFETY: By the type invariants, the action with `ptr` is on the
        // list of `dev`, which is still bound; C takes it off the list and
        // runs it, once. `self` is consumed, so the value is not used again.
        unsafe {
            bindings::devm_release_action(
                raw(self.dev),
                Some(Self::release_action),
                self.ptr.as_ptr().cast(),
            )
        };
        Ok(())
    }
}

impl<T: Send + 'static> Deref for DevmOwned<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariants, the value is alive while `self`
        // exists, and only dropped by the action.
        unsafe { self.ptr.as_ref() }
    }
}
