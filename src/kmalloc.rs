// SPDX-License-Identifier: GPL-2.0

//! The kmalloc family as owning Rust types.
//!
//! `kmalloc()` is the kernel's general-purpose allocator for physically
//! contiguous memory, from a few bytes up to [`KMALLOC_MAX_SIZE`]. Each type
//! here owns one kmalloc allocation and frees it exactly once, with the C
//! function that matches how it was made, when it is dropped:
//!
//! | Type                                | Allocated by C's                    | Freed by C's      |
//! |-------------------------------------|-------------------------------------|-------------------|
//! | [`KmallocBox<T>`]                   | `kmalloc`, `kzalloc`                | `kfree`           |
//! | [`KmallocArray<T>`], [`KmallocBuf`] | `kmalloc`, `kcalloc`, `krealloc`    | `kfree`           |
//! | [`SensitiveBuf`]                    | `kmalloc`, `kcalloc`                | `kfree_sensitive` |
//! | [`KString`]                         | `kasprintf`                         | `kfree`           |
//!
//! Allocation goes through C's `kmalloc()` path itself (the `kmalloc`,
//! `kzalloc` and `kcalloc` inline functions, through shims), not through
//! `krealloc(NULL, ...)`.
//!
//! # Bad requests
//!
//! Every constructor checks its request before C sees it, so that a bad one
//! is an error and never a warning splat:
//! - flags kmalloc cannot honour (highmem, DMA32, movable, or an invalid
//!   combination; see [`Gfp::check_slab`]): `EINVAL`;
//! - `__GFP_NOFAIL` for more than [`NOFAIL_MAX_SIZE`] bytes (the page
//!   allocator does not support it above order 1): `EINVAL`;
//! - more than [`KMALLOC_MAX_SIZE`] bytes: `ENOMEM`, without the warning C
//!   would print;
//! - an element count whose size in bytes overflows `usize`: `EOVERFLOW`,
//!   never a wrapped size.
//!
//! # Zero-size requests
//!
//! For zero bytes kmalloc returns `ZERO_SIZE_PTR`, a non-NULL pointer that
//! faults when dereferenced. The types keep it (it is what
//! [`KmallocArray::into_raw`] hands to C, and `kfree()` accepts it) but never
//! dereference it: empty slices and zero-sized values are built from a
//! dangling, well-aligned pointer instead.
//!
//! # Alignment
//!
//! kmalloc aligns every object to `ARCH_KMALLOC_MINALIGN`, and an object of
//! `size` bytes to at least the largest power of two that divides `size`
//! (see `kmalloc()` in `include/linux/slab.h`). A Rust type's size is a
//! multiple of its alignment, so `n * size_of::<T>()` bytes from kmalloc are
//! always aligned for `T`, whatever `align_of::<T>()` is. kalloc relies on
//! that guarantee and passes `align_of::<T>()` to `krealloc()` as well.
//!
//! # Examples
//!
//! ```ignore
//! use kalloc::gfp::{GFP_KERNEL, GFP_ATOMIC};
//! use kalloc::kmalloc::{KmallocBox, KmallocBuf, SensitiveBuf};
//!
//! let mut counter = KmallocBox::new(0u64, GFP_KERNEL)?;
//! *counter += 1;
//!
//! let mut buf = KmallocBuf::from_slice(b"header", GFP_KERNEL)?;
//! buf.resize(64, 0, GFP_KERNEL)?; // krealloc: "header" then 58 zeros
//!
//! let key = SensitiveBuf::from_slice(&[0x5a; 32], GFP_KERNEL)?; // zeroed on drop
//! let name = kalloc::kasprintf!(GFP_ATOMIC, "kalloc-{}", 3)?;
//! assert_eq!(name.to_bytes(), b"kalloc-3");
//! ```

use crate::gfp::{Gfp, __GFP_NOFAIL};
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{bindings, fmt, prelude::*, str::CStrExt};
use pin_init::ZeroableOption;

/// The largest request kmalloc serves (`KMALLOC_MAX_SIZE`). Larger requests
/// give `ENOMEM`.
pub const KMALLOC_MAX_SIZE: usize = bindings::KMALLOC_MAX_SIZE as usize;

/// The largest request kmalloc serves from its slab caches
/// (`KMALLOC_MAX_CACHE_SIZE`); larger ones come from the page allocator.
pub const KMALLOC_MAX_CACHE_SIZE: usize = bindings::KMALLOC_MAX_CACHE_SIZE as usize;

/// The alignment of every kmalloc object (`ARCH_KMALLOC_MINALIGN`).
pub const ARCH_KMALLOC_MINALIGN: usize = bindings::ARCH_KMALLOC_MINALIGN;

// The shims in `shims.c` for C's inline `kmalloc`, `kzalloc` and `kcalloc`.
extern "C" {
    fn kalloc_kmalloc(size: usize, flags: bindings::gfp_t) -> *mut c_void;
    fn kalloc_kzalloc(size: usize, flags: bindings::gfp_t) -> *mut c_void;
    fn kalloc_kcalloc(n: usize, size: usize, flags: bindings::gfp_t) -> *mut c_void;
}

/// The signature of `kalloc_kmalloc` and `kalloc_kzalloc`.
type AllocFn = unsafe extern "C" fn(usize, bindings::gfp_t) -> *mut c_void;

/// The largest request kmalloc serves with `__GFP_NOFAIL`: one page.
///
/// The page allocator does not support `__GFP_NOFAIL` above order 1
/// (`include/linux/gfp_types.h`). A slab that cannot get its preferred order
/// falls back to the smallest order that holds one object, with the caller's
/// flags: up to one page, that is order 1 at most, even with KASAN's redzone;
/// the `kmalloc-8k` cache's smallest slab is order 2 under KASAN, and larger
/// requests go to the page allocator directly at order 2 or more.
pub const NOFAIL_MAX_SIZE: usize = kernel::page::PAGE_SIZE;

/// Returns `flags` if kmalloc can serve `size` bytes with them (see the
/// module documentation).
fn check_request(size: usize, flags: Gfp) -> Result<Gfp> {
    let flags = flags.check_slab()?;
    if size > KMALLOC_MAX_SIZE {
        return Err(ENOMEM);
    }
    if flags.contains(__GFP_NOFAIL) && size > NOFAIL_MAX_SIZE {
        return Err(EINVAL);
    }
    Ok(flags)
}

/// The size in bytes of `n` values of `T`, or `EOVERFLOW`.
fn array_size<T>(n: usize) -> Result<usize> {
    n.checked_mul(size_of::<T>()).ok_or(EOVERFLOW)
}

/// The pointer Rust may use for `size` bytes that kmalloc returned at `c_ptr`:
/// `c_ptr` itself, or, for zero bytes (where C gave `ZERO_SIZE_PTR`), a
/// dangling pointer aligned for `T`.
fn data<T>(c_ptr: NonNull<T>, size: usize) -> NonNull<T> {
    if size == 0 {
        NonNull::dangling()
    } else {
        c_ptr
    }
}

