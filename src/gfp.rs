// SPDX-License-Identifier: GPL-2.0

//! GFP ("get free pages") flags as a newtype: [`Gfp`].
//!
//! Every kalloc allocator takes `flags: impl Into<Gfp>`: the kernel crate's
//! flags (the prelude's `GFP_KERNEL`, `GFP_ATOMIC`, ..., which this module
//! re-exports, so that importing them from here shadows nothing) or
//! kalloc's constants for the flags the kernel crate does not name
//! (`GFP_DMA`, `GFP_NOIO`, `__GFP_NOFAIL`, ...); `|` mixes the two kinds.
//!
//! Every allocation in the kernel takes a `gfp_t` that says how hard the
//! allocator may try (may it sleep? start I/O? call into file systems?),
//! and from which memory zone the memory must come. [`Gfp`] carries those
//! bits with two promises that the plain C integer (and upstream's
//! `kernel::alloc::Flags`) cannot make:
//!
//! - **No operation invents bits.** There is no `!` operator: upstream's
//!   `!GFP_ATOMIC` sets every other bit, among them both migratetype bits
//!   (`__GFP_MOVABLE | __GFP_RECLAIMABLE`), which makes the page allocator
//!   index past its free lists (Rust-for-Linux issue 1253). Flags are only
//!   added with `|` and removed with [`Gfp::without`].
//! - **Invalid combinations are errors, not bugs.** Two zone modifiers at
//!   once (`GFP_DMA | GFP_DMA32`, `__GFP_HIGHMEM | GFP_DMA`) make C's
//!   `gfp_zone()` hit `VM_BUG_ON`, and both migratetype bits at once
//!   (`__GFP_MOVABLE | __GFP_RECLAIMABLE`) index past the free lists.
//!   [`Gfp::check`] rejects them with `EINVAL`, and every kalloc allocator
//!   calls it before the C allocator sees the flags; [`Gfp::from_raw`]
//!   takes every other mask C builds, so a `gfp_t` from C passes through.
//!
//! The bit positions come from the kernel being built (`___GFP_*_BIT` in
//! `kernel::bindings`); the KUnit suite `kalloc_gfp` checks every constant
//! here against the value of the C macro of the same name.
//!
//! # Examples
//!
//! ```
//! use kalloc::gfp::{Gfp, Zone, GFP_KERNEL, GFP_DMA, __GFP_ZERO, __GFP_NOWARN};
//!
//! let flags = Gfp::from(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
//! assert!(flags.may_sleep());
//! assert_eq!((GFP_KERNEL | GFP_DMA).zone()?, Zone::Dma);
//! assert!(flags.without(__GFP_ZERO) == GFP_KERNEL | __GFP_NOWARN);
//! ```

use core::ops::{BitOr, BitOrAssign};
use kernel::alloc::{flags as kernel_flags, Flags};
use kernel::bindings;
use kernel::prelude::*;

/// The raw C type.
pub type RawGfp = bindings::gfp_t;

const fn bit(b: u32) -> RawGfp {
    1 << b
}

/// A set of GFP flags.
///
/// # Invariants
///
/// `self.0` only holds bits of the flags this module defines (the
/// constants below and the bits they are made of), or the unused bit of
/// C's `gfp_t`, which marks flags of the kernel crate that no union of its
/// constants makes (see `From<Flags>`). A value need not be a valid
/// *combination*: [`Gfp::check`] decides that (and refuses the unused
/// bit), and allocators call it before they use the flags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Gfp(RawGfp);

/// The memory zone a [`Gfp`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// `ZONE_DMA`: the low 16 MiB on x86, for devices with 24-bit DMA.
    Dma,
    /// `ZONE_DMA32`: memory below 4 GiB, for devices with 32-bit DMA.
    Dma32,
    /// `ZONE_NORMAL`: memory the kernel maps permanently.
    Normal,
    /// Highmem allowed (`__GFP_HIGHMEM`): on 32-bit systems the page may
    /// not be mapped and must be accessed through `kmap_local_page`. On
    /// 64-bit systems there is no highmem zone and this is `ZONE_NORMAL`.
    HighMem,
    /// `ZONE_MOVABLE`: highmem that the kernel may migrate
    /// (`__GFP_HIGHMEM | __GFP_MOVABLE`).
    Movable,
}

