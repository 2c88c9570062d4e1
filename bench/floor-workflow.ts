/**
 * The floor baseline's workflow (bench/floor.ts): one local activity that
 * relays the model's stream, and nothing else. It is the least a design can
 * do in which every turn is a Temporal workflow that runs before the first token.
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import { LOCAL_MODEL_STEP } from '../workflows/activity-options';
import type { FloorActivities, FloorRequest } from './floor';

const { relayModelStream } = proxyLocalActivities<FloorActivities>(LOCAL_MODEL_STEP);

export async function floorTurn(request: FloorRequest): Promise<void> {
  await relayModelStream(request);
}
