import type { Connection } from '@temporalio/client';
import { isGrpcServiceError } from '@temporalio/client';
// Deep import: the SDK exports this helper (for registering attributes in tests) only from its lib path.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';

/** Custom search attributes every reverie workflow may set; all are Keyword. */
export const REVERIE_SEARCH_ATTRIBUTES = ['TenantId', 'UserId', 'SessionId', 'RunKind'] as const;

const GRPC_ALREADY_EXISTS = 6;

/** `--search-attribute Name=Keyword` flags for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return REVERIE_SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]);
}

/**
 * Register {@link REVERIE_SEARCH_ATTRIBUTES} in `namespace` unless present, so
 * an external server works like the embedded one. Safe to run concurrently:
 * "already exists" counts as success.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<void> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const present = new Set([
    ...Object.keys(listed.customAttributes ?? {}),
    ...Object.keys(listed.systemAttributes ?? {}),
  ]);
  const missing = REVERIE_SEARCH_ATTRIBUTES.filter((name) => !present.has(name));
  if (missing.length === 0) return;
  const keyword = encodeSearchAttributeIndexedValueType('KEYWORD')!;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, keyword])),
    });
  } catch (err) {
    if (!(isGrpcServiceError(err) && Number(err.code) === GRPC_ALREADY_EXISTS)) throw err;
  }
}
