// Checks GET BASE_URL/data against the features of the sample data in data/ (verified by hand).
//   node test/docker/check-features.mjs BASE_URL [EXPECTED_RUN_ID]
// Prints the published run id on stdout, what it checked on stderr; exits 1 on any difference.
const [base, expectedRunId] = process.argv.slice(2);
if (!base) {
  console.error('usage: check-features.mjs BASE_URL [EXPECTED_RUN_ID]');
  process.exit(2);
}

// user_id, name, total_experiments, average_run_time, top_compound_id, top_compound_name,
// top_compound_ids, top_compound_experiments: one line per user of data/users.csv.
// e.g. user 1: experiments 1 (1;2, 12), 2 (2;3, 8.5), 3 (2, 20) -> 3, mean 13.5, Caffeine in all 3;
// user 10: experiment 18 lists 4;4;3 -> compound 4 counts once, tie 3/4; user 12 has none.
const EXPECTED = [
  [1, 'Marie Curie', 3, 13.5, 2, 'Caffeine', [2], 3],
  [2, 'Rosalind Franklin', 3, 71 / 3, 3, 'Ibuprofen', [3], 3],
  [3, 'Dorothy Hodgkin', 2, 10, 4, 'Paracetamol', [4, 5], 1],
  [4, 'Gertrude Elion', 2, 31.125, 1, 'Aspirin', [1, 2], 2],
  [5, 'Alice Ball', 1, 18, 12, 'Metformin', [12], 1],
  [6, 'Tu Youyou', 2, 30, 4, 'Paracetamol', [4, 5], 2],
  [7, 'Chien-Shiung Wu', 1, 16, 3, 'Ibuprofen', [3], 1],
  [8, 'Barbara McClintock', 3, 29 / 3, 2, 'Caffeine', [2, 5, 12], 2],
  [9, 'Katalin Kariko', 1, 19.5, 1, 'Aspirin', [1, 12], 1],
  [10, 'Jennifer Doudna', 1, 21, 3, 'Ibuprofen', [3, 4], 1],
  [11, 'Frances Arnold', 2, 27.5, 1, 'Aspirin', [1, 2, 5, 12], 1],
  [12, 'Carolyn Bertozzi', 0, null, null, null, [], null],
];

const problems = [];
const expect = (what, actual, expected) => {
  const same =
    typeof expected === 'number' && typeof actual === 'number'
      ? Math.abs(actual - expected) < 1e-9
      : JSON.stringify(actual) === JSON.stringify(expected);
  if (!same) problems.push(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
};

let body;
try {
  const response = await fetch(`${base}/data`);
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  body = await response.json();
} catch (error) {
  console.error(`GET ${base}/data failed: ${error.message}`);
  process.exit(1);
}

expect('run present', body.run !== null && typeof body.run === 'object', true);
expect('run.status', body.run?.status, 'succeeded');
if (expectedRunId) expect('run.run_id', body.run?.run_id, Number(expectedRunId));
expect('average_experiments_per_user', body.average_experiments_per_user, 1.75);
expect('number of users', body.users?.length, EXPECTED.length);
const fields = [
  'user_id',
  'name',
  'total_experiments',
  'average_run_time',
  'top_compound_id',
  'top_compound_name',
  'top_compound_ids',
  'top_compound_experiments',
];
for (const row of EXPECTED) {
  const user = body.users?.find((u) => u.user_id === row[0]);
  if (!user) {
    problems.push(`user ${row[0]} missing`);
    continue;
  }
  fields.forEach((field, i) => expect(`user ${row[0]} ${field}`, user[field], row[i]));
}

if (problems.length) {
  console.error(`GET ${base}/data differs from the expected features of data/:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.error(
  `GET ${base}/data: run ${body.run.run_id} succeeded, average_experiments_per_user 1.75, ` +
    `${EXPECTED.length} users with the expected counts, mean run times and top compounds`,
);
console.log(body.run.run_id);
