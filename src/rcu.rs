// SPDX-License-Identifier: GPL-2.0

//! Frees after an RCU grace period (C's `kvfree_rcu()` and
//! `kvfree_rcu_mightsleep()`), for the memory of kalloc's kmalloc,
//! kvmalloc and vmalloc allocators, and a pointer that readers follow under
//! `rcu_read_lock()` while writers replace what it points to.
//!
//! A reader's reference lives as long as its [`Guard`]; a writer's
//! [`RcuCell::replace`] publishes the new value at once and frees the old
//! one only after every reader that could see it has left. The memory is
//! freed by the kernel's own code (`kvfree_rcu_cb()`, or the batched
//! kvfree), so nothing runs in the module that freed it once the grace
//! period ends, and no `rcu_barrier()` is needed at unload.
//!
//! # Examples
//!
//! ```
//! use kalloc::rcu::{Rcu, RcuCell};
//! use kalloc::KBox;
//! use kernel::sync::rcu;
//!
//! struct Config {
//!     mtu: u32,
//! }
//!
//! let config = RcuCell::new(KBox::new(Rcu::new(Config { mtu: 1500 }), GFP_KERNEL)?);
//! let jumbo = KBox::new(Rcu::new(Config { mtu: 9000 }), GFP_KERNEL)?;
//! let guard = rcu::read_lock(); // no sleeping allocation from here on
//! let seen = config.read(&guard);
//! config.replace(jumbo); // any context
//! assert_eq!(seen.mtu, 1500); // still valid: freed after the grace period
//! assert_eq!(config.read(&guard).mtu, 9000);
//! ```
//!
//! [`Guard`]: kernel::sync::rcu::Guard

use crate::kmalloc::Kmalloc;
use crate::kvmalloc::KVmalloc;
use crate::vmalloc::Vmalloc;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::{Allocator, Box};
use kernel::bindings;
use kernel::sync::rcu::Guard;

/// The allocators whose memory C's `kvfree()` frees, and so
/// `kvfree_rcu()`: kalloc's [`Kmalloc`], [`KVmalloc`] and [`Vmalloc`].
/// Sealed.
pub trait Kvfree: Allocator + private::Sealed {}

mod private {
    pub trait Sealed {}
}

impl private::Sealed for Kmalloc {}
impl private::Sealed for KVmalloc {}
impl private::Sealed for Vmalloc {}
impl Kvfree for Kmalloc {}
impl Kvfree for KVmalloc {}
impl Kvfree for Vmalloc {}

/// A `T` with the `rcu_head` that [`kvfree_rcu`] needs, at the start of the
/// allocation (C embeds a `struct rcu_head` in the structure it frees).
///
/// `T` has no drop glue (checked at compile time): C frees the memory after
/// the grace period without running a destructor.
#[repr(C)]
pub struct Rcu<T> {
    /// Written by C once the value is handed to `kvfree_call_rcu()`, while
    /// readers may still read `value`. As large as C's `rcu_head`, which is
    /// at least its `kvfree_rcu_head`.
    head: UnsafeCell<MaybeUninit<bindings::callback_head>>,
    value: T,
}

// SAFETY: `head` holds nothing of the value's owner (C writes it only after
// the value was given up): `Rcu<T>` is sent as its `T` is.
unsafe impl<T: Send> Send for Rcu<T> {}

// SAFETY: Shared references read `value` only; `head` is written by C only
// after its owner gave the value up.
unsafe impl<T: Sync> Sync for Rcu<T> {}

