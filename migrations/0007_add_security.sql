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