/// C's `kmalloc_size_roundup()`: the size kmalloc really allocates for a
/// request of `size` bytes (the size of its bucket). `0` for `0`, and
/// `size` itself above [`KMALLOC_MAX_SIZE`].
///
/// Asking for the rounded-up size in the first place is how a caller uses
/// all of a bucket: reading or writing beyond the requested size is a bug
/// that KASAN reports.
pub fn kmalloc_size_roundup(size: usize) -> usize {
    // SAFETY: `kmalloc_size_roundup` is a pure function of its argument.
    unsafe { bindings::kmalloc_size_roundup(size) }
}

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
    /// `EINVAL` for flags kmalloc cannot honour, `ENOMEM` if `T` is larger
    /// than [`KMALLOC_MAX_SIZE`] or the allocation fails.
    pub fn new(value: T, flags: Gfp) -> Result<Self> {
        let ptr = Self::alloc(kalloc_kmalloc, flags)?;
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

impl<T: Zeroable> KmallocBox<T> {
    /// Allocates a `T` with C's `kzalloc()`: all its bytes are zero, which is a
    /// valid `T` since `T: Zeroable`. Nothing is built on the stack first, so
    /// this also suits large `T`.
    ///
    /// # Errors
    ///
    /// As for [`KmallocBox::new`].
    pub fn new_zeroed(flags: Gfp) -> Result<Self> {
        let ptr = Self::alloc(kalloc_kzalloc, flags)?;
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

// SAFETY: a `KmallocBox<T>` owns its `T` like a `Box<T>`, and `kfree()` may be
// called from any thread.
unsafe impl<T: Send> Send for KmallocBox<T> {}

// SAFETY: a shared `KmallocBox<T>` only gives out `&T`.
unsafe impl<T: Sync> Sync for KmallocBox<T> {}

// SAFETY: `KmallocBox` is a transparent `NonNull`, so `None` is all zeroes.
unsafe impl<T> ZeroableOption for KmallocBox<T> {}

/// `len` values of `T` in one kmalloc allocation, freed with `kfree()` on
/// drop: the kmalloc counterpart of `Box<[T]>`, with C's `kcalloc()` and
/// `krealloc()`.
///
/// # Invariants
///
/// - `ptr` is what `kmalloc()`, `kzalloc()`, `kcalloc()` or `krealloc()`
///   returned for `len * size_of::<T>()` bytes (`ZERO_SIZE_PTR` when that
///   is 0), and `self` owns that allocation.
/// - `data(ptr, len * size_of::<T>())` is aligned for `T` (see the module
///   documentation) and points to `len` valid values of `T`.
pub struct KmallocArray<T> {
    ptr: NonNull<T>,
    len: usize,
    _owns: PhantomData<T>,
}

/// A buffer of bytes from kmalloc: the C `void *buf` and its `size_t len`.
pub type KmallocBuf = KmallocArray<u8>;

impl<T> KmallocArray<T> {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// C's `ksize()`: the size in bytes kmalloc really allocated, at least
    /// `len() * size_of::<T>()`, or 0 for a zero-size allocation.
    ///
    /// Only the first `len()` values may be used: to use the rest of the
    /// bucket, grow into it with [`KmallocArray::resize`], which `krealloc()`
    /// does in place.
    pub fn ksize(&self) -> usize {
        // SAFETY: `self.ptr` is a live kmalloc allocation or `ZERO_SIZE_PTR`
        // (type invariants); `ksize()` takes both.
        unsafe { bindings::ksize(self.ptr.as_ptr().cast()) }
    }

    /// Gives up ownership and returns the pointer kmalloc returned
    /// (`ZERO_SIZE_PTR` if there are no bytes) and the number of values, for
    /// C code. The values are not dropped: C frees the memory with `kfree()`,
    /// or gives it back to [`KmallocArray::from_raw`].
    pub fn into_raw(self) -> (*mut T, usize) {
        let this = ManuallyDrop::new(self);
        (this.ptr.as_ptr(), this.len)
    }

    /// Takes ownership of `len` values of `T` in kmalloc memory, such as a
    /// buffer C got from [`KmallocArray::into_raw`].
    ///
    /// # Safety
    ///
    /// - `ptr` is what `kmalloc()`, `kzalloc()`, `kcalloc()` or `krealloc()`
    ///   returned for `len * size_of::<T>()` bytes (`ZERO_SIZE_PTR` if that
    ///   is 0), for example through [`KmallocArray::into_raw`], and it holds
    ///   `len` valid values of `T`.
    /// - Nothing else uses or frees the allocation afterwards: the array owns
    ///   it.
    pub unsafe fn from_raw(ptr: *mut T, len: usize) -> Self {
        // SAFETY: kmalloc never returns NULL for a successful allocation, and
        // `ptr` is one by the safety requirements.
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            len,
            _owns: PhantomData,
        }
    }

    /// The pointer to the values, for slices.
    fn data(&self) -> NonNull<T> {
        // `len * size_of::<T>()` does not overflow: it is the size of an
        // allocation (type invariants).
        data(self.ptr, self.len * size_of::<T>())
    }
}

impl<T: Zeroable> KmallocArray<T> {
    /// Allocates `len` values of `T` with C's `kcalloc()`: all bytes zero,
    /// which is a valid `T` since `T: Zeroable`. [`KmallocBuf::zeroed`] is
    /// `kcalloc(len, 1)`, the same as `kzalloc(len)`.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if `len * size_of::<T>()` overflows, `EINVAL` for flags
    /// kmalloc cannot honour, `ENOMEM` above [`KMALLOC_MAX_SIZE`] bytes or if
    /// the allocation fails.
    pub fn zeroed(len: usize, flags: Gfp) -> Result<Self> {
        let flags = check_request(array_size::<T>(len)?, flags)?;
        // SAFETY: `kcalloc` takes any count, size and flags (it checks the
        // product for overflow too); `check_request` has refused what would
        // make it warn.
        let ptr = unsafe { kalloc_kcalloc(len, size_of::<T>(), flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast()).ok_or(ENOMEM)?;
        // INVARIANT: `kcalloc` returned `len * size_of::<T>()` zeroed bytes,
        // aligned for `T`, and zeroed bytes are valid values of `T`.
        Ok(Self {
            ptr,
            len,
            _owns: PhantomData,
        })
    }
}

impl<T: Copy> KmallocArray<T> {
    /// Copies `src` into memory from C's `kmalloc()`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for flags kmalloc cannot honour, `ENOMEM` above
    /// [`KMALLOC_MAX_SIZE`] bytes or if the allocation fails.
    pub fn from_slice(src: &[T], flags: Gfp) -> Result<Self> {
        let size = size_of_val(src);
        let flags = check_request(size, flags)?;
        // SAFETY: `kmalloc` takes any size and flags; `check_request` has
        // refused what would make it warn.
        let ptr = unsafe { kalloc_kmalloc(size, flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: `data()` is valid for writing `src.len()` values of `T`
        // (a fresh, aligned allocation of `size` bytes, or dangling and
        // aligned for none), and cannot overlap `src`.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), data(ptr, size).as_ptr(), src.len()) };
        // INVARIANT: `ptr` is from `kmalloc` and holds `src.len()` values.
        Ok(Self {
            ptr,
            len: src.len(),
            _owns: PhantomData,
        })
    }

    /// Grows or shrinks the array to `new_len` values with C's `krealloc()`,
    /// which keeps the first `min(len, new_len)` values (moving them if the
    /// allocation must move) and fills new places with `value`.
    ///
    /// On error, `self` is unchanged: same allocation, same values.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if `new_len * size_of::<T>()` overflows, `EINVAL` for
    /// flags kmalloc cannot honour, `ENOMEM` above [`KMALLOC_MAX_SIZE`] bytes
    /// or if the allocation fails.
    pub fn resize(&mut self, new_len: usize, value: T, flags: Gfp) -> Result {
        let new_size = array_size::<T>(new_len)?;
        let flags = check_request(new_size, flags)?;
        // SAFETY: `self.ptr` is a live kmalloc allocation or `ZERO_SIZE_PTR`
        // (type invariants), both of which `krealloc()` takes. On success it
        // has freed or reused the old allocation; on failure it left it alone.
        let ptr = unsafe {
            bindings::krealloc_node_align(
                self.ptr.as_ptr().cast(),
                new_size,
                align_of::<T>() as c_ulong,
                flags.as_raw(),
                bindings::NUMA_NO_NODE,
            )
        };
        // On failure `self` still owns the old allocation, untouched.
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        let new_data = data(ptr, new_size).as_ptr();
        for i in self.len..new_len {
            // SAFETY: the new allocation has room for `new_len` values; the
            // ones from `self.len` on are not initialised yet, and `T: Copy`
            // has no destructor to run on what they held.
            unsafe { new_data.add(i).write(value) };
        }
        // INVARIANT: `krealloc()` returned `new_size` bytes, aligned for `T`,
        // that keep the first `min(len, new_len)` values; the rest were just
        // written. Values cut off by a shrink are `Copy`: nothing to drop.
        self.ptr = ptr;
        self.len = new_len;
        Ok(())
    }
}

impl<T> Deref for KmallocArray<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: by the type invariants, `data()` is aligned and points to
        // `len` valid values that `self` owns; `&self` keeps them unchanged.
        unsafe { core::slice::from_raw_parts(self.data().as_ptr(), self.len) }
    }
}

impl<T> DerefMut for KmallocArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes this access unique.
        unsafe { core::slice::from_raw_parts_mut(self.data().as_ptr(), self.len) }
    }
}

impl<T> Drop for KmallocArray<T> {
    fn drop(&mut self) {
        let values = ptr::slice_from_raw_parts_mut(self.data().as_ptr(), self.len);
        // SAFETY: by the type invariants the values are valid and owned by
        // `self`; they are not used again.
        unsafe { values.drop_in_place() };
        // SAFETY: `self.ptr` is what kmalloc returned (type invariants) and is
        // freed only here.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

// SAFETY: a `KmallocArray<T>` owns its values like a `Box<[T]>`, and `kfree()`
// may be called from any thread.
unsafe impl<T: Send> Send for KmallocArray<T> {}

// SAFETY: a shared `KmallocArray<T>` only gives out `&[T]`.
unsafe impl<T: Sync> Sync for KmallocArray<T> {}

/// Bytes that are wiped before they are freed, for keys, passwords and other
/// secrets: dropping it calls C's `kfree_sensitive()`, which zeroes the
/// whole allocation ([`KmallocArray::ksize`] bytes) before `kfree()`.
///
/// It cannot grow or shrink: `krealloc()` would leave a copy of the secret
/// in the freed memory.
///
/// # Invariants
///
/// `buf` is only ever freed by `SensitiveBuf`'s `drop`, with
/// `kfree_sensitive()`.
pub struct SensitiveBuf {
    buf: ManuallyDrop<KmallocBuf>,
}

impl SensitiveBuf {
    /// `len` zeroed bytes, from C's `kcalloc()` ([`KmallocBuf::zeroed`]).
    ///
    /// # Errors
    ///
    /// As for [`KmallocArray::zeroed`].
    pub fn zeroed(len: usize, flags: Gfp) -> Result<Self> {
        // INVARIANT: the buffer is new and only `SensitiveBuf` will free it.
        Ok(Self {
            buf: ManuallyDrop::new(KmallocBuf::zeroed(len, flags)?),
        })
    }

    /// A copy of `src`, in memory from C's `kmalloc()`
    /// ([`KmallocBuf::from_slice`]).
    ///
    /// # Errors
    ///
    /// As for [`KmallocArray::from_slice`].
    pub fn from_slice(src: &[u8], flags: Gfp) -> Result<Self> {
        // INVARIANT: the buffer is new and only `SensitiveBuf` will free it.
        Ok(Self {
            buf: ManuallyDrop::new(KmallocBuf::from_slice(src, flags)?),
        })
    }
}

impl Deref for SensitiveBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl DerefMut for SensitiveBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl Drop for SensitiveBuf {
    fn drop(&mut self) {
        // SAFETY: `self.buf` is not used again: this is its owner's `drop`.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        let (ptr, _) = buf.into_raw();
        // SAFETY: `ptr` is the kmalloc allocation (or `ZERO_SIZE_PTR`) that
        // `buf` owned and handed over; by the type invariants it is freed
        // only here.
        unsafe { bindings::kfree_sensitive(ptr.cast()) };
    }
}

/// A NUL-terminated C string made by C's `kasprintf()` from Rust formatting
/// arguments, freed with `kfree()` on drop. It dereferences to [`CStr`].
///
/// Use [`kasprintf!`](crate::kasprintf) to make one.
///
/// # Invariants
///
/// `ptr` is what `kasprintf()` returned: a kmalloc allocation holding a
/// NUL-terminated string, owned by `self`.
pub struct KString {
    ptr: NonNull<c_char>,
}

impl KString {
    /// Formats `args` with C's `kasprintf(flags, "%pA", ...)`: C calls back
    /// into Rust's formatting for `%pA`. Any flags kmalloc honours will do,
    /// `GFP_ATOMIC` included.
    ///
    /// `kasprintf()` formats twice, once to size its buffer and once to fill
    /// it, and warns if the two texts differ. So the arguments are formatted
    /// once and checked here ([`format_once`]), and `%pA` then prints that
    /// fixed text: both of C's passes give exactly the text that was
    /// checked.
    ///
    /// # Errors
    ///
    /// - `EINVAL` for flags kmalloc cannot honour, for text containing a NUL
    ///   byte (C would cut the string there), if formatting fails, or if it
    ///   gives a different text the second time;
    /// - `ENOMEM` if the string and its NUL would exceed
    ///   [`KMALLOC_MAX_SIZE`], or if an allocation fails.
    pub fn from_fmt(flags: Gfp, args: fmt::Arguments<'_>) -> Result<Self> {
        let scratch = format_once(args, KMALLOC_MAX_SIZE - 1, flags)?;
        let flags = check_request(scratch.len() + 1, flags)?;
        // The bytes of whole `&str`s, as `format_once` wrote them: UTF-8.
        let text = core::str::from_utf8(&scratch).map_err(|_| EINVAL)?;
        let fixed = fmt!("{}", text);
        // SAFETY: the format string is NUL-terminated, and its one
        // conversion, `%pA`, takes a pointer to a `fmt::Arguments`, which
        // `&fixed` is, valid for the whole call.
        let ptr = unsafe {
            bindings::kasprintf(
                flags.as_raw(),
                c"%pA".as_char_ptr(),
                ptr::from_ref(&fixed).cast::<c_void>(),
            )
        };
        // INVARIANT: a non-NULL pointer from `kasprintf()` is a kmalloc'd,
        // NUL-terminated string, now owned by the new `KString`.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
        })
    }
}

/// Makes a [`KString`] with C's `kasprintf()`:
/// `kasprintf!(flags, "format", args...)`, with Rust's format syntax.
///
/// # Examples
///
/// ```ignore
/// let name = kalloc::kasprintf!(GFP_KERNEL, "{}-{:#x}", "dev", 255)?;
/// assert_eq!(name.to_bytes(), b"dev-0xff");
/// ```
#[macro_export]
macro_rules! kasprintf {
    ($flags:expr, $($fmt:tt)*) => {
        $crate::kmalloc::KString::from_fmt($flags, ::kernel::prelude::fmt!($($fmt)*))
    };
}

impl Deref for KString {
    type Target = CStr;

    fn deref(&self) -> &CStr {
        // SAFETY: `self.ptr` points to a NUL-terminated string that `self`
        // owns and never changes (type invariants).
        unsafe { CStr::from_char_ptr(self.ptr.as_ptr()) }
    }
}

impl Drop for KString {
    fn drop(&mut self) {
        // SAFETY: `self.ptr` is what `kasprintf()` returned (type invariants)
        // and is freed only here.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) };
    }
}

// SAFETY: a `KString` owns its bytes, and `kfree()` may be called from any
// thread.
unsafe impl Send for KString {}

// SAFETY: a shared `KString` only gives out `&CStr`, and the bytes never change.
unsafe impl Sync for KString {}

/// A `fmt::Write` for the text of a C string: it refuses NUL bytes (C would
/// end the string there) and stops after `limit` bytes. It copies the text
/// into `out`, if there is one, which then is `limit` bytes long.
struct CText<'b> {
    out: Option<&'b mut [u8]>,
    len: usize,
    limit: usize,
    /// Why writing stopped, if it stopped.
    stop: Option<Error>,
    /// The error for text beyond `limit`.
    too_long: Error,
}

