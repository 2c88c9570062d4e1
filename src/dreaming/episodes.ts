/**
 * Cutting a user's window of messages into episodes (one per moment) and
 * packing episodes into pages (one model call each). Pure functions: the same
 * messages always give the same episodes, so re-running a window rewrites the
 * same moments.
 */

/** What segmentation needs to know of a message (never its content). */
export interface MessageMeta {
  id: string;
  session_id: string;
  created_at: Date;
  /** Characters of content, for the page size. */
  chars: number;
}

export interface Episode {
  session_id: string;
  message_ids: string[];
  chars: number;
}

export interface Page {
  episodes: Episode[];
  messageCount: number;
}

export interface SegmentOptions {
  /** A pause longer than this in a conversation starts a new episode. @default 30 min */
  gapMs?: number;
  /** Most messages per episode. @default 50 */
  maxEpisodeMessages?: number;
}

export interface PackOptions {
  /** Most messages per page (model call). @default 100 */
  maxPageMessages: number;
  /** Most characters per page, so a prompt stays well inside a context window. @default 60_000 */
  maxPageChars?: number;
}

/** Episodes of a window, ordered by their first message's time. Input in any order. */
export function segmentEpisodes(messages: MessageMeta[], options: SegmentOptions = {}): Episode[] {
  const gapMs = options.gapMs ?? 30 * 60 * 1000;
  const maxMessages = options.maxEpisodeMessages ?? 50;
  const bySession = new Map<string, MessageMeta[]>();
  for (const m of messages) {
    const list = bySession.get(m.session_id) ?? [];
    list.push(m);
    bySession.set(m.session_id, list);
  }
  const episodes: { episode: Episode; startsAt: number; firstId: string }[] = [];
  for (const list of bySession.values()) {
    list.sort(
      (a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id),
    );
    let current: Episode | undefined;
    let last = 0;
    for (const m of list) {
      const t = m.created_at.getTime();
      if (!current || t - last > gapMs || current.message_ids.length >= maxMessages) {
        current = { session_id: m.session_id, message_ids: [], chars: 0 };
        episodes.push({ episode: current, startsAt: t, firstId: m.id });
      }
      current.message_ids.push(m.id);
      current.chars += m.chars;
      last = t;
    }
  }
  episodes.sort((a, b) => a.startsAt - b.startsAt || a.firstId.localeCompare(b.firstId));
  return episodes.map((e) => e.episode);
}

/** Pack episodes in order into pages; an episode is never split across pages. */
export function packPages(episodes: Episode[], options: PackOptions): Page[] {
  const maxChars = options.maxPageChars ?? 60_000;
  const pages: Page[] = [];
  let page: Page | undefined;
  let chars = 0;
  for (const episode of episodes) {
    const n = episode.message_ids.length;
    if (
      !page ||
      page.messageCount + n > options.maxPageMessages ||
      (page.messageCount > 0 && chars + episode.chars > maxChars)
    ) {
      page = { episodes: [], messageCount: 0 };
      chars = 0;
      pages.push(page);
    }
    page.episodes.push(episode);
    page.messageCount += n;
    chars += episode.chars;
  }
  return pages;
}
