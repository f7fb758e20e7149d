-- Accounts: organizations, memberships and profiles (public, under Row-Level Security),
-- and the server's private bookkeeping (sessions, one-time tokens, throttling, dev outbox)
-- in `app_private`, a schema no API role can use.

-- Emails are stored trimmed and lower-cased; this index makes one account per address
-- even when sign-ups race. On a hosted Supabase project auth.users belongs to Supabase's
-- auth admin: the index is then left to Supabase's own (which also lower-cases).
do $$
begin
  create unique index if not exists users_email_lower_key on auth.users (lower(email));
exception when insufficient_privilege then
  raise notice 'auth.users belongs to another role: relying on its own email index';
end
$$;

create table if not exists public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(btrim(name)) between 1 and 100),
  created_at timestamptz not null default now()
);

create table if not exists public.memberships (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  created_at timestamptz not null default now(),
  primary key (organization_id, user_id)
);
create index if not exists memberships_user_id_idx on public.memberships (user_id);
-- Policies test the role too (only owners touch owner rows): every policy column is indexed.
create index if not exists memberships_role_idx on public.memberships (role, organization_id);

create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  full_name text not null default '' check (char_length(full_name) <= 100),
  -- The organization the user is working in now.
  organization_id uuid references public.organizations (id) on delete set null,
  created_at timestamptz not null default now()
);
create index if not exists profiles_organization_id_idx on public.profiles (organization_id);

-- Membership checks for policies: security definer so that the policies of `memberships`
-- do not recurse into themselves; in a schema no API exposes; empty search_path.
create schema if not exists app_private;
revoke all on schema app_private from public;
grant usage on schema app_private to authenticated;

-- The organizations the current user belongs to with at least `min_role`
-- (viewer < member < admin < owner). Policies test `organization_id in (select ...)`,
-- which PostgreSQL evaluates once per statement, not once per row.
create or replace function app_private.org_ids(min_role text default 'viewer')
returns setof uuid language sql stable security definer set search_path = '' as $$
  select m.organization_id from public.memberships m
  where m.user_id = (select auth.uid())
    and array_position(array['viewer', 'member', 'admin', 'owner'], m.role)
        >= array_position(array['viewer', 'member', 'admin', 'owner'], min_role)
$$;

revoke all on function app_private.org_ids(text) from public;
grant execute on function app_private.org_ids(text) to authenticated;

alter table public.organizations enable row level security;
alter table public.organizations force row level security;
alter table public.memberships enable row level security;
alter table public.memberships force row level security;
alter table public.profiles enable row level security;
alter table public.profiles force row level security;

-- Supabase's default privileges grant everything in `public` to the API roles: start from
-- nothing and grant what the policies below are for.
revoke all on public.organizations, public.memberships, public.profiles from anon, authenticated;
grant select, update, delete on public.organizations to authenticated;
grant select, insert, update, delete on public.memberships to authenticated;
grant select, update on public.profiles to authenticated;

-- organizations: members read; owners rename and delete. Created by the server at sign-up.
drop policy if exists organizations_select on public.organizations;
create policy organizations_select on public.organizations for select to authenticated
  using (id in (select app_private.org_ids('viewer')));
drop policy if exists organizations_update on public.organizations;
create policy organizations_update on public.organizations for update to authenticated
  using (id in (select app_private.org_ids('owner')))
  with check (id in (select app_private.org_ids('owner')));
drop policy if exists organizations_delete on public.organizations;
create policy organizations_delete on public.organizations for delete to authenticated
  using (id in (select app_private.org_ids('owner')));

-- memberships: members see their organization's members; admins manage them.
drop policy if exists memberships_select on public.memberships;
create policy memberships_select on public.memberships for select to authenticated
  using (organization_id in (select app_private.org_ids('viewer')));
-- Only owners may grant, change or remove the owner role (an admin cannot promote
-- themselves or demote an owner).
drop policy if exists memberships_insert on public.memberships;
create policy memberships_insert on public.memberships for insert to authenticated
  with check (
    organization_id in (select app_private.org_ids('admin'))
    and (role <> 'owner' or organization_id in (select app_private.org_ids('owner')))
  );
drop policy if exists memberships_update on public.memberships;
create policy memberships_update on public.memberships for update to authenticated
  using (
    organization_id in (select app_private.org_ids('admin'))
    and (role <> 'owner' or organization_id in (select app_private.org_ids('owner')))
  )
  with check (
    organization_id in (select app_private.org_ids('admin'))
    and (role <> 'owner' or organization_id in (select app_private.org_ids('owner')))
  );
drop policy if exists memberships_delete on public.memberships;
create policy memberships_delete on public.memberships for delete to authenticated
  using (
    organization_id in (select app_private.org_ids('admin'))
    and (role <> 'owner' or organization_id in (select app_private.org_ids('owner')))
  );

-- profiles: a user reads and edits their own; members of an organization read each other's.
drop policy if exists profiles_select on public.profiles;
create policy profiles_select on public.profiles for select to authenticated
  using (
    id = (select auth.uid())
    or exists (
      select 1 from public.memberships m
      where m.user_id = profiles.id and m.organization_id in (select app_private.org_ids('viewer'))
    )
  );
drop policy if exists profiles_update on public.profiles;
create policy profiles_update on public.profiles for update to authenticated
  using (id = (select auth.uid()))
  with check (
    id = (select auth.uid())
    and (organization_id is null or organization_id in (select app_private.org_ids('viewer')))
  );

-- sqlx's own bookkeeping lives in `public` (where PostgREST would expose it): lock it.
alter table public._sqlx_migrations enable row level security;
alter table public._sqlx_migrations force row level security;
revoke all on public._sqlx_migrations from anon, authenticated;

-- Server bookkeeping: never reachable through the API roles.

-- One row per signed-in browser; the tower-sessions record holds only its id. Deleting the
-- row signs that browser out at once, on every instance.
create table if not exists app_private.user_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  ip text not null default '',
  user_agent text not null default ''
);
create index if not exists user_sessions_user_id_idx on app_private.user_sessions (user_id);
create index if not exists user_sessions_expires_at_idx on app_private.user_sessions (expires_at);

-- tower-sessions records (the layout tower-sessions-sqlx-store expects; created here so
-- that it is migrated under the same lock as everything else).
create table if not exists app_private.sessions (
  id text primary key not null,
  data bytea not null,
  expiry_date timestamptz not null
);
create index if not exists sessions_expiry_date_idx on app_private.sessions (expiry_date);

-- Single-use email tokens; only their SHA-256 is stored.
create table if not exists app_private.email_tokens (
  token_hash bytea primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  purpose text not null check (purpose in ('confirm', 'reset')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz
);
create index if not exists email_tokens_user_id_idx on app_private.email_tokens (user_id, purpose);

-- Fixed-window counters shared by every instance.
create table if not exists app_private.rate_limits (
  key text primary key,
  window_start timestamptz not null,
  hits integer not null
);

-- Development outbox: what would have been mailed (shown at /dev/mailbox).
create table if not exists app_private.outbox (
  id bigint generated always as identity primary key,
  recipient text not null,
  subject text not null,
  body text not null,
  created_at timestamptz not null default now()
);

revoke all on all tables in schema app_private from public, anon, authenticated;
