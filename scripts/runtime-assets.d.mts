export interface RuntimeAsset {
  /** Folder, relative to the repository root and to dist/. */
  dir: string;
  /** File name ending copied from it. */
  ext: string;
  why: string;
}
export declare const RUNTIME_ASSETS: readonly RuntimeAsset[];
export declare const SOURCE_ROOTS: readonly string[];