impl Zone {
    /// The `enum zone_type` the page allocator uses for this request. As in
    /// C, a zone the kernel is configured without is `ZONE_NORMAL`.
    pub fn zone_type(self) -> bindings::zone_type {
        match self {
            #[cfg(CONFIG_ZONE_DMA)]
            Zone::Dma => bindings::zone_type_ZONE_DMA,
            #[cfg(CONFIG_ZONE_DMA32)]
            Zone::Dma32 => bindings::zone_type_ZONE_DMA32,
            #[cfg(CONFIG_HIGHMEM)]
            Zone::HighMem => bindings::zone_type_ZONE_HIGHMEM,
            Zone::Movable => bindings::zone_type_ZONE_MOVABLE,
            _ => bindings::zone_type_ZONE_NORMAL,
        }
    }

    /// The zone called `zone` in C (for instance a page's `page_zonenum()`),
    /// or `None` for zones no request can ask for (`ZONE_DEVICE`).
    pub fn from_zone_type(zone: bindings::zone_type) -> Option<Zone> {
        match zone {
            #[cfg(CONFIG_ZONE_DMA)]
            bindings::zone_type_ZONE_DMA => Some(Zone::Dma),
            #[cfg(CONFIG_ZONE_DMA32)]
            bindings::zone_type_ZONE_DMA32 => Some(Zone::Dma32),
            bindings::zone_type_ZONE_NORMAL => Some(Zone::Normal),
            #[cfg(CONFIG_HIGHMEM)]
            bindings::zone_type_ZONE_HIGHMEM => Some(Zone::HighMem),
            bindings::zone_type_ZONE_MOVABLE => Some(Zone::Movable),
            _ => None,
        }
    }
}

/// Whether the current context may sleep, as far as the kernel can tell.
///
/// `false` in interrupt context, with preemption or interrupts disabled
/// (which includes holding a spinlock) and inside an RCU read-side critical
/// section. Without `CONFIG_PREEMPT_COUNT`, a held spinlock does not show:
/// the flags a caller passes remain its promise about its context.
#[inline]
pub fn context_may_sleep() -> bool {
    crate::context::may_sleep()
}

// The single bits, in the order of `enum ___GFP_*_BIT` (gfp_types.h).
const DMA: RawGfp = bit(bindings::___GFP_DMA_BIT);
const HIGHMEM: RawGfp = bit(bindings::___GFP_HIGHMEM_BIT);
const DMA32: RawGfp = bit(bindings::___GFP_DMA32_BIT);
const MOVABLE: RawGfp = bit(bindings::___GFP_MOVABLE_BIT);
const RECLAIMABLE: RawGfp = bit(bindings::___GFP_RECLAIMABLE_BIT);
const HIGH: RawGfp = bit(bindings::___GFP_HIGH_BIT);
const IO: RawGfp = bit(bindings::___GFP_IO_BIT);
const FS: RawGfp = bit(bindings::___GFP_FS_BIT);
const ZERO: RawGfp = bit(bindings::___GFP_ZERO_BIT);
const DIRECT_RECLAIM: RawGfp = bit(bindings::___GFP_DIRECT_RECLAIM_BIT);
const KSWAPD_RECLAIM: RawGfp = bit(bindings::___GFP_KSWAPD_RECLAIM_BIT);
const NOWARN: RawGfp = bit(bindings::___GFP_NOWARN_BIT);
const RETRY_MAYFAIL: RawGfp = bit(bindings::___GFP_RETRY_MAYFAIL_BIT);
const NOFAIL: RawGfp = bit(bindings::___GFP_NOFAIL_BIT);
const NORETRY: RawGfp = bit(bindings::___GFP_NORETRY_BIT);
const WRITE: RawGfp = bit(bindings::___GFP_WRITE_BIT);
const MEMALLOC: RawGfp = bit(bindings::___GFP_MEMALLOC_BIT);
const COMP: RawGfp = bit(bindings::___GFP_COMP_BIT);
const NOMEMALLOC: RawGfp = bit(bindings::___GFP_NOMEMALLOC_BIT);
const HARDWALL: RawGfp = bit(bindings::___GFP_HARDWALL_BIT);
const THISNODE: RawGfp = bit(bindings::___GFP_THISNODE_BIT);
const ACCOUNT: RawGfp = bit(bindings::___GFP_ACCOUNT_BIT);
const ZEROTAGS: RawGfp = bit(bindings::___GFP_ZEROTAGS_BIT);
// `__GFP_NOLOCKDEP` exists only with lockdep; 0 without, as in C.
#[cfg(CONFIG_LOCKDEP)]
const NOLOCKDEP: RawGfp = bit(bindings::___GFP_NOLOCKDEP_BIT);
#[cfg(not(CONFIG_LOCKDEP))]
const NOLOCKDEP: RawGfp = 0;
/// The bit between `__GFP_ZERO` and `__GFP_DIRECT_RECLAIM` that C no longer
/// uses (`___GFP_UNUSED_BIT`): no mask C builds has it.
const UNUSED: RawGfp = bit(bindings::___GFP_UNUSED_BIT);
// `__GFP_SKIP_KASAN` exists only when KASAN's tag modes are configured;
// with generic KASAN (and without KASAN) it is 0, as in C.
#[cfg(CONFIG_KASAN_HW_TAGS)]
const SKIP_KASAN: RawGfp = bit(bindings::___GFP_SKIP_KASAN_BIT);
#[cfg(not(CONFIG_KASAN_HW_TAGS))]
const SKIP_KASAN: RawGfp = 0;
// `__GFP_SKIP_ZERO` (KASAN's tag modes only) makes the page allocator skip
// the zeroing that `__GFP_ZERO` asks for: kalloc hands out zeroed memory as
// initialised, so no `Gfp` may hold it.
#[cfg(CONFIG_KASAN_HW_TAGS)]
const SKIP_ZERO: RawGfp = bit(bindings::___GFP_SKIP_ZERO_BIT);
#[cfg(not(CONFIG_KASAN_HW_TAGS))]
const SKIP_ZERO: RawGfp = 0;

