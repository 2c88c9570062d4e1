/** The part of madge's API the tests use (the package ships no types). */
declare module 'madge' {
  interface MadgeConfig {
    baseDir?: string;
    fileExtensions?: string[];
    tsConfig?: string;
    detectiveOptions?: { ts?: { skipTypeImports?: boolean }; tsx?: { skipTypeImports?: boolean } };
  }

  interface MadgeResult {
    /** Each cycle as the files along it, relative to `baseDir`. */
    circular(): string[][];
    /** Every file and the files it imports, relative to `baseDir`. */
    obj(): Record<string, string[]>;
    /** Files madge could not resolve or parse. */
    warnings(): { skipped: string[] };
  }

  function madge(path: string | string[], config?: MadgeConfig): Promise<MadgeResult>;
  export default madge;
}
