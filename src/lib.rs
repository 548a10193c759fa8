// SPDX-License-Identifier: GPL-2.0

//! kalloc: the Linux kernel's memory allocators as safe Rust types.
//!
//! One module per allocator family; [`gfp`] holds the flags they all take,
//! last in every signature, as in the kernel crate
//! (`LowmemPages::get_free_pages(order, flags)`). A driver uses kalloc as a
//! crate (`use kalloc::kmalloc::KmallocBox;`): see the README's "Use kalloc
//! in your driver".
//!
//! # Two ways in, one container underneath
//!
//! The kernel crate's own containers run on kalloc's checked paths too,
//! under the names a driver already uses: `use kalloc::{KBox, KVec, KVBox,
//! KVVec, VBox, VVec};` instead of the prelude's gives `kernel::alloc::Box<T,
//! kalloc::kmalloc::Kmalloc>`, `kernel::alloc::Vec<T, kalloc::kvmalloc::KVmalloc>`
//! and so on, with everything the kernel crate's `Box` and `Vec` have.
//! kalloc's boxes go where the kernel crate takes ownership: `KmallocBox<T>`
//! and `Pin<KmallocBox<T>>` are `ForeignOwnable` (XArray entries, private
//! data), and `KmallocBox`/`KBox`, `KmallocArray`/`KVec` and `VBuf`/`VVec`
//! convert into each other without a copy.
//!
//! The kernel crate's constructors (`KBox::new(x, GFP_KERNEL)`,
//! `KVec::push`) take its `Flags` and, as its `Allocator` trait says, fail
//! with a bare `AllocError`, whatever kalloc refused. kalloc's own types are
//! thin layers over the same `Box` and `Vec` on the same allocators
//! (`KmallocBox<T>` holds a `kalloc::KBox<T>`, `KmallocArray<T>` a
//! `kalloc::KVec<T>`, `VBuf<T>` a `kalloc::VVec<T>`, `KString` a
//! `KBox<[u8]>`), kept for what the kernel crate's cannot say:
//!
//! | you need | use | you get |
//! |---|---|---|
//! | a flag the kernel crate's closed `Flags` cannot hold (`GFP_DMA`, `__GFP_RETRY_MAYFAIL`, `__GFP_NOFAIL`, ...) | `KmallocBox::new(x, GFP_KERNEL \| GFP_DMA)`, `KmallocArray::zeroed`, `VBuf::new_uninit`, `SlabCache::alloc`, ... | kalloc's flags, checked |
//! | why it failed | the same constructors | `EAGAIN` (a sleeping request where sleeping is not allowed, or NMI context), `EINVAL` (flags that allocator cannot honour), `EOVERFLOW` (`n × size`), `ENOMEM` |
//! | C's `ZERO_SIZE_PTR`, `kfree_sensitive()`, a NUL-terminated `kasprintf()` text | `KmallocArray::into_raw`, `SensitiveBuf`, `KString` | what C expects |
//! | `push`, `extend`, `pin_init`, `ForeignOwnable`, slices | `kalloc::{KBox, KVec, VBox, VVec, KVBox, KVVec}` directly, or `.into()` from kalloc's types (no copy) | `AllocError` on any refusal |
//!
//! # Examples
//!
//! A driver's state, the README's example: a slab cache that lives as long
//! as the module, and a device of the module's own with its state: a vector
//! that grows under a lock, and memory that the device holds until it is
//! unbound.
//!
//! ```
//! use kalloc::devm::{DevmBox, FauxData, FauxDevice};
//! use kalloc::slab::{CacheBox, ModuleCache, SlabOptions};
//! use kalloc::KVec; // the kernel crate's `Vec` on kalloc's kmalloc
//! use kernel::device::{Bound, Device};
//! use kernel::prelude::*;
//! use kernel::sync::{new_mutex, Mutex};
//!
//! struct Request {
//!     id: u32,
//!     len: usize,
//! }
//!
//! kalloc::slab_cache!(
//!     /// The driver's requests.
//!     Requests: Request
//! );
//!
//! /// A bound device's state, made from the device by `probe()` and dropped
//! /// before it is unbound (as a PCI driver's `Data<'bound>` is).
//! #[pin_data]
//! struct MyDevice<'bound> {
//!     /// Requests waiting for the device: a vector that grows, under a lock.
//!     #[pin]
//!     pending: Mutex<KVec<CacheBox<Requests>>>,
//!     /// `devm_kcalloc()`: the device frees it once it is unbound.
//!     stats: DevmBox<'bound, [u64]>,
//! }
//!
//! impl<'bound> MyDevice<'bound> {
//!     fn new(dev: &'bound Device<Bound>) -> impl PinInit<Self, Error> + 'bound {
//!         try_pin_init!(Self {
//!             pending <- new_mutex!(KVec::new()),
//!             stats: DevmBox::<[u64]>::new_slice_zeroed(dev, 4, GFP_KERNEL)?,
//!         })
//!     }
//!
//!     fn submit(&self, id: u32, len: usize) -> Result {
//!         let request = CacheBox::<Requests>::new(Request { id, len }, GFP_KERNEL)?;
//!         self.pending.lock().push(request, GFP_KERNEL)?;
//!         Ok(())
//!     }
//! }
//!
//! /// What the module's faux device keeps: its state, pinned for the lock.
//! struct MyDriver;
//!
//! impl FauxData for MyDriver {
//!     type Data<'bound> = Pin<KBox<MyDevice<'bound>>>;
//! }
//!
//! /// The module's state, made in its `init` and dropped in this order on
//! /// unload: the device (its requests back to the cache, its memory to the
//! /// kernel), then the cache.
//! struct MyModule {
//!     device: FauxDevice<MyDriver>,
//!     _requests: ModuleCache<Requests>,
//! }
//!
//! let requests = ModuleCache::new(c"kalloc_doc_my_requests", SlabOptions::new())?;
//! let device = FauxDevice::<MyDriver>::new(c"kalloc_doc_my_device", |dev| {
//!     KBox::pin_init(MyDevice::new(dev), GFP_KERNEL)
//! })?;
//! let module = MyModule {
//!     device,
//!     _requests: requests,
//! };
//! module.device.with(|_dev, device| -> Result {
//!     device.submit(7, 512)?;
//!     let pending = device.pending.lock();
//!     assert_eq!((pending[0].id, pending[0].len, device.stats.len()), (7, 512, 4));
//!     Ok(())
//! })?;
//! drop(module); // the device and its state, then the cache
//! ```
//!
//! A driver's imports: the prelude's flags for kalloc's types and the
//! kernel crate's alike, kalloc's for what the prelude lacks.
//!
//! ```
//! use kalloc::gfp::{GFP_DMA, __GFP_RETRY_MAYFAIL}; // flags the prelude lacks
//! use kalloc::kmalloc::KmallocBox;
//! use kalloc::slab::{SlabCache, SlabOptions};
//! use kernel::prelude::*; // GFP_KERNEL, GFP_ATOMIC, ... as always
//! use kernel::sync::Arc;
//!
//! let cache = SlabCache::<u64>::new(c"kalloc_readme", SlabOptions::new())?;
//! let object = cache.alloc(7, GFP_KERNEL)?;
//! let boxed = KmallocBox::new(*object, GFP_KERNEL | __GFP_RETRY_MAYFAIL)?;
//! let low = KmallocBox::new(1u8, GFP_KERNEL | GFP_DMA)?;
//! let mut list = KVec::new();
//! list.push(*boxed, GFP_KERNEL)?;
//! let shared = Arc::new(*low, GFP_KERNEL)?;
//! assert_eq!((list[0], *shared), (7, 1));
//! ```
//!
//! A driver that uses the kernel crate's containers moves them to kalloc's
//! allocators by changing an import: the same `Box` and `Vec`, with
//! `push`, `pin_init`, `ForeignOwnable` and the rest.
//!
//! ```
//! use kalloc::{KBox, KVVec, KVec, VVec}; // instead of the prelude's
//! use kernel::prelude::*;
//!
//! let b = KBox::new(5u32, GFP_KERNEL)?;
//! let mut v = KVec::with_capacity(2, GFP_KERNEL)?;
//! v.push(*b, GFP_KERNEL)?;
//! v.extend_from_slice(&[6, 7], GFP_KERNEL)?;
//! let mut big = KVVec::<u64>::new();
//! big.resize(1 << 14, 9, GFP_KERNEL)?; // 128 KiB: vmalloc'd by kvmalloc
//! let mut table = VVec::<u32>::with_capacity(1 << 16, GFP_KERNEL)?; // 256 KiB
//! table.extend_from_slice(&[1, 2, 3], GFP_KERNEL)?;
//! assert_eq!((&v[..], big[(1 << 14) - 1], table[2]), (&[5, 6, 7][..], 9, 3));
//! # let _: (&kernel::alloc::Box<u32, kalloc::kmalloc::Kmalloc>, &kernel::alloc::Vec<u64, kalloc::kvmalloc::KVmalloc>) = (&b, &big);
//! # let _: &kernel::alloc::Vec<u32, kalloc::vmalloc::Vmalloc> = &table;
//! ```

