-- Text -> typed value, or NULL when the text is not a valid value. Never raises, so one bad row
-- cannot abort a set-based statement. Plain SQL functions, so the planner inlines them.

-- Positive integers up to 2^53 - 1: larger ids would silently lose digits in JSON readers.
-- Leading zeros are allowed: ids compare as integers, so 007 is 7.
CREATE FUNCTION etl.to_id(t text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t !~ '^0*[1-9][0-9]{0,15}$' THEN NULL
    WHEN ltrim(t, '0')::bigint > 9007199254740991 THEN NULL
    ELSE ltrim(t, '0')::bigint
  END
$$;

-- A ';'-separated list of such ids (spaces around each allowed). NULL when empty or any item is bad.
CREATE FUNCTION etl.to_id_list(t text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t !~ '^[ \t]*0*[1-9][0-9]{0,15}[ \t]*(;[ \t]*0*[1-9][0-9]{0,15}[ \t]*)*$' THEN NULL
    WHEN 9007199254740991 < ANY (string_to_array(t, ';')::bigint[]) THEN NULL
    ELSE string_to_array(t, ';')::bigint[]
  END
$$;

-- ISO 8601 calendar date, YYYY-MM-DD, that exists (no 2023-02-30, no year 0).
CREATE FUNCTION etl.to_date(t text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t !~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' THEN NULL
    WHEN left(t, 4) = '0000' THEN NULL
    WHEN (left(t, 8) || '01')::date + interval '1 month' <= (left(t, 8) || '01')::date
         + (right(t, 2)::int - 1) * interval '1 day' THEN NULL
    ELSE t::date
  END
$$;

-- A finite, non-negative decimal number; exponents allowed (1e3), NaN and Infinity are not.
-- Bounded lengths keep the cast from overflowing. -0 is zero, so it is accepted as 0.
CREATE FUNCTION etl.to_run_time(t text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t !~ '^[+-]?([0-9]{1,15}(\.[0-9]{0,15})?|\.[0-9]{1,15})([eE][+-]?[0-9]{1,2})?$' THEN NULL
    WHEN t::double precision < 0 THEN NULL
    ELSE t::double precision + 0
  END
$$;

-- A value quoted for a reject reason, cut so one huge field cannot flood the message.
CREATE FUNCTION etl.quoted(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN length(t) > 40 THEN quote_literal(left(t, 40) || '…') ELSE quote_literal(t) END
$$;