const RECLAIM: RawGfp = DIRECT_RECLAIM | KSWAPD_RECLAIM;
/// The bits a slab allocation (kmalloc, kmem_cache) cannot honour: slab
/// memory must be permanently mapped and has no DMA32 caches (C's
/// `GFP_SLAB_BUG_MASK` warns on them); movable slab pages do not exist.
const SLAB_REJECT: RawGfp = HIGHMEM | DMA32 | MOVABLE;
/// The migratetype bits: at most one may be set.
const MIGRATETYPE_MASK: RawGfp = MOVABLE | RECLAIMABLE;

/// Every bit a `gfp_t` of this kernel may hold (C's `__GFP_BITS_MASK`),
/// but the unused one and `__GFP_SKIP_ZERO`, which would hand out stale
/// bytes as zeroed ones.
const KNOWN: RawGfp = ((1 << bindings::___GFP_LAST_BIT) - 1) & !UNUSED & !SKIP_ZERO;

// The flags the kernel crate names are its own constants (`Flags`), so
// that importing them from here never shadows the prelude's with another
// type: `GFP_KERNEL | __GFP_NOFAIL` mixes both kinds, and every kalloc
// allocator takes either (`impl Into<Gfp>`).
pub use kernel::alloc::flags::{
    __GFP_HIGHMEM, __GFP_NOWARN, __GFP_ZERO, GFP_ATOMIC, GFP_KERNEL, GFP_KERNEL_ACCOUNT, GFP_NOWAIT,
};

/// kalloc's value of each flag the kernel crate names, for `const` items
/// and tables (the kernel crate's `Flags` cannot be read in a `const`).
/// The KUnit suite `kalloc_gfp` checks that each is the kernel crate's
/// constant of the same name, converted.
pub(crate) mod as_gfp {
    use super::*;

    pub(crate) const GFP_KERNEL: Gfp = Gfp(RECLAIM | IO | FS);
    pub(crate) const GFP_KERNEL_ACCOUNT: Gfp = Gfp(RECLAIM | IO | FS | ACCOUNT);
    pub(crate) const GFP_ATOMIC: Gfp = Gfp(HIGH | KSWAPD_RECLAIM);
    pub(crate) const GFP_NOWAIT: Gfp = Gfp(KSWAPD_RECLAIM | NOWARN);
    pub(crate) const __GFP_ZERO: Gfp = Gfp(ZERO);
    pub(crate) const __GFP_HIGHMEM: Gfp = Gfp(HIGHMEM);
    pub(crate) const __GFP_NOWARN: Gfp = Gfp(NOWARN);
}

