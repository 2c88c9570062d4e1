import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');
const SOURCE_DIRS = ['src', 'activities', 'workflows'];
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 120;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.d.ts') ? [full] : [];
  });
}

const FILES = SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(ROOT, d)));

/** Every function-like node of a file with its line span. */
function functionSpans(file: string): { name: string; lines: number }[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const spans: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const named = (node as { name?: ts.Node }).name;
      const name = named ? named.getText(source) : `<anonymous at line ${start + 1}>`;
      spans.push({ name, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

/**
 * Small modules with one job: no source file over 400 lines, no function over
 * 120 (a factory that grows past that holds domain logic in the wrong place).
 */
describe('code size', () => {
  it(`no source file is over ${MAX_FILE_LINES} lines`, () => {
    const over = FILES.map((f) => ({
      file: path.relative(ROOT, f),
      lines: readFileSync(f, 'utf8').split('\n').length,
    })).filter((f) => f.lines > MAX_FILE_LINES);
    expect(over).toEqual([]);
  });

  it(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
    const over = FILES.flatMap((f) =>
      functionSpans(f)
        .filter((s) => s.lines > MAX_FUNCTION_LINES)
        .map((s) => `${path.relative(ROOT, f)}: ${s.name} (${s.lines} lines)`),
    );
    expect(over).toEqual([]);
  });
});
