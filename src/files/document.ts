/** A parsed document: its text as an ordered list of structural blocks. */
export interface DocumentBlock {
  kind: 'heading' | 'text';
  text: string;
  /** Heading level, 1 (top) to 6. */
  level?: number;
  /** 1-based page (PDF). */
  page?: number;
}

export interface ParsedDocument {
  blocks: DocumentBlock[];
  /** Pages of a PDF. */
  pages?: number;
}

/** Why a file cannot be ingested; `code` lands in the file's `error`. */
export type ParseErrorCode =
  'empty_file' | 'no_text' | 'not_text' | 'invalid_json' | 'invalid_csv' | 'invalid_pdf';

export class ParseError extends Error {
  override name = 'ParseError';
  constructor(
    readonly code: ParseErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The separator between blocks in the document text that chunk offsets point into. */
export const BLOCK_SEPARATOR = '\n\n';

/** The document's text: blocks joined by {@link BLOCK_SEPARATOR}. Offsets of chunks index into it. */
export function documentText(doc: ParsedDocument): string {
  return doc.blocks.map((b) => b.text).join(BLOCK_SEPARATOR);
}