/// May sleep and reclaim, but must not start any physical I/O (for block
/// layer paths). Prefer [NOIO scopes](crate::scope::noio) in new code.
pub const GFP_NOIO: Gfp = Gfp(RECLAIM);
/// May sleep, reclaim and start I/O, but must not call into file systems
/// (for file-system paths). Prefer [NOFS scopes](crate::scope::nofs) in new code.
pub const GFP_NOFS: Gfp = Gfp(RECLAIM | IO);
/// For user-space allocations the kernel maps to user space: may sleep,
/// reclaim, I/O and FS; limited to the task's cpuset (`__GFP_HARDWALL`).
pub const GFP_USER: Gfp = Gfp(RECLAIM | IO | FS | HARDWALL);
/// [`GFP_USER`] that may come from highmem: pages must be accessed
/// through `kmap_local_page`. Not for kmalloc.
pub const GFP_HIGHUSER: Gfp = Gfp(RECLAIM | IO | FS | HARDWALL | HIGHMEM);
/// [`GFP_HIGHUSER`] from the movable zone: the kernel may migrate the
/// page (page cache, anonymous memory). Not for kmalloc.
pub const GFP_HIGHUSER_MOVABLE: Gfp =
    Gfp(RECLAIM | IO | FS | HARDWALL | HIGHMEM | MOVABLE | SKIP_KASAN);
/// Zone modifier: memory from `ZONE_DMA` (below 16 MiB on x86), for
/// devices that can only address 24 bits. Combine with a base set:
/// `GFP_KERNEL | GFP_DMA`.
pub const GFP_DMA: Gfp = Gfp(DMA);
/// Zone modifier: memory from `ZONE_DMA32` (below 4 GiB). For the page
/// allocator only: kmalloc has no DMA32 caches.
pub const GFP_DMA32: Gfp = Gfp(DMA32);

/// Fail early instead of retrying hard: no OOM killer, light reclaim.
pub const __GFP_NORETRY: Gfp = Gfp(NORETRY);
/// Retry reclaim as long as it makes progress, then fail; no OOM killer.
pub const __GFP_RETRY_MAYFAIL: Gfp = Gfp(RETRY_MAYFAIL);
/// Never fail: retry forever. Needs a sleeping context (`__GFP_DIRECT_RECLAIM`)
/// and small requests; kalloc rejects other uses with `EINVAL`.
pub const __GFP_NOFAIL: Gfp = Gfp(NOFAIL);
/// High priority: may use part of the atomic reserves.
pub const __GFP_HIGH: Gfp = Gfp(HIGH);
/// The allocator may start physical I/O to reclaim memory.
pub const __GFP_IO: Gfp = Gfp(IO);
/// The allocator may call into file systems to reclaim memory.
pub const __GFP_FS: Gfp = Gfp(FS);
/// Charge the memory to the current task's memory cgroup.
pub const __GFP_ACCOUNT: Gfp = Gfp(ACCOUNT);
/// The caller may sleep while the allocator reclaims memory directly.
/// This is the bit that makes a request blocking ([`Gfp::may_sleep`]).
pub const __GFP_DIRECT_RECLAIM: Gfp = Gfp(DIRECT_RECLAIM);
/// Wake kswapd to reclaim in the background when memory runs low. With
/// [`__GFP_DIRECT_RECLAIM`] this is `__GFP_RECLAIM`, the old `__GFP_WAIT`.
pub const __GFP_KSWAPD_RECLAIM: Gfp = Gfp(KSWAPD_RECLAIM);
/// Migratetype: the kernel may migrate the memory (page cache, anonymous
/// memory). kalloc's allocators refuse it: their memory stays put.
pub const __GFP_MOVABLE: Gfp = Gfp(MOVABLE);
/// Migratetype: the memory is reclaimable through a shrinker (slab caches
/// with `SLAB_RECLAIM_ACCOUNT`). Never together with [`__GFP_MOVABLE`].
pub const __GFP_RECLAIMABLE: Gfp = Gfp(RECLAIMABLE);
/// The page will be written to soon (page cache): spread dirty pages.
pub const __GFP_WRITE: Gfp = Gfp(WRITE);
/// May use all memory reserves: only for code that frees memory itself.
pub const __GFP_MEMALLOC: Gfp = Gfp(MEMALLOC);
/// Make a compound page of a block of pages (page allocator).
pub const __GFP_COMP: Gfp = Gfp(COMP);
/// Never use the memory reserves, even where the task may.
pub const __GFP_NOMEMALLOC: Gfp = Gfp(NOMEMALLOC);
/// Enforce the task's cpuset (part of [`GFP_USER`]).
pub const __GFP_HARDWALL: Gfp = Gfp(HARDWALL);
/// Only the requested NUMA node, no fallback.
pub const __GFP_THISNODE: Gfp = Gfp(THISNODE);
/// Zero the memory tags with the memory (KASAN's hardware tag mode).
pub const __GFP_ZEROTAGS: Gfp = Gfp(ZEROTAGS);
/// Lockdep does not track this allocation's reclaim (0 without lockdep).
pub const __GFP_NOLOCKDEP: Gfp = Gfp(NOLOCKDEP);