impl fmt::Write for CText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.bytes().any(|b| b == 0) {
            self.stop = Some(EINVAL);
            return Err(fmt::Error);
        }
        let Some(end) = self.len.checked_add(s.len()).filter(|&end| end <= self.limit) else {
            self.stop = Some(self.too_long);
            return Err(fmt::Error);
        };
        if let Some(out) = self.out.as_deref_mut() {
            // `end <= limit`, the length of `out`: the range is in bounds.
            out[self.len..end].copy_from_slice(s.as_bytes());
        }
        self.len = end;
        Ok(())
    }
}

impl CText<'_> {
    /// Formats `args` into `self`: the length of the text, or why it stopped
    /// (`EINVAL` if a formatting trait implementation failed).
    fn write(mut self, args: fmt::Arguments<'_>) -> Result<usize> {
        match core::fmt::write(&mut self, args) {
            Ok(()) => Ok(self.len),
            Err(fmt::Error) => Err(self.stop.unwrap_or(EINVAL)),
        }
    }
}

/// Formats `args` once and for all into a new kmalloc buffer, allocated with
/// `flags`: the text of a C string of at most `max_len` bytes, without its
/// NUL. C can then format that text as often as it likes (`kasprintf()`
/// does twice: to size its buffer, then to fill it) and get the same bytes.
///
/// The arguments are formatted twice here: to measure the text, stopping at
/// the first NUL byte or at `max_len` bytes (a huge `Display` is not
/// formatted in full), then into a buffer of exactly that size.
///
/// Errors: `EINVAL` for text with a NUL byte, if formatting fails, or if
/// the text differs between the two passes; `ENOMEM` for text longer than
/// `max_len` or if the allocation fails; as for [`KmallocBuf::zeroed`].
pub(crate) fn format_once(args: fmt::Arguments<'_>, max_len: usize, flags: Gfp) -> Result<KmallocBuf> {
    let measure = CText {
        out: None,
        len: 0,
        limit: max_len,
        stop: None,
        too_long: ENOMEM,
    };
    let len = measure.write(args)?;
    let mut buf = KmallocBuf::zeroed(len, flags)?;
    let fill = CText {
        out: Some(&mut buf),
        len: 0,
        limit: len,
        stop: None,
        // Longer the second time: the text changed.
        too_long: EINVAL,
    };
    if fill.write(args)? != len {
        return Err(EINVAL);
    }
    Ok(buf)
}

