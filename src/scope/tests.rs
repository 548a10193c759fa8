// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_scope` KUnit suite.

use kernel::prelude::*;

#[kunit_tests(kalloc_scope)]
mod kalloc_scope {
    use super::super::*;
    use crate::gfp::{
        Gfp, __GFP_FS, __GFP_MOVABLE, __GFP_NOFAIL, GFP_ATOMIC, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE,
        GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_NOWAIT, GFP_USER,
    };
    use crate::kmalloc::KmallocBox;
    use crate::kvmalloc::KVBox;
    use crate::pages::Pages;
    use crate::selftest::ffi::gfp_c_context;
    use crate::slab::{SlabCache, SlabOptions};
    use crate::vmalloc::VBuf;
    use kernel::page::PAGE_SIZE;
    use kernel::prelude::*;
    use kernel::sync::new_spinlock;

    /// Requests of every kind, for comparing kalloc's view of a scope with
    /// C's.
    fn requests() -> [Gfp; 8] {
        [
            GFP_KERNEL.into(),
            GFP_ATOMIC.into(),
            GFP_NOWAIT.into(),
            GFP_NOIO,
            GFP_NOFS,
            GFP_USER,
            GFP_HIGHUSER_MOVABLE,
            GFP_KERNEL | __GFP_MOVABLE,
        ]
    }

    /// Whether kalloc computes every request's flags in the current scopes
    /// as C's `current_gfp_context()` does.
    fn as_c_does() -> bool {
        requests()
            .iter()
            .all(|&flags| effective(flags).as_raw() == gfp_c_context(flags))
    }

    /// Inside each scope `GFP_KERNEL` is served as C serves it there:
    /// `GFP_NOIO`, `GFP_NOFS`, unchanged for noreclaim; a pin scope drops
    /// `__GFP_MOVABLE`. For every request, kalloc's flags are C's
    /// (`current_gfp_context()`), inside each scope and outside.
    #[test]
    fn effective_flags_are_cs() -> Result {
        assert!(as_c_does() && effective(GFP_KERNEL) == GFP_KERNEL);
        noio(|| assert!(as_c_does() && effective(GFP_KERNEL) == GFP_NOIO));
        nofs(|| assert!(as_c_does() && effective(GFP_KERNEL) == GFP_NOFS));
        noreclaim(|| assert!(as_c_does() && effective(GFP_KERNEL) == GFP_KERNEL));
        pin(|| {
            assert!(as_c_does());
            assert!(effective(GFP_HIGHUSER_MOVABLE) == GFP_HIGHUSER);
            assert!(effective(GFP_KERNEL) == GFP_KERNEL);
        });
        assert!(as_c_does() && effective(GFP_HIGHUSER_MOVABLE) == GFP_HIGHUSER_MOVABLE);
        Ok(())
    }

    /// Scopes nest and end in LIFO order: NOIO is stronger than NOFS inside
    /// or outside it, an inner scope of the kind already in force leaves
    /// it in force when it ends, and after every scope the flags are as
    /// before. A scope returns its closure's value.
    #[test]
    fn scopes_nest_and_restore() -> Result {
        let outer = nofs(|| {
            let inner = noio(|| {
                assert!(effective(GFP_KERNEL) == GFP_NOIO);
                nofs(|| effective(GFP_KERNEL))
            });
            assert!(inner == GFP_NOIO);
            assert!(effective(GFP_KERNEL) == GFP_NOFS);
            nofs(|| nofs(|| ()));
            assert!(effective(GFP_KERNEL) == GFP_NOFS);
            pin(|| {
                assert!(effective(GFP_USER | __GFP_MOVABLE) == GFP_USER.without(__GFP_FS));
                noreclaim(|| noio(|| assert!(as_c_does())));
            });
            assert!(as_c_does());
            effective(GFP_KERNEL | __GFP_MOVABLE)
        });
        assert!(outer == GFP_NOFS | __GFP_MOVABLE);
        assert!(as_c_does() && effective(GFP_KERNEL) == GFP_KERNEL);
        // The same scope twice: the inner end keeps the outer in force.
        noio(|| {
            noio(|| ());
            assert!(effective(GFP_KERNEL) == GFP_NOIO);
        });
        noreclaim(|| {
            noreclaim(|| ());
            assert!(KmallocBox::new(1u8, GFP_KERNEL | __GFP_NOFAIL).err() == Some(EINVAL));
        });
        pin(|| {
            pin(|| ());
            assert!(effective(GFP_HIGHUSER_MOVABLE) == GFP_HIGHUSER);
        });
        assert!(as_c_does() && effective(GFP_KERNEL) == GFP_KERNEL);
        Ok(())
    }