impl Gfp {
    /// No flags at all: a request that may not sleep, reclaim or warn.
    pub const NONE: Gfp = Gfp(0);

    /// The raw `gfp_t`, for passing to C. Call [`Gfp::check`] first.
    pub const fn as_raw(self) -> RawGfp {
        self.0
    }

    /// Takes flags from C: every mask C builds from its flags.
    ///
    /// # Errors
    ///
    /// `EINVAL` for what C's own checks refuse: an invalid mix of zone
    /// modifiers ([`Gfp::zone`], C's `GFP_ZONE_BAD`), both migratetype bits,
    /// and bits that are no `gfp_t` flag (beyond `__GFP_BITS_MASK`, or the
    /// unused bit); and for `__GFP_SKIP_ZERO` (kernels with KASAN's tag
    /// modes), which would make zeroed memory stale. Whether an allocator
    /// can honour the flags is its own check ([`Gfp::check`]).
    pub fn from_raw(raw: RawGfp) -> Result<Gfp> {
        if raw & !KNOWN != 0 {
            return Err(EINVAL);
        }
        let flags = Gfp(raw);
        flags.valid()?;
        Ok(flags)
    }

    /// Both sets of flags (as `|`), usable in `const` items.
    pub const fn union(self, other: Gfp) -> Gfp {
        Gfp(self.0 | other.0)
    }

    /// These flags without the flags of `other`.
    ///
    /// This is how flags are removed: there is no `!` operator, because
    /// the complement of a flag set is not a flag set.
    #[inline]
    pub fn without(self, other: impl Into<Gfp>) -> Gfp {
        Gfp(self.0 & !other.into().0)
    }

    /// Whether every flag of `other` is set in `self`.
    #[inline]
    pub fn contains(self, other: impl Into<Gfp>) -> bool {
        let other = other.into();
        self.0 & other.0 == other.0
    }

    /// Whether a request with these flags may sleep (C's
    /// `gfpflags_allow_blocking`): it may enter direct reclaim.
    pub const fn may_sleep(self) -> bool {
        self.0 & DIRECT_RECLAIM != 0
    }

    /// Whether the allocator returns zeroed memory.
    pub const fn zeroes(self) -> bool {
        self.0 & ZERO != 0
    }

    /// Whether the flags ask for movable memory (`__GFP_MOVABLE`, part of
    /// [`GFP_HIGHUSER_MOVABLE`]): memory the kernel may migrate elsewhere,
    /// which its owner must allow.
    pub const fn movable(self) -> bool {
        self.0 & MOVABLE != 0
    }

    /// The zone these flags ask for.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an invalid mix of zone modifiers (C's `GFP_ZONE_BAD`):
    /// more than one of `GFP_DMA`, `GFP_DMA32` and `__GFP_HIGHMEM`.
    #[inline]
    pub fn zone(self) -> Result<Zone> {
        let dma = self.0 & DMA != 0;
        let dma32 = self.0 & DMA32 != 0;
        let highmem = self.0 & HIGHMEM != 0;
        let movable = self.0 & MOVABLE != 0;
        match (dma, dma32, highmem) {
            (false, false, false) => Ok(Zone::Normal),
            (true, false, false) => Ok(Zone::Dma),
            (false, true, false) => Ok(Zone::Dma32),
            (false, false, true) if movable => Ok(Zone::Movable),
            (false, false, true) => Ok(Zone::HighMem),
            _ => Err(EINVAL),
        }
    }

