-- Security and multi-tenancy (issue 6): tenant tiers and limits, key expiry,
-- the rate-limit bypass list and the shared rate-limiter table.
alter table tenants
  add column tier text not null default 'free',
  add column limits jsonb not null default '{}',
  add column webhook_url text,
  add column webhook_secret text;

alter table api_keys add column expires_at timestamptz;
create index api_keys_by_tenant on api_keys (tenant_id, created_at desc, id desc);

-- Keys made before scopes were enforced could reach memories and dreaming
-- routes; they keep exactly what they could do.
update api_keys set scopes = array(select distinct unnest(scopes || '{memories,dreaming}'::text[]))
  where 'chat' = any (scopes) and not ('admin' = any (scopes) and cardinality(scopes) = 1);

create table rate_limit_bypass (
  id uuid primary key,
  type text not null check (type in ('key', 'ip', 'cidr')),
  value text not null,
  created_at timestamptz not null default now(),
  unique (type, value)
);

-- rate-limiter-flexible's RateLimiterPostgres table (its own schema, made here
-- so no API process needs DDL rights at start-up). Unlogged: counters are
-- written on every request and need no WAL fsync; a crash only resets windows.
create unlogged table rate_limits (
  key varchar(255) primary key,
  points integer not null default 0,
  expire bigint
);

-- Every change to a key, a tenant or the bypass list tells every API process
-- (NOTIFY is delivered on commit), however it is made: the admin API, the CLI
-- or SQL by hand. API processes drop what they cached on hearing it.
create function notify_security_change() returns trigger language plpgsql as $$
begin
  if tg_table_name = 'api_keys' then
    perform pg_notify('reverie_security', 'key:' || coalesce(new.id, old.id)::text);
  elsif tg_table_name = 'tenants' then
    perform pg_notify('reverie_security', 'tenant:' || coalesce(new.id, old.id)::text);
  else
    perform pg_notify('reverie_security', 'bypass');
  end if;
  return null;
end $$;

-- Not on last_used_at: the batched use records must not empty every cache.
create trigger api_keys_notify after update of revoked_at, expires_at, scopes, tenant_id, key_hash or delete on api_keys
  for each row execute function notify_security_change();
create trigger tenants_notify after update of tier, limits or delete on tenants
  for each row execute function notify_security_change();
create trigger rate_limit_bypass_notify after insert or update or delete on rate_limit_bypass
  for each row execute function notify_security_change();
