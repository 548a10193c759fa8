// SPDX-License-Identifier: GPL-2.0

//! Device-scoped ("devm") allocations: memory that belongs to a bound
//! device and is given back when the device is unbound from its driver.
//!
//! A driver takes what it needs in `probe()` with the `devm_*` functions,
//! and the driver core releases all of it, in reverse order, when the
//! device is unbound: `probe()`'s error paths and `remove()` free nothing
//! themselves. The C functions keep each resource on the device's resource
//! list (`dev->devres_head`); the types here are handles to such resources:
//!
//! | C                                         | Rust                                  |
//! |-------------------------------------------|---------------------------------------|
//! | `devm_kmalloc(dev, size, gfp)`            | [`DevmBox::new`]                      |
//! | `devm_kzalloc(dev, size, gfp)`            | [`DevmBox::new_zeroed`]               |
//! | `devm_kcalloc(dev, n, size, gfp)`         | [`DevmBox::new_slice_zeroed`]         |
//! | `devm_kfree(dev, p)`                      | [`DevmBox::free`], [`DevmStr::free`]  |
//! | `devm_kasprintf(dev, gfp, "%pA", &args)`  | [`DevmStr::format`]                   |
//! | `devm_get_free_pages(dev, gfp, order)`    | [`DevmPages::alloc`]                  |
//! | `devm_free_pages(dev, addr)`              | [`DevmPages::free`]                   |
//! | `devm_add_action_or_reset(dev, drop, v)`  | [`DevmOwned::new`]                    |
//! | `devm_release_action(dev, drop, v)`       | [`DevmOwned::release`]                |
//! | `pci_request_region()` + `ioremap()`      | [`DevmIoMap::map_bar`]                |
//! | `pcim_enable_device(pdev)`                | [`pcim_enable_device`]                |
//!
//! # Lifetimes: no access after unbind
//!
//! Every constructor takes a `&'a Device<Bound>`: upstream's proof that the
//! device is bound to a driver for `'a` (a driver gets one in `probe()`,
//! for the `'bound` lifetime of its driver data). The handle borrows the
//! device for `'a`, so the borrow checker rejects any use of the memory
//! after the device may have been unbound. The driver core drops a
//! driver's data (`pci::Driver::Data<'bound>`) before it releases the
//! device's resources, so handles kept there are gone before the memory is.
//!
//! # Release: on unbind, or early
//!
//! Dropping a handle does nothing: the resource stays on the device's list
//! until the device is unbound, as in C. To give it back earlier, consume
//! the handle with `free()` (C's `devm_kfree()`, `devm_free_pages()`): it
//! takes the resource off the list and frees it, once; as the handle is
//! gone, neither Rust nor the unbind can free it again.
//!
//! The device frees its memory without running Rust destructors, so a
//! [`DevmBox`] holds only types without drop glue (plain data, handles to
//! other device-scoped resources), and checks that at compile time. A value
//! that needs its destructor, such as an [`IoMap`], is a [`DevmOwned`]: the
//! device drops it when it is unbound, [`DevmOwned::release`] at once.
//!
//! # Which devices
//!
//! A `&Device<Bound>` proves that the device is bound to *some* driver, not
//! to the caller's: a driver uses these functions only on the devices it
//! drives, as it gets them in its callbacks. That is also why
//! [`DevmIoMap::map_bar`] claims the BAR it maps: a BAR that another driver
//! has claimed is `EBUSY`.
//!
//! The self-tests watch what binding and unbinding do with test aids
//! (`testing`, in KUnit builds only, not exported), which they use only on
//! devices kalloc itself drives: faux devices they create, and the edu
//! device bound to kalloc's driver (`kalloc_edu`).
//!
//! # Bad requests
//!
//! Requests are checked before C sees them, so that a bad one is an error
//! and never a warning splat:
//! - zero bytes (C would hand out `ZERO_SIZE_PTR`, which is not on the
//!   device's list): `EINVAL`;
//! - more than [`DEVM_KMALLOC_MAX_SIZE`] bytes: `ENOMEM`;
//! - an element count whose size in bytes overflows: `EOVERFLOW`;
//! - a string with a NUL byte (C would cut it there): `EINVAL`;
//! - flags the allocator cannot honour ([`Gfp::check_slab`] for the kmalloc
//!   family, [`Gfp::check`] and a kernel address for pages): `EINVAL`;
//! - `__GFP_NOFAIL`: `EINVAL`. Probe may fail, and `devm_get_free_pages()`
//!   cannot honour it anyway (its bookkeeping allocation may fail);
//! - pages with flags that may not sleep (`devm_get_free_pages()` allocates
//!   its bookkeeping with `GFP_KERNEL` whatever the flags say) or an order
//!   above `MAX_PAGE_ORDER`: `EINVAL`.
//!
//! # Examples
//!
//! ```ignore
//! use kalloc::devm::{DevmBox, DevmPages, DevmStr};
//! use kalloc::gfp::GFP_KERNEL;
//!
//! fn setup<'a>(dev: &'a Device<Bound>, queue: u32) -> Result<DevmBox<'a, [u32]>> {
//!     let label = DevmStr::format(dev, GFP_KERNEL, fmt!("rx-{queue}"))?;
//!     let mut ring = DevmBox::<[u32]>::new_slice_zeroed(dev, 256, GFP_KERNEL)?;
//!     let staging = DevmPages::alloc(dev, GFP_KERNEL, 0)?; // one zeroed page
//!     ring[0] = staging.len() as u32;
//!     staging.free(); // early release: off the device's list, freed once
//!     Ok(ring) // `label` and `ring` go back when `dev` is unbound
//! }
//! ```

use crate::gfp::{Gfp, Zone, __GFP_NOFAIL, __GFP_ZERO};
use crate::iomem::IoMap;
use core::{
    fmt,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{
    alloc::flags as kflags,
    bindings,
    device::{Bound, Core, Device, DeviceContext},
    error::to_result,
    io::PhysAddr,
    pci,
    prelude::*,
    str::CStrExt,
    sync::aref::ARef,
};

/// The largest request the kmalloc family here accepts, in bytes.
///
/// `devm_kmalloc()` puts its bookkeeping (a `struct devres`, private to
/// `drivers/base/devres.c`, a few dozen bytes) in front of the data in the
/// same kmalloc object, so the largest request kmalloc can serve is a little
/// less than `KMALLOC_MAX_SIZE`; one page leaves room for the header on
/// every architecture. Larger requests are `ENOMEM`.
pub const DEVM_KMALLOC_MAX_SIZE: usize =
    bindings::KMALLOC_MAX_SIZE as usize - bindings::PAGE_SIZE;

/// The alignment `devm_kmalloc()` guarantees: that of `unsigned long long`.
/// A [`DevmBox`] of a type with a larger alignment does not compile.
pub const DEVM_ALIGN: usize = align_of::<u64>();

/// The largest order [`DevmPages::alloc`] accepts (C's `MAX_PAGE_ORDER`).
pub const MAX_PAGE_ORDER: u32 = bindings::MAX_PAGE_ORDER;

// The shims in `shims.c` for C's inline functions. `struct device` holds,
// deep inside, an empty struct that the lint calls not FFI-safe (as the
// `bindings` crate does, allow it): only pointers to it cross the boundary.
#[allow(improper_ctypes)]
extern "C" {
    fn kalloc_devm_kzalloc(dev: *mut bindings::device, size: usize, gfp: bindings::gfp_t)
        -> *mut c_void;
    fn kalloc_devm_kcalloc(
        dev: *mut bindings::device,
        n: usize,
        size: usize,
        gfp: bindings::gfp_t,
    ) -> *mut c_void;
}

/// The C `struct device` of `dev`.
fn raw<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is a transparent wrapper of `Opaque<bindings::device>`,
    // itself a transparent wrapper of the C struct. (Upstream's `as_raw()` is
    // private to the kernel crate.)
    ptr::from_ref(dev).cast::<bindings::device>().cast_mut()
}

