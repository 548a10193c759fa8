// SPDX-License-Identifier: GPL-2.0

//! [`FauxDevice`]: a faux device of a module's own, with the state it keeps
//! in device-scoped memory for as long as the device exists.

use core::{marker::PhantomData, mem::ManuallyDrop, ptr, ptr::NonNull};
use kernel::{
    bindings,
    device::{Bound, Device},
    prelude::*,
};

/// The state a [`FauxDevice`] keeps: `Data<'bound>` may borrow the device
/// for `'bound`, as a PCI driver's data does (`pci::Driver::Data<'bound>`),
/// so it can hold [`DevmBox`](crate::devm::DevmBox) and the other
/// device-scoped handles. `()` is a device without state.
pub trait FauxData {
    /// The state, for a device bound for `'bound`.
    type Data<'bound>: 'bound;
}

impl FauxData for () {
    type Data<'bound> = ();
}

/// A faux device (C's `faux_device_create()`) and its state, `T::Data`.
///
/// The device is bound to the faux driver as soon as it exists and stays
/// bound until this value is dropped (`faux_device_destroy()`): user space
/// cannot unbind it. So the state may hold the device's devm memory: it is
/// made by [`FauxDevice::new`] from the bound device, and dropped before the
/// device is unbound, which frees that memory. A module keeps a
/// `FauxDevice` in its own state, device and memory together.
///
/// The state is reached through [`FauxDevice::with`], for a lifetime of the
/// call's own: nothing borrowed for less than the device's life can be put
/// in it.
///
/// # Examples
///
/// ```
/// use kalloc::devm::{DevmBox, FauxData, FauxDevice};
/// use kernel::device::{Bound, Device};
///
/// /// What the device keeps while it exists: memory it owns.
/// struct Rings<'bound> {
///     rx: DevmBox<'bound, [u32]>,
///     tx: DevmBox<'bound, [u32]>,
/// }
///
/// struct MyFaux;
///
/// impl FauxData for MyFaux {
///     type Data<'bound> = Rings<'bound>;
/// }
///
/// /// The module's state: the device and its memory, side by side.
/// struct MyModule {
///     faux: FauxDevice<MyFaux>,
/// }
///
/// fn probe<'bound>(dev: &'bound Device<Bound>) -> Result<Rings<'bound>> {
///     Ok(Rings {
///         rx: DevmBox::<[u32]>::new_slice_zeroed(dev, 64, GFP_KERNEL)?,
///         tx: DevmBox::<[u32]>::new_slice_zeroed(dev, 64, GFP_KERNEL)?,
///     })
/// }
///
/// let module = MyModule {
///     faux: FauxDevice::<MyFaux>::new(c"kalloc_faux_example", probe)?,
/// };
/// let slots = module.faux.with(|_dev, rings| rings.rx.len() + rings.tx.len());
/// assert_eq!(slots, 128);
/// drop(module); // the rings, then the device: its memory goes back
/// ```
///
/// # Invariants
///
/// - `raw` is a faux device this value created, bound, and destroyed only
///   by its `drop`;
/// - `data` was made from `raw`'s device, with `'static` standing for the
///   life of `raw`, and is dropped only by this value's `drop`, before it
///   destroys the device.
pub struct FauxDevice<T: FauxData = ()> {
    data: ManuallyDrop<T::Data<'static>>,
    raw: NonNull<bindings::faux_device>,
    _data: PhantomData<T>,
}

// SAFETY: The device may be destroyed from any thread (C's faux API takes
// care of that; `faux::Registration` is `Send` for the same reason), and
// the state goes where the value goes.
unsafe impl<T: FauxData> Send for FauxDevice<T> where T::Data<'static>: Send {}

// SAFETY: `&FauxDevice` gives `&Device<Bound>` (which is `Sync`) and
// `&T::Data`.
unsafe impl<T: FauxData> Sync for FauxDevice<T> where T::Data<'static>: Sync {}

