import { countTokens } from 'gpt-tokenizer';
import { chunkDocument } from '../../src/files/chunker';
import { documentText, type ParsedDocument } from '../../src/files/document';
import { parseMarkdown } from '../../src/files/parse';
import { longText } from '../fixtures/files/make-fixtures';

const doc = (markdown: string): ParsedDocument => ({ blocks: parseMarkdown(markdown) });

describe('chunkDocument', () => {
  it('keeps chunks within the token budget and points offsets at the document text', () => {
    const d = doc(longText(40));
    const chunks = chunkDocument(d, { maxTokens: 120, overlapTokens: 20 });
    const text = documentText(d);
    expect(chunks.length).toBeGreaterThan(10);
    chunks.forEach((c, i) => {
      expect(c.ordinal).toBe(i);
      expect(c.tokenCount).toBeLessThanOrEqual(120);
      expect(countTokens(c.content)).toBeLessThanOrEqual(120);
      expect(text.slice(c.startOffset, c.endOffset)).toBe(c.content);
    });
  });

  it('starts a new chunk at every heading and records the heading path', () => {
    const d = doc(
      '# Guide\n\nIntro text.\n\n## Install\n\nRun the installer.\n\n## Use\n\nOpen the app.\n\n# Appendix\n\nMore.',
    );
    const chunks = chunkDocument(d, { maxTokens: 200, overlapTokens: 20 });
    expect(chunks.map((c) => [c.heading, c.content])).toEqual([
      ['Guide', 'Guide\n\nIntro text.'],
      ['Guide > Install', 'Install\n\nRun the installer.'],
      ['Guide > Use', 'Use\n\nOpen the app.'],
      ['Appendix', 'Appendix\n\nMore.'],
    ]);
  });

  it('overlaps consecutive chunks of one section by whole sentences', () => {
    const sentences = Array.from(
      { length: 30 },
      (_, i) => `Sentence number ${i} talks about item ${i}.`,
    );
    const chunks = chunkDocument(
      { blocks: [{ kind: 'text', text: sentences.join(' ') }] },
      { maxTokens: 60, overlapTokens: 15 },
    );
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i].startOffset).toBeLessThan(chunks[i - 1].endOffset);
      const firstSentence = chunks[i].content.split(/(?<=\.)\s/)[0];
      expect(chunks[i - 1].content).toContain(firstSentence);
    }
  });

  it('does not overlap across a heading', () => {
    const d = doc(`# A\n\n${longText(3)}\n\n# B\n\nShort.`);
    const chunks = chunkDocument(d, { maxTokens: 80, overlapTokens: 30 });
    const b = chunks.find((c) => c.heading === 'B')!;
    expect(b.content).toBe('B\n\nShort.');
  });

  it('splits a sentence longer than the budget at whitespace', () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkDocument(
      { blocks: [{ kind: 'text', text: long }] },
      { maxTokens: 100, overlapTokens: 0 },
    );
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.every((c) => countTokens(c.content) <= 100)).toBe(true);
    expect(chunks.map((c) => c.content).join(' ')).toBe(long);
  });

  it('is deterministic', () => {
    const d = doc(longText(20, 7));
    expect(chunkDocument(d, { maxTokens: 90, overlapTokens: 10 })).toEqual(
      chunkDocument(d, { maxTokens: 90, overlapTokens: 10 }),
    );
  });
});