/// Test support: C's view of kalloc's buffers, for the suite below.
#[cfg(CONFIG_KUNIT = "y")]
mod c_view {
    use super::*;

    extern "C" {
        fn kalloc_test_c_user(p: *mut c_void, len: usize, byte: c_int) -> c_int;
        fn kalloc_test_zone(p: *const c_void) -> c_int;
        fn kalloc_test_init_on_free() -> bool;
        fn kalloc_test_alias(p: *const c_void, len: usize) -> *mut c_void;
        fn kalloc_test_read_unalias(dst: *mut c_void, alias: *mut c_void, len: usize);
        fn kalloc_test_fail_nth(nth: c_uint);
    }

    /// Runs `f` with fault injection set to fail this task's next slab
    /// allocation that failslab does not filter out (so, one that may not
    /// reclaim directly: `GFP_NOWAIT`, `GFP_ATOMIC`), then turns it off.
    #[cfg(CONFIG_FAILSLAB)]
    pub(super) fn fail_next_slab_allocation<R>(f: impl FnOnce() -> R) -> R {
        // SAFETY: the shim only sets the current task's `fail_nth`.
        unsafe { kalloc_test_fail_nth(1) };
        let result = f();
        // SAFETY: as above.
        unsafe { kalloc_test_fail_nth(0) };
        result
    }

    /// Hands `buf` to a C user with `into_raw`, and takes it back with
    /// `from_raw`. C checks that it got what kmalloc gives for the size
    /// (`ZERO_SIZE_PTR` for none, else a live object at least that big, by
    /// `ksize()`), and fills it with `byte`.
    pub(super) fn array_through_c<T: FromBytes>(
        buf: KmallocArray<T>,
        byte: u8,
    ) -> Result<KmallocArray<T>> {
        let (ptr, len) = buf.into_raw();
        // SAFETY: `ptr` is a kmalloc allocation of `len * size_of::<T>()`
        // bytes that C may use until it is taken back below.
        let ret = unsafe { kalloc_test_c_user(ptr.cast(), len * size_of::<T>(), byte.into()) };
        // SAFETY: `ptr` and `len` come from `into_raw` above; C only wrote
        // bytes, and any bytes are a valid `T: FromBytes`.
        let buf = unsafe { KmallocArray::from_raw(ptr, len) };
        kernel::error::to_result(ret)?;
        Ok(buf)
    }

    /// [`array_through_c`] for a [`KmallocBox`].
    pub(super) fn box_through_c<T: FromBytes>(b: KmallocBox<T>, byte: u8) -> Result<KmallocBox<T>> {
        let ptr = b.into_raw();
        // SAFETY: `ptr` is a kmalloc allocation of `size_of::<T>()` bytes that
        // C may use until it is taken back below.
        let ret = unsafe { kalloc_test_c_user(ptr.cast(), size_of::<T>(), byte.into()) };
        // SAFETY: `ptr` comes from `into_raw` above; C only wrote bytes, and
        // any bytes are a valid `T: FromBytes`.
        let b = unsafe { KmallocBox::from_raw(ptr) };
        kernel::error::to_result(ret)?;
        Ok(b)
    }