impl<T: FauxData> FauxDevice<T> {
    /// Creates the faux device `name` (under `/sys/devices/faux/`) and its
    /// state, which `probe` makes from the bound device.
    ///
    /// May sleep.
    ///
    /// # Errors
    ///
    /// `EAGAIN` where sleeping is not allowed; `ENODEV` if C cannot create
    /// the device (a name in use, no memory); whatever `probe` returns, in
    /// which case the device is destroyed again.
    pub fn new(
        name: &CStr,
        probe: impl for<'bound> FnOnce(&'bound Device<Bound>) -> Result<T::Data<'bound>>,
    ) -> Result<Self> {
        crate::gfp::as_gfp::GFP_KERNEL.check()?;
        // SAFETY: `name` is NUL-terminated (C copies it); no parent and no
        // callbacks are allowed.
        let raw = unsafe {
            bindings::faux_device_create(name.as_char_ptr(), ptr::null_mut(), ptr::null())
        };
        let raw = NonNull::new(raw).ok_or(ENODEV)?;
        let dev = Self::device_of(raw);
        match probe(dev) {
            Ok(data) => {
                let data = ManuallyDrop::new(data);
                // SAFETY: Only the lifetime changes (`'static` stands for the
                // device's life, see the invariants); the value is moved, not
                // copied: `data` is not dropped.
                let data = unsafe { ptr::from_ref(&*data).cast::<T::Data<'static>>().read() };
                // INVARIANT: `raw` was just created (bound, see `device_of`),
                // and `data` made from its device.
                Ok(Self {
                    data: ManuallyDrop::new(data),
                    raw,
                    _data: PhantomData,
                })
            }
            Err(e) => {
                // SAFETY: Created above, destroyed once; `probe`'s values are
                // gone.
                unsafe { bindings::faux_device_destroy(raw.as_ptr()) };
                Err(e)
            }
        }
    }

    /// The device, bound while `raw` exists.
    fn device_of<'a>(raw: NonNull<bindings::faux_device>) -> &'a Device<Bound> {
        // SAFETY: `raw` is a faux device, whose `dev` is a live `struct
        // device`. It is bound: `faux_device_create()` returns only a device
        // its driver probed (which matches every device and probes
        // synchronously), and the faux driver cannot be unbound from user
        // space (`suppress_bind_attrs`), so it stays bound until destroyed.
        // `Device<Bound>` is a transparent wrapper of the C struct.
        unsafe { &*(&raw mut (*raw.as_ptr()).dev).cast::<Device<Bound>>() }
    }

    /// The device, bound while `self` exists.
    pub fn device(&self) -> &Device<Bound> {
        Self::device_of(self.raw)
    }

    /// Calls `f` with the device and its state.
    pub fn with<R>(
        &self,
        f: impl for<'bound> FnOnce(&'bound Device<Bound>, &'bound T::Data<'bound>) -> R,
    ) -> R {
        // SAFETY: The state was made for the device's life, which lasts at
        // least as long as this borrow of `self`; `f` can keep nothing with
        // the lifetime it is given (it must work for any).
        let data = unsafe { &*ptr::from_ref(&*self.data).cast::<T::Data<'_>>() };
        f(self.device(), data)
    }
}

impl FauxDevice {
    /// A faux device without state: [`FauxDevice::new`] with a `probe`
    /// that makes none.
    ///
    /// # Errors
    ///
    /// As for [`FauxDevice::new`].
    pub fn without_data(name: &CStr) -> Result<Self> {
        Self::new(name, |_| Ok(()))
    }
}

impl<T: FauxData> Drop for FauxDevice<T> {
    fn drop(&mut self) {
        // SAFETY: Dropped once, here (the invariants), while the device is
        // still bound.
        unsafe { ManuallyDrop::drop(&mut self.data) };
        // SAFETY: Created by `new`, destroyed once, here. Unbinding it frees
        // its devm memory, which nothing refers to any more.
        unsafe { bindings::faux_device_destroy(self.raw.as_ptr()) };
    }
}
