/** Output helpers for the box CLI: Docker's columns, sizes and relative times, or JSON. */
import { UsageError } from "@a3s/common";
import type { BoxInfo } from "./manager.ts";
import type { ImageSummary } from "./image/store.ts";

/** `--format json|table`, `--json` as shorthand. */
export function outputFormat(values: Record<string, unknown>): "json" | "table" {
  if (values.json) return "json";
  const format = values.format ?? "table";
  if (format !== "json" && format !== "table") {
    throw new UsageError(`--format must be json or table, got '${format}'`);
  }
  return format;
}

/** Left-aligned columns separated by three spaces, as Docker prints them. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("   ").trimEnd())
    .join("\n");
}

/** "5 seconds", "3 minutes", "2 hours", "4 days". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "Less than a second";
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? "" : "s"}`;
  return `${Math.round(h / 24)} days`;
}

/** Docker's human sizes: 1.2MB, 845kB. */
export function size(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, "")}${
    units[unit]
  }`;
}

/** The STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago (timeout)`, `Created`. */
export function boxStatus(box: BoxInfo, now = Date.now()): string {
  if (box.state === "running") return `Up ${duration(now - (box.startedAt ?? now))}`;
  if (box.state === "created") return "Created";
  const reason = box.reason && box.reason !== "exited" ? ` (${box.reason})` : "";
  return `Exited (${box.exitCode ?? "?"}) ${duration(now - (box.finishedAt ?? now))} ago${reason}`;
}

/** `docker ps` columns, plus the driver each box got. */
export function boxTable(boxes: BoxInfo[]): string {
  const now = Date.now();
  return table(
    ["BOX ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "DRIVER"],
    boxes.map((b) => {
      const command = b.command.join(" ");
      return [
        b.id.slice(0, 12),
        b.image,
        JSON.stringify(command.length > 20 ? `${command.slice(0, 19)}…` : command),
        `${duration(now - b.createdAt)} ago`,
        boxStatus(b, now),
        "",
        b.name,
        b.driver,
      ];
    }),
  );
}

/** `docker images` columns. */
export function imageTable(images: ImageSummary[]): string {
  const now = Date.now();
  const rows: string[][] = [];
  for (const image of images) {
    const tags = image.repoTags.length ? image.repoTags : ["<none>:<none>"];
    for (const tag of tags) {
      const colon = tag.lastIndexOf(":");
      rows.push([
        tag.slice(0, colon),
        tag.slice(colon + 1),
        image.id.slice(7, 19),
        `${duration(now - image.created)} ago`,
        size(image.size),
      ]);
    }
  }
  return table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows);
}
