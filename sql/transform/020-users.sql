-- staging.users (the rows the loader could not prove valid, as text) -> work.users + rejects.
-- work.users already holds the rows the loader typed (sql/000008); those are accepted and each is
-- on an earlier line than any other row with its id. The first valid row of each user_id wins.
WITH typed AS MATERIALIZED ( -- parsed once per row, not once per reference
  SELECT s.*, etl.to_id(s.user_id) AS id, etl.to_date(s.signup_date) AS signup
  FROM staging.users s
), checked AS (
  SELECT t.*, CASE
      WHEN parse_error IS NOT NULL THEN parse_error
      WHEN id IS NULL THEN format('user_id %s is not a positive integer', etl.quoted(user_id))
      WHEN signup IS NULL THEN format('signup_date %s is not a valid date (YYYY-MM-DD)', etl.quoted(signup_date))
      WHEN length(name) > 1000 THEN format('name is longer than 1000 characters (%s)', length(name))
      WHEN length(email) > 1000 THEN format('email is longer than 1000 characters (%s)', length(email))
    END AS problem
  FROM typed t
), typed_first AS ( -- a loaded row with the same id comes first
  SELECT c.line, w.line AS first_line FROM checked c JOIN work.users w ON w.user_id = c.id WHERE c.problem IS NULL
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('user_id %s repeats the user on line %s', id, first_line) END) AS reason
  FROM (SELECT c.*, least(f.first_line, min(c.line) FILTER (WHERE c.problem IS NULL) OVER (PARTITION BY c.id)) AS first_line
        FROM checked c LEFT JOIN typed_first f ON f.line = c.line) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw, raw_bytes)
  SELECT $1, 'users.csv', line, reason, etl.byte_prefix(raw, 1000), CASE WHEN NOT raw_is_preview THEN octet_length(raw) END FROM judged WHERE reason IS NOT NULL
)
INSERT INTO work.users (run_id, user_id, name, email, signup_date, line)
SELECT $1, id, name, email, signup, line FROM judged WHERE reason IS NULL
