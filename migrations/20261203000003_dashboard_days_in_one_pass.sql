-- The dashboard's 30 days read in one pass, and laid out by the caller.
--
-- Why: `public.dashboard` built `per_day` by joining `generate_series` with the days that
-- had calls, hashing and sorting the 30 rows: executor nodes started on every call, 18% of
-- the whole statement's PostgreSQL CPU (pgbench, 2 clients, 1M database: 5,340 against
-- 6,500 statements a second without that array). Now one aggregate over the window's
-- rows of `call_stats_daily` returns the 7-day sums and every day that had calls as two
-- arrays (`days`, `day_calls`, in no set order); the app puts each count in its slot of
-- the 30 days from `first_day` (`DashboardRecord` in app/src/org/store.rs). The same
-- pgbench: 5,100 → 5,900 statements a second as the table owner, 4,150 → 4,560 under RLS.
-- The tables read, and so what RLS checks, are the same six. End to end the gain is within
-- the noise (three interleaved pairs of `wrk` runs: 1,252 → 1,273 dashboards a second):
-- PostgreSQL is less than half of a dashboard's CPU.
--
-- The row's shape changes, so the functions get new names: `public.org_dashboard` (also
-- PostgREST's /rpc/org_dashboard) and `app_private.org_dashboard_as`, with the grants of
-- the ones they replace. Under the old names, the earlier migrations' `create or replace`
-- of the old shape would fail when they run again (as on a database whose objects already
-- exist; test `migrations_apply_twice_without_error`). The old functions stay: instances
-- of the previous version sharing the database keep serving dashboards until they are
-- replaced; a later migration can drop them.

create or replace function public.org_dashboard(org uuid)
returns table (
  organization_name text,
  agents bigint,
  calls_24h bigint,
  calls_7d bigint,
  completed_7d bigint,
  completed_seconds_7d bigint,
  first_day date,
  days date[],
  day_calls integer[],
  latest public.dashboard_call[]
)
language plpgsql stable security invoker set search_path = '' set plan_cache_mode = force_generic_plan
as $$
declare
  now_utc timestamptz := now();
  today date := (now_utc at time zone 'utc')::date;
  week_from timestamptz := now_utc - interval '7 days';
  -- The first whole UTC day inside the 7-day window.
  week_first_day date := (week_from at time zone 'utc')::date + 1;
  week_first_day_at timestamptz := week_first_day::timestamp at time zone 'utc';
begin
  return query
  with org_agents as (
    select a.id, a.name from public.agents a where a.organization_id = org
  ), month as (
    select coalesce(sum(d.calls) filter (where d.day >= week_first_day), 0)::bigint as week_calls,
           coalesce(sum(d.completed) filter (where d.day >= week_first_day), 0)::bigint as week_completed,
           coalesce(sum(d.completed_seconds) filter (where d.day >= week_first_day), 0)::bigint as week_seconds,
           coalesce(array_agg(d.day), '{}') as days,
           coalesce(array_agg(d.calls), '{}') as day_calls
    from public.call_stats_daily d
    where d.organization_id = org and d.day > today - 30 and d.day <= today
  ), last_day as (
    select count(*) as calls from public.calls c
    where c.organization_id = org and c.started_at > now_utc - interval '24 hours'
  ), edge as (
    -- The calls of the partial UTC day the 7-day window starts in.
    select count(*) as calls,
           count(*) filter (where c.status = 'completed') as completed,
           coalesce(sum(c.duration_seconds) filter (where c.status = 'completed'), 0) as completed_seconds
    from public.calls c
    where c.organization_id = org and c.started_at > week_from and c.started_at < week_first_day_at
  ), latest as (
    select c.id, c.agent_id, c.direction, c.from_number, c.to_number, c.started_at,
           c.duration_seconds, c.status, c.sentiment, c.summary
    from public.calls c
    where c.organization_id = org
    order by c.started_at desc, c.id desc
    limit 10
  )
  select o.name,
         (select count(*) from org_agents),
         l.calls,
         e.calls + m.week_calls,
         e.completed + m.week_completed,
         (e.completed_seconds + m.week_seconds)::bigint,
         today - 29,
         m.days,
         m.day_calls,
         array(select row(l.id, l.agent_id, a.name, l.direction, l.from_number, l.to_number, l.started_at,
                          l.duration_seconds, l.status, l.sentiment, l.summary)::public.dashboard_call
               from latest l left join org_agents a on a.id = l.agent_id
               order by l.started_at desc, l.id desc)
  from public.organizations o, last_day l, edge e, month m
  where o.id = org;
end
$$;

revoke all on function public.org_dashboard(uuid) from public, anon;
grant execute on function public.org_dashboard(uuid) to authenticated;

-- As in 20261201000001: becomes the user and reads the dashboard in one statement. No SET
-- clause (it would undo the settings made inside); only the login role may call it.
create or replace function app_private.org_dashboard_as(claims text, sub text, org uuid)
returns table (
  organization_name text,
  agents bigint,
  calls_24h bigint,
  calls_7d bigint,
  completed_7d bigint,
  completed_seconds_7d bigint,
  first_day date,
  days date[],
  day_calls integer[],
  latest public.dashboard_call[]
)
language plpgsql volatile security invoker
as $$
begin
  perform pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('request.jwt.claim.sub', sub, true);
  return query select * from public.org_dashboard(org);
end
$$;
revoke all on function app_private.org_dashboard_as(text, text, uuid) from public, anon, authenticated, service_role;
