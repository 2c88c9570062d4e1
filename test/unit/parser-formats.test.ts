import { chunkDocument } from '../../src/files/chunker';
import { documentText, ParseError } from '../../src/files/document';
import { detectFormat } from '../../src/files/formats';
import { parseDocument } from '../../src/files/parse';
import { stopPdfThread } from '../../src/files/pdf-text';
import {
  binaryBytes,
  makePdf,
  PDF_PAGES,
  TEXT_FILES,
  WORDS,
} from '../fixtures/files/make-fixtures';

afterAll(() => stopPdfThread());

async function parseError(promise: Promise<unknown>): Promise<ParseError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
  throw new Error('expected a ParseError');
}

describe('detectFormat', () => {
  it('takes the extension, accepting generic or matching media types', () => {
    expect(detectFormat('a.md', 'text/markdown')).toEqual({ ok: true, format: 'md' });
    expect(detectFormat('a.md', 'text/plain')).toEqual({ ok: true, format: 'md' });
    expect(detectFormat('a.pdf', 'application/octet-stream')).toEqual({ ok: true, format: 'pdf' });
    expect(detectFormat('report', 'application/pdf')).toEqual({ ok: true, format: 'pdf' });
    expect(detectFormat('a.CSV', undefined)).toEqual({ ok: true, format: 'csv' });
  });

  it('refuses unsupported or contradictory types', () => {
    expect(detectFormat('a.exe', 'application/octet-stream')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('.exe'),
    });
    expect(detectFormat('a.txt', 'image/png')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('image/png'),
    });
    expect(detectFormat('a.pdf', 'text/plain')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('does not match'),
    });
    expect(detectFormat('a.json', 'application/pdf')).toMatchObject({ ok: false });
    expect(detectFormat('noext', undefined)).toMatchObject({ ok: false });
  });
});

describe('parseDocument', () => {
  it('parses plain text into paragraphs', async () => {
    const doc = await parseDocument('txt', Buffer.from(TEXT_FILES['notes.txt'].body));
    expect(doc.blocks.map((b) => b.kind)).toEqual(['text', 'text', 'text']);
    expect(doc.blocks[1].text).toContain(WORDS.txt);
  });

  it('parses markdown headings, paragraphs and fenced code', async () => {
    const doc = await parseDocument('md', Buffer.from(TEXT_FILES['guide.md'].body));
    expect(doc.blocks.filter((b) => b.kind === 'heading').map((b) => [b.level, b.text])).toEqual([
      [1, 'Aquarium guide'],
      [2, 'Species'],
      [2, 'Water'],
    ]);
    expect(doc.blocks.some((b) => b.text.startsWith('```') && b.text.includes('twice a day'))).toBe(
      true,
    );
  });

  it('parses HTML keeping headings and dropping scripts and styles', async () => {
    const doc = await parseDocument('html', Buffer.from(TEXT_FILES['page.html'].body));
    expect(doc.blocks.filter((b) => b.kind === 'heading').map((b) => b.text)).toEqual([
      'Coastal walks',
      'Getting there',
    ]);
    const text = documentText(doc);
    expect(text).toContain(WORDS.html);
    expect(text).not.toContain('var x');
    expect(text).not.toContain('color:red');
  });

  it('flattens JSON into path: value lines, one block per record', async () => {
    const doc = await parseDocument('json', Buffer.from(TEXT_FILES['data.json'].body));
    const text = documentText(doc);
    expect(text).toContain(`zoo.animals[0].name: ${WORDS.json}`);
    expect(text).toContain('open: true');
  });

  it('renders CSV rows as column: value pairs under a header', async () => {
    const doc = await parseDocument('csv', Buffer.from(TEXT_FILES['table.csv'].body));
    expect(doc.blocks[0]).toMatchObject({ kind: 'heading', text: 'Columns: fruit, colour, price' });
    expect(doc.blocks[2].text).toBe(`fruit: ${WORDS.csv}; colour: orange; price: 0.80`);
  });

  it('extracts every page of a real multi-page PDF with page numbers', async () => {
    const doc = await parseDocument('pdf', await makePdf(PDF_PAGES));
    expect(doc.pages).toBe(3);
    const third = doc.blocks
      .filter((b) => b.page === 3)
      .map((b) => b.text)
      .join(' ');
    expect(third).toContain(WORDS.pdf);
    const chunks = chunkDocument(doc, { maxTokens: 40, overlapTokens: 0 });
    expect(chunks.find((c) => c.content.includes(WORDS.pdf))?.page).toBe(3);
  });

  it('fails clearly on bad files', async () => {
    expect((await parseError(parseDocument('txt', Buffer.alloc(0)))).code).toBe('empty_file');
    expect((await parseError(parseDocument('txt', Buffer.from(' \n\n \t\n')))).code).toBe(
      'no_text',
    );
    const binary = await parseError(parseDocument('txt', binaryBytes()));
    expect(binary.code).toBe('not_text');
    expect(binary.message).toMatch(/binary/);
    expect((await parseError(parseDocument('json', Buffer.from('{"a": ')))).code).toBe(
      'invalid_json',
    );
    expect((await parseError(parseDocument('csv', Buffer.from('a,"b\n1,2')))).code).toBe(
      'invalid_csv',
    );
    expect((await parseError(parseDocument('pdf', Buffer.from('hello, not a pdf')))).code).toBe(
      'invalid_pdf',
    );
    const pdf = await makePdf(PDF_PAGES);
    const corrupt = Buffer.concat([pdf.subarray(0, 400), Buffer.alloc(2000, 0x41)]);
    const err = await parseError(parseDocument('pdf', corrupt));
    expect(err.code).toBe('invalid_pdf');
    expect(err.message).toMatch(/PDF could not be read|no text/);
  });
});