    /// A scope, entered around a check.
    type Scope = fn(&dyn Fn() -> Result) -> Result;

    /// Every family allocates inside every scope (the values are intact),
    /// and a scope makes nothing sleep where sleeping is not allowed:
    /// `GFP_KERNEL` under a spinlock stays `EAGAIN` inside each scope.
    #[test]
    fn every_family_allocates_inside_scopes() -> Result {
        let cache = SlabCache::<u64>::new(c"kalloc_scope", SlabOptions::new())?;
        let lock = KBox::pin_init(new_spinlock!(()), kernel::alloc::flags::GFP_KERNEL)?;
        let scopes: [Scope; 4] = [|f| noio(f), |f| nofs(f), |f| noreclaim(f), |f| pin(f)];
        for scope in scopes {
            scope(&|| {
                let k = KmallocBox::new(3u32, GFP_KERNEL)?;
                let p = Pages::alloc_pages(1, GFP_KERNEL)?.fill(5);
                let v = VBuf::from_fn(3 * PAGE_SIZE, GFP_KERNEL, |i| i as u8)?;
                let s = cache.alloc(4, GFP_KERNEL)?;
                let kv = KVBox::new([6u8; 64], GFP_KERNEL)?;
                assert!(*k == 3 && *s == 4 && kv[63] == 6 && p.size() == 2 * PAGE_SIZE);
                assert!(v.iter().enumerate().all(|(i, &x)| x == i as u8));
                let _guard = lock.lock();
                assert!(KmallocBox::new(1u8, GFP_KERNEL).err() == Some(EAGAIN));
                assert!(GFP_NOIO.check().err() == Some(EAGAIN));
                assert!(KmallocBox::new(1u8, GFP_ATOMIC).is_ok());
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Where a scope changes what C accepts, kalloc follows: movable pages,
    /// which kalloc refuses, are accepted in a pin scope (C drops
    /// `__GFP_MOVABLE` there: the block is not movable); `__GFP_NOFAIL`,
    /// accepted outside, is `EINVAL` in a noreclaim scope (C warns there).
    #[test]
    fn scopes_change_what_is_refused() -> Result {
        use crate::gfp::Zone;

        assert!(Pages::alloc_page(GFP_HIGHUSER_MOVABLE).err() == Some(EINVAL));
        let page = pin(|| Pages::alloc_page(GFP_HIGHUSER_MOVABLE))?;
        assert!(page.page(0).and_then(|p| p.zone()) != Some(Zone::Movable));
        let nofail = GFP_KERNEL | __GFP_NOFAIL;
        assert_eq!(*KmallocBox::new(9u8, nofail)?, 9);
        assert!(Pages::alloc_page(nofail).is_ok());
        noreclaim(|| {
            assert!(nofail.check().err() == Some(EINVAL));
            assert!(KmallocBox::new(9u8, nofail).err() == Some(EINVAL));
            assert!(Pages::alloc_page(nofail).err() == Some(EINVAL));
            assert!(KmallocBox::new(9u8, GFP_KERNEL).is_ok());
        });
        Ok(())
    }
}
