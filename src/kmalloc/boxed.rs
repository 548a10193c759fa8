// SPDX-License-Identifier: GPL-2.0

//! [`KmallocBox`]: one `T` from kmalloc.

use super::{bucket, check_request, data, AllocFn};
use crate::ffi;
use crate::gfp::__GFP_ZERO;
use crate::gfp::{Gfp, Node};
use core::{
    marker::PhantomData,
    mem::{ManuallyDrop, MaybeUninit},
    ops::{Deref, DerefMut},
    ptr::NonNull,
};
use kernel::{bindings, prelude::*, types::ForeignOwnable};
use pin_init::ZeroableOption;

/// A `T` in memory from kmalloc, freed with `kfree()` on drop: the kmalloc
/// counterpart of `Box<T>`.
///
/// # Invariants
///
/// - `ptr` is what `kmalloc()`, `kzalloc()` or `krealloc()` returned for
///   `size_of::<T>()` bytes (`ZERO_SIZE_PTR` for a zero-sized `T`), and
///   `self` owns that allocation.
/// - `data(ptr, size_of::<T>())` is aligned for `T` (see the module
///   documentation) and points to a valid `T`.
#[repr(transparent)]
pub struct KmallocBox<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

impl<T> KmallocBox<T> {
    /// Allocates `size_of::<T>()` bytes with `alloc` (`kmalloc` or `kzalloc`).
    fn alloc(alloc: AllocFn, flags: Gfp) -> Result<NonNull<T>> {
        let size = size_of::<T>();
        let flags = check_request(size, flags)?;
        // SAFETY: `alloc` is `kmalloc` or `kzalloc`, which take any size and
        // flags; `check_request` has refused what would make them warn.
        let ptr = unsafe { alloc(size, flags.as_raw()) };
        NonNull::new(ptr.cast()).ok_or(ENOMEM)
    }

