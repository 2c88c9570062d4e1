-- Dreaming (issue 5): run plans, provenance of every change, affinity links.
--
-- A dreaming run is a `runs` row of kind `dream`; its workflow id is unique, so
-- an activity retry (or a schedule firing twice) finds the run it created.
create unique index runs_dream_workflow on runs (workflow_id) where kind = 'dream';

-- A user's messages in a time window (per session), the query every dreaming
-- run and the fan-out's "has new activity" check start with.
create index messages_by_session_time on messages (session_id, created_at);

-- Moments are upserted by a key derived from their source messages: re-running
-- a window rewrites the same rows instead of adding new ones.
alter table moments
  add column moment_key text,
  add column model text,
  add column prompt_version text,
  add column updated_at timestamptz not null default now();
create unique index moments_key on moments (tenant_id, user_id, moment_key) where moment_key is not null;
create index moments_entities on moments using gin (entities);

-- The plan of a run (claim check): the workflow carries page numbers, the
-- episodes of each page (message ids) live here, with the page's result once
-- done, so a retried page never calls the model again.
create table dream_pages (
  run_id uuid not null references runs (id) on delete cascade,
  page int not null,
  episodes jsonb not null,                   -- [{session_id, message_ids[]}]
  message_count int not null,
  result jsonb,                              -- moments, candidate facts, warnings, usage
  created_at timestamptz not null default now(),
  primary key (run_id, page)
);

-- Every change a dreaming run makes (or proposes, in a dry run), with its
-- provenance; the log a revert walks backwards.
create table dreaming_changes (
  id uuid primary key,
  seq bigint generated always as identity,
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  run_id uuid not null references runs (id) on delete cascade,
  change_key text not null,                  -- unique per run: a retried write records once
  kind text not null check (kind in ('memory', 'moment', 'profile', 'affinity')),
  action text not null check (action in ('add', 'update', 'invalidate', 'set')),
  target_id text not null,                   -- memory/moment id, profile field, affinity pair
  field text,
  before jsonb,
  after jsonb,
  source_message_ids uuid[] not null default '{}',
  model text,
  prompt_version text,
  applied boolean not null default true,     -- false: proposed by a dry run
  reverted_at timestamptz,
  created_at timestamptz not null default now(),
  unique (run_id, change_key)
);
create index dreaming_changes_by_run on dreaming_changes (tenant_id, run_id, seq);

-- Related resources of a user: moment ↔ moment and moment → file, scored by
-- embedding similarity and shared entities. Pairs are stored once (a < b for
-- moment pairs).
create table affinity_links (
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  source_type text not null check (source_type in ('moment')),
  source_id uuid not null,
  target_type text not null check (target_type in ('moment', 'file')),
  target_id uuid not null,
  score real not null,
  similarity real not null,
  shared_entities text[] not null default '{}',
  run_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, source_type, source_id, target_type, target_id)
);
create index affinity_links_by_target on affinity_links (tenant_id, target_type, target_id);
create index affinity_links_by_user on affinity_links (tenant_id, user_id);
