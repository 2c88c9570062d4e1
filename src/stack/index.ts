/**
 * The embedded stack: Temporal dev server + Postgres 16 with pgvector,
 * installed into `.reverie/` and run as child processes. Used by
 * `reverie dev` and by the jest integration setup.
 */
export { startStack, DEV_PORTS, type Stack, type StartStackOptions } from './start-stack';
export { provisionTools, TOOL_PACKAGES, type ToolPaths, type ProvisionOptions } from './provision';
export {
  StackPrerequisiteError,
  describePrerequisiteProblem,
  type PrerequisiteFacts,
} from './prerequisites';
export { ensureSearchAttributes, REVERIE_SEARCH_ATTRIBUTES } from './search-attributes';
export { waitForTemporal } from './temporal';
export { waitForPostgres } from './postgres';
export { stackLayout, type StackLayout } from './layout';
