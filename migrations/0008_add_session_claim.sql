-- One turn at a time per session, held in Postgres: the run holding the session.
-- An idle session's turn claims it in its run-start transaction and starts its
-- turn workflow directly (no session entity); later turns queue as runs and the
-- finishing turn hands the claim to the oldest. handed_off: the holder was
-- acknowledged while queued, so a lost start is retried, never closed as not accepted.
-- No foreign key: a claim naming a finished or deleted run counts as free.
alter table sessions add column active_run_id uuid;
alter table sessions add column active_handed_off boolean not null default false;
create index sessions_claimed on sessions (active_run_id) where active_run_id is not null;

-- Live turns of a session (claim checks, hand-off, stop, orphan sweeps) stay an
-- index probe however many finished runs are stored.
create index runs_live_by_session on runs (session_id, created_at, id)
  where status in ('queued', 'running');
