-- Fencing for streaming model steps: the attempt that claimed a step last is
-- the only one whose events are accepted, so a worker that lost its lease but
-- keeps running (network partition) cannot append after the retry began.
alter table runs
  add column fence_step int not null default -1,
  add column fence_attempt int not null default 0;
