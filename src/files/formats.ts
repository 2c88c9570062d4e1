import path from 'node:path';

/** The formats reverie ingests (API.md "Files and search"). */
export const FILE_FORMATS = ['txt', 'md', 'html', 'json', 'csv', 'pdf'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

const EXTENSIONS: Record<string, FileFormat> = {
  txt: 'txt',
  text: 'txt',
  md: 'md',
  markdown: 'md',
  html: 'html',
  htm: 'html',
  json: 'json',
  csv: 'csv',
  pdf: 'pdf',
};

const MEDIA_TYPES: Record<string, FileFormat> = {
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/x-markdown': 'md',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/json': 'json',
  'text/json': 'json',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/pdf': 'pdf',
};

/** The canonical media type we store and serve for each format. */
export const FORMAT_MEDIA_TYPE: Record<FileFormat, string> = {
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  pdf: 'application/pdf',
};

/** Says nothing about the content: clients send it when they do not know. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

export type FormatDecision = { ok: true; format: FileFormat } | { ok: false; reason: string };

/**
 * Decide the format from what the request declares, before reading a byte:
 * the file name's extension and the media type must agree (a generic media
 * type, or `text/plain` for a text format, defers to the extension).
 */
export function detectFormat(filename: string, contentType: string | undefined): FormatDecision {
  const ext = path.extname(filename).slice(1).toLowerCase();
  const fromExt = ext ? EXTENSIONS[ext] : undefined;
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const fromType = MEDIA_TYPES[mediaType];
  const supported = 'txt, md, html, json, csv or pdf';
  if (ext && !fromExt)
    return { ok: false, reason: `files of type .${ext} are not supported (${supported})` };
  if (!GENERIC_TYPES.has(mediaType) && !fromType) {
    return { ok: false, reason: `content type ${mediaType} is not supported (${supported})` };
  }
  if (fromExt && fromType && fromExt !== fromType && !(fromType === 'txt' && fromExt !== 'pdf')) {
    return {
      ok: false,
      reason: `content type ${mediaType} does not match the file name ${filename}`,
    };
  }
  const format = fromExt ?? fromType;
  if (!format)
    return {
      ok: false,
      reason: `cannot tell the type of ${filename}: give it an extension (${supported})`,
    };
  return { ok: true, format };
}
