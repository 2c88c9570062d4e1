import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes operators filter on in the Temporal UI (registered by the stack). */
export const TENANT_ID = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const USER_ID = defineSearchAttributeKey('UserId', SearchAttributeType.KEYWORD);
export const SESSION_ID = defineSearchAttributeKey('SessionId', SearchAttributeType.KEYWORD);
export const RUN_KIND = defineSearchAttributeKey('RunKind', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_NAMES = ['TenantId', 'UserId', 'SessionId', 'RunKind'] as const;
