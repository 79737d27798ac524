/** The `search_documents` row as kysely sees it; both backends share the columns they query. */
import type { Generated } from "kysely";

export interface DocumentTables {
  search_documents: {
    id: Generated<number>;
    uri: string;
    title: string;
    body: string;
    source: string;
    hash: string;
    size: number;
    updated_at: number;
  };
}
