//! Host harness for kalloc.
//!
//! kalloc's self-tests are KUnit suites that run inside a QEMU guest when
//! the module is loaded. This crate boots that guest ([`vm`]), parses the
//! module's KTAP output from the serial log ([`ktap`]) and decides whether
//! the run passed ([`verdict`]). The benchmark module's results are read
//! from a run's log and turned into tables, CSV and plots by [`bench`].

pub mod bench;
pub mod elf;
pub mod ktap;
pub mod verdict;
pub mod vm;
