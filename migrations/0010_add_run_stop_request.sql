-- A stop (cancel, interrupt) asked of a running turn, read by its model step:
-- the step runs as a local activity inside a workflow task, where a workflow
-- signal would only arrive when the task ends. The step's event writes are
-- refused once it is set, so a stop takes effect within one batch.
alter table runs add column stop_requested text
  check (stop_requested in ('cancelled', 'interrupted'));
-- Why the step's latest attempt failed, for the `retry` event of the next one
-- (local activities have no heartbeat details to carry it).
alter table runs add column step_failure text;
