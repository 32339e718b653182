export interface RuntimeAsset {
  /** Folder, relative to the repository root and to dist/. */
  dir: string;
  /** File name ending copied from it. */
  ext: string;
  why: string;
  /** Produced by this tool during the build instead of copied from the source tree. */
  built?: 'vite';
}
export declare const RUNTIME_ASSETS: readonly RuntimeAsset[];
export declare const SOURCE_ROOTS: readonly string[];