impl<T> Rcu<T> {
    /// `value`, with room for the `rcu_head`.
    pub const fn new(value: T) -> Self {
        const {
            assert!(
                !core::mem::needs_drop::<T>(),
                "kvfree_rcu() frees without dropping: Rcu<T> needs a T without drop glue"
            )
        };
        Self {
            head: UnsafeCell::new(MaybeUninit::uninit()),
            value,
        }
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Rcu<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Rcu<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// Frees `value` after a grace period (C's `kvfree_rcu()`): readers inside
/// `rcu_read_lock()` may go on reading it until they leave. Any context; in
/// NMI context through C's `kfree_rcu_nolock()` (Linux 7.3; on 7.2, whose
/// kvfree_rcu takes a lock, not in NMI context).
pub fn kvfree_rcu<T, A: Kvfree>(value: Box<Rcu<T>, A>) {
    let ptr = Box::into_raw(value);
    // SAFETY: `ptr` starts a live `Kvfree` allocation, handed over, with its
    // `rcu_head` at offset 0 (`repr(C)`, below C's 4096-byte limit) that C
    // may write (`UnsafeCell`); `T` has no drop glue (`Rcu::new`). Both
    // functions take such objects, the nolock one in any context.
    unsafe {
        let head = (*ptr).head.get().cast();
        #[cfg(not(kalloc_linux_7_2))]
        if crate::context::in_nmi() {
            bindings::kfree_call_rcu_nolock(head, ptr.cast());
            return;
        }
        bindings::kvfree_call_rcu(head, ptr.cast());
    }
}

/// Frees `value` after a grace period without an `rcu_head` (C's
/// `kvfree_rcu_mightsleep()`), dropping it first if it has drop glue (after
/// `synchronize_rcu()`, then). May sleep. Not inside the caller's own
/// read-side section: on a kernel without `CONFIG_PREEMPT_COUNT` or
/// preemptible RCU, kalloc cannot see the section, and the grace period
/// would end while the caller still reads (as for every context check of
/// kalloc, see [`context_may_sleep`](crate::gfp::context_may_sleep)).
///
/// # Errors
///
/// Gives `value` back where the current context may not sleep.
pub fn kvfree_rcu_mightsleep<T, A: Kvfree>(value: Box<T, A>) -> Result<(), Box<T, A>> {
    if !crate::gfp::context_may_sleep() {
        return Err(value);
    }
    if core::mem::needs_drop::<T>() || size_of::<T>() == 0 {
        // SAFETY: The context may sleep (checked).
        unsafe { bindings::synchronize_rcu() };
        drop(value);
    } else {
        let ptr = Box::into_raw(value);
        // SAFETY: `ptr` is the start of a live allocation of a `Kvfree`
        // allocator (not zero-sized: that would be no allocation), handed
        // over here; `T` has no drop glue; the context may sleep.
        unsafe { bindings::kvfree_call_rcu(core::ptr::null_mut(), ptr.cast()) };
    }
    Ok(())
}

/// A pointer to a `T` in memory of `A` that readers follow under
/// `rcu_read_lock()` (C's `rcu_dereference()`) while writers replace it
/// (`rcu_replace_pointer()`), freeing the old value after a grace period.
///
/// # Invariants
///
/// `ptr` is the start of a live `Box<T, A>` allocation that this value
/// owns; one that was replaced stays valid until the readers that could
/// see it have left their read-side sections.
pub struct RcuCell<T, A: Kvfree = Kmalloc> {
    ptr: AtomicPtr<T>,
    _owns: PhantomData<Box<T, A>>,
}

// SAFETY: `RcuCell` owns its `T`: sending it sends the `T`.
unsafe impl<T: Send, A: Kvfree> Send for RcuCell<T, A> {}

// SAFETY: A shared `RcuCell` gives `&T` to any thread (`T: Sync`), and
// replaced values are freed or dropped on another thread (`T: Send`).
unsafe impl<T: Send + Sync, A: Kvfree> Sync for RcuCell<T, A> {}

impl<T, A: Kvfree> RcuCell<T, A> {
    /// A cell that points to `value`.
    pub fn new(value: Box<T, A>) -> Self {
        // INVARIANT: The box is handed over.
        Self {
            ptr: AtomicPtr::new(Box::into_raw(value)),
            _owns: PhantomData,
        }
    }

    /// The current value (C's `rcu_dereference()`), valid while `guard`,
    /// the caller's read-side section, lasts.
    #[inline]
    pub fn read<'a>(&'a self, _guard: &'a Guard) -> &'a T {
        // SAFETY: The value is live (the type invariants) and stays so
        // until the guard's read-side section ends, even if replaced
        // meanwhile; writers never change a published value.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }

    /// The current value, to change: `&mut self` is the only access, no
    /// reader can be inside.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: The value is live and owned (the type invariants), and no
        // reader holds it: readers borrow `self`.
        unsafe { &mut **self.ptr.get_mut() }
    }

    /// Publishes `new` and gives the old value back, once no reader can see
    /// it (C's `rcu_replace_pointer()`).
    fn swap(&self, new: Box<T, A>) -> *mut T {
        // Release: readers that see `new` see it initialised; Acquire: the
        // old value is ours, as its writer left it.
        self.ptr.swap(Box::into_raw(new), Ordering::AcqRel)
    }

    /// Publishes `new`; the old value is freed after a grace period without
    /// an `rcu_head` (C's `kvfree_rcu_mightsleep()`), dropped first if it
    /// has drop glue. May sleep.
    ///
    /// # Errors
    ///
    /// Gives `new` back, with nothing changed, where the current context
    /// may not sleep.
    pub fn replace_mightsleep(&self, new: Box<T, A>) -> Result<(), Box<T, A>> {
        if !crate::gfp::context_may_sleep() {
            return Err(new);
        }
        let old = self.swap(new);
        // SAFETY: `old` was the cell's, an allocation of `A` (the type
        // invariants), now unpublished: only readers of the current grace
        // period hold it, which `kvfree_rcu_mightsleep` waits for.
        let old = unsafe { Box::<T, A>::from_raw(old) };
        // The context may sleep (checked above): the free takes it.
        let _ = kvfree_rcu_mightsleep(old);
        Ok(())
    }
}

impl<T, A: Kvfree> RcuCell<Rcu<T>, A> {
    /// Publishes `new`; the old value is freed after a grace period through
    /// its `rcu_head` (C's `kvfree_rcu()`), in any context, as
    /// [`kvfree_rcu`] frees.
    pub fn replace(&self, new: Box<Rcu<T>, A>) {
        let old = self.swap(new);
        // SAFETY: As in `replace_mightsleep`; `kvfree_rcu` frees after the
        // grace period.
        kvfree_rcu(unsafe { Box::<Rcu<T>, A>::from_raw(old) });
    }
}

impl<T, A: Kvfree> Drop for RcuCell<T, A> {
    fn drop(&mut self) {
        // SAFETY: The value is owned (the type invariants) and no reader
        // holds it: readers borrow `self`.
        drop(unsafe { Box::<T, A>::from_raw(*self.ptr.get_mut()) });
    }
}

#[cfg(kalloc_selftest)]
mod tests;