    /// The zone (`enum zone_type`) of the memory under `buf`; `EINVAL` if it
    /// has none.
    pub(super) fn zone_of(buf: &KmallocBuf) -> Result<bindings::zone_type> {
        if buf.is_empty() {
            return Err(EINVAL);
        }
        // SAFETY: `buf` is a live kmalloc allocation: its address is in the
        // kernel's linear map, where `virt_to_page()` works.
        let zone = unsafe { kalloc_test_zone(buf.as_ptr().cast()) };
        Ok(zone as bindings::zone_type)
    }

    /// Whether the kernel zeroes all memory it frees (`init_on_free=1`), which
    /// makes plain `kfree()` wipe buffers too.
    pub(super) fn init_on_free() -> bool {
        // SAFETY: the shim only reads a static key.
        unsafe { kalloc_test_init_on_free() }
    }

    /// Something that owns a [`KmallocBuf`] and frees it when dropped.
    pub(super) trait Owner {
        /// The buffer.
        fn kmalloc_buf(&self) -> &KmallocBuf;
    }

    impl Owner for KmallocBuf {
        fn kmalloc_buf(&self) -> &KmallocBuf {
            self
        }
    }

    impl Owner for SensitiveBuf {
        fn kmalloc_buf(&self) -> &KmallocBuf {
            &self.buf
        }
    }

    /// Drops `owner` and returns a copy of what its buffer's memory holds
    /// right after the free.
    ///
    /// The memory is read through a second mapping of its pages (`vmap()`),
    /// made before the free: reading freed memory through the allocator's
    /// own address is a use after free, which KASAN reports.
    pub(super) fn bytes_after_free<O: Owner>(owner: O) -> Result<KmallocBuf> {
        let (ptr, len) = {
            let buf = owner.kmalloc_buf();
            (buf.as_ptr(), buf.len())
        };
        if len == 0 {
            return Err(EINVAL);
        }
        let mut copy = KmallocBuf::zeroed(len, crate::gfp::GFP_KERNEL)?;
        // SAFETY: `ptr` is a live kmalloc allocation of `len` bytes; the shim
        // only maps the pages under it, read-only.
        let alias = unsafe { kalloc_test_alias(ptr.cast(), len) };
        if alias.is_null() {
            return Err(ENOMEM);
        }
        drop(owner);
        // SAFETY: `alias` maps `len` readable bytes until this call unmaps
        // it, and `copy` has room for `len` bytes.
        unsafe { kalloc_test_read_unalias(copy.as_mut_ptr().cast(), alias, len) };
        Ok(copy)
    }
}

#[kunit_tests(kalloc_kmalloc)]
mod tests {
    use super::c_view::*;
    use super::*;
    // Named, not globbed: the prelude also has (upstream's) `GFP_*` flags.
    use crate::gfp::{
        Zone, __GFP_HIGHMEM, __GFP_NOFAIL, __GFP_NOWARN, __GFP_RETRY_MAYFAIL, __GFP_ZERO,
        GFP_ATOMIC, GFP_DMA, GFP_DMA32, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL,
        GFP_KERNEL_ACCOUNT, GFP_NOFS, GFP_NOIO, GFP_NOWAIT, GFP_USER,
    };
    use core::cell::Cell;
    use kernel::new_spinlock;
    use pin_init::stack_pin_init;

