// The commonest wrong files, through the real service (POST /data): each answer says how to fix the
// file (src/load/header-hints.ts), and the file is refused exactly as before the hints existed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { dataDir, options, removeDir, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

/** POSTs /data with users.csv as `users` (text, or bytes written as they are): the answer's status and error. */
async function postUsers(users: string | Buffer) {
  const dir = await dataDir({});
  await writeFile(path.join(dir, 'users.csv'), users);
  try {
    const response = await createApp(database, options(dir)).request('/data', { method: 'POST' });
    const body = (await response.json()) as { error?: string };
    return { status: response.status, error: body.error };
  } finally {
    await removeDir(dir);
  }
}

const ROWS = [
  ['user_id', 'name', 'email', 'signup_date'],
  ['1', 'Ann', 'ann@example.com', '2023-01-01'],
];
const joined = (separator: string) => ROWS.map((r) => r.join(separator)).join('\r\n');

test('a semicolon-, tab- or pipe-separated file: save it comma-separated', async () => {
  for (const [separator, word, shown] of [
    [';', 'semicolon', 'user_id;name;email;signup_date'],
    ['\t', 'tab', 'user_id\\tname\\temail\\tsignup_date'],
    ['|', 'pipe ("|")', 'user_id|name|email|signup_date'],
  ] as const) {
    assert.deepEqual(await postUsers(joined(separator)), {
      status: 422,
      error: `users.csv, line 1: this file looks ${word}-separated: save it comma-separated (CSV) (the header has: ${shown})`,
    });
  }
});

test('UTF-16 (with or without its byte order mark) and other encodings: save it as UTF-8', async () => {
  const text = joined(',');
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  assert.deepEqual(await postUsers(le), {
    status: 422,
    error:
      'users.csv, line 1: the header line contains a NUL byte: the file is UTF-16 text (it starts with a UTF-16 byte order mark): save it as UTF-8 (in Excel: "CSV UTF-8")',
  });
  const be = Buffer.from(text, 'utf16le').swap16();
  assert.deepEqual(await postUsers(Buffer.concat([Buffer.from([0xfe, 0xff]), be])), {
    status: 422,
    error:
      'users.csv, line 1: the header line contains a NUL byte: the file is UTF-16 text (it starts with a UTF-16 byte order mark): save it as UTF-8 (in Excel: "CSV UTF-8")',
  });
  assert.deepEqual(await postUsers(Buffer.from(text, 'utf16le')), {
    status: 422,
    error:
      'users.csv, line 1: the header line contains a NUL byte: the file looks like UTF-16 text (a NUL byte beside every letter): save it as UTF-8 (in Excel: "CSV UTF-8")',
  });
  const utf32 = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x00]), Buffer.from('user_id,name,email,signup_date\r\n', 'latin1')]);
  assert.match((await postUsers(utf32)).error!, /: the file is UTF-32 text \(it starts with a UTF-32 byte order mark\): save it as UTF-8/);
  // Windows-1252: "é" as one byte, which is not UTF-8.
  const latin = Buffer.from('user_id,name,email,signup_date,r\xe9gion\r\n1,Ann,ann@example.com,2023-01-01,x', 'latin1');
  assert.deepEqual(await postUsers(latin), {
    status: 422,
    error:
      'users.csv, line 1: the header line is not valid UTF-8: save the file as UTF-8 (it may be in an older encoding such as Windows-1252)',
  });
});

test('a file without its header line: what its first line should be', async () => {
  assert.deepEqual(await postUsers('1,Ann,ann@example.com,2023-01-01\r\n2,Bob,bob@example.com,2023-01-02'), {
    status: 422,
    error:
      'users.csv, line 1: the file seems to have no header line: its first line should be "user_id,name,email,signup_date" (the header has: 1, ann, ann@example.com, 2023-01-01)',
  });
});

test('a misspelt column: did you mean', async () => {
  assert.deepEqual(await postUsers('userid,name,e-mail,signupdate\r\n1,Ann,ann@example.com,2023-01-01'), {
    status: 422,
    error:
      'users.csv, line 1: missing required columns "user_id", "email", "signup_date" (the header has: userid, name, e-mail, signupdate): did you mean "user_id" for "userid", "email" for "e-mail", "signup_date" for "signupdate"?',
  });
  // Nothing close: the message stays as it was.
  assert.deepEqual(await postUsers('user_id,name,phone,signup_date\r\n1,Ann,555,2023-01-01'), {
    status: 422,
    error: 'users.csv, line 1: missing required column "email" (the header has: user_id, name, phone, signup_date)',
  });
});

test('the rules for accepting a file do not change: a UTF-8 BOM and extra columns are still fine', async () => {
  const text = `\ufeff${joined(',')}`;
  assert.equal((await postUsers(text)).status, 200);
  assert.equal((await postUsers('user_id,name,email,signup_date,userid\r\n1,Ann,ann@example.com,2023-01-01,x')).status, 200);
});
