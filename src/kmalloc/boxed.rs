// SPDX-License-Identifier: GPL-2.0

//! [`KmallocBox`]: one `T` from kmalloc, with kalloc's flags and errors.

use super::{bucket, check_request, AllocFn, KBox, ARCH_KMALLOC_MINALIGN};
use crate::ffi;
use crate::gfp::__GFP_ZERO;
use crate::gfp::{Gfp, Node};
use core::{
    mem::MaybeUninit,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{prelude::*, types::ForeignOwnable};
use pin_init::ZeroableOption;

/// A `T` in memory from kmalloc, freed with `kfree()` on drop: kalloc's
/// [`KBox<T>`](crate::KBox) (the kernel crate's `Box` on kalloc's
/// [`Kmalloc`](super::Kmalloc)), with the constructors that box cannot
/// have. `Box::new` takes the kernel crate's `Flags` and fails with
/// `AllocError`; these take every flag kmalloc honours (`GFP_DMA`,
/// `__GFP_RETRY_MAYFAIL`, ...) and say why a request was refused
/// (`EINVAL`, `EAGAIN`, `ENOMEM`). Into a `KBox` and back is free.
///
/// # Invariants
///
/// The box holds a valid `T` in an allocation of C's `kmalloc()`,
/// `kzalloc()` or `krealloc()` of `size_of::<T>()` bytes (none for a
/// zero-sized `T`).
#[repr(transparent)]
pub struct KmallocBox<T>(KBox<T>);

impl<T> KmallocBox<T> {
    /// Allocates `size_of::<T>()` bytes with `alloc` (`kmalloc` or `kzalloc`),
    /// or none for a zero-sized `T`: a pointer [`KBox::from_raw`] takes for a
    /// `T` once it holds one.
    #[inline(always)]
    fn alloc(alloc: AllocFn, flags: Gfp) -> Result<NonNull<T>> {
        let size = size_of::<T>();
        let flags = check_request(size, flags)?;
        if size == 0 {
            return Ok(dangling());
        }
        // SAFETY: `alloc` is `kmalloc` or `kzalloc`, which take any size and
        // flags; `check_request` has refused what would make them warn.
        let ptr = unsafe { alloc(size, flags.as_raw()) };
        NonNull::new(ptr.cast()).ok_or(ENOMEM)
    }

    /// Allocates `size_of::<T>()` bytes on `node` with `kmalloc_node()`, as
    /// [`KmallocBox::alloc`].
    #[inline(always)]
    fn alloc_on(flags: Gfp, node: Node) -> Result<NonNull<T>> {
        let size = size_of::<T>();
        let flags = check_request(size, flags)?;
        if size == 0 {
            return Ok(dangling());
        }
        // SAFETY: `kmalloc_node()` takes any size and flags, and a node that
        // is `NUMA_NO_NODE` or was online (`Node`'s invariant); the request
        // check refused what would make it warn.
        let ptr = unsafe { ffi::kalloc_kmalloc_node(size, flags.as_raw(), node.id()) };
        NonNull::new(ptr.cast()).ok_or(ENOMEM)
    }

    /// Moves `value` to `ptr`, from [`KmallocBox::alloc`], and owns it.
    #[inline(always)]
    fn own(ptr: NonNull<T>, value: T) -> Self {
        // SAFETY: `ptr` is valid for writing a `T`: a fresh allocation of
        // `size_of::<T>()` bytes, aligned for `T` (see the module
        // documentation), or a dangling aligned pointer for a zero-sized `T`.
        unsafe { ptr.write(value) };
        // SAFETY: `ptr` now holds a valid `T` in memory of kmalloc, which
        // `Kmalloc` frees with `kfree()`.
        unsafe { Self::from_box_raw(ptr.as_ptr()) }
    }

    /// Owns the `T` at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` holds a valid `T`, in memory from `kmalloc()`, `kzalloc()` or
    /// `krealloc()` of `size_of::<T>()` bytes, or dangling and aligned for a
    /// zero-sized `T`; nothing else owns it.
    #[inline(always)]
    unsafe fn from_box_raw(ptr: *mut T) -> Self {
        // INVARIANT: By the safety requirements.
        // SAFETY: Such memory is what `Kmalloc` allocates for a `T` and frees
        // with `kfree()`.
        Self(unsafe { KBox::from_raw(ptr) })
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
        Ok(Self::own(
            Self::alloc(bucket::kmalloc, flags.into())?,
            value,
        ))
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
        let ptr = KmallocBox::<MaybeUninit<T>>::alloc(bucket::kmalloc, flags.into())?;
        // SAFETY: Any bytes are a valid `MaybeUninit<T>`, of `T`'s size.
        Ok(unsafe { KmallocBox::from_box_raw(ptr.as_ptr()) })
    }

    /// Moves `value` into memory from node `node` (C's `kmalloc_node()`).
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    #[inline]
    pub fn new_on(value: T, flags: impl Into<Gfp>, node: Node) -> Result<Self> {
        Ok(Self::own(Self::alloc_on(flags.into(), node)?, value))
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
        // `__GFP_ZERO` is what `kzalloc_node()` adds.
        let ptr = Self::alloc_on(flags.into() | __GFP_ZERO, node)?;
        // SAFETY: `kmalloc_node` returned `size_of::<T>()` zeroed bytes,
        // aligned for `T`, and zeroed bytes are a valid `T`.
        Ok(unsafe { Self::from_box_raw(ptr.as_ptr()) })
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
        let slot = Self::new_uninit(flags)?;
        let at = KBox::into_raw(slot.0).cast::<T>();
        // SAFETY: `at` is valid for writing a `T` and aligned for it.
        if let Err(e) = unsafe { crate::compat::raw_try_init(at, init) } {
            // SAFETY: `at` is the slot's, given up above; it holds no `T`.
            drop(unsafe { KmallocBox::<MaybeUninit<T>>::from_box_raw(at.cast()) });
            return Err(e.into());
        }
        // SAFETY: `init` succeeded, so the slot holds a valid `T`; it stays
        // where it is, pinned, until the box frees it in place.
        Ok(unsafe { Pin::new_unchecked(Self::from_box_raw(at)) })
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
        let pinned = Self::pin_init(init, flags)?;
        // SAFETY: `init` is an `Init`: the value it built need not stay
        // where it is.
        Ok(unsafe { Pin::into_inner_unchecked(pinned) })
    }

    /// Moves the value out and frees the memory with `kfree()`.
    pub fn into_inner(self) -> T {
        KBox::into_inner(self.0)
    }

    /// Gives up ownership and returns the pointer kmalloc returned
    /// (`ZERO_SIZE_PTR` for a zero-sized `T`, as C's `kmalloc(0)`), for C
    /// code. The value is not dropped: C frees the memory with `kfree()`,
    /// or gives the pointer back to [`KmallocBox::from_raw`].
    pub fn into_raw(self) -> *mut T {
        let ptr = KBox::into_raw(self.0);
        if size_of::<T>() == 0 {
            ptr::without_provenance_mut(ZERO_SIZE_PTR)
        } else {
            ptr
        }
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
        // C's `ZERO_SIZE_PTR` is no allocation; a zero-sized `T` is at a
        // dangling, aligned pointer in a `KBox`.
        let ptr = if size_of::<T>() == 0 {
            dangling().as_ptr()
        } else {
            ptr
        };
        // SAFETY: By the safety requirements.
        unsafe { Self::from_box_raw(ptr) }
    }
}

/// The value of C's `ZERO_SIZE_PTR`, what kmalloc returns for zero bytes.
const ZERO_SIZE_PTR: usize = 16;

/// Where a zero-sized `T` is: a dangling pointer aligned for `T` and to
/// `ARCH_KMALLOC_MINALIGN`, as `Kmalloc` gives for zero bytes, which is the
/// alignment `ForeignOwnable` promises.
fn dangling<T>() -> NonNull<T> {
    let align = align_of::<T>().max(ARCH_KMALLOC_MINALIGN);
    // SAFETY: An alignment is never zero.
    unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(align)) }
}