    /// Moves `value` into memory from C's `kmalloc()`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour, `EAGAIN` where they may not
    /// be used (see [`Gfp::check`]), `ENOMEM` if `T` is larger
    /// than [`KMALLOC_MAX_SIZE`](crate::kmalloc::KMALLOC_MAX_SIZE) or the allocation fails.
    #[inline]
    pub fn new(value: T, flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let ptr = Self::alloc(bucket::kmalloc, flags)?;
        // SAFETY: `data()` is valid for writing a `T`: a fresh allocation of
        // `size_of::<T>()` bytes, aligned for `T`, or a dangling aligned
        // pointer for a zero-sized `T`.
        unsafe { data(ptr, size_of::<T>()).write(value) };
        // INVARIANT: `ptr` is from `kmalloc` and now holds a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Allocates room for a `T` with C's `kmalloc()`, not initialised:
    /// [`KmallocBox::write`] or [`KmallocBox::assume_init`] turn it into a
    /// `KmallocBox<T>`.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    #[inline]
    pub fn new_uninit(flags: impl Into<Gfp>) -> Result<KmallocBox<MaybeUninit<T>>> {
        let flags: Gfp = flags.into();
        let ptr = KmallocBox::<MaybeUninit<T>>::alloc(bucket::kmalloc, flags)?;
        // INVARIANT: `ptr` is from `kmalloc` for `size_of::<T>()` bytes,
        // aligned for `T`, and any bytes are a valid `MaybeUninit<T>`.
        Ok(KmallocBox {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Moves `value` into memory from node `node` (C's `kmalloc_node()`).
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    #[inline]
    pub fn new_on(value: T, flags: impl Into<Gfp>, node: Node) -> Result<Self> {
        let flags: Gfp = flags.into();
        let ptr = Self::alloc_on(flags, node)?;
        // SAFETY: As in `new`.
        unsafe { data(ptr, size_of::<T>()).write(value) };
        // INVARIANT: `ptr` is from `kmalloc_node` and now holds a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Allocates a zeroed `T` on node `node` (C's `kzalloc_node()`): all its
    /// bytes are zero, which is a valid `T` since `T: Zeroable`.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    #[inline]
    pub fn new_zeroed_on(flags: impl Into<Gfp>, node: Node) -> Result<Self>
    where
        T: Zeroable,
    {
        let flags: Gfp = flags.into();
        // `__GFP_ZERO` is what `kzalloc_node()` adds.
        let ptr = Self::alloc_on(flags | __GFP_ZERO, node)?;
        // INVARIANT: `kmalloc_node` returned `size_of::<T>()` zeroed bytes,
        // aligned for `T`, and zeroed bytes are a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// Allocates `size_of::<T>()` bytes on `node` with `kmalloc_node()`.
    fn alloc_on(flags: Gfp, node: Node) -> Result<NonNull<T>> {
        let size = size_of::<T>();
        let flags = check_request(size, flags)?;
        // SAFETY: `kmalloc_node()` takes any size and flags, and a node that
        // is `NUMA_NO_NODE` or was online (`Node`'s invariant); the request
        // check refused what would make it warn.
        let ptr = unsafe { ffi::kalloc_kmalloc_node(size, flags.as_raw(), node.id()) };
        NonNull::new(ptr.cast()).ok_or(ENOMEM)
    }

    /// Builds a `T` in place in memory from `kmalloc()` and pins it there:
    /// for values that must not move (locks, list heads, self-references),
    /// as the kernel crate's `KBox::pin_init`. On failure the memory is
    /// freed and nothing is dropped. A `Pin<KmallocBox<T>>`, like a
    /// `KmallocBox<T>`, can be handed to the kernel crate as a
    /// `ForeignOwnable` (an XArray entry, a device's private data).
    ///
    /// # Examples
    ///
    /// ```
    /// use kalloc::gfp::GFP_KERNEL;
    /// use kalloc::kmalloc::KmallocBox;
    /// use kernel::{alloc::flags, new_spinlock, xarray::{AllocKind, XArray}};
    ///
    /// let stats = KmallocBox::pin_init(new_spinlock!(0u64), GFP_KERNEL)?;
    /// *stats.lock() += 1;
    ///
    /// let table = KBox::pin_init(XArray::new(AllocKind::Alloc), flags::GFP_KERNEL)?;
    /// table.lock().store(3, stats, flags::GFP_KERNEL).map_err(|_| ENOMEM)?;
    /// let count = table.lock().get(3).map(|stats| *stats.lock());
    /// assert_eq!(count, Some(1));
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`], or the error of `init`.
    #[inline]
    pub fn pin_init<E>(init: impl PinInit<T, E>, flags: impl Into<Gfp>) -> Result<Pin<Self>>
    where
        Error: From<E>,
    {
        let flags: Gfp = flags.into();
        let slot = Self::new_uninit(flags)?;
        let at = data(slot.ptr, size_of::<T>()).as_ptr().cast::<T>();
        // SAFETY: `at` is valid for writing a `T` and aligned for it. If
        // `init` fails the slot holds no `T` and `slot`'s drop only frees
        // the memory.
        unsafe { init.__init(at)? };
        // SAFETY: `init` succeeded, so the slot holds a valid `T`, which is
        // pinned from now on: `Pin` gives out no `&mut KmallocBox<T>`, and
        // the box frees it in place.
        Ok(unsafe { Pin::new_unchecked(slot.assume_init()) })
    }

    /// Builds a `T` in place in memory from `kmalloc()`, without a copy on
    /// the stack: for large values. On failure the memory is freed.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::pin_init`].
    #[inline]
    pub fn init<E>(init: impl Init<T, E>, flags: impl Into<Gfp>) -> Result<Self>
    where
        Error: From<E>,
    {
        let flags: Gfp = flags.into();
        let pinned = Self::pin_init(init, flags)?;
        // SAFETY: `init` is an `Init`: the value it built need not stay
        // where it is.
        Ok(unsafe { Pin::into_inner_unchecked(pinned) })
    }

    /// Moves the value out and frees the memory with `kfree()`.
    pub fn into_inner(self) -> T {
        let this = ManuallyDrop::new(self);
        // SAFETY: By the type invariants `data()` points to a valid `T`,
        // read once here: `this` is never dropped, so the `T` is not either.
        let value = unsafe { data(this.ptr, size_of::<T>()).read() };
        // SAFETY: `this.ptr` is what kmalloc returned (type invariants), and
        // it is freed only here; the value has moved out.
        unsafe { bindings::kfree(this.ptr.as_ptr().cast()) };
        value
    }

    /// Gives up ownership and returns the pointer kmalloc returned
    /// (`ZERO_SIZE_PTR` for a zero-sized `T`), for C code. The value is not
    /// dropped: C frees the memory with `kfree()`, or gives the pointer back
    /// to [`KmallocBox::from_raw`].
    pub fn into_raw(self) -> *mut T {
        ManuallyDrop::new(self).ptr.as_ptr()
    }

    /// Takes ownership of a `T` in kmalloc memory, such as a pointer C got
    /// from [`KmallocBox::into_raw`].
    ///
    /// # Safety
    ///
    /// - `ptr` is what `kmalloc()`, `kzalloc()` or `krealloc()` returned for
    ///   `size_of::<T>()` bytes (`ZERO_SIZE_PTR` if `T` is zero-sized), for
    ///   example through [`KmallocBox::into_raw`], and it holds a valid `T`.
    /// - Nothing else uses or frees the allocation afterwards: the box owns it.
    pub unsafe fn from_raw(ptr: *mut T) -> Self {
        // SAFETY: kmalloc never returns NULL for a successful allocation, and
        // `ptr` is one by the safety requirements.
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> KmallocBox<MaybeUninit<T>> {
    /// Writes `value` into the box and returns it as a `KmallocBox<T>`.
    pub fn write(mut self, value: T) -> KmallocBox<T> {
        (*self).write(value);
        // SAFETY: The value was just written.
        unsafe { self.assume_init() }
    }

    /// Treats the contents as a `T`.
    ///
    /// # Safety
    ///
    /// The box holds a valid `T`.
    pub unsafe fn assume_init(self) -> KmallocBox<T> {
        let ptr = ManuallyDrop::new(self).ptr.cast::<T>();
        // INVARIANT: The same allocation, of `size_of::<T>()` bytes (the
        // size of `MaybeUninit<T>`), holding a valid `T` by the safety
        // requirements.
        KmallocBox {
            ptr,
            _owns: PhantomData,
        }
    }
}

impl<T: Zeroable> KmallocBox<T> {
    /// Allocates a `T` with C's `kzalloc()`: all its bytes are zero, which is a
    /// valid `T` since `T: Zeroable`. Nothing is built on the stack first, so
    /// this also suits large `T`.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    #[inline]
    pub fn new_zeroed(flags: impl Into<Gfp>) -> Result<Self> {
        let flags: Gfp = flags.into();
        let ptr = Self::alloc(bucket::kzalloc, flags)?;
        // INVARIANT: `kzalloc` returned `size_of::<T>()` zeroed bytes, aligned
        // for `T`, and zeroed bytes are a valid `T`.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }
}

impl<T> Deref for KmallocBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: by the type invariants, `data()` is aligned and points to a
        // valid `T` that `self` owns; `&self` keeps it alive and unchanged.
        unsafe { data(self.ptr, size_of::<T>()).as_ref() }
    }
}

impl<T> DerefMut for KmallocBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { data(self.ptr, size_of::<T>()).as_mut() }
    }
}

impl<T> Drop for KmallocBox<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariants the `T` is valid and owned by `self`;
        // it is not used again.
        unsafe { data(self.ptr, size_of::<T>()).drop_in_place() };
        // SAFETY: `self.ptr` is what kmalloc returned (type invariants) and is
        // freed only here.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

/// A box never moves its value, so it is `Unpin` whatever `T` is (as
/// `Box<T>`): `Pin<KmallocBox<T>>` is what keeps a pinned `T` in place.
impl<T> Unpin for KmallocBox<T> {}

impl<T> From<KmallocBox<T>> for Pin<KmallocBox<T>> {
    /// Pins the value where it is, as `Box::into_pin`.
    fn from(b: KmallocBox<T>) -> Self {
        // SAFETY: The value stays at its address until the box frees it:
        // `Pin` gives out no `&mut KmallocBox<T>` to move it out with.
        unsafe { Pin::new_unchecked(b) }
    }
}

/// The alignment of the pointer [`KmallocBox::into_raw`] returns: kmalloc's
/// own alignment or `T`'s, whichever is larger (see the module
/// documentation), or `ZERO_SIZE_PTR`'s (16) for a zero-sized `T`.
const fn foreign_align<T>() -> usize {
    if size_of::<T>() == 0 {
        16
    } else if align_of::<T>() > super::ARCH_KMALLOC_MINALIGN {
        align_of::<T>()
    } else {
        super::ARCH_KMALLOC_MINALIGN
    }
}

// SAFETY: `into_foreign` returns the pointer kmalloc returned (never NULL;
// `ZERO_SIZE_PTR` for a zero-sized `T`), aligned to `foreign_align::<T>()`
// (see the module documentation); `from_foreign` and the borrows take it
// back as `from_raw` and `deref` do.
unsafe impl<T> ForeignOwnable for KmallocBox<T> {
    const FOREIGN_ALIGN: usize = foreign_align::<T>();
    type Borrowed<'a>
        = &'a T
    where
        Self: 'a;
    type BorrowedMut<'a>
        = &'a mut T
    where
        Self: 'a;

    fn into_foreign(self) -> *mut c_void {
        self.into_raw().cast()
    }

    unsafe fn from_foreign(ptr: *mut c_void) -> Self {
        // SAFETY: `ptr` is from `into_foreign`, that is `into_raw`, and is
        // taken back once (the safety requirements).
        unsafe { Self::from_raw(ptr.cast()) }
    }

    unsafe fn borrow<'a>(ptr: *mut c_void) -> &'a T {
        // SAFETY: `ptr` is from `into_raw`, so `data()` points to a valid,
        // aligned `T`, alive and not changed during `'a` (the safety
        // requirements; `ptr` is not NULL).
        unsafe { data(NonNull::new_unchecked(ptr.cast::<T>()), size_of::<T>()).as_ref() }
    }

    unsafe fn borrow_mut<'a>(ptr: *mut c_void) -> &'a mut T {
        // SAFETY: As in `borrow`, and no other borrow overlaps `'a`.
        unsafe { data(NonNull::new_unchecked(ptr.cast::<T>()), size_of::<T>()).as_mut() }
    }
}

// SAFETY: As for `KmallocBox<T>`; the value is handed out pinned only.
unsafe impl<T> ForeignOwnable for Pin<KmallocBox<T>> {
    const FOREIGN_ALIGN: usize = foreign_align::<T>();
    type Borrowed<'a>
        = Pin<&'a T>
    where
        Self: 'a;
    type BorrowedMut<'a>
        = Pin<&'a mut T>
    where
        Self: 'a;

    fn into_foreign(self) -> *mut c_void {
        // SAFETY: The value stays pinned: only `from_foreign` (pinned
        // again) and the pinned borrows reach it.
        unsafe { Pin::into_inner_unchecked(self) }.into_foreign()
    }

    unsafe fn from_foreign(ptr: *mut c_void) -> Self {
        // SAFETY: `ptr` is from `into_foreign` (safety requirements), and
        // the value was pinned there.
        unsafe { Pin::new_unchecked(KmallocBox::from_foreign(ptr)) }
    }

    unsafe fn borrow<'a>(ptr: *mut c_void) -> Pin<&'a T> {
        // SAFETY: As for `KmallocBox<T>`; the value is pinned.
        unsafe { Pin::new_unchecked(KmallocBox::<T>::borrow(ptr)) }
    }

    unsafe fn borrow_mut<'a>(ptr: *mut c_void) -> Pin<&'a mut T> {
        // SAFETY: As for `KmallocBox<T>`; the value is pinned.
        unsafe { Pin::new_unchecked(KmallocBox::<T>::borrow_mut(ptr)) }
    }
}

/// The same allocation as the kernel crate's `KBox<T>`, without copying:
/// both free with `kfree()`. For the kernel crate's APIs that take a `KBox`
/// (`ForeignOwnable`: XArray entries, private data).
impl<T> From<KmallocBox<T>> for KBox<T> {
    fn from(b: KmallocBox<T>) -> KBox<T> {
        let b = ManuallyDrop::new(b);
        // A zero-sized `T` is at a dangling pointer in both; C's
        // `ZERO_SIZE_PTR` needs no `kfree()`.
        let ptr = data(b.ptr, size_of::<T>());
        // SAFETY: For a sized `T`, `ptr` is a kmalloc allocation of
        // `size_of::<T>()` bytes, aligned for `T`, holding a valid `T`: what
        // `KBox`'s allocator (`krealloc()`/`kfree()`) allocates for a `T`.
        // For a zero-sized `T`, it is dangling and aligned. `b` is never
        // dropped: ownership moves to the `KBox`.
        unsafe { KBox::from_raw(ptr.as_ptr()) }
    }
}

/// The same allocation as a [`KmallocBox`], without copying.
impl<T> From<KBox<T>> for KmallocBox<T> {
    fn from(b: KBox<T>) -> KmallocBox<T> {
        // The value moves to the new box; only a zero-sized one has no
        // memory, where C's `ZERO_SIZE_PTR` (what kmalloc gives for zero
        // bytes) stands for it.
        let raw = KBox::into_raw(b);
        let ptr = if size_of::<T>() == 0 {
            core::ptr::without_provenance_mut(16)
        } else {
            raw
        };
        // SAFETY: For a sized `T`, `ptr` is `KBox`'s allocation: from
        // `krealloc()` for `size_of::<T>()` bytes (padded to its alignment,
        // which it is already), holding a valid `T`, now owned by the
        // `KmallocBox`. For a zero-sized `T`, `ZERO_SIZE_PTR` (the `KBox`
        // owned no memory).
        unsafe { KmallocBox::from_raw(ptr) }
    }
}

// SAFETY: a `KmallocBox<T>` owns its `T` like a `Box<T>`, and `kfree()` may be
// called from any thread.
unsafe impl<T: Send> Send for KmallocBox<T> {}

// SAFETY: a shared `KmallocBox<T>` only gives out `&T`.
unsafe impl<T: Sync> Sync for KmallocBox<T> {}

// SAFETY: `KmallocBox` is a transparent `NonNull`, so `None` is all zeroes.
unsafe impl<T> ZeroableOption for KmallocBox<T> {}
