-- Each app instance keeps the sessions it resolved for a few seconds
-- (`app::auth::session_cache`). These triggers tell every instance what to forget, on
-- channel `switchboard_auth`, once the change commits: `user:<id>` when a session row
-- goes or what a session shows of its user changes (email, name, current organization,
-- memberships), `organization:<id>` when an organization is renamed. Deleting a user or
-- an organization deletes its sessions or memberships, which notify in turn.

-- The user is the row's column named by the trigger's argument.
create or replace function app_private.notify_user_changed() returns trigger
language plpgsql set search_path = '' as $$
declare
  changed jsonb;
begin
  if tg_op = 'DELETE' then
    changed := to_jsonb(old);
  else
    changed := to_jsonb(new);
  end if;
  perform pg_notify('switchboard_auth', 'user:' || (changed ->> tg_argv[0]));
  return null;
end
$$;
revoke all on function app_private.notify_user_changed() from public;

create or replace function app_private.notify_organization_renamed() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform pg_notify('switchboard_auth', 'organization:' || new.id::text);
  return null;
end
$$;
revoke all on function app_private.notify_organization_renamed() from public;

drop trigger if exists user_sessions_notify on app_private.user_sessions;
create trigger user_sessions_notify after delete on app_private.user_sessions
  for each row execute function app_private.notify_user_changed('user_id');

drop trigger if exists profiles_notify on public.profiles;
create trigger profiles_notify after update of organization_id, full_name or delete on public.profiles
  for each row execute function app_private.notify_user_changed('id');

drop trigger if exists memberships_notify on public.memberships;
create trigger memberships_notify after insert or update or delete on public.memberships
  for each row execute function app_private.notify_user_changed('user_id');

drop trigger if exists organizations_notify on public.organizations;
create trigger organizations_notify after update of name on public.organizations
  for each row execute function app_private.notify_organization_renamed();

-- On a hosted Supabase project auth.users belongs to Supabase's auth admin; a project's
-- `postgres` role may still add triggers to it, but if it cannot, a changed email shows
-- on other instances once their cached sessions expire (seconds).
do $$
begin
  drop trigger if exists users_email_notify on auth.users;
  create trigger users_email_notify after update of email on auth.users
    for each row execute function app_private.notify_user_changed('id');
exception when insufficient_privilege then
  raise notice 'auth.users belongs to another role: no email-change notification';
end
$$;
