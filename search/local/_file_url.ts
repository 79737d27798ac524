/** `file://` URIs for indexed files, written the same way by the indexer and by `index rm`. */
import { pathToFileURL } from "node:url";

/** The `file://` URI of an absolute path. */
export function toFileUrl(path: string): string {
  return pathToFileURL(path).href;
}
