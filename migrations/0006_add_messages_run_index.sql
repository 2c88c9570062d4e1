-- A run's messages are read by run id (step idempotency checks, run views).
create index messages_by_run on messages (run_id) where run_id is not null;
