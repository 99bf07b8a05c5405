// Reads just enough of a native binary to tell which machine it runs on and which glibc/libstdc++
// symbol versions it needs. Pure: bytes in, facts out. Layout per the System V gABI ELF header
// (e_ident, e_machine at offset 18) and the GNU symbol versioning spec (SHT_GNU_verneed,
// Elf_Verneed / Elf_Vernaux records). Mach-O and PE files are recognised by magic only, because
// onnxruntime-node ships darwin and win32 bindings inside the same npm package.
import { bmfError } from '../shared/errors.js';

/** e_machine values that matter here (gABI "Machine" table). */
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
const MACHINE_NAMES: Readonly<Record<number, string>> = {
  3: 'x86',
  40: 'ARM',
  [EM_X86_64]: 'x86-64',
  [EM_AARCH64]: 'AArch64',
  243: 'RISC-V',
};

export type BinaryFormat = 'elf' | 'mach-o' | 'pe' | 'unknown';

export interface BinaryInfo {
  readonly format: BinaryFormat;
  /** ELF only. */
  readonly machine?: number;
  readonly machineName?: string;
  readonly bits?: 32 | 64;
  /** Versions named in .gnu.version_r, e.g. GLIBC_2.17, GLIBCXX_3.4.22 (ELF only, sorted). */
  readonly neededVersions?: readonly string[];
}

const SHT_GNU_VERNEED = 0x6ffffffe;

export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `EM_${machine}`;
}

function detectFormat(b: Uint8Array): BinaryFormat {
  if (b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) {
    return 'elf';
  }
  if (b.length >= 4) {
    const be = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    // MH_MAGIC(_64) in either byte order, and FAT_MAGIC for universal binaries.
    if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(be)) return 'mach-o';
  }
  if (b.length >= 2 && b[0] === 0x4d && b[1] === 0x5a) return 'pe';
  return 'unknown';
}

/** Classifies `bytes`; for ELF also reads the machine and the needed symbol versions. */
export function readBinaryInfo(bytes: Uint8Array, path = '<buffer>'): BinaryInfo {
  const format = detectFormat(bytes);
  if (format !== 'elf') return { format };
  const fail = (reason: string): never => {
    throw bmfError('BMF_ERR_ELF_INVALID', { path, reason });
  };
  if (bytes.length < 52) fail(`${bytes.length} bytes is shorter than an ELF header`);
  const eiClass = bytes[4];
  const eiData = bytes[5];
  if (eiClass !== 1 && eiClass !== 2) fail(`EI_CLASS ${eiClass} is neither ELFCLASS32 nor 64`);
  if (eiData !== 1 && eiData !== 2) fail(`EI_DATA ${eiData} is neither little nor big endian`);
  const is64 = eiClass === 2;
  const le = eiData === 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number): number => {
    if (o + 2 > bytes.length) fail(`read past the end at offset ${o}`);
    return view.getUint16(o, le);
  };
  const u32 = (o: number): number => {
    if (o + 4 > bytes.length) fail(`read past the end at offset ${o}`);
    return view.getUint32(o, le);
  };
  const addr = (o: number): number => {
    if (!is64) return u32(o);
    if (o + 8 > bytes.length) fail(`read past the end at offset ${o}`);
    const v = view.getBigUint64(o, le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`offset ${v} at ${o} is out of range`);
    return Number(v);
  };
  const machine = u16(18);
  const base: BinaryInfo = {
    format,
    machine,
    machineName: machineName(machine),
    bits: is64 ? 64 : 32,
  };
  return { ...base, neededVersions: readVerneed() };

  function readVerneed(): string[] {
    const shoff = addr(is64 ? 0x28 : 0x20);
    const shentsize = u16(is64 ? 0x3a : 0x2e);
    const shnum = u16(is64 ? 0x3c : 0x30);
    if (shoff === 0 || shnum === 0) return []; // stripped of section headers: nothing to read
    if (shoff + shentsize * shnum > bytes.length) fail('section header table past end of file');
    const section = (i: number) => {
      const o = shoff + i * shentsize;
      return {
        type: u32(o + 4),
        offset: addr(is64 ? o + 0x18 : o + 0x10),
        size: addr(is64 ? o + 0x20 : o + 0x14),
        link: u32(is64 ? o + 0x28 : o + 0x18),
        info: u32(is64 ? o + 0x2c : o + 0x1c),
      };
    };
    const names = new Set<string>();
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type !== SHT_GNU_VERNEED) continue;
      if (s.link >= shnum) fail(`verneed sh_link ${s.link} out of range`);
      const strtab = section(s.link);
      const cstr = (off: number): string => {
        const start = strtab.offset + off;
        let end = start;
        while (end < bytes.length && bytes[end] !== 0) end++;
        if (end >= bytes.length) fail(`unterminated string at ${start}`);
        return Buffer.from(bytes.subarray(start, end)).toString('latin1');
      };
      // Elf_Verneed {vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32};
      // Elf_Vernaux {vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32}.
      let vn = s.offset;
      for (let n = 0; n < s.info; n++) {
        const cnt = u16(vn + 2);
        let aux = vn + u32(vn + 8);
        for (let k = 0; k < cnt; k++) {
          names.add(cstr(u32(aux + 8)));
          const next = u32(aux + 12);
          if (next === 0) break;
          aux += next;
        }
        const nextVn = u32(vn + 12);
        if (nextVn === 0) break;
        vn += nextVn;
      }
    }
    return [...names].sort();
  }
}

/** Highest `PREFIX_x.y[.z]` among `versions` (e.g. prefix GLIBC), compared numerically. */
export function highestVersion(versions: readonly string[], prefix: string): string | undefined {
  let best: number[] | undefined;
  for (const v of versions) {
    if (!v.startsWith(`${prefix}_`)) continue;
    const parts = v
      .slice(prefix.length + 1)
      .split('.')
      .map(Number);
    if (parts.some((p) => !Number.isInteger(p))) continue; // GLIBC_PRIVATE and the like
    if (!best || compareVersions(parts, best) > 0) best = parts;
  }
  return best?.join('.');
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
