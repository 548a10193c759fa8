// SPDX-License-Identifier: GPL-2.0

//! The `kalloc_module` KUnit suite: the self-test module itself.

use kernel::prelude::*;

#[kunit_tests(kalloc_module)]
mod kalloc_module {
    use crate::selftest::ffi::{abi, ABI};

    /// Both C objects, the library's shims and the test-only C, are linked
    /// into the same module and callable.
    #[test]
    fn c_shims_are_linked() {
        assert_eq!(abi(), ABI);
        // KUnit runs its cases in a kthread that may sleep.
        assert!(crate::ffi::may_sleep());
    }

    /// The suite runs inside KUnit, at module load.
    #[test]
    fn runs_under_kunit() {
        assert!(kernel::kunit::in_kunit_test());
    }
}
