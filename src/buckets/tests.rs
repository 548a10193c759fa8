// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_buckets` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_buckets)]
mod kalloc_buckets {
    use super::super::*;
    use crate::selftest::skip_unless;
    use crate::selftest::slab_stats::{skip_kfence_named, SlabStats};
    use crate::slab::names::{entry, Entry};
    use crate::vmalloc::is_vmalloc_addr;
    use kernel::sync::new_spinlock;

    /// The objects SLUB counts in the cache named `name`. (A cache that is
    /// counted has KFENCE keep off it first: an object KFENCE hands out is
    /// not in SLUB's count.)
    fn objects(name: &CStr) -> Result<usize> {
        Ok(SlabStats::read(name)?.objects)
    }

    /// With `CONFIG_SLAB_BUCKETS`, buffers come from the set's own cache
    /// for their size (`<name>-64` for 50 bytes, `<name>-128` for 100),
    /// which had no objects before, zeroed; the caches are gone once the
    /// set is dropped. Without it, no cache is made and buffers come from
    /// kmalloc. Fails if the set is not passed to C.
    #[test]
    fn buffers_land_in_the_sets_own_caches() -> Result {
        let set = KmemBuckets::new(c"kalloc_test_bkt")?;
        if skip_unless(cfg!(CONFIG_SLAB_BUCKETS), c"CONFIG_SLAB_BUCKETS") {
            assert_eq!(entry(c"kalloc_test_bkt-64"), Entry::None);
            let buf = set.alloc(50, GFP_KERNEL)?;
            assert!(buf.iter().all(|&b| b == 0) && buf.len() == 50);
            return Ok(());
        }
        skip_kfence_named(c"kalloc_test_bkt-64")?;
        skip_kfence_named(c"kalloc_test_bkt-128")?;
        assert_eq!(objects(c"kalloc_test_bkt-64")?, 0);
        assert_eq!(objects(c"kalloc_test_bkt-128")?, 0);
        let mut small = KVec::new();
        for i in 0..20u8 {
            let mut buf = set.alloc(50, GFP_KERNEL)?;
            assert!(buf.iter().all(|&b| b == 0));
            buf.fill(i);
            small.push(buf, GFP_KERNEL)?;
        }
        let other = set.alloc(100, GFP_KERNEL)?;
        assert!(objects(c"kalloc_test_bkt-64")? >= 20);
        assert!(objects(c"kalloc_test_bkt-128")? >= 1);
        assert!(small
            .iter()
            .enumerate()
            .all(|(i, b)| b.iter().all(|&x| usize::from(x) == i)));
        drop((small, other));
        drop(set);
        assert_eq!(entry(c"kalloc_test_bkt-64"), Entry::None);
        assert_eq!(entry(c"kalloc_test_bkt-8k"), Entry::None);
        Ok(())
    }

    /// `valloc` serves sizes beyond kmalloc from vmalloc, zeroed, and small
    /// ones from the set; empty buffers hold no memory.
    #[test]
    fn valloc_goes_beyond_kmalloc() -> Result {
        let set = KmemBuckets::new(c"kalloc_test_bkv")?;
        if cfg!(CONFIG_SLAB_BUCKETS) {
            skip_kfence_named(c"kalloc_test_bkv-128")?;
        }
        // Beyond `KMALLOC_MAX_SIZE`: kmalloc refuses it.
        let len = bindings::KMALLOC_MAX_SIZE as usize + 4096;
        let big = set.valloc(len, GFP_KERNEL)?;
        assert!(is_vmalloc_addr(big.as_ptr()));
        assert!(big.len() == len && big.iter().all(|&b| b == 0));
        let small = set.valloc(100, GFP_KERNEL)?;
        assert!(!is_vmalloc_addr(small.as_ptr()));
        if cfg!(CONFIG_SLAB_BUCKETS) {
            assert!(objects(c"kalloc_test_bkv-128")? >= 1);
        }
        let (a, b) = (set.alloc(0, GFP_KERNEL)?, set.valloc(0, GFP_KERNEL)?);
        assert_eq!((a.len(), b.len()), (0, 0));
        Ok(())
    }

    /// The user-copy region reaches each cache, clipped to its size; the
    /// set of no region has none.
    #[test]
    fn the_usercopy_region_reaches_each_cache() -> Result {
        let set = KmemBuckets::with_usercopy(c"kalloc_test_bku", 16, 64)?;
        let plain = KmemBuckets::new(c"kalloc_test_bkn")?;
        if skip_unless(cfg!(CONFIG_SLAB_BUCKETS), c"CONFIG_SLAB_BUCKETS") {
            return Ok(());
        }
        assert_eq!(SlabStats::read(c"kalloc_test_bku-32")?.usersize, 16);
        assert_eq!(SlabStats::read(c"kalloc_test_bku-128")?.usersize, 64);
        assert_eq!(SlabStats::read(c"kalloc_test_bku-8k")?.usersize, 64);
        assert_eq!(SlabStats::read(c"kalloc_test_bkn-128")?.usersize, 0);
        drop((set, plain));
        Ok(())
    }

    /// Bad requests are errors: a taken name (`EEXIST`, until the set that
    /// holds it is dropped), a name `/sys/kernel/slab` cannot hold, an
    /// empty or too large user-copy region (`EINVAL`), a set or a sleeping
    /// allocation under a spinlock (`EAGAIN`), flags kmalloc cannot honour.
    #[test]
    fn bad_requests_are_errors() -> Result {
        let set = KmemBuckets::new(c"kalloc_test_bkd")?;
        if cfg!(CONFIG_SLAB_BUCKETS) {
            assert_eq!(KmemBuckets::new(c"kalloc_test_bkd").err(), Some(EEXIST));
        }
        drop(set);
        let again = KmemBuckets::new(c"kalloc_test_bkd")?;
        assert_eq!(KmemBuckets::new(c"kalloc/bkd").err(), Some(EINVAL));
        // 253 bytes and "-8k": one beyond NAME_MAX.
        let long = CString::try_from_fmt(fmt!("{:a<253}", ""))?;
        assert_eq!(KmemBuckets::new(&long).err(), Some(EINVAL));
        for (offset, size) in [
            (0, 0),
            (8190, 8),
            (usize::MAX, 2),
            (0, KMALLOC_MAX_CACHE_SIZE + 1),
        ] {
            assert_eq!(
                KmemBuckets::with_usercopy(c"kalloc_test_bkr", offset, size).err(),
                Some(EINVAL)
            );
        }
        assert_eq!(
            again
                .alloc(8, Gfp::from(GFP_KERNEL) | crate::gfp::__GFP_HIGHMEM)
                .err(),
            Some(EINVAL)
        );
        assert!(again
            .alloc(bindings::KMALLOC_MAX_SIZE as usize + 1, GFP_KERNEL)
            .is_err());
        let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        let (create, sleeping, atomic) = {
            let _guard = lock.lock();
            (
                KmemBuckets::new(c"kalloc_test_bka").err(),
                again.alloc(8, GFP_KERNEL).err(),
                again.alloc(8, GFP_ATOMIC).map(|b| b.len()),
            )
        };
        assert_eq!(
            (create, sleeping, atomic),
            (Some(EAGAIN), Some(EAGAIN), Ok(8))
        );
        Ok(())
    }
}