/// The prefix of kalloc's log lines (`pr_*!` reads it from the crate root).
const __LOG_PREFIX: &[u8] = b"kalloc\0";

pub mod alloc_tag;
pub mod buckets;
mod compat;
mod context;
mod deferred;
pub mod devm;
pub mod dma;
mod ffi;
pub mod gfp;
pub mod iomem;
mod kernel_alloc;
pub mod kmalloc;
pub mod kvmalloc;
pub mod mempool;
pub mod nolock;
pub mod pages;
pub mod percpu;
pub mod rcu;
mod request;
pub mod scope;
pub mod slab;
pub mod vmalloc;

// The kernel crate's containers on kalloc's allocators, under the names a
// driver already uses: moving to kalloc is changing an import.
pub use kmalloc::{KBox, KVec};
pub use kvmalloc::{KVBox, KVVec};
pub use vmalloc::VBox;

// Here, not in `vmalloc`, whose conversions name the kernel crate's own `VVec`.
/// The kernel crate's `VVec` on kalloc's vmalloc path (see [`VBox`]).
pub type VVec<T> = kernel::alloc::Vec<T, vmalloc::Vmalloc>;

/// kalloc's self-tests: only in kalloc's own test module (`kalloc.ko`,
/// built with `--cfg kalloc_selftest`), never in a driver that uses kalloc.
#[cfg(kalloc_selftest)]
#[doc(hidden)]
pub mod selftest;
