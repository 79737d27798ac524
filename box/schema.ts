/** box's tables in the shared store: images, tags and boxes. */
import type { Migration } from "@a3s/common";

/** An image: its manifest digest is its id. */
export interface ImageRow {
  /** The image id: the digest of its manifest. */
  id: string;
  /** The digest of the image config blob. */
  config_digest: string;
  /** The image config JSON. */
  config: string;
  /** JSON array of {@linkcode LayerDescriptor}. */
  layers: string;
  /** The compressed size of the image's layers, in bytes. */
  size: number;
  /**
   * When the image was created (its config's `created`, else when it was stored), in ms since the
   * epoch.
   */
  created_at: number;
}

/** A `name:tag` pointing at an image. */
export interface TagRow {
  ref: string;
  image_id: string;
}

/** A box, in any state. */
export interface BoxRow {
  id: string;
  name: string;
  image: string;
  image_id: string;
  driver: string;
  state: string;
  /** JSON of the {@linkcode BoxSpec} the box was created with. */
  spec: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  reason: string | null;
  /** Remove the box when it exits (`--rm`). */
  auto_remove: number;
}

/** One audit event: a box created, exec'd into or deleted. */
export interface EventRow {
  id: string;
  at: number;
  action: string;
  box_id: string;
  /** JSON details (command, exit code, actor). */
  detail: string;
}

/** The tables, typed for kysely. */
export interface BoxTables {
  box_images: ImageRow;
  box_tags: TagRow;
  box_boxes: BoxRow;
  box_events: EventRow;
}

/** box's migrations. */
export const BOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "images_tags_boxes",
    async up(db) {
      await db.schema.createTable("box_images")
        .addColumn("id", "varchar(80)", (c) => c.primaryKey())
        .addColumn("config_digest", "varchar(80)", (c) => c.notNull())
        .addColumn("config", "text", (c) => c.notNull())
        .addColumn("layers", "text", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createTable("box_tags")
        .addColumn("ref", "varchar(300)", (c) => c.primaryKey())
        .addColumn("image_id", "varchar(80)", (c) => c.notNull())
        .execute();
      await db.schema.createTable("box_boxes")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("name", "varchar(200)", (c) => c.notNull().unique())
        .addColumn("image", "varchar(300)", (c) => c.notNull())
        .addColumn("image_id", "varchar(80)", (c) => c.notNull())
        .addColumn("driver", "varchar(40)", (c) => c.notNull())
        .addColumn("state", "varchar(20)", (c) => c.notNull())
        .addColumn("spec", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addColumn("exit_code", "integer")
        .addColumn("reason", "varchar(40)")
        .addColumn("auto_remove", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createTable("box_events")
        .addColumn("id", "varchar(40)", (c) => c.primaryKey())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("action", "varchar(40)", (c) => c.notNull())
        .addColumn("box_id", "varchar(64)", (c) => c.notNull())
        .addColumn("detail", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("box_events_box").on("box_events").column("box_id").execute();
    },
  },
];