impl<T> KmallocBox<MaybeUninit<T>> {
    /// Writes `value` into the box and returns it as a `KmallocBox<T>`.
    pub fn write(self, value: T) -> KmallocBox<T> {
        KmallocBox(KBox::write(self.0, value))
    }

    /// Treats the contents as a `T`.
    ///
    /// # Safety
    ///
    /// The box holds a valid `T`.
    pub unsafe fn assume_init(self) -> KmallocBox<T> {
        // INVARIANT: The same allocation, holding a valid `T` by the safety
        // requirements.
        // SAFETY: As above.
        KmallocBox(unsafe { KBox::assume_init(self.0) })
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
        let ptr = Self::alloc(bucket::kzalloc, flags.into())?;
        // SAFETY: `kzalloc` returned `size_of::<T>()` zeroed bytes, aligned
        // for `T`, and zeroed bytes are a valid `T`.
        Ok(unsafe { Self::from_box_raw(ptr.as_ptr()) })
    }
}

impl<T> Deref for KmallocBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for KmallocBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<KmallocBox<T>> for Pin<KmallocBox<T>> {
    /// Pins the value where it is, as `Box::into_pin`.
    fn from(b: KmallocBox<T>) -> Self {
        // SAFETY: The value stays at its address until the box frees it:
        // `Pin` gives out no `&mut KmallocBox<T>` to move it out with.
        unsafe { Pin::new_unchecked(b) }
    }
}

// SAFETY: The box's `KBox` is the foreign pointer: `into_foreign` and
// `from_foreign` pass it on, the borrows are the `KBox`'s.
unsafe impl<T> ForeignOwnable for KmallocBox<T> {
    const FOREIGN_ALIGN: usize = <KBox<T> as ForeignOwnable>::FOREIGN_ALIGN;
    type Borrowed<'a>
        = &'a T
    where
        Self: 'a;
    type BorrowedMut<'a>
        = &'a mut T
    where
        Self: 'a;

