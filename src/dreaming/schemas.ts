import { z } from 'zod';

/**
 * What the dreaming model steps must answer, checked with zod. The JSON shapes
 * are written out in the prompts (src/dreaming/prompts.ts); a model that
 * strays is asked again with the validation error, then skipped.
 */

const Text = (max: number) => z.string().trim().min(1).max(max);
const Words = z.array(z.string().trim().min(1).max(80)).max(12);

export const MomentOutput = z.object({
  /** The episode label of the prompt (`e1`, `e2`, …). */
  episode: z.string().min(1),
  title: Text(200),
  summary: Text(2000),
  topics: Words.default([]),
  entities: Words.default([]),
});

export const FactOutput = z.object({
  content: Text(500),
  category: z.string().trim().max(60).nullish(),
  episode: z.string().min(1).nullish(),
  message_ids: z.array(z.string()).max(50).nullish(),
});

export const MomentsAnswer = z.object({
  moments: z.array(MomentOutput).max(100),
  facts: z.array(FactOutput).max(100).default([]),
});
export type MomentsAnswer = z.infer<typeof MomentsAnswer>;

const Evidence = z.array(z.string()).max(20).default([]);

export const ProfileAnswer = z.object({
  summary: z.string().trim().max(2000).default(''),
  current_projects: z
    .array(
      z.object({
        name: Text(200),
        description: z.string().max(1000).default(''),
        evidence: Evidence,
      }),
    )
    .max(10)
    .default([]),
  expertise: z
    .array(z.object({ area: Text(200), level: z.string().max(40).nullish(), evidence: Evidence }))
    .max(10)
    .default([]),
  interests: z
    .array(z.object({ topic: Text(200), evidence: Evidence }))
    .max(15)
    .default([]),
  preferences: z
    .array(z.object({ preference: Text(300), evidence: Evidence }))
    .max(15)
    .default([]),
  recent_activity: z
    .array(z.object({ summary: Text(500), evidence: Evidence }))
    .max(10)
    .default([]),
});
export type ProfileAnswer = z.infer<typeof ProfileAnswer>;

/** Profile fields that carry evidence, in the order they are diffed and shown. */
export const PROFILE_LIST_FIELDS = [
  'current_projects',
  'expertise',
  'interests',
  'preferences',
  'recent_activity',
] as const;
export type ProfileListField = (typeof PROFILE_LIST_FIELDS)[number];
