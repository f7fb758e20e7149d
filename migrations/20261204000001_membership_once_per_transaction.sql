-- The caller's organizations read once per transaction, not once per table a statement
-- reads.
--
-- Why: each read policy started its own membership subplan (an InitPlan over
-- `app_private.my_memberships`), six for the dashboard's statement: organizations,
-- agents, the daily rollup and three ranges of calls. Starting and running those subplans
-- was nearly all of RLS's cost (README, "Measured"; `bench/HISTORY.md`). Now the
-- memberships are read once per transaction: by the app in the statement that sets the
-- claims (`act_as` in app/src/org/rls.rs, and `org_dashboard_as` below), or else by the
-- first check (`app_private.load_member_org_ids`, as through PostgREST). The ids are kept
-- in two transaction-local settings, `switchboard.member_org_ids` and
-- `switchboard.member_org_ids_for` (the claims they were read for), and every read policy
-- compares the row's organization with them through `app_private.member_org_ids()`.
-- callgrind, PostgreSQL 15, the dashboard's statement on a 1M database (instructions):
-- 1,113,160 as the table owner; 1,485,138 under the old policies (1.33×); 1,329,304 now
-- with the ids read by the app (1.19×), which costs 61,000 more in its `act_as` statement
-- (93,549 → 154,822; a table read's check went from ~62,000 to ~36,000, so a statement
-- that reads two tables costs about the same as before, and one that reads one a little more);
-- 1,433,127 with the ids read by the first check (1.29×). The app's one-statement
-- dashboard (`org_dashboard_as`, becoming the user included): 1,574,687 → 1,469,405 (−7%).
--
-- Why it is as safe as the subplan:
-- - The ids are always read by the database from `public.memberships`, never taken from
--   the request; a caller that could write the settings itself could as well write
--   `request.jwt.claims` and be anyone (PostgREST and the app never let a request do
--   either).
-- - They are used only with the claims they were read for: a transaction that becomes
--   another user (Supabase Realtime checks several subscribers in one) reads that user's
--   memberships anew. Without a user, the answer is no organization.
-- - Any change to `public.memberships` in the transaction forgets them (the statement
--   trigger below), so a transaction that adds a member or an organization and reads on
--   sees the change, as before.
-- - They end with the transaction (`set_config(…, true)`), or with the subtransaction
--   that read them if it rolls back.
-- What changes: a transaction keeps the memberships it read at its first check. A
-- membership removed by another transaction while it runs still counts until it ends, as
-- if it had started a moment earlier; a request's transaction lasts milliseconds, and the
-- sessions of a removed member are dropped from every instance's cache when the removal
-- commits (`20261203000002_session_cache_notifications.sql`).
--
-- Only the read policies change. Writes, the member list and the profiles keep their
-- role-checking policies.

-- Who the claims say the caller is, as the text `auth.uid()` reads it from: the `sub`
-- setting when there is one, else the whole claims object (compared as text, which costs
-- far less than parsing it as JSON on every check). Null without claims.
create or replace function app_private.claims_key() returns text
language sql stable as $$
  select coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                  nullif(pg_catalog.current_setting('request.jwt.claims', true), ''))
$$;
revoke all on function app_private.claims_key() from public, anon;
grant execute on function app_private.claims_key() to authenticated;

-- Reads the user's organizations and keeps them for the transaction, marked with the
-- claims they were read for. Stable, so that the planner evaluates the policies' call once
-- per scan; the settings it writes are a cache of what it returns. Security definer: the
-- memberships are read as their owner, whatever the caller's own policies on them.
create or replace function app_private.load_member_org_ids() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
declare
  uid uuid := auth.uid();
  ids uuid[] := '{}';
begin
  if uid is not null then
    select coalesce(pg_catalog.array_agg(m.organization_id), '{}') into ids
    from public.memberships m where m.user_id operator(pg_catalog.=) uid;
  end if;
  perform pg_catalog.set_config('switchboard.member_org_ids', ids::text, true),
          pg_catalog.set_config('switchboard.member_org_ids_for',
                                coalesce(app_private.claims_key(), ''), true);
  return ids;
end
$$;
revoke all on function app_private.load_member_org_ids() from public, anon;
grant execute on function app_private.load_member_org_ids() to authenticated;

-- The caller's organizations, for the read policies: what this transaction read for the
-- same claims, or else a new read. A function rather than the same test inlined into each
-- policy: callgrind counted the inlined expression at ~46,000 instructions per table read
-- (the permission check of each function and operator in it at executor start-up), this
-- at ~36,000.
create or replace function app_private.member_org_ids() returns uuid[]
language plpgsql stable as $$
declare
  key text := app_private.claims_key();
begin
  if key operator(pg_catalog.=) pg_catalog.current_setting('switchboard.member_org_ids_for', true) then
    return pg_catalog.current_setting('switchboard.member_org_ids', true)::uuid[];
  end if;
  return app_private.load_member_org_ids();
end
$$;
revoke all on function app_private.member_org_ids() from public, anon;
grant execute on function app_private.member_org_ids() to authenticated;

-- Forgets what this transaction read when a membership changes in it.
create or replace function app_private.forget_member_org_ids() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform pg_catalog.set_config('switchboard.member_org_ids_for', '', true),
          pg_catalog.set_config('switchboard.member_org_ids', '{}', true);
  return null;
end
$$;
revoke all on function app_private.forget_member_org_ids() from public;

drop trigger if exists memberships_forget_member_org_ids on public.memberships;
create trigger memberships_forget_member_org_ids
  after insert or update or delete or truncate on public.memberships
  for each statement execute function app_private.forget_member_org_ids();

-- Each policy calls it through a scalar subquery, an InitPlan: once per table a statement
-- reads, whatever the plan. A bare call is evaluated once per scan only where it becomes
-- an index condition; in a filter (PostgreSQL scans the 1,000 organizations of the
-- benchmark's database sequentially) it would run for every row. The InitPlan costs ~2%
-- of the dashboard's statement (1,303,347 → 1,329,304 instructions). The cast only makes
-- the subquery an array expression, not `= any (subquery)`.
drop policy if exists organizations_select on public.organizations;
create policy organizations_select on public.organizations for select to authenticated
  using (id = any ((select app_private.member_org_ids())::uuid[]));
drop policy if exists agents_select on public.agents;
create policy agents_select on public.agents for select to authenticated
  using (organization_id = any ((select app_private.member_org_ids())::uuid[]));
drop policy if exists calls_select on public.calls;
create policy calls_select on public.calls for select to authenticated
  using (organization_id = any ((select app_private.member_org_ids())::uuid[]));
drop policy if exists call_stats_daily_select on public.call_stats_daily;
create policy call_stats_daily_select on public.call_stats_daily for select to authenticated
  using (organization_id = any ((select app_private.member_org_ids())::uuid[]));

-- As in 20261203000003, and it reads the user's organizations for the policies as the
-- login role, before becoming the user, the way `act_as` in app/src/org/rls.rs does. No
-- SET clause (it would undo the settings made inside); only the login role may call it.
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
  perform pg_catalog.set_config('switchboard.member_org_ids',
            array(select m.organization_id from public.memberships m
                  where m.user_id operator(pg_catalog.=) sub::uuid)::text, true),
          pg_catalog.set_config('switchboard.member_org_ids_for', sub, true),
          pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('request.jwt.claim.sub', sub, true);
  return query select * from public.org_dashboard(org);
end
$$;
revoke all on function app_private.org_dashboard_as(text, text, uuid) from public, anon, authenticated, service_role;
