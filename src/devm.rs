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

use crate::ffi;
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
pub const DEVM_KMALLOC_MAX_SIZE: usize = bindings::KMALLOC_MAX_SIZE as usize - bindings::PAGE_SIZE;

/// The alignment `devm_kmalloc()` guarantees: that of `unsigned long long`.
/// A [`DevmBox`] of a type with a larger alignment does not compile.
pub const DEVM_ALIGN: usize = align_of::<u64>();

/// The largest order [`DevmPages::alloc`] accepts (C's `MAX_PAGE_ORDER`).
pub const MAX_PAGE_ORDER: u32 = bindings::MAX_PAGE_ORDER;

/// The C `struct device` of `dev`.
pub(crate) fn raw<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is a transparent wrapper of `Opaque<bindings::device>`,
    // itself a transparent wrapper of the C struct. (Upstream's `as_raw()` is
    // private to the kernel crate.)
    ptr::from_ref(dev).cast::<bindings::device>().cast_mut()
}

/// The C `struct pci_dev` of `pdev`.
pub(crate) fn raw_pci<Ctx: DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
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
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
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
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
        let flags = check_request(size_of::<T>(), flags)?;
        // SAFETY: As in `new`.
        let ptr = unsafe { ffi::kalloc_devm_kzalloc(raw(dev), size_of::<T>(), flags.as_raw()) };
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
        const {
            assert!(
                storable::<T>(),
                "no drop glue, alignment at most DEVM_ALIGN"
            )
        };
        let size = len.checked_mul(size_of::<T>()).ok_or(EOVERFLOW)?;
        let flags = check_request(size, flags)?;
        // SAFETY: As in `new`; `len * size_of::<T>()` does not overflow.
        let ptr =
            unsafe { ffi::kalloc_devm_kcalloc(raw(dev), len, size_of::<T>(), flags.as_raw()) };
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
        NonNull::new(ptr).map(|ptr| Self { dev, ptr }).ok_or(ENOMEM)
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
        let addr = unsafe {
            bindings::devm_get_free_pages(raw(dev), (flags | __GFP_ZERO).as_raw(), order)
        };
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

#[cfg(kalloc_selftest)]
mod tests;
