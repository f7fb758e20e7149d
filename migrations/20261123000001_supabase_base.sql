-- The Supabase-compatible base: API roles, the `auth` schema, `auth.users` and the claim
-- helpers `auth.uid()`, `auth.role()` and `auth.jwt()`.
--
-- Every object is created only if it is absent, so this applies unchanged to a hosted
-- Supabase database (where all of it already exists and belongs to Supabase's own roles)
-- as well as to a bare PostgreSQL such as the embedded one.

-- The roles PostgREST switches to. NOLOGIN: nobody connects as them; the server's login
-- role switches to `authenticated` per transaction (`set local role`). Roles belong to the
-- whole cluster, so databases migrating side by side may race to create them: the loser's
-- duplicate is ignored.
do $$
declare
  spec text[];
begin
  foreach spec slice 1 in array array[
    array['anon', 'nologin noinherit'],
    array['authenticated', 'nologin noinherit'],
    array['service_role', 'nologin noinherit bypassrls']
  ] loop
    if not exists (select 1 from pg_roles where rolname = spec[1]) then
      begin
        execute format('create role %I %s', spec[1], spec[2]);
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$$;

-- The login role must be able to `set role authenticated` (a superuser always can; on
-- Supabase `postgres` already is a member).
do $$
begin
  if not pg_has_role(current_user, 'authenticated', 'MEMBER') then
    execute format('grant authenticated to %I', current_user);
  end if;
  if not pg_has_role(current_user, 'anon', 'MEMBER') then
    execute format('grant anon to %I', current_user);
  end if;
exception when insufficient_privilege then
  raise warning 'could not grant the API roles to %: request queries will fail until it is a member of authenticated', current_user;
end
$$;

create schema if not exists auth;

-- The columns of Supabase's auth.users that this app uses (Supabase has more; a hosted
-- project keeps its own table and this statement does nothing there).
create table if not exists auth.users (
  id uuid not null primary key default gen_random_uuid(),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

-- Claim helpers exactly as Supabase defines them: the older per-claim setting
-- (`request.jwt.claim.sub`) wins, then the claims object PostgREST sets per transaction.
do $$
begin
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
      $f$;
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
      $f$;
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $f$;
  end if;
end
$$;

-- On Supabase these grants exist already and belong to Supabase's admin roles.
do $$
begin
  grant usage on schema auth to anon, authenticated, service_role;
  grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;
exception when insufficient_privilege then
  raise notice 'auth schema grants left as they are (not the owner)';
end
$$;
