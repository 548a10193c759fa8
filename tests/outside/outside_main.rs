// SPDX-License-Identifier: GPL-2.0

//! A minimal driver module outside kalloc's tree that uses kalloc as a
//! library: `tests/outside.rs` builds it and runs it in kalloc's VM with
//! `make run MODULES=...`. It keeps kalloc memory in its module state for
//! as long as it is loaded, and says so.

use kalloc::gfp::__GFP_RETRY_MAYFAIL;
use kalloc::kmalloc::{Kmalloc, KmallocBox};
use kalloc::pages::LowmemPages;
use kernel::alloc::Vec;
use kernel::prelude::*;

module! {
    type: Outside,
    name: "kalloc_outside",
    authors: ["The kalloc developers"],
    description: "A driver outside kalloc's tree, built on kalloc",
    license: "GPL",
}

/// The module's state: memory from three of kalloc's families.
struct Outside {
    table: KmallocBox<[u32; 16]>,
    list: Vec<u32, Kmalloc>,
    _page: LowmemPages,
}

impl kernel::Module for Outside {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let table = KmallocBox::new([7u32; 16], GFP_KERNEL | __GFP_RETRY_MAYFAIL)?;
        let mut list = Vec::<u32, Kmalloc>::new();
        for i in 0..100 {
            list.push(i, GFP_KERNEL)?;
        }
        let page = LowmemPages::get_zeroed_page(GFP_KERNEL)?;
        let sum = table.iter().sum::<u32>() + list.iter().sum::<u32>();
        pr_info!(
            "ready: {} bytes zeroed, sum {}\n",
            page.as_slice().len(),
            sum
        );
        Ok(Outside {
            table,
            list,
            _page: page,
        })
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        pr_info!("unloading: {} {}\n", self.table[0], self.list.len());
    }
}
