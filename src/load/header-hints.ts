// How to fix a file whose header line cannot be used: the commonest wrong files (saved with another
// separator, as UTF-16, without a header, with a misspelt column) get a message that says what to
// do. These only word the failure: a header is accepted or refused by csv-to-copy.ts exactly as
// before, and a hint is looked for only once it has been refused.
import leven from 'leven';
import { printable } from '../support/log.js';

/** Byte order marks of encodings other than UTF-8, each of which makes the header line unreadable as UTF-8. */
const BOMS: [string, number[]][] = [
  ['UTF-32', [0x00, 0x00, 0xfe, 0xff]],
  ['UTF-32', [0xff, 0xfe, 0x00, 0x00]],
  ['UTF-16', [0xfe, 0xff]],
  ['UTF-16', [0xff, 0xfe]],
  ['GB 18030', [0x84, 0x31, 0x95, 0x33]],
  ['UTF-1', [0xf7, 0x64, 0x4c]],
  ['UTF-EBCDIC', [0xdd, 0x73, 0x66, 0x73]],
];

/**
 * For a header line that is not UTF-8 text (`bytes`, the line as read; `start`, the file's first
 * bytes): what the file is and how to save it, or null when nothing more can be said.
 */
export function encodingHint(start: Buffer, bytes: Buffer): string | null {
  const bom = BOMS.find(([, mark]) => mark.every((b, i) => start[i] === b));
  if (bom) return `the file is ${bom[0]} text (it starts with a ${bom[0]} byte order mark): save it as UTF-8 (in Excel: "CSV UTF-8")`;
  // UTF-16 without a mark: ASCII letters with a NUL byte after (or before) each.
  const nuls = [0, 0]; // at even and at odd positions
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) nuls[i % 2]!++;
  const [even, odd] = nuls as [number, number];
  if (Math.max(even, odd) >= 4 && Math.min(even, odd) === 0)
    return 'the file looks like UTF-16 text (a NUL byte beside every letter): save it as UTF-8 (in Excel: "CSV UTF-8")';
  if (!bytes.includes(0)) return 'save the file as UTF-8 (it may be in an older encoding such as Windows-1252)';
  return null;
}

const SEPARATORS: [string, string][] = [
  [';', 'semicolon'],
  ['\t', 'tab'],
  ['|', 'pipe ("|")'],
];

/** A value as a first line of data has it: a number, an ISO date or an email address. */
const looksLikeData = (value: string) => /^-?[0-9]+([.][0-9]+)?$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$|^[^@\s]+@[^@\s]+$/.test(value.trim());

/** The same name but for case, spaces, `-`, `_` and `.`: `userid`, `User ID` and `user-id` are `user_id`. */
const squeeze = (name: string) => name.toLowerCase().replace(/[\s._-]+/g, '');

/**
 * For a header missing required columns (`names`: the header's column names, trimmed and lower-
 * cased; `required`: the file's columns in the order the docs give them): the likely cause and
 * its fix, or null. In order: another separator, no header line at all, misspelt columns.
 */
export function headerHint(names: readonly string[], missing: readonly string[], required: readonly string[]): string | null {
  for (const [separator, word] of SEPARATORS) {
    const split = names.flatMap((n) => n.split(separator).map((part) => part.trim()));
    if (split.length > names.length && required.filter((c) => split.includes(c)).length * 2 >= required.length)
      return `this file looks ${word}-separated: save it comma-separated (CSV)`;
  }
  if (missing.length === required.length && names.some(looksLikeData))
    return `the file seems to have no header line: its first line should be "${required.join(',')}"`;
  const unknown = names.filter((n) => n !== '' && !required.includes(n));
  const guesses = missing.flatMap((column) => {
    const close = unknown
      .map((name) => ({ name, distance: squeeze(name) === squeeze(column) ? 0 : leven(name, column) }))
      .filter((g) => g.distance <= Math.floor(column.length / 4))
      .sort((a, b) => a.distance - b.distance)[0];
    return close ? [`"${column}" for "${printable(close.name, 60)}"`] : [];
  });
  return guesses.length > 0 ? `did you mean ${guesses.join(', ')}?` : null;
}
