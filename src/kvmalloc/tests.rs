// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_kvmalloc` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_kvmalloc)]
mod kalloc_kvmalloc {
    use super::super::*;
    use crate::kmalloc::KMALLOC_MAX_SIZE;
    use crate::vmalloc::is_vmalloc_addr;
    use kernel::alloc::{Box, Vec};
    use kernel::sync::new_spinlock;
    use pin_init::stack_pin_init;

    /// Small requests come from kmalloc, larger than kmalloc can ever
    /// serve from vmalloc; growing a buffer past kmalloc's limit moves it
    /// to vmalloc with every byte kept, and shrinking keeps them too.
    #[test]
    fn small_is_kmalloc_and_large_is_vmalloc() -> Result {
        let small = Box::<[u8; 512], KVmalloc>::new([9; 512], GFP_KERNEL)?;
        assert!(!is_vmalloc_addr(small.as_ptr()));
        let large = Vec::<u8, KVmalloc>::with_capacity(2 * KMALLOC_MAX_SIZE, GFP_KERNEL)?;
        assert!(is_vmalloc_addr(large.as_ptr()));

        let mut v = Vec::<u32, KVmalloc>::new();
        v.extend_from_slice(&[1, 2, 3], GFP_KERNEL)?;
        assert!(!is_vmalloc_addr(v.as_ptr()));
        v.reserve(KMALLOC_MAX_SIZE, GFP_KERNEL)?;
        assert!(is_vmalloc_addr(v.as_ptr()));
        assert_eq!(&v[..], &[1, 2, 3]);
        Ok(())
    }

    /// Memory from vmalloc's side dropped where sleeping is allowed is
    /// freed before the drop returns (`kvfree()`: its pages are unmapped),
    /// not deferred; dropped under a spinlock, once the deferred free ran.
    #[test]
    fn drop_frees_at_once_where_it_may_sleep() -> Result {
        use crate::selftest::{vmapped, wait_for};

        let large = Vec::<u8, KVmalloc>::with_capacity(2 * KMALLOC_MAX_SIZE, GFP_KERNEL)?;
        let addr = large.as_ptr();
        assert!(is_vmalloc_addr(addr) && vmapped(addr));
        drop(large);
        assert!(!vmapped(addr));

        let large = Vec::<u8, KVmalloc>::with_capacity(2 * KMALLOC_MAX_SIZE, GFP_KERNEL)?;
        let addr = large.as_ptr();
        stack_pin_init!(let lock = new_spinlock!(()));
        {
            let _guard = lock.lock();
            drop(large);
        }
        assert!(wait_for(|| !vmapped(addr)));
        Ok(())
    }

    /// `kvmalloc_node()` through the kernel crate's allocator: on each of
    /// the test VM's two nodes, a small request (kmalloc's side) and one
    /// larger than kmalloc serves (vmalloc's side) are on the node asked
    /// for; a node that is not online is refused.
    #[test]
    fn both_sides_allocate_on_the_node() -> Result {
        use crate::selftest::{allocator_on_node, two_nodes};

        if two_nodes() {
            for nid in 0..2 {
                for size in [512, 2 * KMALLOC_MAX_SIZE] {
                    assert!(allocator_on_node::<KVmalloc>(size, nid)?);
                }
            }
            assert!(allocator_on_node::<KVmalloc>(512, 2) == Err(ENOMEM));
        }
        assert!(allocator_on_node::<KVmalloc>(512, 0)?);
        Ok(())
    }

    /// What kvmalloc cannot honour fails before C sees it: a zone modifier,
    /// more than `INT_MAX` bytes (C would warn), sleeping flags under a
    /// spinlock; `GFP_ATOMIC` works there.
    #[test]
    fn bad_requests_fail_cleanly() -> Result {
        assert!(Vec::<u8, KVmalloc>::with_capacity(64, GFP_KERNEL | __GFP_HIGHMEM).is_err());
        assert!(Vec::<u8, KVmalloc>::with_capacity(i32::MAX as usize + 1, GFP_KERNEL).is_err());
        stack_pin_init!(let lock = new_spinlock!(()));
        let (sleeping, atomic) = {
            let _guard = lock.lock();
            (
                Box::<u64, KVmalloc>::new(1, GFP_KERNEL).is_err(),
                Box::<u64, KVmalloc>::new(2, GFP_ATOMIC).map(|b| *b).ok(),
            )
        };
        assert!(sleeping);
        assert_eq!(atomic, Some(2));
        Ok(())
    }

    /// vmalloc memory dropped where sleeping is not allowed is freed later
    /// (`kvfree_atomic()`), without a splat; resizing it there, which may
    /// `vfree()` inside C, is an allocation error, and the buffer is kept.
    #[test]
    fn vmalloc_memory_in_atomic_context() -> Result {
        stack_pin_init!(let lock = new_spinlock!(()));
        let large = Vec::<u8, KVmalloc>::with_capacity(2 * KMALLOC_MAX_SIZE, GFP_KERNEL)?;
        let mut grown = Vec::<u8, KVmalloc>::with_capacity(2 * KMALLOC_MAX_SIZE, GFP_KERNEL)?;
        grown.push(7, GFP_KERNEL)?;
        let refused = {
            let _guard = lock.lock();
            drop(large);
            grown.reserve(4 * KMALLOC_MAX_SIZE, GFP_ATOMIC).is_err()
        };
        assert!(refused);
        assert_eq!(&grown[..], &[7]);
        Ok(())
    }
}
