-- Row-Level Security that costs little per statement, and the dashboard as one statement
-- over a daily rollup of calls (see the README, "Measured").
--
-- Why: the first policies called `app_private.org_ids()`, a security-definer SQL
-- function. PostgreSQL cannot inline a security definer and plans a SQL function's body
-- again on every call: each table a statement read under RLS cost ~0.15 ms more than the
-- same read as the table owner (1M calls, PostgreSQL 15). The policies below read the
-- caller's memberships from a view instead, which PostgreSQL plans into the query: one
-- index lookup on `memberships_user_id_idx` per table a statement reads (~7 us).

-- The caller's own memberships. The view runs with its owner's rights (the migration
-- role, which bypasses RLS), so reading it does not also run the policies of
-- `memberships`; it can only ever return rows of `auth.uid()`, which the caller may read
-- anyway. security_barrier: no condition of the caller's runs before that filter.
create or replace view app_private.my_memberships with (security_barrier = true) as
  select m.organization_id, m.role from public.memberships m where m.user_id = (select auth.uid());
revoke all on app_private.my_memberships from public, anon;
grant select on app_private.my_memberships to authenticated;

-- organizations: members read; owners rename and delete.
drop policy if exists organizations_select on public.organizations;
create policy organizations_select on public.organizations for select to authenticated
  using (id in (select organization_id from app_private.my_memberships));
drop policy if exists organizations_update on public.organizations;
create policy organizations_update on public.organizations for update to authenticated
  using (id in (select organization_id from app_private.my_memberships where role = 'owner'))
  with check (id in (select organization_id from app_private.my_memberships where role = 'owner'));
drop policy if exists organizations_delete on public.organizations;
create policy organizations_delete on public.organizations for delete to authenticated
  using (id in (select organization_id from app_private.my_memberships where role = 'owner'));

-- agents: every member reads; members and up create and edit; admins and up delete.
drop policy if exists agents_select on public.agents;
create policy agents_select on public.agents for select to authenticated
  using (organization_id in (select organization_id from app_private.my_memberships));
drop policy if exists agents_insert on public.agents;
create policy agents_insert on public.agents for insert to authenticated
  with check (organization_id in (select organization_id from app_private.my_memberships
                                  where role in ('member', 'admin', 'owner')));
drop policy if exists agents_update on public.agents;
create policy agents_update on public.agents for update to authenticated
  using (organization_id in (select organization_id from app_private.my_memberships
                             where role in ('member', 'admin', 'owner')))
  with check (organization_id in (select organization_id from app_private.my_memberships
                                  where role in ('member', 'admin', 'owner')));
drop policy if exists agents_delete on public.agents;
create policy agents_delete on public.agents for delete to authenticated
  using (organization_id in (select organization_id from app_private.my_memberships
                             where role in ('admin', 'owner')));

-- calls: every member reads; nobody writes through the API (the system inserts them).
drop policy if exists calls_select on public.calls;
create policy calls_select on public.calls for select to authenticated
  using (organization_id in (select organization_id from app_private.my_memberships));

-- Calls per organization and UTC day, kept by statement triggers on `calls` (one
-- aggregated write per statement, however many rows it touched). The dashboard reads at
-- most 30 of these rows instead of every call of the last 30 days. Members read their
-- organizations' rows; only the triggers write.
create table if not exists public.call_stats_daily (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  day date not null,
  calls integer not null default 0 check (calls >= 0),
  completed integer not null default 0 check (completed >= 0),
  completed_seconds bigint not null default 0 check (completed_seconds >= 0),
  primary key (organization_id, day)
);
alter table public.call_stats_daily enable row level security;
alter table public.call_stats_daily force row level security;
revoke all on public.call_stats_daily from anon, authenticated;
grant select on public.call_stats_daily to authenticated;
drop policy if exists call_stats_daily_select on public.call_stats_daily;
create policy call_stats_daily_select on public.call_stats_daily for select to authenticated
  using (organization_id in (select organization_id from app_private.my_memberships));

-- Subtracts the old rows and adds the new ones of one statement on `calls`. Security
-- definer: whoever may write calls keeps the rollup right without a grant on it.
create or replace function app_private.call_stats_apply() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    update public.call_stats_daily s
    set calls = s.calls - d.calls,
        completed = s.completed - d.completed,
        completed_seconds = s.completed_seconds - d.completed_seconds
    from (
      select organization_id, (started_at at time zone 'utc')::date as day, count(*)::int as calls,
             (count(*) filter (where status = 'completed'))::int as completed,
             coalesce(sum(duration_seconds) filter (where status = 'completed'), 0) as completed_seconds
      from old_calls group by 1, 2
    ) d
    where s.organization_id = d.organization_id and s.day = d.day;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into public.call_stats_daily as s (organization_id, day, calls, completed, completed_seconds)
    select organization_id, (started_at at time zone 'utc')::date, count(*),
           count(*) filter (where status = 'completed'),
           coalesce(sum(duration_seconds) filter (where status = 'completed'), 0)
    from new_calls group by 1, 2
    -- One order for every writer, so concurrent statements lock rows without deadlocking.
    order by 1, 2
    on conflict (organization_id, day) do update
      set calls = s.calls + excluded.calls,
          completed = s.completed + excluded.completed,
          completed_seconds = s.completed_seconds + excluded.completed_seconds;
  end if;
  return null;
