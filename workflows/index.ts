/** The workflowsPath of the worker: every workflow reverie runs. */
export { sessionWorkflow } from './session.workflow';
export { turnWorkflow } from './turn.workflow';
