import type { ChatTool } from '../providers/stream-chat';

/** What a tool may use while it runs: the caller's tenant and session, never another's. */
export interface ToolContext {
  tenantId: string;
  sessionId: string;
  runId: string;
  userId: string | null;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON schema of the arguments, as the model sees it. */
  parameters: Record<string, unknown>;
  /** Runs the tool; the result is serialised to JSON for the model. Throw for bad arguments. */
  execute(args: unknown, context: ToolContext): Promise<unknown>;
}

/** The tools a turn can offer the model. Later features register more. */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();

  register(tool: ToolDefinition): this {
    this.tools.set(tool.name, tool);
    return this;
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name);
  }

  /** OpenAI `tools` for the request. */
  definitions(): ChatTool[] {
    return [...this.tools.values()].map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
  }
}
