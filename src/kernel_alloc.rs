// SPDX-License-Identifier: GPL-2.0

//! What kalloc's implementations of the kernel crate's `Allocator` trait
//! ([`crate::kmalloc::Kmalloc`], [`crate::kvmalloc::KVmalloc`]) share.

use core::alloc::Layout;
use core::ptr::{self, NonNull};
use kernel::alloc::NumaNode;
use kernel::bindings;

/// The NUMA node number of `nid`, `NUMA_NO_NODE` for any node; `None` for
/// a node that is not online, which the allocators must not be given (C
/// warns, or uses a node that is not set up). The kernel crate keeps the
/// number private: it is found by comparison.
#[inline]
pub(crate) fn node_number(nid: NumaNode) -> Option<i32> {
    if nid == NumaNode::NO_NODE {
        return Some(bindings::NUMA_NO_NODE);
    }
    let n =
        (0..bindings::MAX_NUMNODES as i32).find(|&n| NumaNode::new(n).is_ok_and(|m| m == nid))?;
    Some(n).filter(|&n| crate::gfp::node_online(n))
}

/// The empty allocation the trait wants for a size of 0: a dangling
/// pointer aligned for `layout` and at least to `min_align`, the
/// allocator's `MIN_ALIGN` (which `ForeignOwnable` relies on: an XArray
/// takes a pointer aligned to 2 for an internal entry).
#[inline]
pub(crate) fn empty(layout: Layout, min_align: usize) -> NonNull<[u8]> {
    let dangling = ptr::without_provenance_mut::<u8>(layout.align().max(min_align));
    // SAFETY: `layout.align()` is a power of two, never zero.
    let dangling = unsafe { NonNull::new_unchecked(dangling) };
    NonNull::slice_from_raw_parts(dangling, 0)
}
