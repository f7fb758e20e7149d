-- The dashboard without a read of `public.organizations`: the organization's name comes
-- from the session, which already holds it (the header shows it on every page).
--
-- Why: under RLS every table a statement reads pays its own policy check at executor
-- start-up and once per scan (the membership InitPlan, its function call, the permission
-- check of each function in it, the ids as a run-time index key): ~38,000 instructions a
-- table, whatever the table's size. The dashboard read six tables, one of them only for a
-- name the app had. callgrind, PostgreSQL 15, 1M database, `BEGIN`, the settings, the
-- statement, `COMMIT`, the slope between 50 and 250 transactions (bench/HISTORY.md,
-- 2026-12-05): as the table owner 1,047,324 → 1,019,019 instructions, under RLS
-- 1,268,854 → 1,210,356 (1.21× → 1.19× the owner's).
--
-- Tried and not kept, counted the same way: the last 24 hours and the partial day the
-- 7-day window starts in read together (one read of calls less) as an OR of the two
-- ranges: a bitmap plan as the owner (1,145,795) and, under RLS, one that reads all of the
-- organization's calls (3,885,740); as one lateral scan per range: 1,106,613 as the owner
-- and 1,270,419 under RLS (1.15×, but both slower than without), and with an index
-- covering the status and the duration 1,053,403 and 1,217,692, still slower than this.
--
-- What else changes: for an organization the caller is not a member of, the statement
-- used to return no row (the organization's row was invisible); it now returns a row of
-- zeros, every count and list read under RLS as before. It tells nothing, not even
-- whether the organization exists. The app shows a dashboard only for the organization
-- the session says the user is a member of (`OrgStore::current_org`).
--
-- The row's shape changes, so the functions get new names, and the old ones stay for
-- instances of the previous version sharing the database (as in 20261203000003).

create or replace function public.org_dashboard_figures(org uuid)
returns table (
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
  select (select count(*) from org_agents),
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
  from last_day l, edge e, month m;
end
$$;

revoke all on function public.org_dashboard_figures(uuid) from public, anon;
grant execute on function public.org_dashboard_figures(uuid) to authenticated;

-- As `org_dashboard_as` (20261204000001): reads the user's organizations for the policies
-- as the login role, becomes the user and reads the dashboard, in one statement. No SET
-- clause (it would undo the settings made inside); only the login role may call it.
create or replace function app_private.org_dashboard_figures_as(claims text, sub text, org uuid)
returns table (
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
  perform pg_catalog.set_config('switchboard.member_org_ids',
            array(select m.organization_id from public.memberships m
                  where m.user_id operator(pg_catalog.=) sub::uuid)::text, true),
          pg_catalog.set_config('switchboard.member_org_ids_for', sub, true),
          pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('request.jwt.claim.sub', sub, true);
  return query select * from public.org_dashboard_figures(org);
end
$$;
revoke all on function app_private.org_dashboard_figures_as(text, text, uuid) from public, anon, authenticated, service_role;
