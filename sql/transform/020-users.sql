-- staging.users -> work.users + rejects. The first valid row of each user_id wins.
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
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('user_id %s repeats the user on line %s', id, first_line) END) AS reason
  FROM (SELECT *, min(line) FILTER (WHERE problem IS NULL) OVER (PARTITION BY id) AS first_line FROM checked) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw)
  SELECT $1, 'users.csv', line, reason, raw FROM judged WHERE reason IS NOT NULL
)
INSERT INTO work.users (run_id, user_id, name, email, signup_date, line)
SELECT $1, id, name, email, signup, line FROM judged WHERE reason IS NULL