/// The C `struct pci_dev` of `pdev`.
fn raw_pci<Ctx: DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device<Ctx>` is a transparent wrapper of the C `struct
    // pci_dev` (upstream's `as_raw()` is private to the kernel crate).
    ptr::from_ref(pdev).cast::<bindings::pci_dev>().cast_mut()
}

/// Returns the flags if the kmalloc family can serve a device with them
/// (see the module documentation).
fn check_flags(flags: Gfp) -> Result<Gfp> {
    let flags = flags.check_slab()?;
    if flags.contains(__GFP_NOFAIL) {
        return Err(EINVAL);
    }
    Ok(flags)
}

/// Returns the flags if the kmalloc family can serve `size` bytes with them
/// for a device (see the module documentation).
fn check_request(size: usize, flags: Gfp) -> Result<Gfp> {
    let flags = check_flags(flags)?;
    if size == 0 {
        return Err(EINVAL);
    }
    if size > DEVM_KMALLOC_MAX_SIZE {
        return Err(ENOMEM);
    }
    Ok(flags)
}

/// A value of type `T` (or a slice) in memory that belongs to a bound
/// device (C's `devm_kmalloc()` family).
///
/// The handle dereferences to the value. Dropping it leaves the memory with
/// the device, which frees it when it is unbound; [`DevmBox::free`] gives
/// it back at once. `T` may not have drop glue, and its alignment may be
/// at most [`DEVM_ALIGN`] (both checked at compile time).
///
/// # Invariants
///
/// - `ptr` points to an initialised `T` in memory from `devm_kmalloc()`
///   (or one of its inline variants) for `dev`, aligned for `T`, not empty,
///   and on `dev`'s resource list;
/// - the memory is not freed while this handle exists: only
///   [`DevmBox::free`], which consumes it, frees it early, and the device
///   frees it when it is unbound, after `'a`;
/// - no other handle refers to the memory.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmBox<'a, T: ?Sized> {
    dev: &'a Device<Bound>,
    ptr: NonNull<T>,
}

// SAFETY: A `DevmBox` is the only access path to its `T`, like `&mut T`:
// sending it sends the `T`. `&Device<Bound>` is `Send` (`Device<Bound>` is
// `Sync`).
unsafe impl<T: ?Sized + Send> Send for DevmBox<'_, T> {}

// SAFETY: `&DevmBox` only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for DevmBox<'_, T> {}

/// Whether values of `T` may live in device-scoped memory: the device frees
/// it without running destructors, and guarantees [`DEVM_ALIGN`].
const fn storable<T>() -> bool {
    !core::mem::needs_drop::<T>() && align_of::<T>() <= DEVM_ALIGN
}

