import type { ActivityDeps } from './deps';
import { createDreamingActivities } from './dreaming.activities';
import { createFileActivities } from './files.activities';
import { createMemoryActivities } from './memory.activities';
import { createModelActivities } from './model.activities';
import { createToolActivities } from './tool.activities';
import { createTurnActivities } from './turn.activities';

export type { ActivityDeps } from './deps';

/** Every activity of reverie, built from its dependencies (the worker's, or a test's fakes). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTurnActivities(deps),
    ...createModelActivities(deps),
    ...createToolActivities(deps),
    ...createFileActivities(deps),
    ...createMemoryActivities(deps),
    ...createDreamingActivities(deps),
  };
}
