/** The workflowsPath of the worker: every workflow reverie runs. */
export { sessionWorkflow } from './session.workflow';
export { turnWorkflow } from './turn.workflow';
export { extractMemoriesWorkflow } from './memory.workflow';
export { ingestFileWorkflow } from './ingest-file.workflow';
export { dreamingWorkflow, dreamAllWorkflow } from './dreaming.workflow';
