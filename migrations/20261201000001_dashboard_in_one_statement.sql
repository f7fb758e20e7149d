-- The dashboard in one statement and one round trip for the PostgreSQL backend.
--
-- Why: a request as `authenticated` took four round trips (BEGIN, the claims, the query,
-- COMMIT), and on a busy two-core machine each round trip is a sleep and a wake-up of
-- both processes. This function becomes the user and reads the dashboard in the same
-- statement: called outside an explicit transaction, the statement is its own
-- transaction, so the role and the claims end with it exactly as `RlsTx`'s do (measured
-- with pgbench at 4 clients: 11,400 against 7,600 dashboards a second, 162 against
-- 211 us of PostgreSQL CPU each).
--
-- It has no SET clause on purpose: a function's SET clause undoes, when the function
-- returns, every setting made inside it; the names below are schema-qualified instead.
-- Only the system login role calls it (the role that may become `authenticated`); no
-- API role may, since it takes the claims as arguments.
create or replace function app_private.dashboard_as(claims text, sub text, org uuid)
returns table (
  organization_name text,
  agents bigint,
  calls_24h bigint,
  calls_7d bigint,
  completed_7d bigint,
  completed_seconds_7d bigint,
  first_day date,
  per_day integer[],
  latest public.dashboard_call[]
)
language plpgsql volatile security invoker
as $$
begin
  perform pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('request.jwt.claim.sub', sub, true);
  return query select * from public.dashboard(org);
end
$$;
revoke all on function app_private.dashboard_as(text, text, uuid) from public, anon, authenticated, service_role;