    /// Counts its drops in a shared cell.
    struct Probe<'a> {
        drops: &'a Cell<usize>,
        value: u32,
    }

    impl<'a> Probe<'a> {
        fn new(drops: &'a Cell<usize>, value: u32) -> Self {
            Probe { drops, value }
        }
    }

    impl Drop for Probe<'_> {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
        }
    }

    #[derive(Clone, Copy, Zeroable)]
    #[repr(C, align(64))]
    struct Line([u8; 64]);

    /// Size 192, alignment 64: not a power of two, but a multiple of 64.
    #[derive(Clone, Copy)]
    #[repr(C, align(64))]
    struct ThreeLines([u8; 192]);

    #[derive(Zeroable)]
    #[repr(C, align(4096))]
    struct PageAligned([u8; 4096]);

    #[repr(align(64))]
    struct AlignedZst;

    /// Writes `.1` bytes of value `.0` (ASCII), a chunk at a time.
    struct Repeat(u8, usize);

    impl fmt::Display for Repeat {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let chunk = [self.0; 256];
            let chunk = core::str::from_utf8(&chunk).map_err(|_| fmt::Error)?;
            let mut left = self.1;
            while left > 0 {
                let n = left.min(chunk.len());
                f.write_str(&chunk[..n])?;
                left -= n;
            }
            Ok(())
        }
    }

    /// Fails to format.
    struct Failing;

    impl fmt::Display for Failing {
        fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }

    /// Flags kmalloc cannot honour.
    const BAD_FLAGS: [Gfp; 6] = [
        GFP_KERNEL.union(__GFP_HIGHMEM),
        GFP_KERNEL.union(GFP_DMA32),
        GFP_HIGHUSER,
        GFP_HIGHUSER_MOVABLE,
        GFP_KERNEL.union(GFP_DMA).union(GFP_DMA32),
        GFP_ATOMIC.union(__GFP_NOFAIL),
    ];

    /// `kmalloc` moves the value in; `kfree` after exactly one drop.
    #[test]
    fn box_new_holds_value_and_drops_it_once() -> Result {
        let drops = Cell::new(0);
        let mut b = KmallocBox::new(Probe::new(&drops, 7), GFP_KERNEL)?;
        assert_eq!(b.value, 7);
        b.value += 1;
        assert_eq!(b.value, 8);
        assert_eq!(drops.get(), 0);
        drop(b);
        assert_eq!(drops.get(), 1);
        Ok(())
    }

    /// `kzalloc` memory reads as zero, and is ours to write.
    #[test]
    fn box_new_zeroed_is_zero() -> Result {
        for _ in 0..16 {
            let mut b = KmallocBox::<[u64; 128]>::new_zeroed(GFP_KERNEL)?;
            assert!(b.iter().all(|&x| x == 0));
            b[127] = u64::MAX;
            assert_eq!(b[127], u64::MAX);
        }
        Ok(())
    }

    /// A typed box is aligned for its type, beyond `ARCH_KMALLOC_MINALIGN`.
    #[test]
    fn box_respects_alignment() -> Result {
        let byte = KmallocBox::new(1u8, GFP_KERNEL)?;
        assert!((ptr::from_ref::<u8>(&byte) as usize) % ARCH_KMALLOC_MINALIGN == 0);
        let line = KmallocBox::new(Line([1; 64]), GFP_KERNEL)?;
        assert!(ptr::from_ref::<Line>(&line).is_aligned());
        let three = KmallocBox::new(ThreeLines([2; 192]), GFP_KERNEL)?;
        assert!(ptr::from_ref::<ThreeLines>(&three).is_aligned());
        let page = KmallocBox::<PageAligned>::new_zeroed(GFP_KERNEL)?;
        assert!(ptr::from_ref::<PageAligned>(&page).is_aligned());
        assert!(page.0.iter().all(|&b| b == 0));
        Ok(())
    }

    /// A zero-sized `T` gets `ZERO_SIZE_PTR` from C (checked by C), yet its
    /// references are aligned.
    #[test]
    fn box_of_zero_sized_type() -> Result {
        let zst = KmallocBox::new(AlignedZst, GFP_KERNEL)?;
        assert!(ptr::from_ref::<AlignedZst>(&zst).is_aligned());
        let unit = box_through_c(KmallocBox::new((), GFP_KERNEL)?, 0)?;
        assert_eq!(*unit, ());
        Ok(())
    }

    /// `into_raw` hands C the kmalloc object, C writes it, `from_raw` takes
    /// it back.
    #[test]
    fn box_into_raw_and_from_raw() -> Result {
        let b = box_through_c(KmallocBox::new(0u64, GFP_KERNEL)?, 0xab)?;
        assert_eq!(*b, 0xabab_abab_abab_abab);
        Ok(())
    }

    /// More than `KMALLOC_MAX_SIZE` bytes is `ENOMEM`, before C (no warning).
    #[test]
    fn box_too_large_is_enomem() {
        let r = KmallocBox::<[u8; KMALLOC_MAX_SIZE + 1]>::new_zeroed(GFP_KERNEL);
        assert!(r.err() == Some(ENOMEM));
    }

    /// Flags kmalloc cannot honour are `EINVAL`, for every constructor.
    #[test]
    fn bad_flags_are_einval() -> Result {
        let mut buf = KmallocBuf::from_slice(b"kalloc", GFP_KERNEL)?;
        for flags in BAD_FLAGS {
            assert!(KmallocBox::new(0u32, flags).err() == Some(EINVAL));
            assert!(KmallocBox::<u32>::new_zeroed(flags).err() == Some(EINVAL));
            assert!(KmallocBuf::from_slice(b"x", flags).err() == Some(EINVAL));
            assert!(KmallocArray::<u64>::zeroed(4, flags).err() == Some(EINVAL));
            assert!(SensitiveBuf::zeroed(4, flags).err() == Some(EINVAL));
            assert!(crate::kasprintf!(flags, "{}", 1).err() == Some(EINVAL));
            assert!(buf.resize(64, 0, flags) == Err(EINVAL));
        }
        assert_eq!(&buf[..], b"kalloc");
        Ok(())
    }

    /// Every valid base set of flags works, `GFP_DMA` included.
    #[test]
    fn good_flags_allocate() -> Result {
        let good = [
            GFP_KERNEL,
            GFP_KERNEL_ACCOUNT,
            GFP_ATOMIC,
            GFP_NOWAIT,
            GFP_NOIO,
            GFP_NOFS,
            GFP_USER,
            GFP_KERNEL | GFP_DMA,
            GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL,
        ];
        for flags in good {
            let buf = KmallocBuf::from_slice(&[3; 40], flags)?;
            assert!(buf.iter().all(|&b| b == 3));
        }
        Ok(())
    }

    /// The flags reach C: a `GFP_DMA` buffer lies in `ZONE_DMA`.
    #[test]
    fn gfp_dma_buffer_is_in_zone_dma() -> Result {
        let dma = KmallocBuf::zeroed(64, GFP_KERNEL | GFP_DMA)?;
        assert_eq!(zone_of(&dma)?, Zone::Dma.zone_type());
        let normal = KmallocBuf::zeroed(64, GFP_KERNEL)?;
        assert!(zone_of(&normal)? != Zone::Dma.zone_type());
        Ok(())
    }

    /// `__GFP_NOFAIL` is for requests of at most a page, in a context that
    /// may sleep.
    #[test]
    fn nofail_only_for_slab_sizes() -> Result {
        let nofail = GFP_KERNEL | __GFP_NOFAIL;
        let buf = KmallocBuf::zeroed(NOFAIL_MAX_SIZE, nofail)?;
        assert_eq!(buf.len(), NOFAIL_MAX_SIZE);
        assert!(KmallocBuf::zeroed(NOFAIL_MAX_SIZE + 1, nofail).err() == Some(EINVAL));
        assert!(KmallocBuf::zeroed(KMALLOC_MAX_CACHE_SIZE, nofail).err() == Some(EINVAL));
        assert!(KmallocBuf::zeroed(64, GFP_ATOMIC | __GFP_NOFAIL).err() == Some(EINVAL));
        Ok(())
    }

    /// Atomic flags allocate, format and free under a spinlock (a sleeping
    /// allocation there would be reported by `DEBUG_ATOMIC_SLEEP`).
    #[test]
    fn atomic_flags_work_under_spinlock() -> Result {
        stack_pin_init!(let lock = new_spinlock!(()));
        let guard = lock.lock();
        let b = KmallocBox::new(5u64, GFP_ATOMIC)?;
        let buf = KmallocBuf::zeroed(100, GFP_NOWAIT)?;
        let s = crate::kasprintf!(GFP_ATOMIC, "cpu{}", *b)?;
        assert_eq!(s.to_bytes(), b"cpu5");
        assert!(buf.iter().all(|&x| x == 0));
        // Freeing does not sleep either.
        drop((b, buf, s));
        drop(guard);
        Ok(())
    }

    /// `kmalloc` plus a copy: the bytes, the length, and they can change.
    #[test]
    fn buf_from_slice_copies() -> Result {
        let mut buf = KmallocBuf::from_slice(b"hello kalloc", GFP_KERNEL)?;
        assert_eq!(buf.len(), 12);
        assert_eq!(&buf[..], b"hello kalloc");
        buf[0] = b'H';
        assert_eq!(&buf[..5], b"Hello");
        Ok(())
    }

    /// Buffers of odd sizes are aligned to `ARCH_KMALLOC_MINALIGN`; arrays
    /// to their element type.
    #[test]
    fn array_respects_alignment() -> Result {
        for len in [1, 3, 13, 100, 1000] {
            let buf = KmallocBuf::zeroed(len, GFP_KERNEL)?;
            assert!((buf.as_ptr() as usize) % ARCH_KMALLOC_MINALIGN == 0);
        }
        let lines = KmallocArray::from_slice(&[Line([7; 64]); 3], GFP_KERNEL)?;
        assert!(lines.as_ptr().is_aligned());
        assert!(lines.iter().all(|l| l.0 == [7; 64]));
        let three = KmallocArray::from_slice(&[ThreeLines([9; 192]); 5], GFP_KERNEL)?;
        assert!(three.as_ptr().is_aligned());
        Ok(())
    }

    /// `kcalloc` gives `n` zeroed elements.
    #[test]
    fn kcalloc_array_is_zeroed() -> Result {
        let mut a = KmallocArray::<u32>::zeroed(1000, GFP_KERNEL)?;
        assert_eq!(a.len(), 1000);
        assert!(a.iter().all(|&x| x == 0));
        a[999] = 42;
        assert_eq!(a[999], 42);
        assert!(a.ksize() >= 4000);
        Ok(())
    }

    /// `n * size` that overflows is `EOVERFLOW`, never a small wrapped size;
    /// a size that fits but is too big is `ENOMEM`.
    #[test]
    fn kcalloc_overflow_is_eoverflow() -> Result {
        // (usize::MAX / 8 + 2) * 8 wraps around to 8.
        let wraps = usize::MAX / 8 + 2;
        assert!(KmallocArray::<u64>::zeroed(wraps, GFP_KERNEL).err() == Some(EOVERFLOW));
        assert!(KmallocArray::<u16>::zeroed(usize::MAX, GFP_KERNEL).err() == Some(EOVERFLOW));
        let too_big = KMALLOC_MAX_SIZE / 8 + 1;
        assert!(KmallocArray::<u64>::zeroed(too_big, GFP_KERNEL).err() == Some(ENOMEM));
        // Zero-sized elements take no bytes, however many there are.
        let units = KmallocArray::<()>::zeroed(usize::MAX, GFP_KERNEL)?;
        assert_eq!(units.len(), usize::MAX);
        assert_eq!(units.ksize(), 0);
        Ok(())
    }

    /// Dropping an array drops each element once: boxes in an array of
    /// `Option<KmallocBox<_>>` (all `None` from `kcalloc`) are freed.
    #[test]
    fn array_drops_each_element() -> Result {
        let drops = Cell::new(0);
        let mut a = KmallocArray::<Option<KmallocBox<Probe<'_>>>>::zeroed(4, GFP_KERNEL)?;
        assert!(a.iter().all(Option::is_none));
        a[1] = Some(KmallocBox::new(Probe::new(&drops, 1), GFP_KERNEL)?);
        a[3] = Some(KmallocBox::new(Probe::new(&drops, 3), GFP_KERNEL)?);
        assert_eq!(a[3].as_ref().map(|p| p.value), Some(3));
        drop(a);
        assert_eq!(drops.get(), 2);
        Ok(())
    }

    /// `krealloc` grows and shrinks, keeping the first min(old, new) bytes;
    /// new bytes take the fill value.
    #[test]
    fn krealloc_keeps_bytes() -> Result {
        let pattern: [u8; 200] = core::array::from_fn(|i| i as u8);
        let mut buf = KmallocBuf::from_slice(&pattern, GFP_KERNEL)?;
        // Into another slab cache.
        buf.resize(5000, 0xee, GFP_KERNEL)?;
        assert_eq!(buf.len(), 5000);
        assert_eq!(&buf[..200], &pattern[..]);
        assert!(buf[200..].iter().all(|&b| b == 0xee));
        // Into the page allocator (above KMALLOC_MAX_CACHE_SIZE).
        buf.resize(20000, 1, GFP_KERNEL)?;
        assert_eq!(&buf[..200], &pattern[..]);
        assert!(buf[200..5000].iter().all(|&b| b == 0xee));
        assert!(buf[5000..].iter().all(|&b| b == 1));
        // Shrink.
        buf.resize(10, 0, GFP_KERNEL)?;
        assert_eq!(&buf[..], &pattern[..10]);
        // To nothing (C frees and returns ZERO_SIZE_PTR), and back.
        buf.resize(0, 0, GFP_KERNEL)?;
        assert!(buf.is_empty());
        let mut buf = array_through_c(buf, 0)?;
        buf.resize(3, 9, GFP_KERNEL)?;
        assert_eq!(&buf[..], &[9, 9, 9]);
        Ok(())
    }

    /// A typed array keeps its elements and alignment through `krealloc`.
    #[test]
    fn krealloc_typed_array() -> Result {
        let mut a = KmallocArray::from_slice(&[Line([5; 64]); 2], GFP_KERNEL)?;
        a.resize(100, Line([6; 64]), GFP_KERNEL)?;
        assert!(a.as_ptr().is_aligned());
        assert!(a[..2].iter().all(|l| l.0 == [5; 64]));
        assert!(a[2..].iter().all(|l| l.0 == [6; 64]));
        a.resize(1, Line([0; 64]), GFP_KERNEL)?;
        assert!(a.as_ptr().is_aligned());
        assert!(a[0].0 == [5; 64]);
        Ok(())
    }

    /// When `krealloc` cannot be done, the buffer is still owned, in place
    /// and intact.
    #[test]
    fn krealloc_failure_keeps_buffer() -> Result {
        let mut buf = KmallocBuf::from_slice(b"keep me", GFP_KERNEL)?;
        let before = buf.as_ptr();
        assert!(buf.resize(KMALLOC_MAX_SIZE + 1, 0, GFP_KERNEL) == Err(ENOMEM));
        assert!(buf.resize(64, 0, GFP_KERNEL | __GFP_HIGHMEM) == Err(EINVAL));
        assert!(buf.resize(usize::MAX, 0, GFP_KERNEL) == Err(ENOMEM));
        assert_eq!(buf.as_ptr(), before);
        assert_eq!(&buf[..], b"keep me");
        // A real failure of C's krealloc(), forced by fault injection: the
        // new, larger object cannot be allocated, and C keeps the old one.
        #[cfg(CONFIG_FAILSLAB)]
        {
            let failed = fail_next_slab_allocation(|| buf.resize(1000, 0, GFP_NOWAIT));
            assert!(failed == Err(ENOMEM));
            assert_eq!(buf.as_ptr(), before);
            assert_eq!(&buf[..], b"keep me");
        }
        let mut a = KmallocArray::from_slice(&[1u64, 2, 3], GFP_KERNEL)?;
        assert!(a.resize(usize::MAX / 4, 0, GFP_KERNEL) == Err(EOVERFLOW));
        assert_eq!(&a[..], &[1, 2, 3]);
        // The buffer is still a live kmalloc object that C can use.
        let buf = array_through_c(buf, b'!')?;
        assert_eq!(&buf[..], b"!!!!!!!");
        Ok(())
    }

    /// `ksize` is the bucket size, which `kmalloc_size_roundup` predicts;
    /// growing into it with `krealloc` stays in place.
    #[test]
    fn ksize_is_kmalloc_size_roundup() -> Result {
        for len in [1, 8, 24, 100, 1000, 5000, 8192, 10000, 100_000] {
            let buf = KmallocBuf::zeroed(len, GFP_KERNEL)?;
            assert_eq!(buf.ksize(), kmalloc_size_roundup(len));
            assert!(buf.ksize() >= len);
        }
        // x86-64's buckets: 8, 16, 32, 64, 96, 128, 192, 256, ... 8192,
        // then whole pages in powers of two.
        assert_eq!(kmalloc_size_roundup(1), 8);
        assert_eq!(kmalloc_size_roundup(100), 128);
        assert_eq!(kmalloc_size_roundup(KMALLOC_MAX_CACHE_SIZE + 1), 16384);
        assert_eq!(kmalloc_size_roundup(0), 0);
        assert_eq!(
            kmalloc_size_roundup(KMALLOC_MAX_SIZE + 1),
            KMALLOC_MAX_SIZE + 1
        );

        let mut buf = KmallocBuf::from_slice(&[7; 100], GFP_KERNEL)?;
        let before = buf.as_ptr();
        let usable = buf.ksize();
        buf.resize(usable, 8, GFP_KERNEL)?;
        assert_eq!(buf.as_ptr(), before);
        assert_eq!(buf.len(), usable);
        assert!(buf[..100].iter().all(|&b| b == 7));
        // Writing the last usable byte is fine (KASAN would report it
        // otherwise).
        buf[usable - 1] = 1;
        assert_eq!(buf[usable - 1], 1);
        Ok(())
    }

    /// Zero-size requests: C gives `ZERO_SIZE_PTR` (C checks it), which is
    /// never dereferenced; the Rust slice is empty and aligned.
    #[test]
    fn zero_size_requests() -> Result {
        let empty = KmallocBuf::zeroed(0, GFP_KERNEL)?;
        assert!(empty.is_empty());
        assert_eq!(empty.ksize(), 0);
        assert!(empty.iter().next().is_none());
        let empty = array_through_c(empty, 0)?;
        assert!(empty.is_empty());
        let copied = array_through_c(KmallocBuf::from_slice(&[], GFP_KERNEL)?, 0)?;
        assert!(copied.is_empty());
        // ZERO_SIZE_PTR (16) is not aligned for `Line`; the slice is.
        let lines = KmallocArray::<Line>::zeroed(0, GFP_KERNEL)?;
        assert!(lines.as_ptr().is_aligned());
        let lines = array_through_c(KmallocArray::<[u8; 64]>::zeroed(0, GFP_KERNEL)?, 0)?;
        assert!(lines.is_empty());
        Ok(())
    }

    /// Exactly `KMALLOC_MAX_SIZE` works; one byte more is `ENOMEM` without
    /// a warning (the harness fails on any).
    #[test]
    fn kmalloc_max_size_is_the_limit() -> Result {
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
        let mut buf = KmallocBuf::zeroed(KMALLOC_MAX_SIZE, flags)?;
        assert_eq!(buf.len(), KMALLOC_MAX_SIZE);
        buf[KMALLOC_MAX_SIZE - 1] = 1;
        assert_eq!(buf[KMALLOC_MAX_SIZE - 1], 1);
        drop(buf);
        assert!(KmallocBuf::zeroed(KMALLOC_MAX_SIZE + 1, GFP_KERNEL).err() == Some(ENOMEM));
        assert!(KmallocBuf::zeroed(usize::MAX, GFP_KERNEL).err() == Some(ENOMEM));
        Ok(())
    }

    /// `into_raw` hands C a buffer it can use for `len` bytes, `from_raw`
    /// takes it back.
    #[test]
    fn buf_into_raw_and_from_raw() -> Result {
        let buf = KmallocBuf::from_slice(b"rust", GFP_KERNEL)?;
        let buf = array_through_c(buf, b'c')?;
        assert_eq!(&buf[..], b"cccc");
        let words = array_through_c(KmallocArray::<u32>::zeroed(3, GFP_KERNEL)?, 0x11)?;
        assert_eq!(&words[..], &[0x1111_1111; 3]);
        Ok(())
    }

    /// `kfree_sensitive` zeroes the memory before freeing it. The control,
    /// plain `kfree`, leaves the bytes there, unless the kernel zeroes all
    /// freed memory (`init_on_free=1`): then the two cannot be told apart
    /// after the free, and the case checks that the secret is gone.
    ///
    /// Reading freed memory relies on generic KASAN (which the test kernel
    /// always has): its quarantine keeps a freed object, and so its slab
    /// page, untouched for a while, so the alias still shows the bytes the
    /// free left. Without it, SLUB's poisoning (`slub_debug=P`) or a reuse
    /// of the page could change them first.
    #[test]
    fn sensitive_buf_is_zeroed_before_free() -> Result {
        const LEN: usize = 256;
        // A freed object's start may hold KASAN's free metadata and its
        // middle SLUB's free pointer; the last quarter is left alone.
        const TAIL: usize = LEN - LEN / 4;

        let mut secret = SensitiveBuf::zeroed(LEN, GFP_KERNEL)?;
        assert!(secret.iter().all(|&b| b == 0));
        secret.fill(0xa5);
        assert!(secret.iter().all(|&b| b == 0xa5));
        let after = bytes_after_free(secret)?;
        assert!(after[TAIL..].iter().all(|&b| b == 0));

        let plain = KmallocBuf::from_slice(&[0xa5; LEN], GFP_KERNEL)?;
        let after = bytes_after_free(plain)?;
        let kept = if init_on_free() { 0 } else { 0xa5 };
        assert!(after[TAIL..].iter().all(|&b| b == kept));

        let copied = SensitiveBuf::from_slice(b"password", GFP_KERNEL)?;
        assert_eq!(&copied[..], b"password");
        Ok(())
    }

    /// `kasprintf` with `%pA` formats Rust arguments into a C string.
    #[test]
    fn kasprintf_formats_rust_arguments() -> Result {
        let s = crate::kasprintf!(GFP_KERNEL, "{}-{:#x}-{}-{:?}", "eth", 255, -3, "q")?;
        assert_eq!(s.to_bytes(), b"eth-0xff--3-\"q\"");
        assert_eq!(s.to_bytes_with_nul().last(), Some(&0));
        let empty = crate::kasprintf!(GFP_KERNEL, "")?;
        assert!(empty.is_empty());
        let long = crate::kasprintf!(GFP_KERNEL_ACCOUNT, "{}", Repeat(b'z', 10000))?;
        assert_eq!(long.count_bytes(), 10000);
        assert!(long.to_bytes().iter().all(|&b| b == b'z'));
        Ok(())
    }

    /// A NUL in the text (C would cut the string there) or a failing
    /// formatter is `EINVAL`.
    #[test]
    fn kasprintf_rejects_nul_and_failed_formatting() {
        assert!(crate::kasprintf!(GFP_KERNEL, "a{}b", '\0').err() == Some(EINVAL));
        assert!(crate::kasprintf!(GFP_KERNEL, "x{}", Failing).err() == Some(EINVAL));
    }

    /// A formatter whose text changes from one call to the next is
    /// `EINVAL`: it would make C's `kasprintf()` warn (its two passes
    /// disagree) and size its buffer from a text kalloc never checked. A
    /// formatter that changes only after the text is fixed is harmless.
    #[test]
    fn kasprintf_unstable_formatting_is_einval() -> Result {
        let growing = Changing::new(&["ab", "abcd"]);
        assert!(crate::kasprintf!(GFP_KERNEL, "{}", growing).err() == Some(EINVAL));
        let shrinking = Changing::new(&["abcd", "ab"]);
        assert!(crate::kasprintf!(GFP_KERNEL, "{}", shrinking).err() == Some(EINVAL));
        let late = Changing::new(&["ab", "ab", "xyz", "uvwxyz"]);
        let s = crate::kasprintf!(GFP_KERNEL, "{}", late)?;
        assert_eq!(s.to_bytes(), b"ab");
        assert_eq!(late.calls.get(), 2);
        Ok(())
    }

    /// Formats as the next of its texts at each call (the last one after).
    struct Changing<'a> {
        texts: &'a [&'a str],
        calls: core::cell::Cell<usize>,
    }

    impl<'a> Changing<'a> {
        fn new(texts: &'a [&'a str]) -> Self {
            Changing {
                texts,
                calls: core::cell::Cell::new(0),
            }
        }
    }

    impl fmt::Display for Changing<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let n = self.calls.get();
            self.calls.set(n + 1);
            f.write_str(self.texts[n.min(self.texts.len() - 1)])
        }
    }

    /// A string that would not fit in `KMALLOC_MAX_SIZE` with its NUL is
    /// `ENOMEM`, before C (no warning); one byte less fits.
    #[test]
    fn kasprintf_too_long_is_enomem() -> Result {
        let too_long = Repeat(b'y', KMALLOC_MAX_SIZE);
        assert!(crate::kasprintf!(GFP_KERNEL, "{}", too_long).err() == Some(ENOMEM));
        let flags = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;
        let longest = crate::kasprintf!(flags, "{}", Repeat(b'y', KMALLOC_MAX_SIZE - 1))?;
        assert_eq!(longest.count_bytes(), KMALLOC_MAX_SIZE - 1);
        Ok(())
    }
}