impl<'a, T> DevmBox<'a, T> {
    /// Moves `value` into memory of `dev` (C's `devm_kmalloc()`).
    ///
    /// Errors: see the module documentation; `ENOMEM` if the allocation
    /// fails.
    pub fn new(dev: &'a Device<Bound>, value: T, flags: Gfp) -> Result<Self> {
        const { assert!(storable::<T>(), "no drop glue, alignment at most DEVM_ALIGN") };
        let flags = check_request(size_of::<T>(), flags)?;
        // SAFETY: `dev` is bound (`&Device<Bound>`), so the memory goes on
        // the list of a device that releases it on unbind. The size is
        // neither zero nor too large for kmalloc.
        let ptr = unsafe { bindings::devm_kmalloc(raw(dev), size_of::<T>(), flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: `ptr` is a fresh allocation of `size_of::<T>()` bytes,
        // aligned to `DEVM_ALIGN`, at least `align_of::<T>()` (checked above).
        unsafe { ptr.write(value) };
        // INVARIANT: `ptr` holds a `T` in a fresh allocation on `dev`'s list.
        Ok(Self { dev, ptr })
    }

    /// A zeroed `T` in memory of `dev` (C's `devm_kzalloc()`).
    ///
    /// Errors: as for [`DevmBox::new`].
    pub fn new_zeroed(dev: &'a Device<Bound>, flags: Gfp) -> Result<Self>
    where
        T: Zeroable,
    {
        const { assert!(storable::<T>(), "no drop glue, alignment at most DEVM_ALIGN") };
        let flags = check_request(size_of::<T>(), flags)?;
        // SAFETY: As in `new`.
        let ptr = unsafe { kalloc_devm_kzalloc(raw(dev), size_of::<T>(), flags.as_raw()) };
        // INVARIANT: The memory is zeroed, a valid `T` (`T: Zeroable`), and
        // aligned for it; it is on `dev`'s list.
        NonNull::new(ptr.cast::<T>())
            .map(|ptr| Self { dev, ptr })
            .ok_or(ENOMEM)
    }
}

impl<'a, T> DevmBox<'a, [T]> {
    /// `len` zeroed values of `T` in memory of `dev` (C's `devm_kcalloc()`).
    ///
    /// Errors: `EOVERFLOW` if `len * size_of::<T>()` overflows; otherwise
    /// as for [`DevmBox::new`], for the size in bytes.
    pub fn new_slice_zeroed(dev: &'a Device<Bound>, len: usize, flags: Gfp) -> Result<Self>
    where
        T: Zeroable,
    {
        const { assert!(storable::<T>(), "no drop glue, alignment at most DEVM_ALIGN") };
        let size = len.checked_mul(size_of::<T>()).ok_or(EOVERFLOW)?;
        let flags = check_request(size, flags)?;
        // SAFETY: As in `new`; `len * size_of::<T>()` does not overflow.
        let ptr = unsafe { kalloc_devm_kcalloc(raw(dev), len, size_of::<T>(), flags.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // INVARIANT: `len` zeroed, valid (`T: Zeroable`) and aligned values
        // of `T`, in memory on `dev`'s list.
        Ok(Self {
            dev,
            ptr: NonNull::slice_from_raw_parts(ptr, len),
        })
    }
}

impl<'a, T: ?Sized> DevmBox<'a, T> {
    /// The device the memory belongs to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Gives the memory back now (C's `devm_kfree()`): takes it off the
    /// device's list and frees it. The device does not free it again.
    pub fn free(self) {
        // SAFETY: By the type invariants, `ptr` is a live `devm_kmalloc()`
        // allocation on `dev`'s list, which `dev` (bound for `'a`) still
        // holds; `self` is consumed, so the memory is not used again.
        unsafe { bindings::devm_kfree(raw(self.dev), self.ptr.as_ptr().cast()) };
    }
}

impl<T: ?Sized> Deref for DevmBox<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariants, `ptr` points to a valid `T` that
        // stays allocated while `self` exists.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for DevmBox<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: As in `deref`; no other handle refers to the value, and
        // `&mut self` is unique.
        unsafe { self.ptr.as_mut() }
    }
}

/// A NUL-terminated string formatted into memory of a bound device (C's
/// `devm_kasprintf()`), for names and labels that live as long as the
/// binding.
///
/// Dereferences to [`CStr`]. Dropping the handle leaves the string with the
/// device; [`DevmStr::free`] gives it back at once.
///
/// # Invariants
///
/// `ptr` points to a NUL-terminated string in memory from
/// `devm_kasprintf()` for `dev`, on `dev`'s resource list, not freed while
/// this handle exists (as for [`DevmBox`]), and never written to.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmStr<'a> {
    dev: &'a Device<Bound>,
    ptr: NonNull<c_char>,
}

// SAFETY: The string is never written to; any thread may read it.
unsafe impl Send for DevmStr<'_> {}

// SAFETY: As for `Send`.
unsafe impl Sync for DevmStr<'_> {}

impl<'a> DevmStr<'a> {
    /// Formats `args` (built with `fmt!`) into a new string of `dev`: C's
    /// `devm_kasprintf(dev, flags, "%pA", &args)`, where `%pA` runs Rust's
    /// formatting machinery from C. Any flags kmalloc honours will do.
    ///
    /// C formats twice (to size its allocation, then to fill it), so the
    /// text is formatted once beforehand, checked and kept in a temporary
    /// buffer (see [`format_once`](crate::kmalloc::format_once)): C formats that
    /// text, the same each time.
    ///
    /// Errors: `EINVAL` for flags kmalloc cannot honour, for text with a NUL
    /// byte (C would cut the string there) or if formatting fails; `ENOMEM`
    /// for a string longer than [`DEVM_KMALLOC_MAX_SIZE`] (with its NUL) or
    /// if an allocation fails.
    pub fn format(dev: &'a Device<Bound>, flags: Gfp, args: fmt::Arguments<'_>) -> Result<Self> {
        let flags = check_flags(flags)?;
        let text = crate::kmalloc::format_once(args, DEVM_KMALLOC_MAX_SIZE - 1, flags)?;
        // The bytes of `&str`s, as written by `format_once`.
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        Self::kasprintf(dev, flags, fmt!("{text}"))
    }

    /// C's `devm_kasprintf(dev, flags, "%pA", &args)`, for `args` that give
    /// text C may format twice: at most [`DEVM_KMALLOC_MAX_SIZE`] bytes with
    /// its NUL, the same each time, and without NUL bytes.
    fn kasprintf(dev: &'a Device<Bound>, flags: Gfp, args: fmt::Arguments<'_>) -> Result<Self> {
        // SAFETY: `dev` is bound. `%pA` takes a pointer to a
        // `fmt::Arguments`, and `args` outlives the call.
        let ptr = unsafe {
            bindings::devm_kasprintf(
                raw(dev),
                flags.as_raw(),
                c"%pA".as_char_ptr(),
                ptr::from_ref(&args).cast::<c_void>(),
            )
        };
        // INVARIANT: A fresh NUL-terminated string on `dev`'s list.
        NonNull::new(ptr)
            .map(|ptr| Self { dev, ptr })
            .ok_or(ENOMEM)
    }

    /// The device the string belongs to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Gives the string back now (C's `devm_kfree()`): takes it off the
    /// device's list and frees it. The device does not free it again.
    pub fn free(self) {
        // SAFETY: By the type invariants, `ptr` is a live `devm_kmalloc()`
        // allocation (`devm_kasprintf()` makes it with `devm_kmalloc()`) on
        // `dev`'s list; `self` is consumed.
        unsafe { bindings::devm_kfree(raw(self.dev), self.ptr.as_ptr().cast()) };
    }
}

impl Deref for DevmStr<'_> {
    type Target = CStr;

    fn deref(&self) -> &CStr {
        // SAFETY: By the type invariants, `ptr` is a NUL-terminated string
        // that stays allocated and unchanged while `self` exists.
        unsafe { CStr::from_char_ptr(self.ptr.as_ptr()) }
    }
}

/// `2^order` contiguous, zeroed pages that belong to a bound device (C's
/// `devm_get_free_pages()`), as bytes.
///
/// Dropping the handle leaves the pages with the device, which frees them
/// when it is unbound; [`DevmPages::free`] gives them back at once.
///
/// # Invariants
///
/// `addr` is the kernel address of `2^order` pages from
/// `devm_get_free_pages()` for `dev`, on `dev`'s resource list, not freed
/// while this handle exists (as for [`DevmBox`]), and initialised (they were
/// allocated zeroed). No other handle refers to them.
#[must_use = "the memory stays with the device until it is unbound; `free()` gives it back"]
pub struct DevmPages<'a> {
    dev: &'a Device<Bound>,
    addr: NonNull<u8>,
    order: u32,
}

// SAFETY: The handle is the only access path to the bytes, like `&mut [u8]`.
unsafe impl Send for DevmPages<'_> {}

// SAFETY: `&DevmPages` only gives `&[u8]`.
unsafe impl Sync for DevmPages<'_> {}

impl<'a> DevmPages<'a> {
    /// `2^order` zeroed pages for `dev` (C's `devm_get_free_pages()` with
    /// `__GFP_ZERO` added, so that the bytes can be read).
    ///
    /// May sleep, whatever the flags: C allocates its bookkeeping with
    /// `GFP_KERNEL`.
    ///
    /// Errors: `EINVAL` for an order above [`MAX_PAGE_ORDER`], for invalid
    /// flags, flags that may not sleep or hold `__GFP_NOFAIL`, and for the
    /// highmem and movable zones (the pages need a kernel address);
    /// `ENOMEM` if the allocation fails.
    pub fn alloc(dev: &'a Device<Bound>, flags: Gfp, order: u32) -> Result<Self> {
        let flags = flags.check()?;
        if order > MAX_PAGE_ORDER || flags.contains(__GFP_NOFAIL) || !flags.may_sleep() {
            return Err(EINVAL);
        }
        if matches!(flags.zone()?, Zone::HighMem | Zone::Movable) {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is bound; the flags are valid, may sleep and ask for
        // a zone with kernel addresses, and `order <= MAX_PAGE_ORDER`.
        let addr =
            unsafe { bindings::devm_get_free_pages(raw(dev), (flags | __GFP_ZERO).as_raw(), order) };
        // INVARIANT: Zeroed pages on `dev`'s list, or 0 on failure.
        NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr as usize))
            .map(|addr| Self { dev, addr, order })
            .ok_or(ENOMEM)
    }

    /// The order of the allocation: it spans `2^order` pages.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// The device the pages belong to.
    pub fn device(&self) -> &'a Device<Bound> {
        self.dev
    }

    /// Gives the pages back now (C's `devm_free_pages()`): takes them off
    /// the device's list and frees them. The device does not free them
    /// again.
    pub fn free(self) {
        let addr = self.addr.as_ptr().expose_provenance() as c_ulong;
        // SAFETY: By the type invariants, `addr` is a live allocation of
        // `devm_get_free_pages()` on `dev`'s list; `self` is consumed.
        unsafe { bindings::devm_free_pages(raw(self.dev), addr) };
    }
}

