//! The KUnit suites a kernel module registers, read from the module itself.
//!
//! KUnit finds a module's suites through its `.kunit_test_suites` section:
//! an array of pointers to `struct kunit_suite`, whose first member is the
//! suite's name (`char name[256]`). In a `.ko` (a relocatable ELF object)
//! the pointers are relocations (`.rela.kunit_test_suites`) against a
//! symbol and an addend; the name is the NUL-terminated string at that
//! symbol's section offset plus the addend. Reading the suites from the
//! built module, rather than from the sources, sees exactly what the kernel
//! will run: a suite behind a `cfg` that is off, or a macro spelled another
//! way, cannot be expected or missed by mistake.

/// What went wrong reading a module.
pub type Error = String;

/// A section header, as far as this reader needs it.
struct Section {
    name: u32,
    kind: u32,
    offset: usize,
    size: usize,
    info: u32,
    link: u32,
    entsize: usize,
}

const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
/// `R_X86_64_64`: a 64-bit absolute address, symbol value plus addend.
const R_X86_64_64: u32 = 1;

fn u16_at(b: &[u8], at: usize) -> Result<u16, Error> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated ELF at {at:#x}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated ELF at {at:#x}"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, Error> {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated ELF at {at:#x}"))
}

/// The NUL-terminated string at `at` in `b`.
fn c_str(b: &[u8], at: usize) -> Result<String, Error> {
    let rest = b
        .get(at..)
        .ok_or_else(|| format!("string beyond the file at {at:#x}"))?;
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or("unterminated string")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// The section headers of a little-endian ELF64 object.
fn sections(elf: &[u8]) -> Result<Vec<Section>, Error> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a little-endian ELF64 file".into());
    }
    let shoff = u64_at(elf, 0x28)? as usize;
    let shentsize = u16_at(elf, 0x3a)? as usize;
    let shnum = u16_at(elf, 0x3c)? as usize;
    (0..shnum)
        .map(|i| {
            let h = shoff + i * shentsize;
            Ok(Section {
                name: u32_at(elf, h)?,
                kind: u32_at(elf, h + 4)?,
                offset: u64_at(elf, h + 0x18)? as usize,
                size: u64_at(elf, h + 0x20)? as usize,
                link: u32_at(elf, h + 0x28)?,
                info: u32_at(elf, h + 0x2c)?,
                entsize: u64_at(elf, h + 0x38)? as usize,
            })
        })
        .collect()
}

/// The names of the KUnit suites the module `elf` registers, in the order
/// KUnit runs them. Empty if it registers none.
pub fn kunit_suites(elf: &[u8]) -> Result<Vec<String>, Error> {
    let secs = sections(elf)?;
    let shstrndx = u16_at(elf, 0x3e)? as usize;
    let strtab = secs.get(shstrndx).ok_or("no section name table")?;
    let name_of = |s: &Section| c_str(elf, strtab.offset + s.name as usize);
    let Some(suites) = secs
        .iter()
        .position(|s| name_of(s).as_deref() == Ok(".kunit_test_suites"))
    else {
        return Ok(Vec::new());
    };
    let rela = secs
        .iter()
        .find(|s| s.kind == SHT_RELA && s.info as usize == suites)
        .ok_or(".kunit_test_suites has no relocations")?;
    let symtab = secs
        .get(rela.link as usize)
        .filter(|s| s.kind == SHT_SYMTAB);
    let symtab = symtab.ok_or("relocations without a symbol table")?;

    let mut entries = Vec::new();
    for r in (0..rela.size / rela.entsize.max(24)).map(|i| rela.offset + i * 24) {
        let (offset, info, addend) = (u64_at(elf, r)?, u64_at(elf, r + 8)?, u64_at(elf, r + 16)?);
        if info as u32 != R_X86_64_64 {
            return Err(format!(
                "unexpected relocation type {} in .kunit_test_suites",
                info as u32
            ));
        }
        let sym = symtab.offset + (info >> 32) as usize * 24;
        let shndx = u16_at(elf, sym + 6)? as usize;
        let value = u64_at(elf, sym + 8)?;
        let target = secs.get(shndx).ok_or("suite pointer into no section")?;
        let at = target.offset + value.wrapping_add(addend) as usize;
        entries.push((offset, c_str(elf, at)?));
    }
    entries.sort();
    Ok(entries.into_iter().map(|(_, name)| name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_elf64() {
        assert!(kunit_suites(b"not an ELF file at all, not even close").is_err());
        assert!(kunit_suites(b"\x7fELF\x01\x01").is_err());
    }
}
