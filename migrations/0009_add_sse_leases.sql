-- Open SSE streams per caller, counted across API replicas (SSE_MAX_PER_KEY).
-- Unlogged: a lease lives seconds and is worthless after a crash (the streams
-- died with their sockets), so it is not worth WAL. Each replica renews its own
-- leases with one update per interval; a killed replica stops renewing, and its
-- leases stop counting once expires_at passes.
create unlogged table sse_leases (
  id uuid primary key,
  subject text not null,
  replica uuid not null,
  expires_at timestamptz not null
);
create index sse_leases_by_subject on sse_leases (subject, expires_at);
create index sse_leases_by_replica on sse_leases (replica);

-- Take a lease for `p_subject` unless it already holds `p_cap` live ones.
-- The per-subject advisory lock serialises takers of one subject; in a
-- plpgsql function each statement takes a fresh snapshot, so the count after
-- the lock sees every lease committed before it (one round trip, no race).
create function sse_lease_acquire(
  p_id uuid,
  p_subject text,
  p_replica uuid,
  p_ttl_ms integer,
  p_cap integer
) returns boolean
language plpgsql as $$
declare
  live integer;
begin
  perform pg_advisory_xact_lock(hashtextextended('sse_lease:' || p_subject, 0));
  delete from sse_leases where subject = p_subject and expires_at <= now();
  select count(*) into live from sse_leases where subject = p_subject;
  if live >= p_cap then
    return false;
  end if;
  insert into sse_leases (id, subject, replica, expires_at)
    values (p_id, p_subject, p_replica, now() + make_interval(secs => p_ttl_ms / 1000.0));
  return true;
end;
$$;