    /// Returns the flags if they can be used for an allocation here and
    /// now.
    ///
    /// # Errors
    ///
    /// - `EINVAL` unless they are a combination the page allocator accepts:
    ///   at most one zone modifier ([`Gfp::zone`]), at most one migratetype,
    ///   and `__GFP_NOFAIL` only with a request that may sleep, outside a
    ///   [noreclaim scope](crate::scope::noreclaim);
    /// - `EAGAIN` for flags that may sleep in a context that must not
    ///   ([`context_may_sleep`]): a sleeping allocation under a spinlock or
    ///   with interrupts off would be a bug, so it is refused instead;
    /// - `EAGAIN` in NMI context, whatever the flags: neither kmalloc nor
    ///   the page allocator may run there (they take locks an NMI may have
    ///   interrupted). The [`nolock`](crate::nolock) allocators serve
    ///   requests there.
    #[inline]
    pub fn check(self) -> Result<Gfp> {
        self.check_combination()?;
        // Never in NMI context, and sleeping flags only where sleeping is
        // allowed.
        if !crate::context::allows(self.may_sleep()) {
            return Err(EAGAIN);
        }
        Ok(self)
    }

    /// What C refuses in any mask: an invalid zone, both migratetypes.
    #[inline]
    fn valid(self) -> Result {
        if self.0 & !KNOWN != 0 {
            return Err(EINVAL);
        }
        self.zone()?;
        if self.0 & MIGRATETYPE_MASK == MIGRATETYPE_MASK {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The context-free part of [`Gfp::check`].
    #[inline]
    fn check_combination(self) -> Result<Gfp> {
        self.valid()?;
        // C warns at `__GFP_NOFAIL` without direct reclaim, or in a
        // noreclaim scope (`__alloc_pages_slowpath()`).
        if self.0 & NOFAIL != 0 && (!self.may_sleep() || crate::scope::in_noreclaim()) {
            return Err(EINVAL);
        }
        Ok(self)
    }

    /// [`Gfp::check`], and also that the slab allocator (kmalloc,
    /// kmem_cache) can honour the flags: no highmem, no DMA32, no movable
    /// memory.
    ///
    /// # Errors
    ///
    /// As for [`Gfp::check`]; `EINVAL` also for `__GFP_HIGHMEM`, `GFP_DMA32`
    /// and `__GFP_MOVABLE`.
    #[inline]
    pub fn check_slab(self) -> Result<Gfp> {
        self.check()?;
        if self.0 & SLAB_REJECT != 0 {
            return Err(EINVAL);
        }
        Ok(self)
    }
}

/// A NUMA node to allocate on: any node (C's `NUMA_NO_NODE`: the
/// allocator picks, the local one first), or one that is online.
///
/// # Invariants
///
/// `self.0` is `NUMA_NO_NODE` or the number of a node that was online when
/// the value was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node(i32);

impl Node {
    /// Any node (`NUMA_NO_NODE`).
    pub const ANY: Node = Node(bindings::NUMA_NO_NODE);

    /// Node `nid`.
    ///
    /// # Errors
    ///
    /// `EINVAL` unless `nid` is a node that is online now (C's
    /// `node_online()`): the allocators assume a valid node and warn or
    /// crash otherwise. A node that goes offline later makes the allocator
    /// fall back to another one.
    #[inline]
    pub fn new(nid: i32) -> Result<Node> {
        if !node_online(nid) {
            return Err(EINVAL);
        }
        // INVARIANT: an online node.
        Ok(Node(nid))
    }

    /// The node number, `NUMA_NO_NODE` for any node.
    pub fn id(self) -> i32 {
        self.0
    }
}

/// Whether `nid` is the number of an online node: C's `node_online()`,
/// inline, for any `nid` (out of `0..MAX_NUMNODES`, never).
#[inline]
pub(crate) fn node_online(nid: i32) -> bool {
    let Ok(n) = usize::try_from(nid) else {
        return false;
    };
    if n >= bindings::MAX_NUMNODES as usize {
        return false;
    }
    #[cfg(CONFIG_NUMA)]
    {
        let bits = usize::BITS as usize;
        // SAFETY: `node_states` is the kernel's table of node masks, set up
        // at boot and never freed; `n / bits` is within a mask of
        // `MAX_NUMNODES` bits. A volatile read, as C's `test_bit()`: node
        // hot-plug may change the word meanwhile.
        let word = unsafe {
            (&raw const bindings::node_states[bindings::node_states_N_ONLINE as usize].bits
                [n / bits])
                .read_volatile()
        };
        word & (1 << (n % bits)) != 0
    }
    #[cfg(not(CONFIG_NUMA))]
    {
        n == 0
    }
}

/// The kernel crate's flag constants and their kalloc counterparts: every
/// value of `kernel::alloc::Flags` is a union of these (its constructor is
/// private to the kernel crate).
const KERNEL_FLAGS: [(Flags, Gfp); 7] = [
    (kernel_flags::GFP_KERNEL, as_gfp::GFP_KERNEL),
    (kernel_flags::GFP_KERNEL_ACCOUNT, as_gfp::GFP_KERNEL_ACCOUNT),
    (kernel_flags::GFP_ATOMIC, as_gfp::GFP_ATOMIC),
    (kernel_flags::GFP_NOWAIT, as_gfp::GFP_NOWAIT),
    (kernel_flags::__GFP_ZERO, as_gfp::__GFP_ZERO),
    (kernel_flags::__GFP_HIGHMEM, as_gfp::__GFP_HIGHMEM),
    (kernel_flags::__GFP_NOWARN, as_gfp::__GFP_NOWARN),
];

/// The kernel crate's flags as kalloc's, so that every kalloc allocator
/// takes either (`flags: impl Into<Gfp>`).
///
/// Every union of the kernel crate's constants has the same bits here.
/// Flags its `&` or `!` made (`GFP_KERNEL & !GFP_NOWAIT`, `!GFP_ATOMIC`)
/// can hold any bit, and the kernel crate does not show them: they become
/// flags that [`Gfp::check`] refuses with `EINVAL` (the unused bit of
/// `gfp_t`), so no allocator passes them to C (Rust-for-Linux issue 1253).
impl From<Flags> for Gfp {
    #[inline]
    fn from(flags: Flags) -> Gfp {
        // One constant, compared whole: a comparison each, folded at
        // compile time for constant flags.
        let mut i = 0;
        while i < KERNEL_FLAGS.len() {
            if flags == KERNEL_FLAGS[i].0 {
                return KERNEL_FLAGS[i].1;
            }
            i += 1;
        }
        union_of_kernel_flags(flags)
    }
}

/// [`Gfp::from`] for flags that are not one constant of the kernel crate.
#[inline(never)]
fn union_of_kernel_flags(flags: Flags) -> Gfp {
    // The constants `flags` contains, as both kinds of flags: if their
    // union is `flags` itself, its bits are exactly the union's.
    let mut gfp = Gfp::NONE;
    let mut union: Option<Flags> = None;
    for (k, g) in KERNEL_FLAGS {
        if flags.contains(k) {
            gfp |= g;
            union = Some(union.map_or(k, |u| u | k));
        }
    }
    if union != Some(flags) {
        // INVARIANT: the unused bit, the mark of flags no union makes.
        return Gfp(UNUSED);
    }
    gfp
}

/// The kernel crate's flags with the same bits, for its allocating APIs
/// (`KBox`, `KVec`, ...).
///
/// # Errors
///
/// `EINVAL` if the flags hold a bit that no constant of the kernel crate
/// names (`__GFP_RETRY_MAYFAIL`, `GFP_DMA`, ...): the kernel crate cannot
/// express it.
impl TryFrom<Gfp> for Flags {
    type Error = Error;

    fn try_from(gfp: Gfp) -> Result<Flags> {
        // The empty set: two disjoint constants intersected.
        let none = kernel_flags::__GFP_ZERO & kernel_flags::__GFP_NOWARN;
        let (flags, covered) = KERNEL_FLAGS
            .iter()
            .filter(|(_, g)| gfp.contains(*g))
            .fold((none, Gfp::NONE), |(f, c), (k, g)| (f | *k, c | *g));
        if covered != gfp {
            return Err(EINVAL);
        }
        Ok(flags)
    }
}

impl BitOr for Gfp {
    type Output = Gfp;

    #[inline]
    fn bitor(self, rhs: Gfp) -> Gfp {
        self.union(rhs)
    }
}

impl BitOrAssign for Gfp {
    #[inline]
    fn bitor_assign(&mut self, rhs: Gfp) {
        *self = self.union(rhs);
    }
}

/// `GFP_KERNEL | __GFP_NOFAIL`: one of the kernel crate's flags with one
/// of kalloc's.
impl BitOr<Gfp> for Flags {
    type Output = Gfp;

    #[inline]
    fn bitor(self, rhs: Gfp) -> Gfp {
        Gfp::from(self).union(rhs)
    }
}

/// `GFP_DMA | GFP_KERNEL`: one of kalloc's flags with one of the kernel
/// crate's.
impl BitOr<Flags> for Gfp {
    type Output = Gfp;

    #[inline]
    fn bitor(self, rhs: Flags) -> Gfp {
        self.union(Gfp::from(rhs))
    }
}

impl BitOrAssign<Flags> for Gfp {
    #[inline]
    fn bitor_assign(&mut self, rhs: Flags) {
        *self = self.union(Gfp::from(rhs));
    }
}

/// `flags == GFP_KERNEL`: the same bits as the kernel crate's flags.
impl PartialEq<Flags> for Gfp {
    #[inline]
    fn eq(&self, other: &Flags) -> bool {
        *self == Gfp::from(*other)
    }
}

impl core::fmt::Debug for Gfp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Gfp({:#x})", self.0)
    }
}

/// Every public constant with its C name, for the suite below and for
/// users who print flags.
pub const ALL: &[(&CStr, Gfp)] = &[
    (c"GFP_KERNEL", as_gfp::GFP_KERNEL),
    (c"GFP_KERNEL_ACCOUNT", as_gfp::GFP_KERNEL_ACCOUNT),
    (c"GFP_ATOMIC", as_gfp::GFP_ATOMIC),
    (c"GFP_NOWAIT", as_gfp::GFP_NOWAIT),
    (c"GFP_NOIO", GFP_NOIO),
    (c"GFP_NOFS", GFP_NOFS),
    (c"GFP_USER", GFP_USER),
    (c"GFP_HIGHUSER", GFP_HIGHUSER),
    (c"GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE),
    (c"GFP_DMA", GFP_DMA),
    (c"GFP_DMA32", GFP_DMA32),
    (c"__GFP_ZERO", as_gfp::__GFP_ZERO),
    (c"__GFP_HIGHMEM", as_gfp::__GFP_HIGHMEM),
    (c"__GFP_NOWARN", as_gfp::__GFP_NOWARN),
    (c"__GFP_NORETRY", __GFP_NORETRY),
    (c"__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL),
    (c"__GFP_NOFAIL", __GFP_NOFAIL),
    (c"__GFP_HIGH", __GFP_HIGH),
    (c"__GFP_IO", __GFP_IO),
    (c"__GFP_FS", __GFP_FS),
    (c"__GFP_ACCOUNT", __GFP_ACCOUNT),
    (c"__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM),
    (c"__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM),
    (c"__GFP_MOVABLE", __GFP_MOVABLE),
    (c"__GFP_RECLAIMABLE", __GFP_RECLAIMABLE),
    (c"__GFP_WRITE", __GFP_WRITE),
    (c"__GFP_MEMALLOC", __GFP_MEMALLOC),
    (c"__GFP_COMP", __GFP_COMP),
    (c"__GFP_NOMEMALLOC", __GFP_NOMEMALLOC),
    (c"__GFP_HARDWALL", __GFP_HARDWALL),
    (c"__GFP_THISNODE", __GFP_THISNODE),
    (c"__GFP_ZEROTAGS", __GFP_ZEROTAGS),
    (c"__GFP_NOLOCKDEP", __GFP_NOLOCKDEP),
];

#[cfg(kalloc_selftest)]
mod tests;
