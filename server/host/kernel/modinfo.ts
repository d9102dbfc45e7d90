/** Reading a kernel module's own metadata from its ELF .modinfo section. */

/**
 * Key/value pairs of an ELF object's .modinfo section (NUL-separated `key=value`
 * strings). Keys like `alias` repeat, so each maps to a list.
 */
export function readModinfo(elf: Buffer): Map<string, string[]> {
  const fail = (why: string): never => {
    throw new Error(`not a loadable kernel module: ${why}`);
  };
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) fail('no ELF header');
  if (elf[4] !== 2 || elf[5] !== 1) fail('not a 64-bit little-endian ELF object');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) fail('section headers out of bounds');
  const section = (index: number): { name: number; offset: number; size: number } => {
    const at = shoff + index * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 24)), size: Number(elf.readBigUInt64LE(at + 32)) };
  };
  const names = section(shstrndx);
  const sectionName = (offset: number): string => {
    const start = names.offset + offset;
    const end = elf.indexOf(0, start);
    return elf.toString('latin1', start, end < 0 ? start : end);
  };
  const result = new Map<string, string[]>();
  for (let index = 0; index < shnum; index++) {
    const header = section(index);
    if (sectionName(header.name) !== '.modinfo') continue;
    if (header.offset + header.size > elf.length) fail('.modinfo out of bounds');
    for (const item of elf.toString('utf8', header.offset, header.offset + header.size).split('\0')) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const key = item.slice(0, eq);
      const list = result.get(key) ?? [];
      list.push(item.slice(eq + 1));
      result.set(key, list);
    }
    return result;
  }
  return fail('no .modinfo section');
}
