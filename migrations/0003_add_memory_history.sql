-- Long-term memories: a change log per memory (GET /v1/memories/{id}/history)
-- and one record per extraction run, so a retried extraction never applies
-- its changes twice.
--
-- A memory keeps its id for life. An update archives the previous text as a
-- row of its own (valid_to set, superseded_by = the memory's id) and rewrites
-- the current row; a delete sets valid_to on the current row. Nothing is
-- hard-deleted except by clearing a user.

create table memory_changes (
  id uuid primary key,
  seq bigint generated always as identity,  -- total order of changes
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  memory_id uuid not null,                   -- the memory (its stable id)
  event text not null check (event in ('ADD', 'UPDATE', 'DELETE')),
  previous_content text,
  content text,
  archived_id uuid,                          -- the row holding the previous version (UPDATE)
  source text not null check (source in ('extraction', 'api', 'dreaming')),
  run_id uuid,
  reason text,
  created_at timestamptz not null default now()
);
create index memory_changes_by_memory on memory_changes (tenant_id, memory_id, seq);

create table memory_extractions (
  run_id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id text not null,
  result jsonb not null,
  created_at timestamptz not null default now()
);

-- Filtered vector search walks the HNSW graph with iterative scans; this index
-- serves the exact fallback for users with few memories.
create index memories_current_recent on memories (tenant_id, user_id, updated_at desc)
  where valid_to is null;
