/** An event the simulator sends in `delta.reverie_events` (shapes as in API.md). */
export type SimulatorEvent =
  | {
      type: 'progress';
      data: {
        step: number;
        total_steps: number;
        label: string;
        status: 'in_progress' | 'completed';
      };
    }
  | { type: 'metadata'; data: Record<string, unknown> }
  | { type: 'action_request'; data: { card: ActionCard } }
  | { type: 'title'; data: { title: string } };

/** A small card asking the user for a decision. */
export interface ActionCard {
  id: string;
  title: string;
  description: string;
  actions: { id: string; label: string; style: 'primary' | 'secondary' | 'destructive' }[];
}
