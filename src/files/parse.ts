import { parse as parseCsv } from 'csv-parse/sync';
import { convert as htmlToText, type FormatCallback, type SelectorDefinition } from 'html-to-text';
import { ParseError, type DocumentBlock, type ParsedDocument } from './document';
import type { FileFormat } from './formats';
import { extractPdfPages } from './pdf-text';

/**
 * Parse a file's bytes into structural blocks (headings and paragraphs).
 * @throws ParseError with a code and a message fit for the user: an empty
 * file, bytes that are not text, malformed JSON/CSV/PDF, or nothing to index.
 */
export async function parseDocument(format: FileFormat, data: Buffer): Promise<ParsedDocument> {
  if (data.length === 0) throw new ParseError('empty_file', 'the file is empty (0 bytes)');
  let doc: ParsedDocument;
  switch (format) {
    case 'pdf':
      doc = await parsePdf(data);
      break;
    case 'txt':
      doc = { blocks: paragraphs(decodeText(data, format)) };
      break;
    case 'md':
      doc = { blocks: parseMarkdown(decodeText(data, format)) };
      break;
    case 'html':
      doc = { blocks: parseMarkdown(htmlAsMarkdown(decodeText(data, format))) };
      break;
    case 'json':
      doc = { blocks: parseJson(decodeText(data, format)) };
      break;
    case 'csv':
      doc = { blocks: parseCsvRows(decodeText(data, format)) };
      break;
  }
  doc.blocks = doc.blocks.filter((b) => b.text.trim() !== '');
  if (!doc.blocks.some((b) => b.kind === 'text' || b.kind === 'heading')) {
    throw new ParseError('no_text', 'the file has no text to index');
  }
  return doc;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes as UTF-8 text, refusing binary data: invalid UTF-8, NUL bytes, or a
 * high share of control characters (an image or archive renamed to .txt).
 */
export function decodeText(data: Buffer, format: FileFormat): string {
  const binary = () =>
    new ParseError(
      'not_text',
      `the file is not ${format} text: it contains binary data (is it really a .${format} file?)`,
    );
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    throw binary();
  }
  const sample = text.slice(0, 64 * 1024);
  let control = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0) throw binary();
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) control++;
  }
  if (control > sample.length * 0.01) throw binary();
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/** Plain text: paragraphs separated by blank lines. */
function paragraphs(text: string, page?: number): DocumentBlock[] {
  return text
    .split(/\n[ \t]*\n+/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => ({ kind: 'text', text: p, ...(page ? { page } : {}) }));
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$/;
const FENCE = /^[ \t]*(```|~~~)/;

/** Markdown: ATX headings, fenced code kept whole, paragraphs between blank lines. */
export function parseMarkdown(text: string): DocumentBlock[] {
  const blocks: DocumentBlock[] = [];
  let lines: string[] = [];
  let fence: string | undefined;
  const flush = () => {
    const body = lines.join('\n').trim();
    if (body) blocks.push({ kind: 'text', text: body });
    lines = [];
  };
  for (const line of text.split('\n')) {
    const fenceMatch = FENCE.exec(line);
    if (fence) {
      lines.push(line);
      if (fenceMatch && fenceMatch[1] === fence) {
        fence = undefined;
        flush();
      }
      continue;
    }
    if (fenceMatch) {
      flush();
      fence = fenceMatch[1];
      lines.push(line);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1].length, text: heading[2] });
    } else if (line.trim() === '') {
      flush();
    } else {
      lines.push(line);
    }
  }
  flush();
  return blocks;
}

const markdownHeading: FormatCallback = (elem, walk, builder, options) => {
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addLiteral(`${'#'.repeat(Number(options.level ?? 1))} `);
  walk(elem.children, builder);
  builder.closeBlock({ trailingLineBreaks: 2 });
};

const HTML_SELECTORS: SelectorDefinition[] = [
  ...[1, 2, 3, 4, 5, 6].map((level) => ({
    selector: `h${level}`,
    format: 'markdownHeading',
    options: { level },
  })),
  { selector: 'a', options: { ignoreHref: true } },
  { selector: 'img', format: 'skip' },
  { selector: 'script', format: 'skip' },
  { selector: 'style', format: 'skip' },
  { selector: 'nav', format: 'skip' },
];

/** HTML as text with markdown headings, so the markdown parser sees its structure. */
function htmlAsMarkdown(html: string): string {
  return htmlToText(html, {
    wordwrap: false,
    formatters: { markdownHeading },
    selectors: HTML_SELECTORS,
  });
}

/**
 * JSON: one block per top-level entry (array element or object key), each as
 * `path: value` lines, so a record stays together in one chunk where it fits.
 */
function parseJson(text: string): DocumentBlock[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ParseError('invalid_json', `the file is not valid JSON: ${(err as Error).message}`);
  }
  const blocks: DocumentBlock[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, i) =>
      blocks.push({ kind: 'text', text: flatten(item, `[${i}]`).join('\n') }),
    );
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (item !== null && typeof item === 'object') {
        blocks.push({ kind: 'heading', level: 1, text: key });
        if (Array.isArray(item) && item.every((x) => x !== null && typeof x === 'object')) {
          item.forEach((x, i) =>
            blocks.push({ kind: 'text', text: flatten(x, `${key}[${i}]`).join('\n') }),
          );
        } else {
          blocks.push({ kind: 'text', text: flatten(item, key).join('\n') });
        }
      } else {
        blocks.push({ kind: 'text', text: `${key}: ${String(item)}` });
      }
    }
  } else {
    blocks.push({ kind: 'text', text: String(value) });
  }
  return blocks;
}

function flatten(value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object') return [`${prefix}: ${String(value)}`];
  const entries = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v] as const)
    : Object.entries(value).map(([k, v]) => [`.${k}`, v] as const);
  if (entries.length === 0) return [`${prefix}: ${Array.isArray(value) ? '[]' : '{}'}`];
  return entries.flatMap(([k, v]) => flatten(v, `${prefix}${k}`));
}

/** CSV: one block per row, `column: value` pairs when the first row is a header. */
function parseCsvRows(text: string): DocumentBlock[] {
  let rows: string[][];
  try {
    const parsed: unknown = parseCsv(text, {
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
    });
    rows = parsed as string[][];
  } catch (err) {
    throw new ParseError('invalid_csv', `the file is not valid CSV: ${(err as Error).message}`);
  }
  if (rows.length === 0) return [];
  const header = rows[0];
  const hasHeader =
    rows.length > 1 && header.every((h) => h.trim() !== '' && Number.isNaN(Number(h)));
  if (!hasHeader) return rows.map((r) => ({ kind: 'text', text: r.join(', ') }));
  return [
    { kind: 'heading', level: 1, text: `Columns: ${header.join(', ')}` },
    ...rows.slice(1).map((r): DocumentBlock => ({
      kind: 'text',
      text: r.map((v, i) => `${header[i] ?? `column ${i + 1}`}: ${v}`).join('; '),
    })),
  ];
}

async function parsePdf(data: Buffer): Promise<ParsedDocument> {
  if (data.subarray(0, 1024).indexOf('%PDF-') === -1) {
    throw new ParseError('invalid_pdf', 'the file is not a PDF (no %PDF header)');
  }
  const pages = await extractPdfPages(data);
  const blocks = pages.flatMap((text, i) => paragraphs(text.replace(/[ \t]+\n/g, '\n'), i + 1));
  return { blocks, pages: pages.length };
}