impl Deref for DevmPages<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let len = bindings::PAGE_SIZE << self.order;
        // SAFETY: By the type invariants, `addr` points to `len` initialised
        // bytes that stay allocated while `self` exists.
        unsafe { core::slice::from_raw_parts(self.addr.as_ptr(), len) }
    }
}

impl DerefMut for DevmPages<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = bindings::PAGE_SIZE << self.order;
        // SAFETY: As in `deref`; `&mut self` is the only access path.
        unsafe { core::slice::from_raw_parts_mut(self.addr.as_ptr(), len) }
    }
}

/// A value that belongs to a bound device: the device drops it when it is
/// unbound (a release action, C's `devm_add_action_or_reset()`), or
/// [`DevmOwned::release`] drops it at once (C's `devm_release_action()`).
///
/// This is for device-scoped values that need their destructor, such as a
/// mapping ([`DevmIoMap`]). The handle dereferences to the value; dropping
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
    /// `GFP_KERNEL`. Errors: `EAGAIN` where sleeping is not allowed (under
    /// a spinlock, with interrupts off), `ENOMEM`; `value` is dropped then.
    pub fn new(dev: &'a Device<Bound>, value: T) -> Result<Self> {
        crate::gfp::GFP_KERNEL.check()?;
        let ptr = KBox::into_raw(KBox::new(value, kflags::GFP_KERNEL)?);
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
    pub fn release(self) {
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

/// A memory BAR of a PCI device, claimed (C's `pci_request_region()`) and
/// mapped ([`IoMap`]); dropping it unmaps the BAR, then releases the claim
/// (`pci_release_region()`). It dereferences to the mapping.
///
/// It lives in a [`DevmIoMap`], which drops it when the device is unbound.
///
/// # Invariants
///
/// `map` maps all of the BAR that `_claim` claims.
pub struct BarMap<const SIZE: usize> {
    // Dropped in this order: unmapped first, then released.
    map: IoMap<SIZE>,
    _claim: BarClaim,
}

impl<const SIZE: usize> Deref for BarMap<SIZE> {
    type Target = IoMap<SIZE>;

    fn deref(&self) -> &IoMap<SIZE> {
        &self.map
    }
}

/// A claim on a BAR of a PCI device: while it exists, the BAR's range is
/// reserved (`/proc/iomem` names its owner), so that no other driver that
/// claims its BARs (as drivers do) can map it. Released when dropped.
///
/// # Invariants
///
/// `pci_request_region(pdev, bar)` succeeded for this claim, and the region
/// is released only when it is dropped.
struct BarClaim {
    pdev: ARef<pci::Device>,
    bar: c_int,
}

impl BarClaim {
    /// Claims BAR `bar` (0 to 5, implemented) of `pdev` for `name` (C's
    /// `pci_request_region()`), or `EBUSY` if someone holds it already.
    fn request(pdev: &pci::Device<Bound>, bar: u32, name: &'static CStr) -> Result<Self> {
        let bar = c_int::try_from(bar)?;
        // SAFETY: `pdev` is a valid PCI device. `name` is NUL-terminated and
        // lives for as long as the region can (`'static`).
        to_result(unsafe { bindings::pci_request_region(raw_pci(pdev), bar, name.as_char_ptr()) })?;
        // INVARIANT: The region is reserved, and released on drop.
        Ok(Self {
            pdev: pdev.into(),
            bar,
        })
    }
}

impl Drop for BarClaim {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `pci_request_region()` reserved the
        // region for this claim, and this is the only release.
        unsafe { bindings::pci_release_region(raw_pci(&self.pdev), self.bar) };
    }
}

/// A claimed and mapped memory BAR of a PCI device ([`BarMap`]) that
/// belongs to the bound device: unmapped and released when the device is
/// unbound, or at once with [`DevmOwned::release`] (upstream's
/// `pci::Device::iomap_region_sized`, on kalloc's device-scoped types).
///
/// # Examples
///
/// ```ignore
/// use kernel::io::Io;
///
/// // In probe(): BAR 0, with the compile-time checked accessors below 0x100.
/// let regs = DevmIoMap::<0x100>::map_bar(pdev, 0, c"my_driver")?;
/// let id = regs.read32(0x00);
/// ```
pub type DevmIoMap<'a, const SIZE: usize = 0> = DevmOwned<'a, BarMap<SIZE>>;

impl<'a, const SIZE: usize> DevmIoMap<'a, SIZE> {
    /// Claims memory BAR `bar` of `pdev` for the driver `name` and maps all
    /// of it, until the device is unbound. A driver calls it for the devices
    /// it drives (see the module documentation).
    ///
    /// Errors: `EINVAL` if `bar` is not a BAR number (0 to 5) or is an I/O
    /// port range; `ENODEV` if the device does not implement the BAR or it
    /// is not assigned; `EBUSY` if the BAR is claimed already (by another
    /// driver, or by an earlier mapping of this one); as for
    /// [`IoMap::ioremap`] (which may sleep) and [`DevmOwned::new`].
    pub fn map_bar(pdev: &'a pci::Device<Bound>, bar: u32, name: &'static CStr) -> Result<Self> {
        let (start, len) = mem_bar(pdev, bar)?;
        let claim = BarClaim::request(pdev, bar, name)?;
        // SAFETY: `claim` reserves memory BAR `bar` of `pdev` for the caller:
        // no other driver that claims its BARs maps it. The mapping goes before
        // the claim (`BarMap`'s field order), at unbind at the latest.
        let map = unsafe { IoMap::ioremap(start, len) }?;
        // INVARIANT: `map` maps all of the BAR `claim` claims.
        Self::new(pdev.as_ref(), BarMap { map, _claim: claim })
    }
}

/// Where memory BAR `bar` of `pdev` is: its physical address and length.
fn mem_bar(pdev: &pci::Device<Bound>, bar: u32) -> Result<(PhysAddr, usize)> {
    // SAFETY: `raw_pci(pdev)` is the valid `struct pci_dev` behind `pdev`.
    let bar = unsafe { crate::iomem::mem_bar_of(raw_pci(pdev), bar) }?;
    Ok((bar.start, usize::try_from(bar.len)?))
}

/// Enables a PCI device for the time it is bound (C's
/// `pcim_enable_device()`): the device core disables it again on unbind.
///
/// Called from a bus callback (`probe()`), hence the [`Core`] context.
pub fn pcim_enable_device(pdev: &pci::Device<Core<'_>>) -> Result {
    // SAFETY: `raw_pci(pdev)` is a valid `struct pci_dev` in a bus callback,
    // where its device lock is held; the enable is undone by a devres action.
    to_result(unsafe { bindings::pcim_enable_device(raw_pci(pdev)) })
}

/// Test aids for kalloc's self-tests, which watch what binding and unbinding
/// do (KUnit builds only).
///
/// Their callers use them only on devices kalloc itself drives: faux devices
/// they created, and the edu device bound to kalloc's driver, `kalloc_edu`
/// (unbinding and binding it again). Unbinding another driver's device, or
/// putting kalloc's resources on it, is not kalloc's business.
#[cfg(CONFIG_KUNIT)]
pub(crate) mod testing {
    use super::*;

    // The shims in `shims.c` (see the `extern` block above for the lint).
    #[allow(improper_ctypes)]
    extern "C" {
        fn kalloc_devres_count(dev: *mut bindings::device) -> usize;
        fn kalloc_device_lock(dev: *mut bindings::device);
        fn kalloc_device_unlock(dev: *mut bindings::device);
        fn kalloc_device_bound_to_kalloc(dev: *mut bindings::device) -> bool;
    }

    /// The number of resources on `dev`'s resource list: device-scoped
    /// allocations, release actions and group markers alike. It is empty
    /// when the device is not bound.
    ///
    /// It shows that a device-scoped allocation adds one entry, an early
    /// release removes it, and unbinding removes them all.
    pub(crate) fn devres_count(dev: &Device) -> usize {
        // SAFETY: `dev` is a valid device; the shim walks its list under the
        // list's lock.
        unsafe { kalloc_devres_count(raw(dev)) }
    }

    /// Runs `f` under `dev`'s device lock, so that it is not bound or
    /// unbound meanwhile.
    fn locked<R>(dev: &Device, f: impl FnOnce() -> R) -> R {
        // SAFETY: `dev` is a valid device.
        unsafe { kalloc_device_lock(raw(dev)) };
        let ret = f();
        // SAFETY: The device lock was taken above.
        unsafe { kalloc_device_unlock(raw(dev)) };
        ret
    }

    /// Whether `dev` is bound to a driver.
    pub(crate) fn is_bound(dev: &Device) -> bool {
        locked(dev, || {
            // SAFETY: `dev` is a valid device, and its lock is held.
            unsafe { bindings::device_is_bound(raw(dev)) }
        })
    }

    /// Runs `f` with proof that `dev` is bound, if it is bound to a driver
    /// of kalloc (`kalloc_edu`); `ENODEV` otherwise. Code in `f` acts for
    /// kalloc's driver.
    ///
    /// Holds the device lock while `f` runs, so the device cannot be unbound
    /// meanwhile: `f` must not bind or unbind the device itself (that would
    /// deadlock). Resources `f` allocates for the device stay with it after
    /// `f` returns, until it is unbound.
    pub(crate) fn with_bound_to_kalloc<R>(
        dev: &Device,
        f: impl FnOnce(&Device<Bound>) -> R,
    ) -> Result<R> {
        locked(dev, || {
            // SAFETY: `dev` is a valid device, and its lock is held.
            if unsafe { kalloc_device_bound_to_kalloc(raw(dev)) } {
                // SAFETY: The device is bound, and stays bound while the
                // device lock is held, that is, until after `f` returns; the
                // reference passed to `f` cannot escape it.
                Ok(f(unsafe { dev.as_bound() }))
            } else {
                Err(ENODEV)
            }
        })
    }

    /// The first PCI device with this vendor and device ID (C's
    /// `pci_get_device(vendor, device, NULL)`), or `ENODEV`.
    pub(crate) fn find_pci_device(vendor: u16, device: u16) -> Result<ARef<pci::Device>> {
        // SAFETY: With `from == NULL`, `pci_get_device()` searches from the
        // first device, and returns a match with a reference taken, or NULL.
        let pdev =
            unsafe { bindings::pci_get_device(vendor.into(), device.into(), ptr::null_mut()) };
        let pdev = NonNull::new(pdev).ok_or(ENODEV)?;
        // SAFETY: `pci::Device` is a transparent wrapper of `struct pci_dev`,
        // and the reference `pci_get_device()` took goes to the `ARef`.
        Ok(unsafe { ARef::from_raw(pdev.cast()) })
    }

    /// Unbinds `dev` from its driver, if it is bound (C's
    /// `device_release_driver()`, what writing to a driver's `unbind` file
    /// in sysfs does): the driver's remove callback runs, then the device's
    /// resources are released.
    pub(crate) fn release_driver(dev: &Device) {
        // SAFETY: `dev` is a valid device; the caller holds a reference to it.
        unsafe { bindings::device_release_driver(raw(dev)) };
    }

    /// Binds `dev` to a matching driver, if it has none (C's
    /// `device_attach()`). Returns whether the device is bound afterwards.
    pub(crate) fn attach_driver(dev: &Device) -> Result<bool> {
        // SAFETY: `dev` is a valid device; the caller holds a reference to it.
        let ret = unsafe { bindings::device_attach(raw(dev)) };
        to_result(ret)?;
        Ok(ret > 0)
    }
}

#[kunit_tests(kalloc_devm)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::edu::{self, testing as edu_testing};
    use crate::gfp::{
        GFP_ATOMIC, GFP_DMA, GFP_DMA32, GFP_HIGHUSER, GFP_KERNEL, __GFP_HIGHMEM, __GFP_NOWARN,
        __GFP_RETRY_MAYFAIL,
    };
    use crate::iomem::read_edu_nofault;
    use core::cell::Cell;
    use kernel::{
        devres, faux, new_spinlock,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc,
        },
    };

    /// How many resources of each kind a faux device holds.
    const N: usize = 16;
    /// How many faux devices are created and destroyed in turn.
    const ROUNDS: usize = 4;
    /// edu's identification register, at offset 0 of BAR 0: version 1.0.
    const EDU_ID: u32 = 0x0100_00ed;

    /// A new faux device: bound as soon as it exists, unbound when the
    /// registration is dropped. Each case names its own, so that a failed
    /// case (which leaks its device) does not fail the others.
    fn faux_device(name: &CStr) -> Result<faux::Registration> {
        faux::Registration::new(name, None)
    }

    /// The device of a faux registration, bound while the registration lives.
    fn bound(reg: &faux::Registration) -> &Device<Bound> {
        let fdev: &faux::Device<Bound> = reg.as_ref();
        fdev.as_ref()
    }

    /// What the release actions of one device saw.
    struct Tally {
        released: Atomic<usize>,
        out_of_order: Atomic<usize>,
        last: Atomic<usize>,
    }

    impl Tally {
        fn new() -> Result<Arc<Self>> {
            let tally = Tally {
                released: Atomic::new(0),
                out_of_order: Atomic::new(0),
                last: Atomic::new(usize::MAX),
            };
            Ok(Arc::new(tally, kflags::GFP_KERNEL)?)
        }
    }

    /// A release action that counts: dropped by the device when it is
    /// unbound (upstream's `devres::register`, over `devm_add_action()`).
    /// Devres releases in reverse order, so each index is lower than the
    /// one released before it.
    struct Release {
        tally: Arc<Tally>,
        index: usize,
    }

    impl Release {
        fn register(dev: &Device<Bound>, tally: &Arc<Tally>, index: usize) -> Result {
            let tally = tally.clone();
            devres::register(dev, Release { tally, index }, kflags::GFP_KERNEL)
        }
    }

    impl Drop for Release {
        fn drop(&mut self) {
            if self.tally.last.xchg(self.index, Relaxed) <= self.index {
                self.tally.out_of_order.fetch_add(1, Relaxed);
            }
            self.tally.released.fetch_add(1, Relaxed);
        }
    }

    /// `n` times 4 KiB of `'x'`, for long strings; counts the chunks it
    /// wrote.
    struct Repeat {
        n: usize,
        written: Cell<usize>,
    }

    impl Repeat {
        fn new(n: usize) -> Self {
            Repeat {
                n,
                written: Cell::new(0),
            }
        }
    }

    impl kernel::fmt::Display for Repeat {
        fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
            const CHUNK: &str = match core::str::from_utf8(&[b'x'; 4096]) {
                Ok(s) => s,
                Err(_) => panic!(),
            };
            for _ in 0..self.n {
                f.write_str(CHUNK)?;
                self.written.set(self.written.get() + 1);
            }
            Ok(())
        }
    }

    /// Text that changes each time it is formatted: `n` times `'x'`, where
    /// `n` grows, or shrinks, by one per call.
    struct Changing {
        n: Cell<usize>,
        grow: bool,
    }

    impl kernel::fmt::Display for Changing {
        fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
            let n = self.n.get();
            self.n.set(if self.grow { n + 1 } else { n.saturating_sub(1) });
            for _ in 0..n {
                f.write_str("x")?;
            }
            Ok(())
        }
    }

    /// Each kind of allocation adds one entry to the device's list and
    /// gives usable memory: written values read back, zeroed kinds are
    /// zero, strings hold what was formatted.
    #[test]
    fn each_allocation_is_one_entry_on_the_device_list() -> Result {
        let reg = faux_device(c"kalloc_devm_entries")?;
        let dev = bound(&reg);
        let base = devres_count(dev);

        let mut value = DevmBox::new(dev, 0x1234_5678_u64, GFP_KERNEL)?;
        *value += 1;
        assert_eq!(*value, 0x1234_5679);
        assert_eq!(core::ptr::from_ref(&*value).addr() % DEVM_ALIGN, 0);
        assert_eq!(devres_count(dev), base + 1);

        let zeroed = DevmBox::<[u64; 8]>::new_zeroed(dev, GFP_KERNEL)?;
        assert!(zeroed.iter().all(|&v| v == 0));
        assert_eq!(devres_count(dev), base + 2);

        let mut array = DevmBox::<[u32]>::new_slice_zeroed(dev, 100, GFP_KERNEL)?;
        assert_eq!(array.len(), 100);
        assert!(array.iter().all(|&v| v == 0));
        array[99] = 7;
        assert_eq!(array[99], 7);
        assert_eq!(devres_count(dev), base + 3);

        let label = DevmStr::format(dev, GFP_KERNEL, fmt!("edu-{}.{:02x}", 1, 0xa))?;
        assert_eq!(label.to_bytes(), b"edu-1.0a");
        assert_eq!(devres_count(dev), base + 4);

        let mut pages = DevmPages::alloc(dev, GFP_KERNEL, 1)?;
        assert_eq!(pages.order(), 1);
        assert_eq!(pages.len(), 2 * bindings::PAGE_SIZE);
        assert!(pages.iter().all(|&b| b == 0));
        pages[bindings::PAGE_SIZE + 1] = 0xa5;
        assert_eq!(pages[bindings::PAGE_SIZE + 1], 0xa5);
        assert_eq!(devres_count(dev), base + 5);

        // Every handle belongs to the device it was allocated for.
        for owner in [value.device(), array.device(), label.device(), pages.device()] {
            assert!(core::ptr::eq(owner, dev));
        }
        Ok(())
    }

    /// A faux device holding `N` allocations of each kind (their handles
    /// dropped at once: the memory stays with the device) and `N` counting
    /// release actions, destroyed: every action ran, in reverse order, and
    /// the device's list is empty. The memory itself was freed with its
    /// entry (kmemleak reports it otherwise). Devices come and go in turn.
    #[test]
    fn destroying_a_device_releases_everything() -> Result {
        for round in 0..ROUNDS {
            let tally = Tally::new()?;
            let reg = faux_device(c"kalloc_devm_destroy")?;
            let dev = bound(&reg);
            // A reference that outlives the registration, to look at the
            // device once it is gone from the bus.
            let kept: ARef<Device> = dev.into();
            let base = devres_count(dev);
            for i in 0..N {
                let _ = DevmBox::new(dev, i, GFP_KERNEL)?;
                let _ = DevmBox::<[u8; 64]>::new_zeroed(dev, GFP_KERNEL)?;
                let _ = DevmBox::<[u16]>::new_slice_zeroed(dev, i + 1, GFP_KERNEL)?;
                let _ = DevmStr::format(dev, GFP_KERNEL, fmt!("round {round}, item {i}"))?;
                let _ = DevmPages::alloc(dev, GFP_KERNEL, (i % 3) as u32)?;
                Release::register(dev, &tally, i)?;
            }
            assert_eq!(devres_count(dev), base + 6 * N);
            assert!(is_bound(&kept));

            // `faux_device_destroy()`: unbinds the device, then removes it.
            drop(reg);
            assert_eq!(tally.released.load(Relaxed), N);
            assert_eq!(tally.out_of_order.load(Relaxed), 0);
            assert_eq!(devres_count(&kept), 0);
            assert!(!is_bound(&kept));
        }
        Ok(())
    }

    /// Early release takes an allocation off the device's list and frees
    /// it; destroying the device then releases the others and does not
    /// free the early ones again (KASAN would report a double free, and
    /// devres warn about an unknown pointer).
    #[test]
    fn early_release_frees_once() -> Result {
        let tally = Tally::new()?;
        let reg = faux_device(c"kalloc_devm_early")?;
        let dev = bound(&reg);
        let kept: ARef<Device> = dev.into();
        let base = devres_count(dev);

        let mut boxes = KVec::with_capacity(N, kflags::GFP_KERNEL)?;
        let mut strings = KVec::with_capacity(N, kflags::GFP_KERNEL)?;
        let mut pages = KVec::with_capacity(N, kflags::GFP_KERNEL)?;
        for i in 0..N {
            boxes.push(DevmBox::new(dev, i, GFP_KERNEL)?, kflags::GFP_KERNEL)?;
            strings.push(DevmStr::format(dev, GFP_KERNEL, fmt!("{i}"))?, kflags::GFP_KERNEL)?;
            pages.push(DevmPages::alloc(dev, GFP_KERNEL, 0)?, kflags::GFP_KERNEL)?;
            Release::register(dev, &tally, i)?;
        }
        assert_eq!(devres_count(dev), base + 4 * N);

        // Give back the even ones, in all three kinds: one entry less each.
        let mut expected = base + 4 * N;
        for (i, b) in boxes.into_iter().enumerate() {
            assert_eq!(*b, i);
            if i % 2 == 0 {
                b.free();
                expected -= 1;
                assert_eq!(devres_count(dev), expected);
            }
        }
        for (i, s) in strings.into_iter().enumerate() {
            if i % 2 == 0 {
                s.free();
                expected -= 1;
                assert_eq!(devres_count(dev), expected);
            }
        }
        for (i, p) in pages.into_iter().enumerate() {
            if i % 2 == 0 {
                p.free();
                expected -= 1;
                assert_eq!(devres_count(dev), expected);
            }
        }
        assert_eq!(expected, base + 4 * N - 3 * N / 2);
        // The early releases ran no release action.
        assert_eq!(tally.released.load(Relaxed), 0);

        drop(reg);
        assert_eq!(tally.released.load(Relaxed), N);
        assert_eq!(devres_count(&kept), 0);
        Ok(())
    }

    /// Requests that make no sense are errors, made before C sees them (no
    /// warning), and add nothing to the device's list.
    #[test]
    fn bad_requests_are_errors() -> Result {
        let reg = faux_device(c"kalloc_devm_bad")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        let k = GFP_KERNEL | __GFP_NOWARN;

        // Nothing to allocate.
        assert_eq!(DevmBox::new(dev, (), k).err(), Some(EINVAL));
        assert_eq!(DevmBox::<[u8]>::new_slice_zeroed(dev, 0, k).err(), Some(EINVAL));
        // Sizes that overflow, or that kmalloc cannot serve.
        let overflow = usize::MAX / 4 + 1;
        assert_eq!(DevmBox::<[u32]>::new_slice_zeroed(dev, overflow, k).err(), Some(EOVERFLOW));
        assert_eq!(DevmBox::<[u64]>::new_slice_zeroed(dev, usize::MAX, k).err(), Some(EOVERFLOW));
        let over = DEVM_KMALLOC_MAX_SIZE + 1;
        assert_eq!(DevmBox::<[u8]>::new_slice_zeroed(dev, over, k).err(), Some(ENOMEM));
        assert_eq!(DevmBox::<[u8]>::new_slice_zeroed(dev, usize::MAX, k).err(), Some(ENOMEM));
        let long = Repeat::new(DEVM_KMALLOC_MAX_SIZE / 4096);
        assert_eq!(DevmStr::format(dev, k, fmt!("{long}")).err(), Some(ENOMEM));
        // Flags the allocators cannot honour.
        for flags in [
            GFP_KERNEL | GFP_DMA32,
            GFP_KERNEL | __GFP_HIGHMEM,
            GFP_KERNEL | GFP_DMA | GFP_DMA32,
            GFP_KERNEL | __GFP_NOFAIL,
        ] {
            assert_eq!(DevmBox::new(dev, 0u32, flags).err(), Some(EINVAL));
            assert_eq!(DevmBox::<u32>::new_zeroed(dev, flags).err(), Some(EINVAL));
            assert_eq!(DevmBox::<[u32]>::new_slice_zeroed(dev, 4, flags).err(), Some(EINVAL));
            assert_eq!(DevmStr::format(dev, flags, fmt!("x")).err(), Some(EINVAL));
        }
        // Pages: too large an order, highmem, no sleeping, no failing.
        assert_eq!(DevmPages::alloc(dev, k, MAX_PAGE_ORDER + 1).err(), Some(EINVAL));
        assert_eq!(DevmPages::alloc(dev, k, u32::MAX).err(), Some(EINVAL));
        assert_eq!(DevmPages::alloc(dev, GFP_HIGHUSER, 0).err(), Some(EINVAL));
        assert_eq!(DevmPages::alloc(dev, GFP_ATOMIC, 0).err(), Some(EINVAL));
        assert_eq!(DevmPages::alloc(dev, GFP_KERNEL | __GFP_NOFAIL, 0).err(), Some(EINVAL));
        // Two zones: invalid even where sleeping is allowed.
        let two_zones = GFP_KERNEL | GFP_DMA | GFP_DMA32;
        assert_eq!(DevmPages::alloc(dev, two_zones, 0).err(), Some(EINVAL));

        assert_eq!(devres_count(dev), base);
        Ok(())
    }

    /// The largest requests are served: [`DEVM_KMALLOC_MAX_SIZE`] bytes, and
    /// pages of order [`MAX_PAGE_ORDER`]. `GFP_ATOMIC` works for the kmalloc
    /// family, `GFP_DMA` for both.
    #[test]
    fn largest_requests_and_other_flags_succeed() -> Result {
        let reg = faux_device(c"kalloc_devm_largest")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        // Order-10 allocations: try hard (the VM's 1 GiB may be fragmented),
        // and fail with ENOMEM rather than a warning.
        let large = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;

        let big = DevmBox::<[u8]>::new_slice_zeroed(dev, DEVM_KMALLOC_MAX_SIZE, large)?;
        assert_eq!(big.len(), DEVM_KMALLOC_MAX_SIZE);
        assert_eq!((big[0], big[DEVM_KMALLOC_MAX_SIZE - 1]), (0, 0));
        let pages = DevmPages::alloc(dev, large, MAX_PAGE_ORDER)?;
        assert_eq!(pages.len(), bindings::PAGE_SIZE << MAX_PAGE_ORDER);
        let atomic = DevmBox::new(dev, [1u8; 3], GFP_ATOMIC)?;
        assert_eq!(*atomic, [1, 1, 1]);
        let dma = DevmBox::<[u8; 32]>::new_zeroed(dev, GFP_KERNEL | GFP_DMA)?;
        assert_eq!(*dma, [0; 32]);
        let dma_pages = DevmPages::alloc(dev, GFP_KERNEL | GFP_DMA, 0)?;
        assert_eq!(devres_count(dev), base + 5);

        big.free();
        pages.free();
        dma_pages.free();
        assert_eq!(devres_count(dev), base + 2);
        Ok(())
    }

    /// Under a spinlock, handing a value to the device is refused with
    /// `EAGAIN` (its bookkeeping is allocated with `GFP_KERNEL`), and the
    /// value is dropped at once; so is device memory with `GFP_KERNEL`,
    /// while `GFP_ATOMIC` works. Outside, the value goes to the device,
    /// which drops it when it is destroyed. (No assertions under the lock:
    /// a failed one would end the test with the lock held.)
    #[test]
    fn owned_values_need_a_sleeping_context() -> Result {
        let tally = Tally::new()?;
        let reg = faux_device(c"kalloc_devm_atomic")?;
        let dev = bound(&reg);
        let kept: ARef<Device> = dev.into();
        let base = devres_count(dev);
        let lock = KBox::pin_init(new_spinlock!(()), kflags::GFP_KERNEL)?;

        let release = |index| Release {
            tally: tally.clone(),
            index,
        };
        let (owned, sleeping, atomic) = {
            let _guard = lock.lock();
            let owned = DevmOwned::new(dev, release(1)).err();
            let sleeping = DevmBox::new(dev, 0u32, GFP_KERNEL).err();
            let atomic = DevmBox::new(dev, 7u32, GFP_ATOMIC).map(|b| *b);
            (owned, sleeping, atomic)
        };
        assert_eq!(owned, Some(EAGAIN));
        assert_eq!(tally.released.load(Relaxed), 1);
        assert_eq!(sleeping, Some(EAGAIN));
        assert_eq!(atomic, Ok(7));
        assert_eq!(devres_count(dev), base + 1);

        let owned = DevmOwned::new(dev, release(0))?;
        assert_eq!(owned.index, 0);
        assert_eq!(devres_count(dev), base + 2);
        drop(reg);
        assert_eq!(tally.released.load(Relaxed), 2);
        assert_eq!(devres_count(&kept), 0);
        Ok(())
    }

    /// `devm_kasprintf()` through `%pA` formats Rust arguments: width,
    /// precision, `Debug`, non-ASCII text, the empty string, and strings
    /// longer than a page, in full.
    #[test]
    fn kasprintf_formats_rust_arguments() -> Result {
        let reg = faux_device(c"kalloc_devm_kasprintf")?;
        let dev = bound(&reg);

        let s = DevmStr::format(dev, GFP_KERNEL, fmt!("{:>6}|{:<4}|{:.3}", "ab", 7, "abcdef"))?;
        assert_eq!(s.to_bytes(), b"    ab|7   |abc");
        let s = DevmStr::format(dev, GFP_KERNEL, fmt!("{:?} {:#x} µs", "q\"", 255))?;
        assert_eq!(s.to_bytes(), "\"q\\\"\" 0xff µs".as_bytes());
        let empty = DevmStr::format(dev, GFP_KERNEL, fmt!(""))?;
        assert_eq!(empty.to_bytes_with_nul(), b"\0");
        let long = DevmStr::format(dev, GFP_KERNEL, fmt!("<{}>", Repeat::new(3)))?;
        let bytes = long.to_bytes();
        assert_eq!(bytes.len(), 3 * 4096 + 2);
        assert_eq!((bytes[0], bytes[1], bytes[3 * 4096], bytes[3 * 4096 + 1]), (b'<', b'x', b'x', b'>'));
        Ok(())
    }

    /// `DevmStr::format` checks the text before C formats it, and formats
    /// it only as far as needed: a NUL byte (which would cut the C string)
    /// is `EINVAL`; a 1 GiB `Display` is `ENOMEM` after no more than the
    /// largest string's worth of text; text that is not the same when
    /// formatted again (which would give C two lengths) is `EINVAL`.
    /// Nothing goes on the device's list.
    #[test]
    fn format_refuses_nul_huge_and_changing_text() -> Result {
        let reg = faux_device(c"kalloc_devm_format")?;
        let dev = bound(&reg);
        let base = devres_count(dev);
        let k = GFP_KERNEL | __GFP_NOWARN;

        assert_eq!(DevmStr::format(dev, k, fmt!("a{}b", "\0")).err(), Some(EINVAL));
        assert_eq!(DevmStr::format(dev, k, fmt!("{}", '\0')).err(), Some(EINVAL));

        let huge = Repeat::new(1 << 18);
        assert_eq!(DevmStr::format(dev, k, fmt!("{huge}")).err(), Some(ENOMEM));
        assert!(huge.written.get() <= DEVM_KMALLOC_MAX_SIZE / 4096);

        let growing = Changing {
            n: Cell::new(1),
            grow: true,
        };
        assert_eq!(DevmStr::format(dev, k, fmt!("{growing}")).err(), Some(EINVAL));
        let shrinking = Changing {
            n: Cell::new(2),
            grow: false,
        };
        assert_eq!(DevmStr::format(dev, k, fmt!("{shrinking}")).err(), Some(EINVAL));

        assert_eq!(devres_count(dev), base);
        Ok(())
    }

    /// The edu device, found through the PCI core.
    fn edu_device() -> Result<ARef<pci::Device>> {
        find_pci_device(edu::VENDOR_ID, edu::DEVICE_ID)
    }

    /// Where kalloc's edu driver mapped BAR 0 when it was last probed.
    fn edu_regs() -> usize {
        edu_testing::REGS_AT.load(Relaxed)
    }

    /// kalloc's edu driver is bound (it has been probed once more than
    /// removed), holds exactly the device resources its probe takes, and
    /// its mapping of BAR 0 reads edu's identification register.
    #[test]
    fn edu_driver_holds_its_device_resources() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        assert_eq!(edu::probes(), edu::removes() + 1);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        assert!(with_bound_to_kalloc(dev, |_| ()).is_ok());
        assert_eq!(read_edu_nofault(edu_regs())?, EDU_ID);
        Ok(())
    }

    /// `N` more device-scoped allocations and `N` counting release actions
    /// for the edu device, then it is unbound (as by sysfs `unbind`): the
    /// driver's remove ran, every action ran, in reverse order, the
    /// device's list is empty, and the driver's mapping of BAR 0 is gone (a
    /// load from it faults). Bound again (sysfs `bind`), the driver takes
    /// the same resources as before, and no more: its probe claims BAR 0
    /// again, which it could not (`EBUSY`) had unbinding not released it.
    #[test]
    fn edu_unbind_releases_everything_and_rebind_restores_it() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        let (probes, removes) = (edu::probes(), edu::removes());
        let tally = Tally::new()?;

        // No assertions while the device lock is held: a failed one ends the
        // test without unlocking.
        with_bound_to_kalloc(dev, |dev| -> Result {
            for i in 0..N {
                let _ = DevmBox::new(dev, i, GFP_KERNEL)?;
                Release::register(dev, &tally, i)?;
            }
            Ok(())
        })??;
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES + 2 * N);
        let regs = edu_regs();
        assert_eq!(read_edu_nofault(regs)?, EDU_ID);

        release_driver(dev);
        assert_eq!(edu::removes(), removes + 1);
        assert_eq!(tally.released.load(Relaxed), N);
        assert_eq!(tally.out_of_order.load(Relaxed), 0);
        assert_eq!(devres_count(dev), 0);
        assert_eq!(read_edu_nofault(regs).err(), Some(EFAULT));
        assert!(!is_bound(dev));
        assert_eq!(with_bound_to_kalloc(dev, |_| ()).err(), Some(ENODEV));

        assert!(attach_driver(dev)?);
        assert_eq!(edu::probes(), probes + 1);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        assert_eq!(read_edu_nofault(edu_regs())?, EDU_ID);
        Ok(())
    }

    /// Releasing a device-scoped mapping early unmaps it, takes it off the
    /// list and gives back its claim on the BAR, once. The edu driver's
    /// probe, asked to, maps BAR 0 and releases that mapping before it maps
    /// BAR 0 for itself (which it can only do if the claim was given back);
    /// the device, unbound later, does not unmap it again (vunmap would
    /// warn).
    #[test]
    fn iomap_early_release_unmaps_once() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        let probes = edu::probes();
        edu_testing::EARLY_ID.store(0, Relaxed);
        edu_testing::EARLY_OFF_LIST.store(0, Relaxed);
        edu_testing::EARLY_UNMAPPED.store(false, Relaxed);

        edu_testing::EARLY_RELEASE.store(true, Relaxed);
        release_driver(dev);
        let bound = attach_driver(dev);
        edu_testing::EARLY_RELEASE.store(false, Relaxed);
        assert!(bound?);
        assert_eq!(edu::probes(), probes + 1);
        assert_eq!(edu_testing::EARLY_ID.load(Relaxed), EDU_ID);
        assert_eq!(edu_testing::EARLY_OFF_LIST.load(Relaxed), 1);
        assert!(edu_testing::EARLY_UNMAPPED.load(Relaxed));
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);

        release_driver(dev);
        assert_eq!(devres_count(dev), 0);
        assert!(attach_driver(dev)?);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        Ok(())
    }

    /// Mapping a BAR that is not there, or not memory, is an error; so is
    /// mapping a BAR that is claimed already (edu's driver holds BAR 0).
    #[test]
    fn iomap_bad_bars_are_errors() -> Result {
        let pdev = edu_device()?;
        let dev: &Device = pdev.as_ref();
        let errs = with_bound_to_kalloc(dev, |dev| -> Result<_> {
            let pdev: &pci::Device<Bound> = dev.try_into()?;
            let err = |bar| DevmIoMap::<0>::map_bar(pdev, bar, c"kalloc_devm_test").err();
            Ok([err(0), err(1), err(5), err(6), err(u32::MAX)])
        })??;
        let expected = [Some(EBUSY), Some(ENODEV), Some(ENODEV), Some(EINVAL), Some(EINVAL)];
        assert_eq!(errs, expected);
        assert_eq!(devres_count(dev), edu::DEVICE_RESOURCES);
        Ok(())
    }
}
