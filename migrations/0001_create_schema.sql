-- reverie schema. Every table carries tenant_id and every query filters by it.
-- {{EMBEDDING_DIM}} is the embedding dimension from configuration, fixed here.
create extension if not exists vector;

create table settings (
  key text primary key,
  value jsonb not null
);
insert into settings (key, value) values ('embedding_dim', to_jsonb({{EMBEDDING_DIM}}));

create table tenants (
  id uuid primary key,
  name text not null,
  created_at timestamptz not null default now()
);
insert into tenants (id, name) values ('00000000-0000-4000-8000-000000000001', 'default');

create table api_keys (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  name text not null default '',
  key_hash text not null unique,            -- sha256 of the key; the key itself is never stored
  prefix text not null,                     -- first characters, to recognise a key in listings
  scopes text[] not null default '{chat}',
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table users (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id text not null,                         -- the caller's own user id: email, uuid or name
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table sessions (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text,
  title text,
  agent text not null default 'default',
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index sessions_by_user on sessions (tenant_id, user_id, created_at desc, id desc);
create index sessions_by_tenant on sessions (tenant_id, created_at desc, id desc);

create table runs (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  kind text not null check (kind in ('turn', 'ingest', 'dream', 'memory')),
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  session_id uuid references sessions (id) on delete cascade,
  user_id text,
  model text,
  input jsonb not null default '{}',         -- claim check: the workflow carries only the run id
  idempotency_key text,
  request_hash text,
  workflow_id text,
  message_id uuid,                           -- the assistant message the run produced
  usage jsonb not null default '{}',
  error jsonb,
  last_seq bigint not null default 0,       -- last run_events.seq; the per-run sequence counter
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create unique index runs_idempotency on runs (tenant_id, idempotency_key)
  where idempotency_key is not null;
create index runs_by_session on runs (tenant_id, session_id, created_at desc, id desc);
create index runs_by_tenant on runs (tenant_id, created_at desc, id desc);

create table messages (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  session_id uuid not null references sessions (id) on delete cascade,
  run_id uuid references runs (id) on delete set null,
  seq bigint generated always as identity,  -- total order of a session's history
  role text not null check (role in ('system', 'user', 'assistant', 'tool')),
  content text not null default '',
  tool_calls jsonb,
  tool_call_id text,
  status text not null default 'completed' check (status in ('completed', 'incomplete')),
  incomplete_reason text
    check (incomplete_reason in ('interrupted', 'cancelled', 'failed', 'max_tokens')),
  usage jsonb,
  idem_key text,                            -- derived from the run/step so retries never duplicate
  created_at timestamptz not null default now()
);
create unique index messages_idem on messages (session_id, idem_key) where idem_key is not null;
create index messages_by_session on messages (session_id, seq);
create index messages_fts on messages using gin (to_tsvector('simple', content));

create table run_events (
  run_id uuid not null references runs (id) on delete cascade,
  seq bigint not null,
  type text not null,
  data jsonb not null default '{}',
  step int,                                 -- model step that produced it (for retry discards)
  attempt int,                              -- activity attempt that produced it
  created_at timestamptz not null default now(),
  primary key (run_id, seq)
);
create index run_events_retention on run_events (created_at);

create table files (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text,
  session_id uuid references sessions (id) on delete set null,
  filename text not null,
  content_type text not null,
  size_bytes bigint not null,
  sha256 text,
  blob_key text not null,
  status text not null default 'processing' check (status in ('processing', 'ready', 'failed', 'deleted')),
  error jsonb,
  chunk_count int not null default 0,
  run_id uuid references runs (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index files_by_tenant on files (tenant_id, created_at desc);

create table chunks (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  file_id uuid not null references files (id) on delete cascade,
  ordinal int not null,
  content text not null,
  heading text,
  token_count int not null default 0,
  start_offset int,
  end_offset int,
  embedding vector({{EMBEDDING_DIM}}),
  tsv tsvector generated always as (to_tsvector('english', content)) stored,
  created_at timestamptz not null default now(),
  unique (file_id, ordinal)
);
create index chunks_embedding on chunks using hnsw (embedding vector_cosine_ops);
create index chunks_tsv on chunks using gin (tsv);
create index chunks_by_tenant on chunks (tenant_id);

create table memories (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  content text not null,
  content_hash text not null,               -- normalised-text hash: cheap dedupe before any LLM call
  category text,
  metadata jsonb not null default '{}',
  embedding vector({{EMBEDDING_DIM}}),
  valid_from timestamptz not null default now(),
  valid_to timestamptz,                     -- set when superseded or deleted; never hard-deleted by dreaming
  superseded_by uuid references memories (id),
  source_run_id uuid,
  source_message_ids uuid[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index memories_embedding on memories using hnsw (embedding vector_cosine_ops);
create index memories_current on memories (tenant_id, user_id) where valid_to is null;
create unique index memories_current_hash on memories (tenant_id, user_id, content_hash)
  where valid_to is null;

create table moments (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  title text not null,
  summary text not null,
  topics text[] not null default '{}',
  entities text[] not null default '{}',
  starts_at timestamptz,
  ends_at timestamptz,
  source_message_ids uuid[] not null default '{}',
  embedding vector({{EMBEDDING_DIM}}),
  run_id uuid,
  created_at timestamptz not null default now()
);
create index moments_embedding on moments using hnsw (embedding vector_cosine_ops);
create index moments_by_user on moments (tenant_id, user_id, starts_at desc);

create table user_profiles (
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  profile jsonb not null default '{}',
  evidence jsonb not null default '{}',
  version int not null default 1,
  run_id uuid,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);

create table dreaming_state (
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  watermark timestamptz,
  last_run_id uuid,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);

create table feedback (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  run_id uuid references runs (id) on delete set null,
  message_id uuid references messages (id) on delete set null,
  user_id text,
  rating smallint not null check (rating in (-1, 1)),
  comment text,
  created_at timestamptz not null default now()
);