end
$$;
revoke all on function app_private.call_stats_apply() from public;

create or replace function app_private.call_stats_clear() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  delete from public.call_stats_daily;
  return null;
end
$$;
revoke all on function app_private.call_stats_clear() from public;

drop trigger if exists calls_stats_insert on public.calls;
create trigger calls_stats_insert after insert on public.calls
  referencing new table as new_calls
  for each statement execute function app_private.call_stats_apply();
drop trigger if exists calls_stats_update on public.calls;
create trigger calls_stats_update after update on public.calls
  referencing old table as old_calls new table as new_calls
  for each statement execute function app_private.call_stats_apply();
drop trigger if exists calls_stats_delete on public.calls;
create trigger calls_stats_delete after delete on public.calls
  referencing old table as old_calls
  for each statement execute function app_private.call_stats_apply();
drop trigger if exists calls_stats_truncate on public.calls;
create trigger calls_stats_truncate after truncate on public.calls
  for each statement execute function app_private.call_stats_clear();

-- The rollup of the calls that exist now (recomputed, so running this again is harmless).
insert into public.call_stats_daily as s (organization_id, day, calls, completed, completed_seconds)
select organization_id, (started_at at time zone 'utc')::date, count(*),
       count(*) filter (where status = 'completed'),
       coalesce(sum(duration_seconds) filter (where status = 'completed'), 0)
from public.calls group by 1, 2
on conflict (organization_id, day) do update
  set calls = excluded.calls, completed = excluded.completed,
      completed_seconds = excluded.completed_seconds;

-- One of the latest calls on the dashboard.
do $$
begin
  if to_regtype('public.dashboard_call') is null then
    create type public.dashboard_call as (
      id uuid,
      agent_id uuid,
      agent_name text,
      direction text,
      from_number text,
      to_number text,
      started_at timestamptz,
      duration_seconds integer,
      status text,
      sentiment text,
      summary text
    );
  end if;
end
$$;

-- The whole dashboard of `org` in one statement, run with the caller's rights (RLS
-- applies to every table it reads): no row when the caller cannot see the organization.
-- The PostgreSQL backend selects it, the PostgREST backend posts to /rpc/dashboard.
-- Windows: the last 24 hours and the last 7 days up to now; `per_day` has the calls of
-- the 30 UTC days from `first_day` to today, oldest first. The 7-day figures add the
-- rollup's whole days to the calls of the partial day the window starts in, so they stay
-- exact while reading at most one day of calls.
-- Each table is read once (RLS checks membership once per table a statement reads,
-- ~10 us each), and nothing is turned into JSON here (that cost more than the query).
-- plpgsql with a generic plan: made once per connection, not on every call (a custom
-- plan of this statement took longer to make than to run).
create or replace function public.dashboard(org uuid)
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
  ), days as (
    select d.day, d.calls, d.completed, d.completed_seconds from public.call_stats_daily d
    where d.organization_id = org and d.day > today - 30 and d.day <= today
  ), week as (
    select coalesce(sum(d.calls), 0)::bigint as calls, coalesce(sum(d.completed), 0)::bigint as completed,
           coalesce(sum(d.completed_seconds), 0)::bigint as completed_seconds
    from days d where d.day >= week_first_day
  ), edge as (
    select count(*) filter (where c.started_at > now_utc - interval '24 hours') as calls_24h,
           count(*) filter (where c.started_at < week_first_day_at) as calls,
           count(*) filter (where c.started_at < week_first_day_at and c.status = 'completed') as completed,
           coalesce(sum(c.duration_seconds) filter (where c.started_at < week_first_day_at and c.status = 'completed'), 0)
             as completed_seconds
    from public.calls c
    where c.organization_id = org
      and (c.started_at > now_utc - interval '24 hours'
           or (c.started_at > week_from and c.started_at < week_first_day_at))
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
         e.calls_24h,
         e.calls + w.calls,
         e.completed + w.completed,
         (e.completed_seconds + w.completed_seconds)::bigint,
         today - 29,
         array(select coalesce(d.calls, 0) from generate_series(29, 0, -1) k
               left join days d on d.day = today - k order by k desc),
         array(select row(l.id, l.agent_id, a.name, l.direction, l.from_number, l.to_number, l.started_at,
                          l.duration_seconds, l.status, l.sentiment, l.summary)::public.dashboard_call
               from latest l left join org_agents a on a.id = l.agent_id
               order by l.started_at desc, l.id desc)
  from public.organizations o, edge e, week w
  where o.id = org;
end
$$;
revoke all on function public.dashboard(uuid) from public, anon;
grant execute on function public.dashboard(uuid) to authenticated;

-- Replaced by public.dashboard.
drop function if exists public.dashboard_stats(uuid);