    fn into_foreign(self) -> *mut c_void {
        self.0.into_foreign()
    }

    unsafe fn from_foreign(ptr: *mut c_void) -> Self {
        // SAFETY: The caller's guarantees, passed on.
        Self(unsafe { KBox::from_foreign(ptr) })
    }

    unsafe fn borrow<'a>(ptr: *mut c_void) -> &'a T {
        // SAFETY: The caller's guarantees, passed on.
        unsafe { KBox::<T>::borrow(ptr) }
    }

    unsafe fn borrow_mut<'a>(ptr: *mut c_void) -> &'a mut T {
        // SAFETY: The caller's guarantees, passed on.
        unsafe { KBox::<T>::borrow_mut(ptr) }
    }
}

// SAFETY: As for `KmallocBox<T>`, through `Pin<KBox<T>>`.
unsafe impl<T> ForeignOwnable for Pin<KmallocBox<T>> {
    const FOREIGN_ALIGN: usize = <Pin<KBox<T>> as ForeignOwnable>::FOREIGN_ALIGN;
    type Borrowed<'a>
        = Pin<&'a T>
    where
        Self: 'a;
    type BorrowedMut<'a>
        = Pin<&'a mut T>
    where
        Self: 'a;

    fn into_foreign(self) -> *mut c_void {
        // SAFETY: The value stays pinned: `Pin<KBox<T>>` keeps it so.
        let b = unsafe { Pin::into_inner_unchecked(self) };
        // SAFETY: As above.
        unsafe { Pin::new_unchecked(b.0) }.into_foreign()
    }

    unsafe fn from_foreign(ptr: *mut c_void) -> Self {
        // SAFETY: The caller's guarantees, passed on.
        let b = unsafe { Pin::<KBox<T>>::from_foreign(ptr) };
        // SAFETY: The value was pinned in the `KBox` and stays where it is.
        unsafe { Pin::new_unchecked(KmallocBox(Pin::into_inner_unchecked(b))) }
    }

    unsafe fn borrow<'a>(ptr: *mut c_void) -> Pin<&'a T> {
        // SAFETY: The caller's guarantees, passed on.
        unsafe { Pin::<KBox<T>>::borrow(ptr) }
    }

    unsafe fn borrow_mut<'a>(ptr: *mut c_void) -> Pin<&'a mut T> {
        // SAFETY: The caller's guarantees, passed on.
        unsafe { Pin::<KBox<T>>::borrow_mut(ptr) }
    }
}

/// The box itself: kalloc's [`KBox`](crate::KBox), for everything the
/// kernel crate's `Box` does (`pin_init`, `ForeignOwnable`, ...).
impl<T> From<KmallocBox<T>> for KBox<T> {
    fn from(b: KmallocBox<T>) -> KBox<T> {
        b.0
    }
}

/// A kalloc `KBox` as a `KmallocBox`: the same box.
impl<T> From<KBox<T>> for KmallocBox<T> {
    fn from(b: KBox<T>) -> KmallocBox<T> {
        // INVARIANT: `Kmalloc` allocates with `kmalloc()` or `krealloc()`.
        KmallocBox(b)
    }
}

/// The same allocation as the kernel crate's own `KBox<T>`, without
/// copying: both free with `kfree()`. For the kernel crate's APIs that name
/// its `KBox`.
impl<T> From<KmallocBox<T>> for kernel::alloc::KBox<T> {
    fn from(b: KmallocBox<T>) -> kernel::alloc::KBox<T> {
        // SAFETY: A `T` in kmalloc memory of `size_of::<T>()` bytes, or at a
        // dangling aligned pointer for a zero-sized `T`: what the kernel
        // crate's `Kmalloc` (`krealloc()`/`kfree()`) allocates for a `T`.
        unsafe { kernel::alloc::KBox::from_raw(KBox::into_raw(b.0)) }
    }
}

/// The same allocation as a [`KmallocBox`], without copying.
impl<T> From<kernel::alloc::KBox<T>> for KmallocBox<T> {
    fn from(b: kernel::alloc::KBox<T>) -> KmallocBox<T> {
        let ptr = kernel::alloc::KBox::into_raw(b);
        // A zero-sized `T` owns no memory: `ptr` is only aligned for `T`.
        let ptr = if size_of::<T>() == 0 {
            dangling().as_ptr()
        } else {
            ptr
        };
        // SAFETY: The kernel crate's `KBox` allocation, from `krealloc()` for
        // `size_of::<T>()` bytes (padded to its alignment, which it is
        // already), holding a valid `T`, or dangling for a zero-sized `T`.
        unsafe { Self::from_box_raw(ptr) }
    }
}

// SAFETY: `KmallocBox` is a transparent `KBox`, whose `None` is all zeroes.
unsafe impl<T> ZeroableOption for KmallocBox<T> {}
